// `rexmon downtime add|list|show|edit|end|cancel`: the downtime API for shell users.
import { Command, InvalidArgumentError, Option } from 'commander';
import os from 'node:os';
import type { ApiClient } from '../cli/client.js';
import { UsageError } from '../cli/usage.js';
import { parseSelector } from '../matchers/selector.js';
import { parseDuration, parseTime } from '../util/time.js';
import type { DowntimeJson } from './model.js';
import type { HistoryEntry } from './store.js';

type ApiOpts = { url: string; token?: string; json?: boolean };

const asTime = (name: string) => (v: string) => {
  try {
    // Times without an offset are the caller's: read in this machine's zone, sent as Unix seconds.
    return Math.floor(parseTime(v, Date.now() / 1000, name, 'local'));
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const asDuration = (v: string) => {
  try {
    return parseDuration(v, 'duration');
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const asScope = (v: string) => {
  try {
    parseSelector(v, 'match');
    return v;
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const asId = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`downtime id must be a number, got ${JSON.stringify(v)}`);
  return v;
};
const collect = (v: string, prev: string[] = []) => prev.concat(v);

const me = () => process.env.REXMON_USER ?? process.env.USER ?? os.userInfo().username;
const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

function fmt(t: number | null | undefined): string {
  if (t === null || t === undefined) return '-';
  return new Date(t * 1000)
    .toISOString()
    .replace(/:00\.000Z$|\.000Z$/, 'Z')
    .replace('T', ' ');
}

function fmtDuration(s: number): string {
  const parts: string[] = [];
  for (const [u, n] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
  }
  return parts.join('') || '0s';
}

function window(d: DowntimeJson): string {
  if (d.recurrence)
    return `every "${d.recurrence.rule}" ${d.recurrence.timezone} for ${fmtDuration(d.duration!)}, from ${fmt(d.start)}${d.end ? ` until ${fmt(d.end)}` : ''}`;
  if (d.flexible) return `flexible ${fmtDuration(d.duration!)} within ${fmt(d.start)} – ${fmt(d.end)}${d.triggeredAt ? `, started ${fmt(d.triggeredAt)}` : ''}`;
  // Ended (by `downtime end`) before its end, or while open: the window closed then.
  if (d.endedAt !== null && (d.end === null || d.endedAt < d.end))
    return `${fmt(d.start)} – ${fmt(d.endedAt)} (ended${d.end === null ? '' : `; was until ${fmt(d.end)}`})`;
  return `${fmt(d.start)} – ${d.end === null ? 'open' : fmt(d.end)}`;
}

const TIME_FIELDS = new Set(['start', 'end', 'triggeredAt', 'endedAt', 'cancelledAt']);

/** A field's value in the history as a person reads it: times as dates, durations as 4h, the rest as JSON. */
function fmtValue(field: string, v: unknown): string {
  if (typeof v === 'number' && TIME_FIELDS.has(field)) return fmt(v);
  if (typeof v === 'number' && field === 'duration') return fmtDuration(v);
  if (v === null && field === 'end') return 'open';
  return JSON.stringify(v);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

export function printDowntime(d: DowntimeJson): string {
  const lines = [
    `downtime #${d.id}  ${d.kind}  ${d.state}`,
    `  scope:   ${d.match}`,
    `  window:  ${window(d)}`,
    `  author:  ${d.author}`,
    `  reason:  ${d.reason}`,
  ];
  if (d.tags.length) lines.push(`  tags:    ${d.tags.join(', ')}`);
  if (d.current) lines.push(`  now:     ${fmt(d.current.start)} – ${d.current.end === null ? 'open' : fmt(d.current.end)}`);
  if (d.next) lines.push(`  next:    ${fmt(d.next.start)} – ${fmt(d.next.end)}`);
  if (d.endedAt) lines.push(`  ended:   ${fmt(d.endedAt)} by ${d.endedBy}`);
  if (d.cancelledAt) lines.push(`  cancelled: ${fmt(d.cancelledAt)} by ${d.cancelledBy}`);
  return lines.join('\n');
}

function printHistory(h: HistoryEntry[]): string {
  return h
    .map((e) => {
      const what = Object.entries(e.changes)
        .map(([k, v]) => (e.action === 'create' || e.action === 'import' ? `${k}=${fmtValue(k, v.to)}` : `${k}: ${fmtValue(k, v.from)} → ${fmtValue(k, v.to)}`))
        .join(', ');
      return `  ${fmt(e.at)}  ${e.action.padEnd(7)} ${e.actor}${e.principal !== e.actor ? ` (via ${e.principal})` : ''}  ${what}`;
    })
    .join('\n');
}

/** Adds the `downtime` command group; `apiOptions` adds --url/--token, `client` makes the API client. */
export function downtimeCommands(program: Command, apiOptions: (c: Command) => Command, client: (o: ApiOpts) => ApiClient): Command {
  const dt = program.command('downtime').description('planned and unplanned downtimes: graphs show them, planned ones silence alerts');
  const out = (o: ApiOpts, d: DowntimeJson, verb: string) =>
    console.log(o.json ? JSON.stringify(d, null, 2) : `${verb} downtime #${d.id} (${d.kind}, ${d.state})\n${printDowntime(d)}`);

  apiOptions(dt.command('add').description('file a downtime; times: ISO 8601, Unix seconds, now, +2h, now-30m'))
    .addOption(new Option('--planned', 'planned work (silences alerts)').conflicts('unplanned'))
    .addOption(new Option('--unplanned', 'something broke (drawn on graphs; may stay open)').conflicts('planned'))
    .requiredOption('--match <selector>', 'scope, e.g. \'{host="fnpc3001"}\' or \'{service=~"enstore|dcache"}\'', asScope)
    .option('--start <time>', 'start, or the window start of a flexible one (default now)', asTime('start'))
    .option('--end <time>', 'end; for --every: no occurrence after it', asTime('end'))
    .option('--duration <duration>', 'instead of --end (e.g. 4h); with --flexible or --every: the length of each', asDuration)
    .option('--flexible', 'start when the first matching alert fires between --start and --end, then last --duration')
    .option('--every <rule>', 'recur on a cron rule: "minute hour day month weekday", e.g. "0 8 * * TUE"')
    .option('--tz <zone>', "IANA time zone of --every (default: this machine's zone)")
    .requiredOption('--reason <text>', 'why (required)')
    .option('--author <name>', 'who (default: $USER)')
    .option('--tag <tag>', 'a free tag (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(
      async (
        o: ApiOpts & {
          planned?: boolean;
          unplanned?: boolean;
          match: string;
          start?: number;
          end?: number;
          duration?: number;
          flexible?: boolean;
          every?: string;
          tz?: string;
          reason: string;
          author?: string;
          tag?: string[];
        },
      ) => {
        if (!o.planned && !o.unplanned) throw new UsageError('say --planned or --unplanned');
        if (o.tz && !o.every) throw new UsageError('--tz goes with --every');
        const body = {
          kind: o.planned ? 'planned' : 'unplanned',
          match: o.match,
          start: o.start,
          end: o.end,
          duration: o.duration,
          flexible: o.flexible ?? false,
          recurrence: o.every ? { rule: o.every, timezone: o.tz ?? localZone() } : undefined,
          author: o.author ?? me(),
          reason: o.reason,
          tags: o.tag,
        };
        const created = await client(o).request<DowntimeJson>('POST', '/downtimes', undefined, body);
        out(o, created, 'created');
        if (created.state === 'ended') console.error(`rexmon: warning: downtime #${created.id} is already over: it will not silence anything`);
      },
    );

  const listCmd = apiOptions(dt.command('list').description('list downtimes (default: scheduled and active)'));
  listCmd
    .option('--active', 'only those active now (same as --state active)')
    .option('--all', 'every state, including ended and cancelled')
    .option('--state <states>', 'comma-separated: scheduled, active, ended, cancelled')
    .addOption(new Option('--kind <kind>', 'planned or unplanned').choices(['planned', 'unplanned']))
    .option('--match <selector>', 'only downtimes that could cover series matching this', asScope)
    .option('--from <time>', 'only those touching [from, to)', asTime('from'))
    .option('--to <time>', 'end of that range', asTime('to'))
    .option('--json', 'print JSON')
    .action(async (o: ApiOpts & { active?: boolean; all?: boolean; state?: string; kind?: string; match?: string; from?: number; to?: number }) => {
      // Say which filter wins instead of letting one silently override another.
      const given = [o.active && '--active', o.state !== undefined && '--state', o.all && '--all'].filter(Boolean);
      if (given.length > 1)
        listCmd.error(`error: ${given.join(' and ')} cannot be used together: --active is --state active, --all is every state`, {
          exitCode: 2,
          code: 'rexmon.usage',
        });
      const state = o.active ? 'active' : (o.state ?? (o.all ? undefined : 'scheduled,active'));
      const list = await client(o).request<DowntimeJson[]>('GET', '/downtimes', {
        state,
        kind: o.kind,
        match: o.match,
        from: o.from?.toString(),
        to: o.to?.toString(),
      });
      if (o.json) return void console.log(JSON.stringify(list, null, 2));
      if (!list.length) return void console.log('no downtimes');
      console.log(
        table([
          ['ID', 'KIND', 'STATE', 'SCOPE', 'WHEN', 'AUTHOR', 'REASON'],
          ...list.map((d) => [String(d.id), d.kind, d.state, d.match, window(d), d.author, d.reason]),
        ]),
      );
    });

  apiOptions(dt.command('show').description('one downtime with its history').argument('<id>', 'downtime id', asId))
    .option('--json', 'print JSON')
    .action(async (id: string, o: ApiOpts) => {
      const c = client(o);
      const [d, h] = await Promise.all([c.request<DowntimeJson>('GET', `/downtimes/${id}`), c.request<HistoryEntry[]>('GET', `/downtimes/${id}/history`)]);
      if (o.json) return void console.log(JSON.stringify({ ...d, history: h }, null, 2));
      console.log(`${printDowntime(d)}\nhistory:\n${printHistory(h)}`);
    });

  apiOptions(dt.command('edit').description('change a scheduled or active downtime').argument('<id>', 'downtime id', asId))
    .option('--match <selector>', 'new scope', asScope)
    .option('--start <time>', 'new start', asTime('start'))
    .option('--end <time>', 'new end', asTime('end'))
    .option('--duration <duration>', 'new duration', asDuration)
    .option('--reason <text>', 'new reason')
    .option('--tag <tag>', 'replace the tags (repeatable)', collect)
    .option('--by <name>', 'who changes it (default: $USER)')
    .option('--json', 'print JSON')
    .action(
      async (id: string, o: ApiOpts & { match?: string; start?: number; end?: number; duration?: number; reason?: string; tag?: string[]; by?: string }) => {
        const body = { match: o.match, start: o.start, end: o.end, duration: o.duration, reason: o.reason, tags: o.tag, by: o.by ?? me() };
        out(o, await client(o).request<DowntimeJson>('PATCH', `/downtimes/${id}`, undefined, body), 'updated');
      },
    );

  apiOptions(dt.command('end').description('end a running downtime now').argument('<id>', 'downtime id', asId))
    .option('--by <name>', 'who ends it (default: $USER)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: ApiOpts & { by?: string }) => {
      out(o, await client(o).request<DowntimeJson>('POST', `/downtimes/${id}/end`, undefined, { by: o.by ?? me() }), 'ended');
    });

  apiOptions(dt.command('cancel').description('withdraw a downtime: it no longer counts and its silences expire').argument('<id>', 'downtime id', asId))
    .option('--by <name>', 'who cancels it (default: $USER)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: ApiOpts & { by?: string }) => {
      out(o, await client(o).request<DowntimeJson>('DELETE', `/downtimes/${id}`, undefined, { by: o.by ?? me() }), 'cancelled');
    });
  return dt;
}
