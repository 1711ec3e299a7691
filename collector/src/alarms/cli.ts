// `rexmon alarms list|history|rules`: the alarm API for shell users.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ApiClient } from '../cli/client.js';
import { parseSelector } from '../matchers/selector.js';
import { parseTime } from '../util/time.js';
import type { HistoryEntry } from './store.js';
import { formatValue } from './template.js';
import type { AlarmInstance } from './types.js';

type ApiOpts = { url: string; token?: string; json?: boolean };

const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

const asTime = (name: string) => (v: string) => {
  try {
    // Times without an offset are the caller's: read in this machine's zone, sent as Unix seconds.
    return String(Math.floor(parseTime(v, Date.now() / 1000, name, 'local')));
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const asSelector = (v: string) => {
  try {
    parseSelector(v, 'match');
    return v;
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const asStates = (v: string) => {
  const list = v.split(',').map((s) => s.trim().toUpperCase());
  const bad = list.find((s) => !STATES.includes(s));
  if (bad !== undefined) throw new InvalidArgumentError(`${JSON.stringify(bad)} is not one of ${STATES.join(', ')}`);
  return list.join(',');
};

const fmt = (t: number | null | undefined) =>
  t === null || t === undefined
    ? '-'
    : new Date(t * 1000)
        .toISOString()
        .replace(/\.000Z$/, 'Z')
        .replace('T', ' ');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

export function alarmCommands(program: Command, apiOptions: (c: Command) => Command, client: (o: ApiOpts) => ApiClient): void {
  const alarms = program.command('alarms').description('built-in alarms: current states, state changes, rules');

  apiOptions(alarms.command('list').description('current alarm states (one per rule and matching series)'))
    .option('--state <states>', 'only these states, comma-separated (OK, WARNING, CRITICAL, UNKNOWN)', asStates)
    .option('--rule <name>', 'only this rule')
    .option('--match <selector>', 'only instances matching this selector (series and rule labels)', asSelector)
    .addOption(new Option('--in-downtime', 'only instances a downtime covers').conflicts('notInDowntime'))
    .option('--not-in-downtime', 'only instances no downtime covers')
    .option('--json', 'print JSON')
    .action(async (o: ApiOpts & { state?: string; rule?: string; match?: string; inDowntime?: boolean; notInDowntime?: boolean }) => {
      const inDowntime = o.inDowntime ? 'true' : o.notInDowntime ? 'false' : undefined;
      const list = await client(o).request<AlarmInstance[]>('GET', '/alarms', { state: o.state, rule: o.rule, match: o.match, inDowntime });
      if (o.json) return void console.log(JSON.stringify(list, null, 2));
      if (!list.length) return void console.log('no alarm instances');
      const rows = [['STATE', 'RULE', 'SERIES', 'VALUE', 'SINCE', 'DOWNTIME', 'SUMMARY']];
      for (const i of list) {
        const d = i.downtime ? `#${i.downtime.id} ${i.downtime.kind}${i.muted ? ' (muted)' : ''} until ${fmt(i.downtime.end)}` : '-';
        rows.push([i.state, i.rule, i.series, formatValue(i.value), fmt(i.since), d, i.summary]);
      }
      console.log(table(rows));
    });

  apiOptions(alarms.command('history').description('alarm state changes, newest first'))
    .option('--from <time>', 'from: ISO 8601, Unix seconds/ms, now-1d', asTime('from'))
    .option('--to <time>', 'to', asTime('to'))
    .option('--rule <name>', 'only this rule')
    .option('--series <key>', 'only this series, e.g. disk_used_pct{host="fnpc1"}')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (o: ApiOpts & { from?: string; to?: string; rule?: string; series?: string; limit: string }) => {
      const list = await client(o).request<HistoryEntry[]>('GET', '/alarms/history', {
        from: o.from,
        to: o.to,
        rule: o.rule,
        series: o.series,
        limit: o.limit,
      });
      if (o.json) return void console.log(JSON.stringify(list, null, 2));
      if (!list.length) return void console.log('no state changes');
      const rows = [['AT', 'RULE', 'SERIES', 'CHANGE', 'VALUE', 'BOUND', 'MUTED']];
      for (const h of list)
        rows.push([fmt(h.at), h.rule, h.series, `${h.from} -> ${h.to}`, formatValue(h.value), formatValue(h.bound), h.muted ? `yes (#${h.downtimeId})` : 'no']);
      console.log(table(rows));
    });

  apiOptions(alarms.command('rules').description('the alarm rules of the running collector'))
    .option('--json', 'print JSON')
    .action(async (o: ApiOpts) => {
      const list = await client(o).request<Record<string, unknown>[]>('GET', '/alarms/rules');
      if (o.json) return void console.log(JSON.stringify(list, null, 2));
      if (!list.length) return void console.log('no alarm rules configured');
      const bound = (v: unknown) => (v === undefined ? '-' : JSON.stringify(v));
      const rows = [['RULE', 'MATCH', 'DIRECTION', 'WARNING', 'CRITICAL', 'VALUE', 'FOR']];
      for (const r of list)
        rows.push([String(r.name), String(r.match), String(r.direction), bound(r.warning), bound(r.critical), `${r.aggregate} of ${r.steps}`, `${r.for}s`]);
      console.log(table(rows));
    });
}
