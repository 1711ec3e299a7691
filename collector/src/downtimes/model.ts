// The downtime model: what a downtime is, how input is checked (errors name the field), and the
// occurrences and state computed from one stored record — recurring occurrences are never stored.
import { Cron } from 'croner';
import { Matcher, matchesLabels, parseSelector, Selector } from '../matchers/selector.js';
import { Labels, ValidationError } from '../model/series.js';
import { parseDuration, parseTime } from '../util/time.js';
import { addWallClock, isTimeZone, iso } from './tz.js';

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
/** Safety cap on the occurrences one call computes; callers that may reach it say so (see occurrenceList). */
export const MAX_OCCURRENCES = 10000;
const DST_MARGIN = 7200;
/** A recurring downtime's runs must be at least this far apart (wall clock), so no range holds too many. */
export const MIN_RECURRENCE_INTERVAL = 3600;
/** Longest duration accepted: 10 years (seconds). Longer ones overflow the store's integer column. */
export const MAX_DURATION = 10 * 36525 * 864;
/** Latest time accepted: 9999-12-31T23:59:59Z; later ones cannot be written as ISO 8601 for a silence. */
export const MAX_TIME = 253402300799;
export const NICKNAMES: Record<string, string> = {
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@hourly': '0 * * * *',
};

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
  if (typeof v !== 'string' && typeof v !== 'number')
    throw new ValidationError(`${path} must be a time: ISO 8601, Unix seconds or milliseconds, or now/+2h`, path);
  const t = Math.floor(parseTime(v, now, path));
  if (!(t >= 0 && t <= MAX_TIME)) throw new ValidationError(`${path} must be between 1970-01-01 and 9999-12-31T23:59:59Z`, path);
  return t;
}

/**
 * Parses and checks a scope given as input: at least one matcher, since an empty scope would mute
 * everything; no metric name, since alerts carry no __name__ (a silence with one would mute nothing);
 * regular expressions that Alertmanager (Go RE2) can compile too.
 */
export function parseScope(match: unknown, path = 'match'): Matcher[] {
  const text = str(match, path, 4096);
  const sel = parseSelector(text, path);
  if (sel.matchers.length === 0) throw new ValidationError(`${path}: a downtime needs at least one label matcher, e.g. {host="fnpc3001"}`, path);
  if (sel.matchers.some((m) => m.name === '__name__'))
    throw new ValidationError(
      `${path}: a downtime scope cannot name a metric (or match __name__): alerts carry no metric name, so it would silence nothing; give labels only, e.g. {host="fnpc3001"}`,
      path,
    );
  for (const m of sel.matchers) if (m.re) checkRe2(m.value, m.name, path);
  if (!sel.matchers.some((m) => !matchesEmpty(m)))
    throw new ValidationError(`${path}: at least one matcher must not match the empty string (e.g. host="fnpc3001"), or it would cover every series`, path);
  return sel.matchers;
}

/**
 * Refuses what JavaScript compiles but Go's RE2 (Alertmanager, Grafana) does not: lookaround,
 * backreferences, named groups written (?<name>...), atomic groups, possessive quantifiers, \u and \c
 * escapes, and character classes starting with ] (`[]`, `[^]`).
 */
export function checkRe2(re: string, label: string, path = 'match'): void {
  const bad = (what: string): never => {
    throw new ValidationError(
      `${path}: the regular expression ${JSON.stringify(re)} for label ${label} uses ${what}, which Alertmanager (Go RE2) cannot compile`,
      path,
    );
  };
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === '\\') {
      const n = re[i + 1];
      if (n !== undefined && /[1-9]/.test(n)) bad(`a backreference (\\${n})`);
      if (n === 'k') bad('a named backreference (\\k<...>)');
      if (n === 'u') bad('a \\u escape (write \\xHH)');
      if (n === 'c') bad('a \\c control escape');
      i++;
    } else if (c === '[') {
      let j = i + 1;
      if (re[j] === '^') j++;
      if (re[j] === ']') bad('a character class starting with ] ([] or [^])');
      for (; j < re.length && re[j] !== ']'; j++) if (re[j] === '\\') j++;
      i = j;
    } else if (c === '(' && re[i + 1] === '?') {
      const a = re[i + 2];
      const b = re[i + 3];
      if (a === '=' || a === '!') bad('a lookahead');
      if (a === '<' && (b === '=' || b === '!')) bad('a lookbehind');
      if (a === '<') bad('a named group (?<name>...) (use a plain group)');
      if (a === '>') bad('an atomic group');
    } else if ((c === '*' || c === '+' || c === '?' || c === '}') && re[i + 1] === '+') bad('a possessive quantifier');
  }
}

function matchesEmpty(m: Matcher): boolean {
  if (m.op === '=') return m.value === '';
  if (m.op === '!=') return m.value !== '';
  if (m.op === '=~') return m.re!.test('');
  return !m.re!.test('');
}

function checkRecurrence(v: unknown): Recurrence {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ValidationError('recurrence must be an object {"rule": "0 8 * * TUE", "timezone": "America/Chicago"} or null', 'recurrence');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'rule' && k !== 'timezone') throw new ValidationError(`recurrence.${k}: unknown field (expected rule, timezone)`, `recurrence.${k}`);
  const rule = str(o.rule, 'recurrence.rule', 200);
  if (o.timezone === undefined)
    throw new ValidationError('recurrence.timezone is required: an IANA time zone such as America/Chicago or UTC', 'recurrence.timezone');
  const timezone = str(o.timezone, 'recurrence.timezone', 64);
  if (!isTimeZone(timezone))
    throw new ValidationError(
      `recurrence.timezone: unknown time zone ${JSON.stringify(timezone)} (expected an IANA name such as America/Chicago or UTC)`,
      'recurrence.timezone',
    );
  try {
    compileRule({ rule, timezone });
  } catch (e) {
    throw new ValidationError(
      `recurrence.rule: ${JSON.stringify(rule)} is not a cron rule (minute hour day-of-month month day-of-week, e.g. "0 8 * * TUE"): ${(e as Error).message.replace(/^CronPattern: /, '')}`,
      'recurrence.rule',
    );
  }
  return { rule, timezone };
}

/**
 * Checks a create body (`current` undefined) or applies a PATCH body to `current` and checks the result.
 * Returns the fields to store. Unknown fields are refused by name so typos do not pass silently.
 */
export function checkFields(
  body: unknown,
  now: number,
  current?: DowntimeFields,
  allowed: readonly string[] = current ? ['by', 'version'] : ['by'],
): DowntimeFields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body must be a JSON object', 'body');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (k === 'version' && !allowed.includes(k))
      throw new ValidationError('version: only an edit (PATCH) takes a version; a new downtime starts at version 1', k);
    if (!(EDITABLE as readonly string[]).includes(k) && !allowed.includes(k))
      throw new ValidationError(`${k || '"" (an empty key)'}: unknown field (expected ${EDITABLE.join(', ')})`, k || 'body');
  }
  const has = (k: string) => b[k] !== undefined;

  const kind = has('kind') ? b.kind : current?.kind;
  if (!KINDS.includes(kind as Kind))
    throw new ValidationError(`kind must be planned or unplanned${kind === undefined ? '' : `, got ${JSON.stringify(kind)}`}`, 'kind');
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
  if (has('duration') && typeof b.duration !== 'string' && typeof b.duration !== 'number')
    throw new ValidationError('duration must be seconds or a duration such as 4h', 'duration');
  let duration: number | null =
    b.duration === null ? null : has('duration') ? parseDuration(b.duration as string | number, 'duration') : (current?.duration ?? null);
  if (duration !== null) {
    duration = Math.round(duration);
    if (!(duration > 0)) throw new ValidationError('duration must be positive', 'duration');
    if (duration > MAX_DURATION) throw new ValidationError(`duration must be at most 10 years (${MAX_DURATION} s)`, 'duration');
  }

  if (recurrence) {
    if (flexible) throw new ValidationError('flexible: a recurring downtime cannot be flexible', 'flexible');
    if (duration === null) throw new ValidationError('duration is required with recurrence: the length of each occurrence, e.g. 4h', 'duration');
  } else if (flexible) {
    if (end === null) throw new ValidationError('end is required for a flexible downtime: the end of the window in which it may start', 'end');
    if (duration === null) throw new ValidationError('duration is required for a flexible downtime: how long it lasts once triggered', 'duration');
  } else {
    // Fixed: a duration is another way to give the end. `end: null` asks for an open end, so it does not
    // go with a duration either.
    if (has('duration') && has('end') && duration !== null)
      throw new ValidationError(`give end or duration for a fixed downtime, not both${end === null ? ' (end: null asks for an open end)' : ''}`, 'duration');
    if (duration !== null && (has('duration') || (!current && !has('end')))) {
      end = start + duration;
      if (end > MAX_TIME) throw new ValidationError('duration: the end (start + duration) must be before 9999-12-31T23:59:59Z', 'duration');
    }
    duration = null;
    if (end === null && kind === 'planned')
      throw new ValidationError('end is required for a planned downtime (give end or duration); only an unplanned downtime may stay open', 'end');
  }
  if (end !== null && end <= start) throw new ValidationError(`end must be after start (start ${iso(start)}, end ${iso(end)})`, 'end');

  if (recurrence) {
    const first = compileRule(recurrence).nextRun(new Date(start * 1000 - 1));
    if (!first || (end !== null && first.getTime() / 1000 >= end))
      throw new ValidationError(
        `recurrence.rule: ${JSON.stringify(recurrence.rule)} has no occurrence ${end === null ? `after ${iso(start)}` : `between ${iso(start)} and ${iso(end)}`}`,
        'recurrence.rule',
      );
    const gap = shortestGap(recurrence.rule, start);
    if (gap < MIN_RECURRENCE_INTERVAL)
      throw new ValidationError(
        `recurrence.rule: ${JSON.stringify(recurrence.rule)} runs ${gap / 60} min apart; runs must be at least ${MIN_RECURRENCE_INTERVAL / 3600} h apart (for a continuous downtime, give a fixed one)`,
        'recurrence.rule',
      );
    if (duration! > gap)
      throw new ValidationError(
        `duration: occurrences would overlap (${JSON.stringify(recurrence.rule)} runs ${gap / 60} min apart, each lasts ${duration! / 60} min)`,
        'duration',
      );
  }
  return { kind: kind as Kind, match: String(match).trim(), flexible, start, end, duration, recurrence, author, reason, tags };
}

/**
 * The shortest wall-clock gap (seconds) between consecutive runs of a cron rule over the year from
 * `start`, whatever the zone: the rule is read in UTC, so DST changes do not count (an occurrence
 * that a DST change would stretch into the next is cut at the next one's start, see occurrences()).
 * Cheap: the times in a day and the days in a year are walked separately; stops at a gap under an hour.
 */
function shortestGap(rule: string, start: number): number {
  const f = (NICKNAMES[rule.toLowerCase()] ?? rule).trim().split(/\s+/);
  const opts = { timezone: 'UTC', mode: '5-part' } as const;
  const times = new Cron(`${f[0]} ${f[1]} * * *`, opts);
  const daySec: number[] = [];
  let gap = Infinity;
  for (let t = times.nextRun(new Date(-1)); t && t.getTime() < 86400000; t = times.nextRun(t)) {
    const s = t.getTime() / 1000;
    if (daySec.length) gap = Math.min(gap, s - daySec[daySec.length - 1]);
    daySec.push(s);
    if (gap < MIN_RECURRENCE_INTERVAL) return gap;
  }
  const days = new Cron(`0 0 ${f[2]} ${f[3]} ${f[4]}`, opts);
  const from = Math.floor(start / 86400) * 86400;
  let prev: number | undefined;
  for (let t = days.nextRun(new Date(from * 1000 - 1)); t && t.getTime() / 1000 < from + 366 * 86400; t = days.nextRun(t)) {
    const s = t.getTime() / 1000;
    if (prev !== undefined) gap = Math.min(gap, s - prev - (daySec[daySec.length - 1] - daySec[0]));
    prev = s;
    if (gap < MIN_RECURRENCE_INTERVAL) return gap;
  }
  return gap;
}

/**
 * The runs of a recurring downtime from the first starting after `afterSec`, each lasting its duration
 * on the wall clock but cut at the next run's start: across a DST change an occurrence never overlaps
 * the next (e.g. hourly for 1 h in America/Chicago on the night the clocks go back).
 */
function* runs(d: Downtime, afterSec: number): Generator<Occurrence & { end: number }> {
  const cron = compileRule(d.recurrence!);
  const limit = d.end ?? Infinity;
  let n = cron.nextRun(new Date(afterSec * 1000));
  while (n) {
    const s = n.getTime() / 1000;
    if (s >= limit) return;
    const next = cron.nextRun(n);
    const nextStart = next && next.getTime() / 1000 < limit ? next.getTime() / 1000 : Infinity;
    yield { start: s, end: Math.min(addWallClock(s, d.duration!, d.recurrence!.timezone), nextStart) };
    n = next;
  }
}

/**
 * Occurrences overlapping [from, to), in time order, at most `max`: `truncated` says more were left out
 * (for a recurring downtime over a long range), so callers can say so instead of dropping them silently.
 */
export function occurrenceList(d: Downtime, from: number, to: number, max = MAX_OCCURRENCES): { list: Occurrence[]; truncated: boolean } {
  if (d.cancelledAt !== null || max <= 0) return { list: [], truncated: false };
  const cut = d.endedAt ?? Infinity;
  const clip = (o: Occurrence): Occurrence | undefined => {
    const end = o.end === null ? (cut === Infinity ? null : cut) : Math.min(o.end, cut);
    if (end !== null && end <= o.start) return undefined;
    if (o.start >= to || (end !== null && end <= from)) return undefined;
    return { start: o.start, end };
  };
  if (d.recurrence) {
    const out: Occurrence[] = [];
    const last = Math.min(to, cut);
    for (const r of runs(d, Math.max(d.start, from - d.duration! - DST_MARGIN) - 0.001)) {
      if (r.start >= last) break;
      const o = clip(r);
      if (!o) continue;
      if (out.length === max) return { list: out, truncated: true };
      out.push(o);
    }
    return { list: out, truncated: false };
  }
  const o = d.flexible
    ? d.triggeredAt === null
      ? undefined
      : clip({ start: d.triggeredAt, end: d.triggeredAt + d.duration! })
    : clip({ start: d.start, end: d.end });
  return { list: o ? [o] : [], truncated: false };
}

/** Every occurrence overlapping [from, to) (from, to in Unix seconds), in time order; at most `max`. */
export function occurrences(d: Downtime, from: number, to: number, max = MAX_OCCURRENCES): Occurrence[] {
  return occurrenceList(d, from, to, max).list;
}

/** The occurrence running at `now`, if any. */
export function currentOccurrence(d: Downtime, now: number): Occurrence | undefined {
  return occurrences(d, now, now + 1).find((o) => o.start <= now);
}

/** The next occurrence starting after `now`, if any. */
export function nextOccurrence(d: Downtime, now: number): Occurrence | undefined {
  if (d.cancelledAt !== null || (d.endedAt !== null && d.endedAt <= now)) return undefined;
  if (d.recurrence) return runs(d, Math.max(now, d.start - 1) + 0.001).next().value ?? undefined;
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

const scopes = new WeakMap<Downtime, Selector>();

/**
 * A stored downtime's scope, parsed once per downtime object (regexes compiled once). Lenient: a row
 * stored before a check was added still parses as long as it is a selector.
 */
export function scopeOf(d: Downtime): Selector {
  let sel = scopes.get(d);
  if (!sel || sel.text !== d.match.trim()) {
    sel = parseSelector(d.match, 'match');
    scopes.set(d, sel);
  }
  return sel;
}

export function covers(d: Downtime, name: string, labels: Labels): boolean {
  return matchesLabels(scopeOf(d), name, labels);
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
    if (!pinned.some((v) => matchesLabels({ matchers: all, text: '' }, v, { [name]: v }))) return false;
  }
  return true;
}

/** Tags as the Grafana plugin shows them: downtime, the kind, then one per matcher (host=fnpc3001), then the user's. */
export function annotationTags(d: Downtime): string[] {
  const tags = ['downtime', d.kind];
  if (d.recurrence) tags.push('recurring');
  if (d.flexible) tags.push('flexible');
  for (const m of scopeOf(d).matchers) tags.push(`${m.name}${m.op}${m.value}`);
  for (const t of d.tags) if (!tags.includes(t)) tags.push(t);
  return tags;
}

/** The API's view of a downtime: stored fields plus state and the current and next occurrences. */
export function toJson(d: Downtime, now: number) {
  return { ...d, state: stateAt(d, now), current: currentOccurrence(d, now) ?? null, next: nextOccurrence(d, now) ?? null };
}
export type DowntimeJson = ReturnType<typeof toJson>;
