import {
  AnnotationSupport,
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  MetricFindValue,
  ScopedVars,
  TimeRange,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';
import { Observable } from 'rxjs';

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

  /**
   * Grafana gives every datasource $__interval and $__interval_ms; $__range, $__range_s, $__range_ms and
   * $__rate_interval only Prometheus and Loki make for themselves: rexmon queries get them here too (the
   * request's own win). $__rate_interval is $__interval: rexmon's rate is per row and needs no wider window.
   */
  query(request: DataQueryRequest<RexmonQuery>): Observable<DataQueryResponse> {
    return super.query({ ...request, scopedVars: { ...builtinScopedVars(request), ...request.scopedVars } });
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

  /**
   * Metric names, optionally among the series a selector matches. With a range: only series with data in it
   * (last update ≥ from, created ≤ to), so hosts that stopped reporting long ago are not offered.
   */
  async getMetrics(match?: string, range?: TimeRange): Promise<string[]> {
    return this.postResource<string[]>('metrics', lookupParams(match, range));
  }

  /** Label names among the series a selector matches (with data in range, when given). */
  async getLabelNames(match?: string, range?: TimeRange): Promise<string[]> {
    const names = await this.postResource<string[]>('labels', lookupParams(match, range));
    return names.filter((n) => n !== '__name__');
  }

  /** Values of a label among the series a selector matches (with data in range, when given). */
  async getLabelValues(label: string, match?: string, range?: TimeRange): Promise<string[]> {
    return this.postResource<string[]>(`label/${encodeURIComponent(label)}/values`, lookupParams(match, range));
  }

  /**
   * Template variable values; also takes label_values(match, label), label_names(match), metrics(). The
   * dashboard's range (options.range) limits them to series with data in it.
   */
  async metricFindQuery(
    query: RexmonVariableQuery | string,
    options?: { scopedVars?: ScopedVars; range?: TimeRange }
  ): Promise<MetricFindValue[]> {
    const parsed = typeof query === 'string' ? parseVariableQueryString(query) : query;
    const q = interpolateVariableQuery(parsed, this.templateSrv, options?.scopedVars);
    const range = options?.range;
    let values: string[];
    switch (q.type) {
      case 'labelNames':
        values = await this.getLabelNames(q.match, range);
        break;
      case 'metrics':
        values = await this.getMetrics(q.match, range);
        break;
      default:
        if (!q.label) {
          throw new Error('Choose the label whose values the variable takes');
        }
        values = await this.getLabelValues(q.label, q.match, range);
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

/** $__range, $__range_s, $__range_ms and $__rate_interval of a request, as Prometheus makes them. */
export function builtinScopedVars(request: Pick<DataQueryRequest, 'range' | 'interval' | 'scopedVars'>): ScopedVars {
  const out: ScopedVars = {};
  if (request.range) {
    const ms = request.range.to.valueOf() - request.range.from.valueOf();
    const s = Math.round(ms / 1000);
    out.__range = { text: `${s}s`, value: `${s}s` };
    out.__range_s = { text: String(s), value: s };
    out.__range_ms = { text: String(ms), value: ms };
  }
  const interval = request.scopedVars?.__interval?.value ?? request.interval;
  if (interval) {
    out.__rate_interval = { text: String(interval), value: interval };
  }
  return out;
}

/**
 * Look-ups go by POST with a JSON body: an All variable over a large farm does not fit in a URL. A range goes as
 * from/to in Unix milliseconds, which the collector reads like /api/v1/query's.
 */
function lookupParams(match?: string, range?: TimeRange): Record<string, string | number> {
  const m = match?.trim();
  const out: Record<string, string | number> = m ? { match: m } : {};
  if (range) {
    out.from = range.from.valueOf();
    out.to = range.to.valueOf();
  }
  return out;
}
