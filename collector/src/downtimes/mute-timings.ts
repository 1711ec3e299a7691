// Recurring downtimes as Grafana mute timings, where the cron rule says the same as a time interval:
// one fixed start time (minute and hour), a window that does not cross midnight, and restrictions on
// weekdays, or days of month, or months (not both day fields: cron ORs them, a mute timing ANDs them).
// A mute timing has no matchers: it mutes only the notification policies that name it in mute_time_intervals,
// so the operator attaches `rexmon-downtime-<id>` to the policy for that scope.
import type { MuteTiming } from './alertmanager.js';
import { Downtime, NICKNAMES } from './model.js';

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function single(field: string, max: number): number | undefined {
  if (!/^\d{1,2}$/.test(field)) return undefined;
  const n = Number(field);
  return n <= max ? n : undefined;
}

/** `1-5,7` → ['1:5', '7'] with names mapped to numbers; undefined when the field uses steps or specials. */
function ranges(field: string, names: string[], base: number, max: number, map: (n: number) => string = String): string[] | undefined {
  if (field === '*' || field === '?') return [];
  const out: string[] = [];
  for (const part of field.toLowerCase().split(',')) {
    const m = /^([a-z0-9]+)(?:-([a-z0-9]+))?$/.exec(part);
    if (!m) return undefined;
    const val = (s: string) => {
      const i = names.indexOf(s);
      const n = i >= 0 ? i + base : /^\d+$/.test(s) ? Number(s) : NaN;
      return n >= base && n <= max ? n : undefined;
    };
    const a = val(m[1]);
    const b = m[2] === undefined ? a : val(m[2]);
    if (a === undefined || b === undefined || b < a) return undefined;
    out.push(a === b ? map(a) : `${map(a)}:${map(b)}`);
  }
  return out;
}

const hhmm = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/** The mute timing for a recurring downtime, or undefined when its rule does not fit one. */
export function muteTimingFor(d: Downtime, prefix: string): MuteTiming | undefined {
  if (!d.recurrence || d.duration === null) return undefined;
  const rule = NICKNAMES[d.recurrence.rule.toLowerCase()] ?? d.recurrence.rule;
  const f = rule.trim().split(/\s+/);
  if (f.length !== 5) return undefined;
  const minute = single(f[0], 59);
  const hour = single(f[1], 23);
  if (minute === undefined || hour === undefined || d.duration % 60 !== 0) return undefined;
  const startMin = hour * 60 + minute;
  const endMin = startMin + d.duration / 60;
  if (endMin > 24 * 60) return undefined;
  const dom = ranges(f[2], [], 1, 31);
  const months = ranges(f[3], MONTH_NAMES, 1, 12);
  // Day of week: 0-7 (7 is Sunday too); Grafana wants names.
  const dowField = f[4].replace(/\b7\b/g, '0');
  const dow = ranges(dowField, DAY_NAMES, 0, 6, (n) => DAYS[n]);
  if (!dom || !months || !dow || (dom.length && dow.length)) return undefined;
  const interval: Record<string, unknown> = { times: [{ start_time: hhmm(startMin), end_time: hhmm(endMin) }] };
  if (dow.length) interval.weekdays = dow;
  if (dom.length) interval.days_of_month = dom;
  if (months.length) interval.months = months;
  interval.location = d.recurrence.timezone;
  return { name: `${prefix}${d.id}`, time_intervals: [interval] };
}
