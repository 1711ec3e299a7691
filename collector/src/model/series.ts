// The data model shared by every stage: samples, series identity and the checks on names.

export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  /** NaN = unknown (Graphite `nan`, JSON `null`): stored as `U`, so the RRD shows a gap. */
  value: number;
  /** Unix seconds (integer). */
  time: number;
  /** Sent again from the write-ahead log after a restart: the archive may hold it already. */
  replay?: true;
  /** Declared a cumulative counter by its sender (Prometheus `# TYPE … counter`): a new series gets the counter template unless a rule says otherwise. */
  counter?: true;
}

export interface SeriesRef {
  name: string;
  labels: Labels;
}

// Metric names follow Prometheus plus '.' and '-', so unmapped Graphite paths stay readable.
const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Control characters (NUL, newline, ...) would break file names and the rrdtool line protocols.
const CONTROL = /[\u0000-\u001f\u007f]/;
export const MAX_NAME_LENGTH = 200;
export const MAX_LABEL_VALUE_LENGTH = 1024;
export const MAX_LABELS = 32;

export class ValidationError extends Error {
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'ValidationError';
  }
}

function show(s: string): string {
  const shown = JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
  return shown;
}

export function checkMetricName(name: unknown, path = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError('metric name must be a non-empty string', path);
  if (name.length > MAX_NAME_LENGTH) throw new ValidationError(`metric name is longer than ${MAX_NAME_LENGTH} characters`, path);
  if (!METRIC_NAME.test(name))
    throw new ValidationError(`metric name ${show(name)} is invalid: use letters, digits, '_', ':', '.', '-' and do not start with a digit`, path);
  return name;
}

export function checkLabelName(name: string, path = 'labels'): string {
  if (!LABEL_NAME.test(name) || name.length > MAX_NAME_LENGTH)
    throw new ValidationError(`label name ${show(name)} is invalid: use letters, digits and '_', not starting with a digit`, path);
  if (name.startsWith('__')) throw new ValidationError(`label name ${show(name)} is reserved (starts with "__")`, path);
  return name;
}

export function checkLabelValue(value: unknown, path = 'labels'): string {
  if (typeof value !== 'string') throw new ValidationError('label value must be a string', path);
  if (value.length > MAX_LABEL_VALUE_LENGTH) throw new ValidationError(`label value is longer than ${MAX_LABEL_VALUE_LENGTH} characters`, path);
  if (CONTROL.test(value)) throw new ValidationError(`label value ${show(value)} contains a control character (newline, NUL, ...)`, path);
  return value;
}

export function checkLabels(labels: unknown, path = 'labels'): Labels {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object' || Array.isArray(labels)) throw new ValidationError('labels must be an object of strings', path);
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > MAX_LABELS) throw new ValidationError(`more than ${MAX_LABELS} labels`, path);
  const out: Labels = {};
  // Sorted by name, so every stage sees (and the API prints) the same order.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of entries) {
    checkLabelName(k, `${path}.${k}`);
    const value = checkLabelValue(v, `${path}.${k}`);
    if (value !== '') out[k] = value; // an empty label is the same as no label, as in Prometheus
  }
  return out;
}

/** Canonical identity of a series: name plus labels sorted by name. */
export function seriesKey(name: string, labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

export function formatSeries(s: SeriesRef): string {
  return seriesKey(s.name, s.labels);
}

/** Checks a sample arriving from outside; returns a normalised copy. */
export function checkSample(raw: { name: unknown; labels?: unknown; value: unknown; time?: unknown }, nowSeconds: number, path = ''): Sample {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  const name = checkMetricName(raw.name, p('name'));
  const labels = checkLabels(raw.labels, p('labels'));
  const value = raw.value === null ? NaN : raw.value;
  if (typeof value !== 'number' || (!Number.isFinite(value) && !Number.isNaN(value)))
    throw new ValidationError('value must be a finite number, or null for unknown', p('value'));
  let time = nowSeconds;
  if (raw.time !== undefined && raw.time !== null) {
    if (typeof raw.time !== 'number' || !Number.isFinite(raw.time) || raw.time <= 0)
      throw new ValidationError('time must be a positive number (Unix seconds or milliseconds)', p('time'));
    time = raw.time > 1e11 ? Math.floor(raw.time / 1000) : Math.floor(raw.time);
  }
  return { name, labels, value, time };
}

/** rrdtool refuses files that start before 1980; keep a day's margin for a template's first step. */
export const MIN_TIME = 315532800 + 86400;

/**
 * Why a sample time cannot be stored: before rrdtool's epoch, or further ahead of the clock than the tolerance
 * (one far-future value would make every later value of its series "out of order" and lose its history).
 */
export function timeRefusal(time: number, nowSeconds: number, futureTolerance: number): { reason: 'too_old' | 'too_new'; message: string } | undefined {
  if (time < MIN_TIME) return { reason: 'too_old', message: `time ${time} is before 1980 (${MIN_TIME}), which RRD files cannot hold` };
  if (time > nowSeconds + futureTolerance)
    return { reason: 'too_new', message: `time ${time} is ${time - nowSeconds} s ahead of the collector's clock (tolerance ${futureTolerance} s)` };
  return undefined;
}
