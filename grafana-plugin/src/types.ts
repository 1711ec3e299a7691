import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

export type QueryType = 'timeseries' | 'downtimes' | 'events';
export type MatchOp = '=' | '!=' | '=~' | '!~';
export type ConsolidationFunction = 'AVERAGE' | 'MIN' | 'MAX' | 'LAST';
export type SeriesFunction = '' | 'rate' | 'delta';
export type DowntimeFormat = '' | 'annotations' | 'table';
export type Aggregation = '' | 'sum' | 'avg' | 'min' | 'max' | 'count';

export interface LabelFilter {
  label: string;
  op: MatchOp;
  value: string;
}

/** One query, as the Go backend reads it (pkg/plugin/query.go QueryModel). */
export interface RexmonQuery extends DataQuery {
  queryType?: QueryType;
  /** builder: metric + labelFilters; code: expr. */
  editorMode?: 'builder' | 'code';
  metric?: string;
  labelFilters?: LabelFilter[];
  /** A selector such as cpu_usage{host=~"fnpc.*"}; for annotations, the matcher. */
  expr?: string;
  cf?: ConsolidationFunction;
  agg?: Aggregation;
  by?: string[];
  /**
   * Per series, before agg: '' (none), rate (per second; a counter reset gives null), delta (change
   * between rows). In code mode `rate(<selector>)` means fn = rate.
   */
  fn?: SeriesFunction;
  /** Series in a downtime running now get the downtime's colour and "(in downtime)" in their name (backend: query.go MarkDowntime). */
  markDowntime?: boolean;
  /** e.g. "{{host}} {{state}}" */
  legendFormat?: string;
  /** Minimum step: seconds or a duration (60, 5m, 1h); empty = automatic. */
  step?: string;
  /** downtimes: '' (both), planned, unplanned */
  kind?: '' | 'planned' | 'unplanned';
  /** downtimes: regions on graphs (default) or one table of active and coming downtimes. */
  format?: DowntimeFormat;
  /** events: event type filter */
  eventType?: string;
  /** events: at most this many (1 to MAX_EVENTS; empty = MAX_EVENTS) */
  limit?: number | string;
}

/**
 * The editor mode a query is in. Hand-written targets (provisioned dashboards) often have none: one
 * with an `expr` is code mode, else builder — as the backend reads it (pkg/plugin/query.go selectorOf).
 */
export function editorModeOf(q: Pick<RexmonQuery, 'editorMode' | 'expr'>): 'builder' | 'code' {
  if (q.editorMode === 'builder' || q.editorMode === 'code') {
    return q.editorMode;
  }
  return q.expr?.trim() ? 'code' : 'builder';
}

/** The collector's most events per answer; annotation queries ask for it unless told less. */
export const MAX_EVENTS = 10000;

export const DEFAULT_QUERY: Partial<RexmonQuery> = {
  queryType: 'timeseries',
  editorMode: 'builder',
  metric: '',
  labelFilters: [],
  cf: 'AVERAGE',
  agg: '',
  by: [],
};

export const DEFAULT_ANNOTATION_QUERY: Partial<RexmonQuery> = {
  queryType: 'downtimes',
  kind: '',
  expr: '',
};

/** Datasource settings (visible to every viewer: no secrets here). */
export interface RexmonOptions extends DataSourceJsonData {
  /** Collector base URL, e.g. http://127.0.0.1:8080 */
  url?: string;
}

/** Kept encrypted by Grafana; only the backend sees it. */
export interface RexmonSecureJsonData {
  apiToken?: string;
}

export type VariableQueryType = 'labelValues' | 'labelNames' | 'metrics';

/** A template variable's query: values of a label among the series a matcher selects. */
export interface RexmonVariableQuery extends DataQuery {
  type: VariableQueryType;
  label?: string;
  /** e.g. {experiment=~"$experiment"} */
  match?: string;
}

export const CONSOLIDATION_FUNCTIONS: ConsolidationFunction[] = ['AVERAGE', 'MIN', 'MAX', 'LAST'];
export const AGGREGATIONS: Array<Exclude<Aggregation, ''>> = ['sum', 'avg', 'min', 'max', 'count'];
export const MATCH_OPS: MatchOp[] = ['=', '!=', '=~', '!~'];
