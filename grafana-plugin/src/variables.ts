import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { from, Observable } from 'rxjs';
import { map } from 'rxjs/operators';

import type { DataSource } from './datasource';
import { VariableQueryEditor } from './components/VariableQueryEditor';
import { RexmonVariableQuery } from './types';

/** Variables whose values come from the collector: label values, label names or metric names. */
export class RexmonVariableSupport extends CustomVariableSupport<DataSource, RexmonVariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<RexmonVariableQuery>): Observable<DataQueryResponse> {
    const q = request.targets[0];
    return from(this.datasource.metricFindQuery(q, { scopedVars: request.scopedVars, range: request.range })).pipe(map((data) => ({ data })));
  }
}

/**
 * Reads the Prometheus-style strings people paste into dashboards:
 *   label_values(host)  label_values({experiment="$experiment"}, schedd)  label_names()  metrics()
 */
export function parseVariableQueryString(text: string): RexmonVariableQuery {
  const s = text.trim();
  let m = s.match(/^label_values\(\s*(?:(.*)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)$/);
  if (m) {
    return { refId: 'variable', type: 'labelValues', match: m[1]?.trim() ?? '', label: m[2] };
  }
  m = s.match(/^label_names\(\s*(.*)\s*\)$/);
  if (m) {
    return { refId: 'variable', type: 'labelNames', match: m[1].trim() };
  }
  m = s.match(/^metrics\(\s*(.*)\s*\)$/);
  if (m) {
    return { refId: 'variable', type: 'metrics', match: m[1].trim() };
  }
  throw new Error(`Cannot read variable query ${JSON.stringify(text)}: use label_values(match, label), label_names(match) or metrics(match)`);
}
