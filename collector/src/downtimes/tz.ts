// IANA time zones without a library: validity, wall-clock fields, and wall-clock arithmetic that is
// right across DST changes ("08:00 plus 4 hours" is 12:00 local time on every day of the year).

const formats = new Map<string, Intl.DateTimeFormat>();

function format(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(zone, f);
  }
  return f;
}

export function isTimeZone(zone: string): boolean {
  if (typeof zone !== 'string' || zone === '') return false;
  try {
    format(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's wall clock at `ms`, expressed as if it were UTC (ms). */
function wallMs(ms: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const p of format(zone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
}

/** Offset of `zone` from UTC at instant `ms`, in ms (Chicago in winter: -6 h). */
export function offsetMs(ms: number, zone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallMs(whole, zone) - whole;
}

/**
 * The instant at which `zone`'s wall clock shows `wall` (given as if UTC, in ms). A time that occurs
 * twice (fall back) gives the first, or with `notBefore` the first at or after that instant (so an end
 * in the repeated hour follows a start in its second pass); a time in a gap (spring forward) gives the
 * same distance after the gap.
 */
export function fromWallMs(wall: number, zone: string, notBefore = -Infinity): number {
  const before = offsetMs(wall - 43200000, zone);
  const after = offsetMs(wall + 43200000, zone);
  const fits = [wall - before, wall - after].filter((t) => wallMs(t, zone) === wall).sort((a, b) => a - b);
  const late = fits.filter((t) => t >= notBefore);
  if (late.length) return late[0];
  return fits.length ? fits[fits.length - 1] : wall - before;
}

/** Adds `seconds` to the wall clock of `zone` at instant `startSec`; returns the instant (Unix seconds), never before `startSec`. */
export function addWallClock(startSec: number, seconds: number, zone: string): number {
  const start = Math.round(startSec) * 1000;
  const wall = wallMs(start, zone) + Math.round(seconds) * 1000;
  return fromWallMs(wall, zone, start) / 1000;
}

/** `2025-03-11T13:00:00Z`: Unix seconds as ISO 8601 UTC, for messages, comments and silences. */
export function iso(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
}

const labelFormats = new Map<string, Intl.DateTimeFormat>();

/** `2025-03-11 08:00 CDT`-style text for messages and annotations. */
export function formatInZone(sec: number, zone: string): string {
  // Building a formatter costs far more than using one: one per zone, as format() keeps them.
  let f = labelFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      timeZoneName: 'short',
    });
    labelFormats.set(zone, f);
  }
  return f.format(new Date(sec * 1000)).replace(',', '');
}
