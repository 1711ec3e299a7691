// Events: key/value records with a type, a time and a source (job state changes, file deliveries,
// errors), optional labels so series selectors can filter them. Checked here, once, for every input.
import { checkLabels, Labels, ValidationError } from '../model/series.js';
import { parseTime } from '../util/time.js';

export type EventValue = string | number | boolean;

export interface EventInput {
  /** Unix milliseconds (integer). */
  time: number;
  type: string;
  source: string;
  labels: Labels;
  data: Record<string, EventValue>;
}

export interface StoredEvent extends EventInput {
  id: number;
}

export const TYPE_RE = /^[A-Za-z0-9_.:-]{1,100}$/;
export const MAX_SOURCE_LENGTH = 200;
export const MAX_DATA_KEYS = 64;
export const MAX_DATA_KEY_LENGTH = 100;
/** Bytes of `data` as stored (UTF-8 JSON). */
export const MAX_DATA_BYTES = 4096;
export const MAX_EVENTS_PER_REQUEST = 10000;

const CONTROL = /[\u0000-\u001f\u007f]/;
const FIELDS = new Set(['time', 'type', 'source', 'labels', 'data']);

const show = (s: string) => JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);

export function checkEventType(v: unknown, path = 'type'): string {
  if (v === undefined || v === null || v === '') throw new ValidationError('type is required', path);
  if (typeof v !== 'string' || !TYPE_RE.test(v))
    throw new ValidationError(`type ${typeof v === 'string' ? show(v) + ' ' : ''}must be 1 to 100 of letters, digits, '_', '.', ':', '-'`, path);
  return v;
}

function checkSource(v: unknown, path: string): string {
  if (v === undefined || v === null || v === '') throw new ValidationError('source is required', path);
  if (typeof v !== 'string') throw new ValidationError('source must be a string', path);
  if (v.length > MAX_SOURCE_LENGTH) throw new ValidationError(`source is longer than ${MAX_SOURCE_LENGTH} characters`, path);
  if (CONTROL.test(v)) throw new ValidationError(`source ${show(v)} contains a control character (newline, NUL, ...)`, path);
  return v;
}

function checkData(v: unknown, path: string): Record<string, EventValue> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('data must be an object of strings, numbers and booleans', path);
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_DATA_KEYS) throw new ValidationError(`data has ${entries.length} keys; at most ${MAX_DATA_KEYS}`, path);
  const out: Record<string, EventValue> = {};
  for (const [k, x] of entries) {
    if (k === '' || k.length > MAX_DATA_KEY_LENGTH || CONTROL.test(k))
      throw new ValidationError(`data key ${show(k)} must be 1 to ${MAX_DATA_KEY_LENGTH} characters without control characters`, path);
    const at = `${path}.${k}`;
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw new ValidationError('must be a finite number', at);
    } else if (typeof x !== 'string' && typeof x !== 'boolean') {
      throw new ValidationError(
        `must be a string, number or boolean (data is flat; got ${x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x})`,
        at,
      );
    }
    out[k] = x as EventValue;
  }
  const bytes = Buffer.byteLength(JSON.stringify(out));
  if (bytes > MAX_DATA_BYTES) throw new ValidationError(`data is ${bytes} bytes as JSON; at most ${MAX_DATA_BYTES}`, path);
  return out;
}

/** Checks an event arriving from outside; returns a normalised copy. `path` prefixes error paths (`[3]`). */
export function checkEvent(raw: unknown, nowMs: number, path = ''): EventInput {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError('expected an event object {"type", "source", "time", "labels", "data"}', path || 'body');
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r))
    if (!FIELDS.has(k)) throw new ValidationError(`unknown field ${show(k)} (an event has type, source, time, labels, data)`, p(k));
  const type = checkEventType(r.type, p('type'));
  const source = checkSource(r.source, p('source'));
  let time = nowMs;
  if (r.time !== undefined && r.time !== null) {
    if (typeof r.time !== 'string' && typeof r.time !== 'number')
      throw new ValidationError('time must be ISO 8601, Unix seconds or Unix milliseconds', p('time'));
    time = Math.round(parseTime(r.time, nowMs / 1000, p('time')) * 1000);
  }
  const labels = checkLabels(r.labels, p('labels'));
  const data = checkData(r.data, p('data'));
  return { time, type, source, labels, data };
}
