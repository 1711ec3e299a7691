// One parser for every time a user gives: ISO 8601, Unix seconds, Unix milliseconds (> 1e11),
// and relative forms (`now`, `now-1h`, `+2h`, `-30m`).
import { ValidationError } from '../model/series.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Parses a duration such as `90`, `90s`, `5m`, `1h30m`, `2d` into seconds. */
export function parseDuration(input: string | number, path = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new ValidationError(`${path}: duration must be a non-negative number of seconds`, path);
    return input;
  }
  const s = input.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)([smhdwy])/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length)
    throw new ValidationError(`${path}: ${JSON.stringify(input)} is not a duration (expected e.g. 30s, 5m, 1h30m, 2d)`, path);
  return total;
}

/**
 * How an ISO 8601 time without a UTC offset (`2026-11-22T08:00`, `2026-11-22`) is read. One rule: in the
 * caller's zone. The CLI knows it (`local`: this process's zone, date-only at local midnight) and sends the
 * instant; the API cannot know it, so it refuses such a time and asks for an offset (`refuse`).
 */
export type Zoneless = 'local' | 'refuse';

const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Returns Unix seconds (may be fractional for millisecond input). */
export function parseTime(input: string | number, nowSeconds = Date.now() / 1000, path = 'time', zoneless: Zoneless = 'refuse'): number {
  if (typeof input === 'number') return numericTime(input, path);
  const s = input.trim();
  if (s === '') throw new ValidationError(`${path}: empty time`, path);
  if (/^-?\d+(\.\d+)?$/.test(s)) return numericTime(Number(s), path);
  const rel = /^(now)?\s*([+-])\s*(.+)$/.exec(s);
  if (s === 'now') return nowSeconds;
  if (rel) {
    const d = parseDuration(rel[3], path);
    return rel[2] === '+' ? nowSeconds + d : nowSeconds - d;
  }
  // ISO 8601 only: Date.parse accepts other formats we do not want to promise.
  const m = ISO.exec(s);
  // Checked as UTC first: NaN for 25:00, and validDate for 2026-02-30 (which Date.parse rolls over).
  if (m && validDate(m[1]) && !Number.isNaN(Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[3] ?? 'Z'}`))) {
    if (m[3]) return Date.parse(`${m[1]}T${m[2]}${m[3]}`) / 1000;
    if (zoneless === 'refuse')
      throw new ValidationError(
        `${path}: ${JSON.stringify(input)} has no UTC offset; add one (Z, +01:00): a time without one is read in the caller's zone, which the API is not told`,
        path,
      );
    // Without an offset, Date.parse reads a date-time in this process's zone (a date alone would be UTC).
    return Date.parse(`${m[1]}T${m[2] ?? '00:00'}`) / 1000;
  }
  throw new ValidationError(`${path}: ${JSON.stringify(input)} is not a time (expected ISO 8601, Unix seconds, Unix milliseconds, or now-1h / +2h)`, path);
}

/** A calendar date that exists: Date.parse refuses month 13 or day 45 but takes 2026-02-30 as 2 March. */
function validDate(ymd: string): boolean {
  const [y, mo, d] = ymd.split('-').map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

function numericTime(n: number, path: string): number {
  if (!Number.isFinite(n) || n < 0) throw new ValidationError(`${path}: time must be a non-negative number`, path);
  return n > 1e11 ? n / 1000 : n;
}
