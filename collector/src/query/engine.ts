// Range queries: matcher → series → one `xport` per chunk of series (on the reader pipes, in parallel),
// the RRA chosen by rrdtool from the step and row limit, then optional aggregation across series by labels.
import { Catalog, SeriesEntry } from '../catalog/catalog.js';
import { Selector } from '../matchers/selector.js';
import { Labels, ValidationError } from '../model/series.js';
import { CF, RrdArchive } from '../rrd/archive.js';
import { RrdError } from '../rrd/errors.js';
import { RrdWriter } from '../rrd/writer.js';

export type Aggregation = 'sum' | 'avg' | 'min' | 'max' | 'count';
/** A function applied to each series before aggregation: rate (per second) or delta between consecutive rows. */
export type SeriesFunction = 'rate' | 'delta';
export const SERIES_FUNCTIONS = ['rate', 'delta'] as const;

export interface QuerySpec {
  selectors: Selector[];
  from: number;
  to: number;
  /** Seconds; 0 or undefined: derived from maxDataPoints. */
  step?: number;
  maxDataPoints?: number;
  cf: CF;
  agg?: Aggregation;
  by?: string[];
  fn?: SeriesFunction;
  /** Series × rows this query may read (http.limits.maxQueryPoints); absent or 0: no bound beyond the fixed ones. */
  maxPoints?: number;
}

/** A query asked for more work than http.limits.maxQueryPoints allows (answered 400, counted by the API). */
export class WorkLimitError extends ValidationError {
  readonly limit = 'http.limits.maxQueryPoints';
}

export interface SeriesData {
  name: string;
  labels: Labels;
  timestamps: number[];
  /** One per timestamp; NaN where nothing is known (null in the JSON answer). */
  values: Float64Array;
}

export interface QueryResult {
  from: number;
  to: number;
  step: number;
  cf: CF;
  series: SeriesData[];
}

export const MAX_SERIES_PER_QUERY = 5000;
export const DEFAULT_MAX_DATA_POINTS = 1000;
/** The most rows one query answers (maxDataPoints' maximum). */
export const MAX_ROWS = 100000;
const CHUNK = 64;

export class QueryEngine {
  constructor(
    private readonly catalog: Catalog,
    private readonly archive: RrdArchive,
    private readonly writer: RrdWriter,
    /** Which series store gauges: only for those is the last raw value a meaningful live point. */
    private readonly isGauge: (e: SeriesEntry) => boolean = () => true,
  ) {}

  /** See activeIn. */
  activeIn(entries: SeriesEntry[], from?: number, to?: number): Promise<SeriesEntry[]> {
    return activeIn(this.archive, entries, from, to);
  }

  async run(q: QuerySpec): Promise<QueryResult> {
    if (!(q.to > q.from)) throw new ValidationError('`to` must be after `from`', 'to');
    const explicitStep = q.step !== undefined && q.step > 0;
    // The row limit: maxDataPoints when given; else an explicit step is honoured up to MAX_ROWS (and refused
    // beyond), and only a query without either falls back to DEFAULT_MAX_DATA_POINTS.
    const maxDataPoints = q.maxDataPoints ?? (explicitStep ? MAX_ROWS : DEFAULT_MAX_DATA_POINTS);
    if (!Number.isInteger(maxDataPoints) || maxDataPoints < 2 || maxDataPoints > MAX_ROWS)
      throw new ValidationError(`maxDataPoints must be an integer between 2 and ${MAX_ROWS}`, 'maxDataPoints');
    const range = q.to - q.from;
    if (explicitStep && q.maxDataPoints === undefined && Math.ceil(range / q.step!) + 1 > MAX_ROWS)
      throw new ValidationError(
        `step ${q.step} s over ${range} s makes ${Math.ceil(range / q.step!) + 1} rows, more than the limit of ${MAX_ROWS}: ` +
          `use a step of at least ${Math.ceil(range / (MAX_ROWS - 1))} s, a shorter range, or maxDataPoints to have the step raised`,
        'step',
      );
    const step = Math.max(q.step ?? 0, Math.ceil(range / maxDataPoints), 1);
    const matched = this.catalog.find(q.selectors, MAX_SERIES_PER_QUERY + 1);
    if (matched.length > MAX_SERIES_PER_QUERY) throw new ValidationError(`the matcher selects more than ${MAX_SERIES_PER_QUERY} series; narrow it`, 'match');
    const rows = Math.min(maxDataPoints, Math.ceil(range / step) + 1);
    if (q.maxPoints && matched.length * rows > q.maxPoints)
      throw new WorkLimitError(
        `the query would read ${matched.length} series × ${rows} rows = ${matched.length * rows} points, more than the limit of ${q.maxPoints} (http.limits.maxQueryPoints): narrow the matcher, shorten the range or lower maxDataPoints`,
        'match',
      );
    let series = await this.read(matched, { cf: q.cf, from: q.from, to: q.to, step, rows });
    if (q.fn) series = series.map((s) => ({ ...s, values: applyFunction(q.fn!, s.timestamps, s.values) }));
    if (q.agg) series = aggregate(series, q.agg, q.by ?? []);
    const realStep = series.length && series[0].timestamps.length > 1 ? series[0].timestamps[1] - series[0].timestamps[0] : step;
    return { from: q.from, to: q.to, step: realStep, cf: q.cf, series };
  }

  /**
   * Reads the given series (no limit on how many: callers such as the alarm evaluator pass them in slices),
   * in chunks of one `xport` each, on the reader pipes in parallel.
   */
  async read(entries: SeriesEntry[], r: { cf: CF; from: number; to: number; step: number; rows: number }): Promise<SeriesData[]> {
    // Make values still in rrdcached visible (only files written since their last flush).
    await this.writer.flush(entries.filter((e) => e.origin === 'native').map((e) => e.file));
    // Even chunks, at least one per reader pipe: 100 series on 2 readers are 50 + 50, not 64 + 36 (the longer one waits).
    const n = Math.ceil(entries.length / Math.max(this.archive.readerCount, Math.ceil(entries.length / CHUNK)));
    const chunks: SeriesEntry[][] = [];
    for (let i = 0; i < entries.length; i += n) chunks.push(entries.slice(i, i + n));
    const parts = await Promise.all(
      chunks.map(async (chunk) => {
        try {
          const out = await this.archive.read(
            chunk.map((e) => ({ file: e.file, ds: e.ds })),
            r.cf,
            r.from,
            r.to,
            r.step,
            r.rows,
          );
          return chunk.map((e, i) => ({
            name: e.name,
            labels: e.labels,
            timestamps: out.timestamps,
            values: withLivePoint(e, out.timestamps, out.columns[i], this.isGauge(e)),
          }));
        } catch (e) {
          if (e instanceof RrdError && /RRA matching the chosen CF|no RRA/i.test(e.message))
            throw new ValidationError(`consolidation function ${r.cf} is not stored for some of these series (${e.message})`, 'cf');
          throw e;
        }
      }),
    );
    return parts.flat();
  }
}

/** How many `last` look-ups one series search has in flight: the reader pipes take them in turn. */
const LAST_CONCURRENCY = 32;

/**
 * The series of `entries` with data in [from, to]: last update ≥ from, and (when known) created ≤ to; either bound
 * may be absent. The last update is the catalog's (native series written since start) or the file's (rrdtool
 * `last`: imported trees, which other programs keep writing, are asked each time). A file that cannot be read has
 * no data in any range.
 */
export async function activeIn(archive: RrdArchive, entries: SeriesEntry[], from?: number, to?: number): Promise<SeriesEntry[]> {
  const created = to === undefined ? entries : entries.filter((e) => e.createdAt <= to);
  if (from === undefined) return created;
  const last = new Array<number>(created.length);
  let next = 0;
  const work = async () => {
    while (next < created.length) {
      const i = next++;
      last[i] = await lastUpdateOf(archive, created[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LAST_CONCURRENCY, created.length) }, work));
  return created.filter((_, i) => last[i] >= from);
}

async function lastUpdateOf(archive: RrdArchive, e: SeriesEntry): Promise<number> {
  if (e.origin === 'native' && e.lastUpdate > 0) return e.lastUpdate;
  try {
    const t = await archive.lastUpdate(e.file, { direct: e.origin === 'imported' });
    // What the writer would learn itself before its next write (see RrdWriter.learnLastUpdates).
    if (e.origin === 'native') e.lastUpdate = Math.max(e.lastUpdate, t);
    return t;
  } catch (err) {
    if (err instanceof RrdError) return 0;
    throw err;
  }
}

/**
 * rrdtool only fills a row once its interval is over, so the newest value would be missing until the next one
 * arrives. For gauges, the row whose interval holds the last update shows the last value written, if still empty.
 */
export function withLivePoint(e: SeriesEntry, timestamps: number[], values: Float64Array, gauge: boolean): Float64Array {
  if (!gauge || e.lastValue === undefined || e.lastUpdate === 0 || timestamps.length === 0) return values;
  const step = timestamps.length > 1 ? timestamps[1] - timestamps[0] : 0;
  const row = timestamps.findIndex((t) => e.lastUpdate > t - step && e.lastUpdate <= t);
  if (row >= 0 && Number.isNaN(values[row])) values[row] = e.lastValue;
  return values;
}

/**
 * rate: per-second change between consecutive rows, for counters stored raw (imported trees, gauge templates);
 * a negative difference is a counter reset and gives null, as does the first row or a row next to an unknown one.
 * delta: the difference between consecutive rows, sign kept (a gauge's change per step).
 */
export function applyFunction(fn: SeriesFunction, timestamps: number[], values: Float64Array): Float64Array {
  return values.map((v, i) => {
    const prev = i > 0 ? values[i - 1] : NaN;
    const d = v - prev; // NaN when either is unknown
    if (fn === 'delta') return d;
    const dt = timestamps[i] - timestamps[i - 1];
    return d < 0 || !(dt > 0) ? NaN : d / dt;
  });
}

/** Combines series point by point within groups of equal `by` labels; unknowns are skipped (count counts known ones). */
export function aggregate(series: SeriesData[], agg: Aggregation, by: string[]): SeriesData[] {
  const groups = new Map<string, { labels: Labels; names: Set<string>; members: SeriesData[] }>();
  for (const s of series) {
    const labels: Labels = {};
    for (const b of by) if (s.labels[b] !== undefined) labels[b] = s.labels[b];
    const key = JSON.stringify(by.map((b) => labels[b] ?? null));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { labels, names: new Set(), members: [] }));
    g.names.add(s.name);
    g.members.push(s);
  }
  const out: SeriesData[] = [];
  for (const g of groups.values()) {
    const acc = new Map<number, { sum: number; min: number; max: number; n: number }>();
    for (const s of g.members) {
      s.timestamps.forEach((t, i) => {
        let a = acc.get(t);
        if (!a) acc.set(t, (a = { sum: 0, min: Infinity, max: -Infinity, n: 0 }));
        const v = s.values[i];
        if (Number.isNaN(v)) return;
        a.sum += v;
        a.min = Math.min(a.min, v);
        a.max = Math.max(a.max, v);
        a.n++;
      });
    }
    const timestamps = [...acc.keys()].sort((a, b) => a - b);
    const values = Float64Array.from(timestamps, (t) => {
      const a = acc.get(t)!;
      if (a.n === 0) return NaN; // nothing known there: no value, not a count of 0
      if (agg === 'count') return a.n;
      return agg === 'sum' ? a.sum : agg === 'avg' ? a.sum / a.n : agg === 'min' ? a.min : a.max;
    });
    const name = g.names.size === 1 ? [...g.names][0] : `${agg}`;
    out.push({ name, labels: g.labels, timestamps, values });
  }
  return out.sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));
}
