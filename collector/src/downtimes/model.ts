// The downtime model: what a downtime is, how input is checked (errors name the field), and the
// occurrences and state computed from one stored record — recurring occurrences are never stored.
import { Cron } from 'croner';
import { Matcher, matchesLabels, parseSelector } from '../matchers/selector.js';
import { Labels, ValidationError } from '../model/series.js';
import { parseDuration, parseTime } from '../util/time.js';
import { addWallClock, isTimeZone } from './tz.js';

export const KINDS = ['planned', 'unplanned'] as const;
export type Kind = (typeof KINDS)[number];
export const STATES = ['scheduled', 'active', 'ended', 'cancelled'] as const;
export type State = (typeof STATES)[number];

export interface Recurrence {
  /** Cron rule, 5 fields (minute hour day-of-month month day-of-week) or @daily/@weekly/... */
  rule: string;
  /** IANA zone the rule is read in, e.g. America/Chicago. */
  timezone: string;
}

/** What a user sets; everything else about a downtime is bookkeeping. All times in Unix seconds. */
export interface DowntimeFields {
  kind: Kind;
  /** Scope: a series selector, e.g. {host="fnpc3001"}; covers series that appear later too. */
  match: string;
  /** Flexible: starts when the first matching alert fires inside [start, end], then lasts `duration`. */
  flexible: boolean;
  start: number;
  /** Fixed: the end (null: open, unplanned only). Flexible: the window's end. Recurring: no occurrence starts after it (null: forever). */
  end: number | null;
  /** Flexible: length after the trigger. Recurring: length of each occurrence (wall clock). Fixed: null. */
  duration: number | null;
  recurrence: Recurrence | null;
  author: string;
  reason: string;
  tags: string[];
}

export interface Downtime extends DowntimeFields {
  id: number;
  triggeredAt: number | null;
  endedAt: number | null;
  endedBy: string | null;
  cancelledAt: number | null;
  cancelledBy: string | null;
  /** api, cli, grafana (imported annotation) */
  source: string;
  externalId: string | null;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export interface Occurrence {
  start: number;
  /** null: open-ended (an unplanned downtime still going on). */
  end: number | null;
}

export const EDITABLE = ['kind', 'match', 'flexible', 'start', 'end', 'duration', 'recurrence', 'author', 'reason', 'tags'] as const;
const MAX_OCCURRENCES = 5000;
const DST_MARGIN = 7200;

export function compileRule(r: Recurrence): Cron {
  return new Cron(r.rule, { timezone: r.timezone, mode: '5-part' });
}

function str(v: unknown, path: string, max: number): string {
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(`${path} is required: a non-empty string`, path);
  const s = v.trim();
  if (s.length > max) throw new ValidationError(`${path} is longer than ${max} characters`, path);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s)) throw new ValidationError(`${path} must not contain control characters`, path);
  return s;
}

function time(v: unknown, path: string, now: number): number {
  if (typeof v !== 'string' && typeof v !== 'number') throw new ValidationError(`${path} must be a time: ISO 8601, Unix seconds or milliseconds, or now/+2h`, path);
  return Math.floor(parseTime(v, now, path));
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

/** Parses and checks the scope; at least one matcher, since an empty scope would mute everything. */
export function parseScope(match: unknown, path = 'match'): Matcher[] {
  const text = str(match, path, 4096);
  const sel = parseSelector(text, path);
  if (sel.matchers.length === 0) throw new ValidationError(`${path}: a downtime needs at least one label matcher, e.g. {host="fnpc3001"}`, path);
  if (!sel.matchers.some((m) => !matchesEmpty(m)))
    throw new ValidationError(`${path}: at least one matcher must not match the empty string (e.g. host="fnpc3001"), or it would cover every series`, path);
  return sel.matchers;
}

function matchesEmpty(m: Matcher): boolean {
  if (m.op === '=') return m.value === '';
  if (m.op === '!=') return m.value !== '';
  if (m.op === '=~') return m.re!.test('');
  return !m.re!.test('');
}

function checkRecurrence(v: unknown): Recurrence {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError('recurrence must be an object {"rule": "0 8 * * TUE", "timezone": "America/Chicago"} or null', 'recurrence');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'rule' && k !== 'timezone') throw new ValidationError(`recurrence.${k}: unknown field (expected rule, timezone)`, `recurrence.${k}`);
  const rule = str(o.rule, 'recurrence.rule', 200);
  if (o.timezone === undefined) throw new ValidationError('recurrence.timezone is required: an IANA time zone such as America/Chicago or UTC', 'recurrence.timezone');
  const timezone = str(o.timezone, 'recurrence.timezone', 64);
  if (!isTimeZone(timezone)) throw new ValidationError(`recurrence.timezone: unknown time zone ${JSON.stringify(timezone)} (expected an IANA name such as America/Chicago or UTC)`, 'recurrence.timezone');
  try {
    compileRule({ rule, timezone });
  } catch (e) {
    throw new ValidationError(`recurrence.rule: ${JSON.stringify(rule)} is not a cron rule (minute hour day-of-month month day-of-week, e.g. "0 8 * * TUE"): ${(e as Error).message.replace(/^CronPattern: /, '')}`, 'recurrence.rule');
  }
  return { rule, timezone };
}

/**
 * Checks a create body (`current` undefined) or applies a PATCH body to `current` and checks the result.
 * Returns the fields to store. Unknown fields are refused by name so typos do not pass silently.
 */
export function checkFields(body: unknown, now: number, current?: DowntimeFields, allowed: readonly string[] = ['by', 'version']): DowntimeFields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body must be a JSON object', 'body');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!(EDITABLE as readonly string[]).includes(k) && !allowed.includes(k)) throw new ValidationError(`${k}: unknown field (expected ${EDITABLE.join(', ')})`, k);
  const has = (k: string) => b[k] !== undefined;

  const kind = has('kind') ? b.kind : current?.kind;
  if (!KINDS.includes(kind as Kind)) throw new ValidationError(`kind must be planned or unplanned${kind === undefined ? '' : `, got ${JSON.stringify(kind)}`}`, 'kind');
  const match = has('match') ? b.match : current?.match;
  parseScope(match);
  const author = str(has('author') ? b.author : current?.author, 'author', 200);
  const reason = str(has('reason') ? b.reason : current?.reason, 'reason', 4000);
  let tags = current?.tags ?? [];
  if (has('tags')) {
    if (!Array.isArray(b.tags) || b.tags.length > 50) throw new ValidationError('tags must be an array of at most 50 strings', 'tags');
    tags = b.tags.map((t, i) => str(t, `tags[${i}]`, 100));
  }
  let flexible = current?.flexible ?? false;
  if (has('flexible')) {
    if (typeof b.flexible !== 'boolean') throw new ValidationError('flexible must be true or false', 'flexible');
    flexible = b.flexible;
  }
  let recurrence = current?.recurrence ?? null;
  if (b.recurrence !== undefined) recurrence = b.recurrence === null ? null : checkRecurrence(b.recurrence);

  const start = has('start') ? time(b.start, 'start', now) : (current?.start ?? Math.floor(now));
  let end: number | null = b.end === null ? null : has('end') ? time(b.end, 'end', now) : (current?.end ?? null);
  if (has('duration') && typeof b.duration !== 'string' && typeof b.duration !== 'number') throw new ValidationError('duration must be seconds or a duration such as 4h', 'duration');
  let duration: number | null = b.duration === null ? null : has('duration') ? parseDuration(b.duration as string | number, 'duration') : (current?.duration ?? null);
  if (duration !== null) {
    duration = Math.round(duration);
    if (duration <= 0) throw new ValidationError('duration must be positive', 'duration');
  }

  if (recurrence) {
    if (flexible) throw new ValidationError('flexible: a recurring downtime cannot be flexible', 'flexible');
    if (duration === null) throw new ValidationError('duration is required with recurrence: the length of each occurrence, e.g. 4h', 'duration');
  } else if (flexible) {
    if (end === null) throw new ValidationError('end is required for a flexible downtime: the end of the window in which it may start', 'end');
    if (duration === null) throw new ValidationError('duration is required for a flexible downtime: how long it lasts once triggered', 'duration');
  } else {
    // Fixed: a duration is another way to give the end.
    if (has('duration') && has('end') && duration !== null && end !== null) throw new ValidationError('give end or duration for a fixed downtime, not both', 'duration');
    if (duration !== null && (has('duration') || (!current && !has('end')))) end = start + duration;
    duration = null;
    if (end === null && kind === 'planned')
      throw new ValidationError('end is required for a planned downtime (give end or duration); only an unplanned downtime may stay open', 'end');
  }
  if (end !== null && end <= start) throw new ValidationError(`end must be after start (start ${iso(start)}, end ${iso(end)})`, 'end');

  if (recurrence) {
    const cron = compileRule(recurrence);
    const runs: number[] = [];
    let t = new Date(start * 1000 - 1);
    for (let i = 0; i < 50; i++) {
      const n = cron.nextRun(t);
      if (!n || (end !== null && n.getTime() / 1000 >= end)) break;
      runs.push(n.getTime() / 1000);
      t = n;
    }
    if (runs.length === 0)
      throw new ValidationError(`recurrence.rule: ${JSON.stringify(recurrence.rule)} has no occurrence ${end === null ? `after ${iso(start)}` : `between ${iso(start)} and ${iso(end)}`}`, 'recurrence.rule');
    for (let i = 1; i < runs.length; i++) {
      const prevEnd = addWallClock(runs[i - 1], duration!, recurrence.timezone);
      if (prevEnd > runs[i])
        throw new ValidationError(`duration: occurrences would overlap (the one at ${iso(runs[i - 1])} lasts until ${iso(prevEnd)}, the next starts at ${iso(runs[i])})`, 'duration');
    }
  }
  return { kind: kind as Kind, match: String(match).trim(), flexible, start, end, duration, recurrence, author, reason, tags };
}

/** Every occurrence overlapping [from, to) (from, to in Unix seconds), in time order. */
export function occurrences(d: Downtime, from: number, to: number): Occurrence[] {
  if (d.cancelledAt !== null) return [];
  const cut = d.endedAt ?? Infinity;
  const clip = (o: Occurrence): Occurrence | undefined => {
    const end = o.end === null ? (cut === Infinity ? null : cut) : Math.min(o.end, cut);
    if (end !== null && end <= o.start) return undefined;
    if (o.start >= to || (end !== null && end <= from)) return undefined;
    return { start: o.start, end };
  };
  if (d.recurrence) {
    const cron = compileRule(d.recurrence);
    const out: Occurrence[] = [];
    const last = Math.min(to, d.end ?? Infinity, cut);
    let t = new Date(Math.max(d.start, from - d.duration! - DST_MARGIN) * 1000 - 1);
    while (out.length < MAX_OCCURRENCES) {
      const n = cron.nextRun(t);
      if (!n) break;
      const s = n.getTime() / 1000;
      if (s >= last) break;
      const o = clip({ start: s, end: addWallClock(s, d.duration!, d.recurrence.timezone) });
      if (o) out.push(o);
      t = n;
    }
    return out;
  }
  if (d.flexible) {
    if (d.triggeredAt === null) return [];
    const o = clip({ start: d.triggeredAt, end: d.triggeredAt + d.duration! });
    return o ? [o] : [];
  }
  const o = clip({ start: d.start, end: d.end });
  return o ? [o] : [];
}

/** The occurrence running at `now`, if any. */
export function currentOccurrence(d: Downtime, now: number): Occurrence | undefined {
  return occurrences(d, now, now + 1).find((o) => o.start <= now);
}

/** The next occurrence starting after `now`, if any. */
export function nextOccurrence(d: Downtime, now: number): Occurrence | undefined {
  if (d.cancelledAt !== null || (d.endedAt !== null && d.endedAt <= now)) return undefined;
  if (d.recurrence) {
    const n = compileRule(d.recurrence).nextRun(new Date(Math.max(now, d.start - 1) * 1000 + 1));
    if (!n) return undefined;
    const s = Math.floor(n.getTime() / 1000);
    if (d.end !== null && s >= d.end) return undefined;
    return { start: s, end: addWallClock(s, d.duration!, d.recurrence.timezone) };
  }
  if (d.flexible) return undefined;
  return d.start > now ? { start: d.start, end: d.end } : undefined;
}

export function stateAt(d: Downtime, now: number): State {
  if (d.cancelledAt !== null) return 'cancelled';
  if (currentOccurrence(d, now)) return 'active';
  if (nextOccurrence(d, now)) return 'scheduled';
  // A flexible downtime waits for its trigger while its window is open.
  if (d.flexible && d.triggeredAt === null && d.endedAt === null && d.end !== null && now < d.end) return 'scheduled';
  return 'ended';
}

export function covers(d: Downtime, name: string, labels: Labels): boolean {
  return matchesLabels({ matchers: parseScope(d.match), text: d.match }, name, labels);
}

/**
 * Whether some series could match both the downtime's scope and `filter`: labels pinned with `=` on one
 * side must be accepted by the other side's matchers on that label. Regex-only constraints are assumed to meet.
 */
export function couldOverlap(scope: Matcher[], filter: Matcher[]): boolean {
  const names = new Set(scope.map((m) => m.name));
  for (const name of names) {
    const all = scope.concat(filter).filter((m) => m.name === name);
    const pinned = all.filter((m) => m.op === '=').map((m) => m.value);
    if (pinned.length === 0) continue;
    if (!pinned.some((v) => all.every((m) => matchValue(m, v)))) return false;
  }
  return true;
}

function matchValue(m: Matcher, v: string): boolean {
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return m.re!.test(v);
    case '!~':
      return !m.re!.test(v);
  }
}

/** Tags as the Grafana plugin shows them: downtime, the kind, then one per matcher (host=fnpc3001), then the user's. */
export function annotationTags(d: Downtime): string[] {
  const tags = ['downtime', d.kind];
  if (d.recurrence) tags.push('recurring');
  if (d.flexible) tags.push('flexible');
  for (const m of parseScope(d.match)) tags.push(`${m.name}${m.op}${m.value}`);
  for (const t of d.tags) if (!tags.includes(t)) tags.push(t);
  return tags;
}

/** The API's view of a downtime: stored fields plus state and the current and next occurrences. */
export function toJson(d: Downtime, now: number) {
  return { ...d, state: stateAt(d, now), current: currentOccurrence(d, now) ?? null, next: nextOccurrence(d, now) ?? null };
}
export type DowntimeJson = ReturnType<typeof toJson>;
