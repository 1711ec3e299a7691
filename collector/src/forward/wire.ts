// What travels from one collector to the next: a request names its sender and carries batches, each with its
// sequence number, samples as compact arrays and events as the event API takes them. The receiver checks all
// of it like any other input before it stores anything.
import { checkEvent, EventInput } from '../events/model.js';
import { checkSample, Sample, ValidationError } from '../model/series.js';

/** [name, labels, value (null = unknown), time, flags?]: flags 1 = declared counter, 2 = resent from a write-ahead log replay. */
export type WireSample = [string, Record<string, string>, number | null, number, number?];

export interface ForwardBatch {
  seq: number;
  samples: Sample[];
  events: EventInput[];
  /** The sender's store key for these events: the same events sent again under a new seq carry the same key. */
  key?: string;
}

const KEY_RE = /^[A-Za-z0-9_.:/-]{1,200}$/;

export const SENDER_RE = /^[A-Za-z0-9_.-]{1,100}$/;
export const MAX_BATCHES = 10000;

/** Checks a POST /api/v1/forward body; a ValidationError names the first thing wrong (e.g. `batches[2].s[7].labels`). */
export function parseForward(body: unknown, nowMs: number): { sender: string; batches: ForwardBatch[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body must be {"sender": ..., "batches": [...]}', 'body');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== 'sender' && k !== 'batches') throw new ValidationError(`unknown field ${JSON.stringify(k)}`, k);
  if (typeof b.sender !== 'string' || !SENDER_RE.test(b.sender)) throw new ValidationError('sender must be 1 to 100 letters, digits, _, . and -', 'sender');
  if (!Array.isArray(b.batches) || b.batches.length === 0) throw new ValidationError('batches must be a non-empty array', 'batches');
  if (b.batches.length > MAX_BATCHES) throw new ValidationError(`at most ${MAX_BATCHES} batches per request; got ${b.batches.length}`, 'batches');
  const now = Math.floor(nowMs / 1000);
  const batches = b.batches.map((raw: unknown, i): ForwardBatch => {
    const at = `batches[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError('expected {"q": seq, "s": [...], "e": [...], "k"?: key}', at);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r))
      if (k !== 'q' && k !== 's' && k !== 'e' && k !== 'k') throw new ValidationError(`unknown field ${JSON.stringify(k)}`, `${at}.${k}`);
    if (r.k !== undefined && (typeof r.k !== 'string' || !KEY_RE.test(r.k)))
      throw new ValidationError("k (the events' key) must be 1 to 200 letters, digits and _ . : / -", `${at}.k`);
    if (typeof r.q !== 'number' || !Number.isSafeInteger(r.q) || r.q < 1)
      throw new ValidationError('q (the sequence number) must be a positive integer', `${at}.q`);
    if (r.s !== undefined && !Array.isArray(r.s)) throw new ValidationError('s must be an array of samples', `${at}.s`);
    if (r.e !== undefined && !Array.isArray(r.e)) throw new ValidationError('e must be an array of events', `${at}.e`);
    const samples = ((r.s as unknown[] | undefined) ?? []).map((w, j) => {
      const p = `${at}.s[${j}]`;
      if (!Array.isArray(w) || w.length < 4 || w.length > 5) throw new ValidationError('a sample is [name, labels, value, time, flags?]', p);
      const [name, labels, value, time, flags] = w as unknown[];
      if (time === undefined || time === null) throw new ValidationError('time is required', `${p}[3]`);
      if (flags !== undefined && (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 3))
        throw new ValidationError('flags must be 0 to 3', `${p}[4]`);
      const s: Sample = checkSample({ name, labels, value, time }, now, p);
      if ((flags as number) & 1) s.counter = true;
      if ((flags as number) & 2) s.replay = true;
      return s;
    });
    const events = ((r.e as unknown[] | undefined) ?? []).map((e, j) => checkEvent(e, nowMs, `${at}.e[${j}]`));
    return { seq: r.q, samples, events, ...(r.k !== undefined ? { key: r.k as string } : {}) };
  });
  return { sender: b.sender, batches };
}
