// `rexmon jobs list|show`: the job-state API for shell users.
import { Command, InvalidArgumentError } from 'commander';
import type { ApiClient } from '../cli/client.js';
import { parseSelector } from '../matchers/selector.js';
import type { Job, JobEvent } from './store.js';

type ApiOpts = { url: string; token?: string; json?: boolean };

const asSelector = (v: string) => {
  try {
    parseSelector(v, 'match');
    return v;
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const asLimit = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 10000) throw new InvalidArgumentError('a whole number from 1 to 10000');
  return v;
};

const fmt = (ms: number | null) =>
  ms === null
    ? '-'
    : new Date(ms)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z')
        .replace('T', ' ');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

const kv = (o: Record<string, unknown>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
    .join(' ');

export function jobCommands(program: Command, apiOptions: (c: Command) => Command, client: (o: ApiOpts) => ApiClient): void {
  const jobs = program.command('jobs').description('job states folded from job lifecycle events');

  apiOptions(jobs.command('list').description('jobs and their current state, the latest event first'))
    .option('--state <states>', 'only these states, comma-separated (e.g. held,running)')
    .option('--experiment <names>', 'only these experiments, comma-separated')
    .option('--site <names>', 'only these sites, comma-separated')
    .option('--silent', 'only jobs flagged silent')
    .option('--match <selector>', 'only jobs matching this selector (job, experiment, site, state and their labels; the name part is the state)', asSelector)
    .option('--limit <n>', 'at most this many', asLimit, '1000')
    .option('--json', 'print JSON')
    .action(async (o: ApiOpts & { state?: string; experiment?: string; site?: string; silent?: boolean; match?: string; limit: string }) => {
      const list = await client(o).request<Job[]>('GET', '/jobs', {
        state: o.state,
        experiment: o.experiment,
        site: o.site,
        silent: o.silent ? 'true' : undefined,
        match: o.match,
        limit: o.limit,
      });
      if (o.json) return void console.log(JSON.stringify(list, null, 2));
      if (!list.length) return void console.log('no jobs');
      const rows = [['JOB', 'STATE', 'EXPERIMENT', 'SITE', 'SINCE', 'LAST EVENT', 'SILENT SINCE']];
      for (const j of list) rows.push([j.job, j.state, j.experiment, j.site, fmt(j.stateSince), fmt(j.lastAt), fmt(j.silentSince)]);
      console.log(table(rows));
    });

  apiOptions(jobs.command('show').description('one job with its history of events').argument('<job>', 'the job id, e.g. 1234.0'))
    .option('--limit <n>', 'the newest this many events', asLimit, '1000')
    .option('--json', 'print JSON')
    .action(async (id: string, o: ApiOpts & { limit: string }) => {
      const j = await client(o).request<Job & { history: JobEvent[] }>('GET', `/jobs/${encodeURIComponent(id)}`, { limit: o.limit });
      if (o.json) return void console.log(JSON.stringify(j, null, 2));
      console.log(`${j.job}: ${j.state} since ${fmt(j.stateSince)} (${j.experiment} at ${j.site}); ${j.events} events, the latest ${fmt(j.lastAt)}`);
      if (j.silentSince !== null) console.log(`silent since ${fmt(j.silentSince)}`);
      if (Object.keys(j.labels).length || Object.keys(j.data).length) console.log(kv({ ...j.labels, ...j.data }));
      const rows = [['TIME', 'TYPE', 'SOURCE', 'CHANGE', 'DATA']];
      for (const h of j.history)
        rows.push([fmt(h.time), h.type, h.source, h.to === null ? '(late: state kept)' : h.from === h.to ? '-' : `${h.from ?? 'new'} -> ${h.to}`, kv(h.data)]);
      console.log(table(rows));
    });
}
