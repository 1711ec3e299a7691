import {
  AnnotationSupport,
  CoreApp,
  DataSourceInstanceSettings,
  MetricFindValue,
  ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';

import { buildSelector, interpolateQuery, interpolateSelector, interpolateVariableQuery, stripFunction } from './interpolate';
import { DEFAULT_ANNOTATION_QUERY, DEFAULT_QUERY, editorModeOf, RexmonOptions, RexmonQuery, RexmonVariableQuery } from './types';
import { RexmonVariableSupport, parseVariableQueryString } from './variables';

export class DataSource extends DataSourceWithBackend<RexmonQuery, RexmonOptions> {
  /** Downtimes (regions) and events (points) as annotations, through the normal query editor. */
  annotations: AnnotationSupport<RexmonQuery> = {
    getDefaultQuery: () => ({ ...DEFAULT_ANNOTATION_QUERY }),
  };

  constructor(
    instanceSettings: DataSourceInstanceSettings<RexmonOptions>,
    private readonly templateSrv: TemplateSrv = getTemplateSrv()
  ) {
    super(instanceSettings);
    this.variables = new RexmonVariableSupport(this);
  }

  getDefaultQuery(_: CoreApp): Partial<RexmonQuery> {
    return { ...DEFAULT_QUERY };
  }

  applyTemplateVariables(query: RexmonQuery, scopedVars: ScopedVars): RexmonQuery {
    return interpolateQuery(query, this.templateSrv, scopedVars);
  }

  filterQuery(query: RexmonQuery): boolean {
    if (query.hide) {
      return false;
    }
    if (query.queryType === 'downtimes' || query.queryType === 'events') {
      return true;
    }
    if (editorModeOf(query) === 'code') {
      return !!query.expr?.trim();
    }
    return !!query.metric?.trim() || !!query.labelFilters?.some((f) => f.label && f.value);
  }

  /** Metric names, optionally among the series a selector matches. */
  async getMetrics(match?: string): Promise<string[]> {
    return this.postResource<string[]>('metrics', matchParams(match));
  }

  /** Label names among the series a selector matches. */
  async getLabelNames(match?: string): Promise<string[]> {
    const names = await this.postResource<string[]>('labels', matchParams(match));
    return names.filter((n) => n !== '__name__');
  }

  /** Values of a label among the series a selector matches. */
  async getLabelValues(label: string, match?: string): Promise<string[]> {
    return this.postResource<string[]>(`label/${encodeURIComponent(label)}/values`, matchParams(match));
  }

  /** Template variable values; also takes label_values(match, label), label_names(match), metrics(). */
  async metricFindQuery(query: RexmonVariableQuery | string, options?: { scopedVars?: ScopedVars }): Promise<MetricFindValue[]> {
    const parsed = typeof query === 'string' ? parseVariableQueryString(query) : query;
    const q = interpolateVariableQuery(parsed, this.templateSrv, options?.scopedVars);
    let values: string[];
    switch (q.type) {
      case 'labelNames':
        values = await this.getLabelNames(q.match);
        break;
      case 'metrics':
        values = await this.getMetrics(q.match);
        break;
      default:
        if (!q.label) {
          throw new Error('Choose the label whose values the variable takes');
        }
        values = await this.getLabelValues(q.label, q.match);
    }
    return values.map((text) => ({ text, value: text }));
  }

  /** The selector of a query with variables resolved, for the editors' look-ups. */
  interpolateMatch(match: string | undefined, scopedVars?: ScopedVars): string {
    return interpolateSelector(match, this.templateSrv, scopedVars);
  }

  /**
   * The selector of a builder query with variables resolved, leaving out filter number skip:
   * what the editors ask the collector about (the values a filter may take given the others).
   */
  lookupSelector(q: RexmonQuery, skip = -1): string {
    if (editorModeOf(q) === 'code' || q.queryType === 'downtimes' || q.queryType === 'events') {
      return stripFunction(this.interpolateMatch(q.expr));
    }
    const filters = (q.labelFilters ?? []).filter((f, i) => i !== skip && f.label && f.value !== '');
    const iq = interpolateQuery({ ...q, labelFilters: filters, expr: '' }, this.templateSrv);
    return buildSelector(iq.metric, iq.labelFilters);
  }

  /** Dashboard variable names, offered in the editors' pickers. */
  variableNames(): string[] {
    return this.templateSrv.getVariables().map((v) => `$${v.name}`);
  }
}

/** Look-ups go by POST with a JSON body: an All variable over a large farm does not fit in a URL. */
function matchParams(match?: string): Record<string, string> {
  const m = match?.trim();
  return m ? { match: m } : {};
}
