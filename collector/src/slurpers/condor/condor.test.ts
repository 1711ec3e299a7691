// The condor slurper against a real collector (rrdcached, rrdtool, SQLite): stand-in condor_q, condor_history
// and condor_status scripts print ClassAds with HTCondor's attribute names; every value is read back by the API.
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../config/schema.js';
import { GraphiteMapper } from '../../ingest/graphite.js';
import { seriesKey } from '../../model/series.js';
import { alive, api, startCollector, tempDir, TestCollector, waitFor } from '../../testing/harness.js';
import { SlurperScheduler } from '../scheduler.js';
import { CondorConfig, CondorSlurper } from './condor.js';

let c: TestCollector;
let fx: { dir: string; cleanup: () => Promise<void> };
let tool: string;
// Aligned and in the past, so every poll lands on a row of its own.
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 7200;

// One stand-in for the three tools: `$1` names the tool, the schedd (-name) or pool (-pool, for status)
// picks the fixture files: .json is printed, .stderr to stderr, .exit is the exit code, .sleep hangs after
// printing, .gen runs the job generator; the arguments and the PID are recorded.
const STANDIN = `#!/bin/sh
tool=$1; shift
all="$*"
target=local
while [ $# -gt 0 ]; do
  case "$1" in
    -name) target=$2; shift ;;
    -pool) [ "$tool" = status ] && target=$2; shift ;;
  esac
  shift
done
f="$CONDOR_FIXTURES/$tool-$target"
echo "$all" >> "$f.args"
echo $$ > "$f.pid"
[ -e "$f.gen" ] && exec node "$CONDOR_FIXTURES/gen-jobs.mjs" $(cat "$f.gen")
[ -e "$f.stderr" ] && cat "$f.stderr" >&2
[ -e "$f.json" ] && cat "$f.json"
[ -e "$f.sleep" ] && sleep 30
[ -e "$f.exit" ] && exit $(cat "$f.exit")
exit 0
`;

// N jobs in condor_q's layout, written as they are made (the stand-in never holds them either).
const GEN = `const [n, base] = process.argv.slice(2).map(Number);
const exps = ['nova', 'dune', 'mu2e'];
process.stdout.write('[\\n');
let i = 0;
function more() {
  let ok = true;
  while (i < n && ok) {
    const parts = [];
    for (const end = Math.min(n, i + 500); i < end; i++) {
      const ad = { ClusterId: 1000 + i, ProcId: 0, JobStatus: 1 + (i % 7), Owner: 'user' + (i % 10), AccountingGroup: 'group_' + exps[i % 3] + '.prod.user' + (i % 10), RequestCpus: 1 + (i % 4), RequestMemory: 2000, QDate: base - 1000 - (i % 5000), Cmd: '/home/user/run \\\\"job\\\\" {x}' };
      if (ad.JobStatus === 5) ad.HoldReasonCode = [13, 16, 34][i % 3];
      parts.push(JSON.stringify(ad, null, 2));
    }
    ok = process.stdout.write((i > 500 && parts.length ? '\\n,\\n' : '') + parts.join('\\n,\\n'));
  }
  if (i < n) process.stdout.once('drain', more);
  else process.stdout.write('\\n]\\n');
}
more();
`;

function condorJson(ads: object[]): string {
  return ads.length ? `[\n${ads.map((a) => JSON.stringify(a, null, 2)).join('\n,\n')}\n]\n` : '';
}

async function fixture(name: string, content: string | object[]) {
  await writeFile(path.join(fx.dir, name), typeof content === 'string' ? content : condorJson(content));
}

function config(over: Record<string, unknown>): CondorConfig {
  const s = configSchema.parse({
    slurpers: [
      {
        type: 'condor',
        interval: 60,
        condorQ: [tool, 'q'],
        condorHistory: [tool, 'history'],
        condorStatus: [tool, 'status'],
        env: { CONDOR_FIXTURES: fx.dir },
        ...over,
      },
    ],
  }).slurpers[0];
  return s as CondorConfig;
}

/** One poll at `t`, written through the collector's pipeline and flushed to the RRD files. */
async function poll(s: CondorSlurper, t: number) {
  const r = await s.collect(t);
  assert.ok(await c.collector.pipeline.push(r.samples, 'test'));
  await c.collector.pipeline.flush();
  return r;
}

type Q = { series: { name: string; labels: Record<string, string>; timestamps: number[]; values: (number | null)[] }[] };

/** Every series matching, by `name{labels}`, with its value at `t` (null: none stored). */
async function at(match: string, t: number, extra = ''): Promise<Record<string, number | null>> {
  const r = await api<{ data: Q }>(c.url, `/api/v1/query?match=${encodeURIComponent(match)}&from=${t - 120}&to=${t + 60}&step=60${extra}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return Object.fromEntries(r.body.data.series.map((s) => [seriesKey(s.name, s.labels), s.values[s.timestamps.indexOf(t)] ?? null]));
}

async function metric(re: RegExp): Promise<number> {
  const m = re.exec(await (await fetch(`${c.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

before(async () => {
  fx = await tempDir('rexmon-condor-');
  tool = path.join(fx.dir, 'condor-standin.sh');
  await writeFile(tool, STANDIN);
  await chmod(tool, 0o755);
  await writeFile(path.join(fx.dir, 'gen-jobs.mjs'), GEN);
  c = await startCollector();
});
after(async () => {
  await c.stop();
  await fx.cleanup();
});

test('condor: jobs by state per experiment and user, holds by reason, running cores and memory, oldest idle job, slots', async () => {
  await fixture('q-s1.json', [
    { ClusterId: 1, ProcId: 0, JobStatus: 1, Owner: 'alice', AccountingGroup: 'group_nova.prod.alice', QDate: base - 600, RequestCpus: 1, RequestMemory: 2000 },
    { ClusterId: 1, ProcId: 1, JobStatus: 1, Owner: 'alice', AccountingGroup: 'group_nova.prod.alice', QDate: base - 300, RequestCpus: 1, RequestMemory: 2000 },
    {
      ClusterId: 2,
      ProcId: 0,
      JobStatus: 2,
      Owner: 'alice',
      AcctGroup: 'group_nova.prod',
      AccountingGroup: 'group_nova.prod.alice',
      RequestCpus: 4,
      RequestMemory: 8000,
    },
    { ClusterId: 2, ProcId: 1, JobStatus: 2, Owner: 'bob', AcctGroup: 'group_dune', RequestCpus: 8, RequestMemory: 16000 },
    { ClusterId: 3, ProcId: 0, JobStatus: 3, Owner: 'bob', AcctGroup: 'group_dune' },
    { ClusterId: 3, ProcId: 1, JobStatus: 4, Owner: 'bob', AcctGroup: 'group_dune' },
    { ClusterId: 4, ProcId: 0, JobStatus: 5, Owner: 'carol', HoldReasonCode: 13, HoldReason: 'Transfer input files failure' },
    { ClusterId: 4, ProcId: 1, JobStatus: 5, Owner: 'carol', HoldReasonCode: 13 },
    { ClusterId: 4, ProcId: 2, JobStatus: 5, Owner: 'alice', AccountingGroup: 'group_nova.prod.alice', HoldReasonCode: 34 },
    { ClusterId: 5, ProcId: 0, JobStatus: 6, Owner: 'carol', AccountingGroup: 'group_mu2e.analysis.carol' },
    { ClusterId: 5, ProcId: 1, JobStatus: 7, Owner: 'carol', AccountingGroup: 'group_mu2e.analysis.carol' },
  ]);
  await fixture('history-s1.json', '[]\n');
  await fixture('status-cm1.json', [
    { Name: 'slot1@wn1', State: 'Unclaimed', Activity: 'Idle', SlotType: 'Partitionable', Cpus: 40 },
    { Name: 'slot1_1@wn1', State: 'Claimed', Activity: 'Busy', SlotType: 'Dynamic', Cpus: 4 },
    { Name: 'slot1_2@wn1', State: 'Claimed', Activity: 'Busy', SlotType: 'Dynamic', Cpus: 8 },
    { Name: 'slot1@wn2', State: 'Owner', Activity: 'Idle', SlotType: 'Static', Cpus: 1 },
  ]);
  const s = new CondorSlurper(config({ name: 'c1', schedds: [{ name: 's1', pool: 'cm1' }], pools: ['cm1'] }));
  const r = await poll(s, base);
  assert.deepEqual(r.problems, []);
  const q = (await readFile(path.join(fx.dir, 'q-s1.args'), 'utf8')).trim();
  assert.equal(q, '-name s1 -pool cm1', 'condor_q is asked for the schedd in its pool');
  assert.equal((await readFile(path.join(fx.dir, 'status-cm1.args'), 'utf8')).trim(), '-pool cm1');
  assert.deepEqual(await at('{__name__=~"condor_.*", schedd="s1"}', base), {
    'condor_up{schedd="s1"}': 1,
    'condor_poll_errors{command="condor_q",schedd="s1"}': 0,
    'condor_poll_errors{command="condor_history",schedd="s1"}': 0,
    'condor_jobs{experiment="nova",schedd="s1",state="idle",user="alice"}': 2,
    'condor_jobs{experiment="nova",schedd="s1",state="running",user="alice"}': 1,
    'condor_jobs{experiment="dune",schedd="s1",state="running",user="bob"}': 1,
    'condor_jobs{experiment="dune",schedd="s1",state="removed",user="bob"}': 1,
    'condor_jobs{experiment="dune",schedd="s1",state="completed",user="bob"}': 1,
    'condor_jobs{experiment="unknown",schedd="s1",state="held",user="carol"}': 2,
    'condor_jobs{experiment="nova",schedd="s1",state="held",user="alice"}': 1,
    'condor_jobs{experiment="mu2e",schedd="s1",state="transferring_output",user="carol"}': 1,
    'condor_jobs{experiment="mu2e",schedd="s1",state="suspended",user="carol"}': 1,
    'condor_jobs_held{experiment="unknown",reason_code="13",schedd="s1"}': 2,
    'condor_jobs_held{experiment="nova",reason_code="34",schedd="s1"}': 1,
    'condor_running_cores{experiment="nova",schedd="s1"}': 4,
    'condor_running_cores{experiment="dune",schedd="s1"}': 8,
    'condor_requested_memory_bytes{experiment="nova",schedd="s1"}': 8000 * 1048576,
    'condor_requested_memory_bytes{experiment="dune",schedd="s1"}': 16000 * 1048576,
    'condor_oldest_idle_seconds{experiment="nova",schedd="s1"}': 600,
  });
  assert.deepEqual(await at('{__name__=~"condor_.*", pool="cm1"}', base), {
    'condor_pool_up{pool="cm1"}': 1,
    'condor_poll_errors{command="condor_status",pool="cm1"}': 0,
    'condor_slots{activity="Idle",pool="cm1",slot_type="Partitionable",state="Unclaimed"}': 1,
    'condor_slots{activity="Busy",pool="cm1",slot_type="Dynamic",state="Claimed"}': 2,
    'condor_slots{activity="Idle",pool="cm1",slot_type="Static",state="Owner"}': 1,
    'condor_slot_cores{activity="Idle",pool="cm1",slot_type="Partitionable",state="Unclaimed"}': 40,
    'condor_slot_cores{activity="Busy",pool="cm1",slot_type="Dynamic",state="Claimed"}': 12,
    'condor_slot_cores{activity="Idle",pool="cm1",slot_type="Static",state="Owner"}': 1,
  });
  // The held ratio an alert rule takes, through the API's aggregation.
  const held = await at('condor_jobs{schedd="s1",state="held"}', base, '&agg=sum&by=experiment');
  assert.deepEqual(held, { 'condor_jobs{experiment="nova"}': 1, 'condor_jobs{experiment="unknown"}': 2 });
});

test('condor: experiment rules are configurable (a regex with a named group, a fallback)', async () => {
  await fixture('q-rules.json', [
    { JobStatus: 2, Owner: 'u1', AccountingGroup: 'fermilab.uboone.u1', RequestCpus: 1, RequestMemory: 1 },
    { JobStatus: 2, Owner: 'u2', AcctGroup: 'group_nova', RequestCpus: 1, RequestMemory: 1 },
    { JobStatus: 2, Owner: 'u3', x509UserProxyVOName: 'cms', RequestCpus: 1, RequestMemory: 1 },
  ]);
  const s = new CondorSlurper(
    config({
      name: 'c-rules',
      schedds: ['rules'],
      condorHistory: false,
      experiment: {
        rules: [
          { attribute: 'AccountingGroup', regex: '^fermilab\\.(?<experiment>[a-z0-9]+)\\.' },
          { attribute: 'x509UserProxyVOName', regex: '^(?<experiment>.+)$' },
        ],
        fallback: 'none',
      },
    }),
  );
  await poll(s, base);
  assert.deepEqual(await at('condor_running_cores{schedd="rules"}', base), {
    'condor_running_cores{experiment="uboone",schedd="rules"}': 1,
    'condor_running_cores{experiment="none",schedd="rules"}': 1,
    'condor_running_cores{experiment="cms",schedd="rules"}': 1,
  });
  assert.ok(!(await readFile(path.join(fx.dir, 'q-rules.args'), 'utf8')).includes('-pool'), 'no -pool without one configured');
});

test('condor: completions and failures per experiment per interval from history; a failed history call is counted on the next poll', async () => {
  await fixture('q-h1.json', '');
  const ad = (done: number, group: string, exit: Record<string, unknown>) => ({ JobStatus: 4, AccountingGroup: group, CompletionDate: done, ...exit });
  const history = [
    ad(base - 10, 'group_nova.prod.a', { ExitCode: 0, ExitBySignal: false }),
    ad(base - 20, 'group_nova.prod.a', { ExitCode: 1, ExitBySignal: false }),
    ad(base - 30, 'group_dune.prod.b', { ExitBySignal: true, ExitSignal: 9 }),
    ad(base - 40, 'group_dune.prod.b', { ExitCode: 0, ExitBySignal: false }),
    ad(base - 60, 'group_dune.prod.b', { ExitCode: 0, ExitBySignal: false }), // at the window's start: the poll before counted it
    ad(base + 5, 'group_nova.prod.a', { ExitCode: 0, ExitBySignal: false }), // after this poll: the next one counts it
    { JobStatus: 3, AccountingGroup: 'group_nova.prod.a', CompletionDate: base - 5, ExitCode: 0 }, // removed, not completed
  ];
  await fixture('history-h1.json', history);
  const s = new CondorSlurper(config({ name: 'c-hist', schedds: ['h1'], historyLimit: 500 }));
  assert.deepEqual((await poll(s, base)).problems, []);
  const args = (await readFile(path.join(fx.dir, 'history-h1.args'), 'utf8')).trim().split('\n');
  assert.equal(args[0], `-name h1 -completedsince ${base - 60} -limit 500`, 'the first window is one interval');
  assert.deepEqual(await at('{__name__=~"condor_jobs_(completed|failed)", schedd="h1"}', base), {
    'condor_jobs_completed{experiment="nova",schedd="h1"}': 2,
    'condor_jobs_failed{experiment="nova",schedd="h1"}': 1,
    'condor_jobs_completed{experiment="dune",schedd="h1"}': 2,
    'condor_jobs_failed{experiment="dune",schedd="h1"}': 1,
  });

  // The next poll fails (condor_history exits 1): nothing is written for the window, which stays open.
  await fixture('history-h1.exit', '1');
  await fixture('history-h1.stderr', 'Failed to connect to schedd h1');
  const failed = await poll(s, base + 60);
  assert.deepEqual(
    failed.problems.map((p) => [p.kind, p.command, p.target, p.failed]),
    [['exit', 'condor_history', { schedd: 'h1' }, true]],
  );
  assert.match(failed.problems[0].message, /exited with 1: Failed to connect to schedd h1/);
  assert.deepEqual(await at('{__name__=~"condor_jobs_completed|condor_poll_errors", schedd="h1"}', base + 60), {
    'condor_jobs_completed{experiment="nova",schedd="h1"}': null,
    'condor_jobs_completed{experiment="dune",schedd="h1"}': null,
    'condor_poll_errors{command="condor_q",schedd="h1"}': 0,
    'condor_poll_errors{command="condor_history",schedd="h1"}': 1,
  });

  await rm(path.join(fx.dir, 'history-h1.exit'));
  await fixture('history-h1.json', [...history, ad(base + 90, 'group_dune.prod.b', { ExitCode: 2, ExitBySignal: false })]);
  await poll(s, base + 120);
  const args3 = (await readFile(path.join(fx.dir, 'history-h1.args'), 'utf8')).trim().split('\n');
  assert.equal(args3[2], `-name h1 -completedsince ${base} -limit 500`, 'the window starts where the last complete answer ended');
  assert.deepEqual(await at('{__name__=~"condor_jobs_(completed|failed)", schedd="h1"}', base + 120), {
    'condor_jobs_completed{experiment="nova",schedd="h1"}': 1,
    'condor_jobs_failed{experiment="nova",schedd="h1"}': 0,
    'condor_jobs_completed{experiment="dune",schedd="h1"}': 1,
    'condor_jobs_failed{experiment="dune",schedd="h1"}': 1,
  });

  // More ClassAds than historyLimit: written, and said to be an undercount.
  const limited = new CondorSlurper(config({ name: 'c-hist2', schedds: ['h1'], historyLimit: 3 }));
  const r = await limited.collect(base + 120);
  assert.deepEqual(
    r.problems.map((p) => p.kind),
    ['history_limit'],
  );
});

test('condor: an empty queue (no output, or []) is an answer: the series seen before read 0', async () => {
  await fixture('q-e1.json', [
    { JobStatus: 1, Owner: 'alice', AcctGroup: 'group_nova', QDate: base - 100 },
    { JobStatus: 5, Owner: 'alice', AcctGroup: 'group_nova', HoldReasonCode: 16 },
  ]);
  await fixture('q-e2.json', [{ JobStatus: 2, Owner: 'bob', AcctGroup: 'group_dune', RequestCpus: 2, RequestMemory: 100 }]);
  const s = new CondorSlurper(config({ name: 'c-empty', schedds: ['e1', 'e2'], condorHistory: false }));
  await poll(s, base);
  await fixture('q-e1.json', '');
  await fixture('q-e2.json', '[]\n');
  const r = await poll(s, base + 60);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(await at('{__name__=~"condor_.*", schedd=~"e1|e2"}', base + 60), {
    'condor_up{schedd="e1"}': 1,
    'condor_up{schedd="e2"}': 1,
    'condor_poll_errors{command="condor_q",schedd="e1"}': 0,
    'condor_poll_errors{command="condor_q",schedd="e2"}': 0,
    'condor_jobs{experiment="nova",schedd="e1",state="idle",user="alice"}': 0,
    'condor_jobs{experiment="nova",schedd="e1",state="held",user="alice"}': 0,
    'condor_jobs_held{experiment="nova",reason_code="16",schedd="e1"}': 0,
    'condor_oldest_idle_seconds{experiment="nova",schedd="e1"}': 0,
    'condor_jobs{experiment="dune",schedd="e2",state="running",user="bob"}': 0,
    'condor_running_cores{experiment="dune",schedd="e2"}': 0,
    'condor_requested_memory_bytes{experiment="dune",schedd="e2"}': 0,
  });
});

test('condor: missing attributes are counted, the job still counts where it can; a bad label value is counted and skipped', async () => {
  await fixture('q-m1.json', [
    { Owner: 'alice', AcctGroup: 'group_nova' }, // no JobStatus: cannot be placed
    { JobStatus: 2, AcctGroup: 'group_nova', RequestCpus: 2, RequestMemory: '/Expr(ifThenElse(MemoryUsage > 2000, MemoryUsage, 2000))/' },
    { JobStatus: 1, Owner: 'alice', AcctGroup: 'group_nova' }, // no QDate
    { JobStatus: 5, Owner: 'alice', AcctGroup: 'group_nova' }, // no HoldReasonCode
    { JobStatus: 2, Owner: 'bad\nuser', AcctGroup: 'group_nova', RequestCpus: 1, RequestMemory: 1 },
    { JobStatus: 2, Owner: 'alice', AcctGroup: 'group_nova', RequestCpus: 1, RequestMemory: 1000 },
  ]);
  const s = new CondorSlurper(config({ name: 'c-missing', schedds: ['m1'], condorHistory: false }));
  const r = await poll(s, base);
  assert.deepEqual(
    r.problems.map((p) => [p.kind, p.count, p.failed]),
    [
      ['missing_attribute', 4, false],
      ['bad_label', 1, false],
    ],
  );
  assert.equal(
    r.problems[0].message,
    '4 ClassAd(s) lack attributes: 1 without JobStatus, 1 without Owner, 1 without RequestMemory, 1 without QDate, 1 without HoldReasonCode',
  );
  assert.match(r.problems[1].message, /1 ClassAd\(s\) skipped: a label value is not allowed \(e\.g\. "bad\\nuser"\)/);
  assert.deepEqual(await at('{__name__=~"condor_jobs.*|condor_running_cores|condor_requested_memory_bytes|condor_oldest_idle_seconds", schedd="m1"}', base), {
    'condor_jobs{experiment="nova",schedd="m1",state="running",user="unknown"}': 1,
    'condor_jobs{experiment="nova",schedd="m1",state="running",user="alice"}': 1,
    'condor_jobs{experiment="nova",schedd="m1",state="idle",user="alice"}': 1,
    'condor_jobs{experiment="nova",schedd="m1",state="held",user="alice"}': 1,
    'condor_jobs_held{experiment="nova",reason_code="unknown",schedd="m1"}': 1,
    'condor_running_cores{experiment="nova",schedd="m1"}': 3,
    'condor_requested_memory_bytes{experiment="nova",schedd="m1"}': 1000 * 1048576,
  });
});

test('condor: a schedd that times out, one with invalid JSON and one that exits non-zero write nothing of their output; the others are written; logged with slurper and schedd, counted', async () => {
  await fixture('q-ok.json', [{ JobStatus: 1, Owner: 'alice', AcctGroup: 'group_nova', QDate: base - 5 }]);
  await fixture('q-slow.json', '[\n{"JobStatus": 1, "Owner": "alice", "QDate": 1}\n,\n');
  await fixture('q-slow.sleep', '');
  await fixture('q-broken.json', '[\n{"JobStatus": 1, "Owner": "alice", "QDate": 1}\n,\n{"JobStatus": 2, "Owner": "bob" "RequestCpus": 1}\n]\n');
  await fixture('q-failing.json', '[\n{"JobStatus": 1, "Owner": "alice", "QDate": 1}\n]\n');
  await fixture('q-failing.stderr', '-- Failed to fetch ads from: <131.225.1.1:9618> : failing\nCEDAR:6001:Failed to connect');
  await fixture('q-failing.exit', '1');
  await fixture('status-p-bad.json', "Error: couldn't fetch ads\n");
  await fixture('status-p-good.json', [{ State: 'Claimed', Activity: 'Busy', SlotType: 'Static', Cpus: 1 }]);
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  );
  const sched = new SlurperScheduler([], { pipeline: c.collector.pipeline, metrics: c.collector.metrics, mapper: new GraphiteMapper([]), log });
  const cfg = config({ name: 'c-errors', schedds: ['ok', 'slow', 'broken', 'failing'], pools: ['p-bad', 'p-good'], condorHistory: false, timeout: 1 });
  const r = await sched.runOnce(cfg);
  await c.collector.pipeline.flush();
  // The stand-in sleeps 30 s after printing: gone now means it was killed, not waited for.
  const slowPid = Number(await readFile(path.join(fx.dir, 'q-slow.pid'), 'utf8'));
  assert.ok(!alive(slowPid), 'the stand-in that timed out is gone');
  assert.equal(r.errors, 4);
  const byTarget = Object.fromEntries(lines.map((l) => [String(l.schedd ?? l.pool), l]));
  assert.deepEqual(Object.keys(byTarget).sort(), ['broken', 'failing', 'p-bad', 'slow']);
  for (const l of lines) assert.equal(l.slurper, 'c-errors');
  assert.match(String(byTarget.slow.msg), /timed out after 1 s and was killed \(1 ClassAd\(s\) read, not used\)/);
  assert.match(String(byTarget.broken.msg), /invalid JSON: object 2: /);
  assert.match(String(byTarget.failing.msg), /exited with 1: -- Failed to fetch ads from: <131\.225\.1\.1:9618> : failing\nCEDAR:6001:Failed to connect/);
  assert.match(String(byTarget['p-bad'].msg), /invalid JSON: unexpected "E" at character 0/);
  assert.equal(byTarget['p-bad'].command, 'condor_status');
  assert.equal(await metric(/rexmon_slurper_errors_total\{slurper="c-errors",kind="timeout"\} (\d+)/), 1);
  assert.equal(await metric(/rexmon_slurper_errors_total\{slurper="c-errors",kind="invalid_json"\} (\d+)/), 2);
  assert.equal(await metric(/rexmon_slurper_errors_total\{slurper="c-errors",kind="exit"\} (\d+)/), 1);
  assert.equal(await metric(/rexmon_slurper_runs_total\{slurper="c-errors",result="timeout"\} (\d+)/), 1);

  // Read back by name: which series exist at all (the run used the real clock).
  const series = (
    await api<{ data: { name: string; labels: Record<string, string> }[] }>(
      c.url,
      `/api/v1/series?match=${encodeURIComponent('{__name__=~"condor_.*", schedd=~"ok|slow|broken|failing"}')}`,
    )
  ).body.data;
  const keys = series.map((x) => seriesKey(x.name, x.labels)).sort();
  assert.deepEqual(keys, [
    'condor_jobs{experiment="nova",schedd="ok",state="idle",user="alice"}',
    'condor_oldest_idle_seconds{experiment="nova",schedd="ok"}',
    'condor_poll_errors{command="condor_q",schedd="broken"}',
    'condor_poll_errors{command="condor_q",schedd="failing"}',
    'condor_poll_errors{command="condor_q",schedd="ok"}',
    'condor_poll_errors{command="condor_q",schedd="slow"}',
    'condor_up{schedd="broken"}',
    'condor_up{schedd="failing"}',
    'condor_up{schedd="ok"}',
    'condor_up{schedd="slow"}',
  ]);
  const now = Math.floor(Date.now() / 1000);
  const r2 = await api<{ data: Q }>(
    c.url,
    `/api/v1/query?match=${encodeURIComponent('condor_up{schedd=~"ok|slow|broken|failing"}')}&from=${now - 600}&to=${now + 120}&step=60&cf=LAST`,
  );
  const lastValue = (s: Q['series'][number]) => s.values.filter((v) => v !== null).at(-1);
  assert.deepEqual(Object.fromEntries(r2.body.data.series.map((s) => [s.labels.schedd, lastValue(s)])), { ok: 1, slow: 0, broken: 0, failing: 0 });
  assert.ok(series.length > 0);
  const pools = (
    await api<{ data: { name: string; labels: Record<string, string> }[] }>(
      c.url,
      `/api/v1/series?match=${encodeURIComponent('{__name__=~"condor_.*", pool=~"p-.*"}')}`,
    )
  ).body.data;
  assert.deepEqual(pools.map((x) => seriesKey(x.name, x.labels)).sort(), [
    'condor_poll_errors{command="condor_status",pool="p-bad"}',
    'condor_poll_errors{command="condor_status",pool="p-good"}',
    'condor_pool_up{pool="p-bad"}',
    'condor_pool_up{pool="p-good"}',
    'condor_slot_cores{activity="Busy",pool="p-good",slot_type="Static",state="Claimed"}',
    'condor_slots{activity="Busy",pool="p-good",slot_type="Static",state="Claimed"}',
  ]);
});

test('condor: 200,000 jobs in one poll are read as a stream (one ClassAd held at a time) and counted exactly', async () => {
  const N = 200000;
  await fixture('q-big.gen', `${N} ${base}`);
  const s = new CondorSlurper(config({ name: 'c-big', schedds: ['big'], condorHistory: false, timeout: 120 }));
  const r = await poll(s, base);
  assert.deepEqual(r.problems, []);
  const call = s.calls.find((x) => x.schedd === 'big')!;
  assert.equal(call.ads, N);
  assert.ok(call.maxHeld < 1000, `at most ${call.maxHeld} characters held for one ClassAd`);
  // The expected figures by brute force over the same formula the generator uses.
  const exps = ['nova', 'dune', 'mu2e'];
  const states = ['idle', 'running', 'removed', 'completed', 'held', 'transferring_output', 'suspended'];
  const byState: Record<string, number> = {};
  const cores: Record<string, number> = {};
  const oldest: Record<string, number> = {};
  const holds: Record<string, number> = {};
  for (let i = 0; i < N; i++) {
    const st = states[i % 7];
    const e = exps[i % 3];
    byState[`condor_jobs{state="${st}"}`] = (byState[`condor_jobs{state="${st}"}`] ?? 0) + 1;
    if (st === 'running') cores[e] = (cores[e] ?? 0) + 1 + (i % 4);
    if (st === 'idle') oldest[e] = Math.max(oldest[e] ?? 0, 1000 + (i % 5000));
    if (st === 'held') holds[`${e}/${[13, 16, 34][i % 3]}`] = (holds[`${e}/${[13, 16, 34][i % 3]}`] ?? 0) + 1;
  }
  assert.deepEqual(await at('condor_jobs{schedd="big"}', base, '&agg=sum&by=state'), byState);
  const running = await at('condor_running_cores{schedd="big"}', base);
  assert.deepEqual(running, Object.fromEntries(exps.map((e) => [`condor_running_cores{experiment="${e}",schedd="big"}`, cores[e]])));
  const idle = await at('condor_oldest_idle_seconds{schedd="big"}', base);
  assert.deepEqual(idle, Object.fromEntries(exps.map((e) => [`condor_oldest_idle_seconds{experiment="${e}",schedd="big"}`, oldest[e]])));
  const held = await at('condor_jobs_held{schedd="big"}', base);
  assert.deepEqual(
    held,
    Object.fromEntries(
      Object.entries(holds).map(([k, n]) => {
        const [e, code] = k.split('/');
        return [`condor_jobs_held{experiment="${e}",reason_code="${code}",schedd="big"}`, n];
      }),
    ),
  );
  const users = await at('condor_jobs{schedd="big",state="running"}', base, '&agg=count');
  assert.deepEqual(Object.values(users), [30], 'one series per experiment and user');
});

test('condor: configured in a collector, it runs on its interval and its series arrive', async () => {
  await fixture('q-auto.json', [{ JobStatus: 2, Owner: 'alice', AcctGroup: 'group_nova', RequestCpus: 2, RequestMemory: 100 }]);
  const cfg = {
    type: 'condor',
    name: 'c-auto',
    interval: '1s',
    schedds: ['auto'],
    condorQ: [tool, 'q'],
    condorHistory: false,
    env: { CONDOR_FIXTURES: fx.dir },
  };
  const d = await startCollector({ slurpers: [cfg] });
  try {
    const found = await waitFor('the slurper to run twice and its series', async () => {
      const text = await (await fetch(`${d.url}/metrics`)).text();
      const runs = Number(/rexmon_slurper_runs_total\{slurper="c-auto",result="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
      const s = (
        await api<{ data: { name: string; labels: Record<string, string> }[] }>(d.url, `/api/v1/series?match=${encodeURIComponent('{schedd="auto"}')}`)
      ).body.data;
      return runs >= 2 && s.length >= 5 ? s : undefined;
    });
    assert.deepEqual(found.map((x) => seriesKey(x.name, x.labels)).sort(), [
      'condor_jobs{experiment="nova",schedd="auto",state="running",user="alice"}',
      'condor_poll_errors{command="condor_q",schedd="auto"}',
      'condor_requested_memory_bytes{experiment="nova",schedd="auto"}',
      'condor_running_cores{experiment="nova",schedd="auto"}',
      'condor_up{schedd="auto"}',
    ]);
  } finally {
    await d.stop();
  }
});

test('condor config: bad names, rules and keys are refused naming the key', () => {
  const bad = (s: Record<string, unknown>) => {
    const r = configSchema.safeParse({ slurpers: [{ type: 'condor', name: 'x', interval: 60, ...s }] });
    assert.ok(!r.success);
    return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  assert.match(bad({ schedds: ['-constraint'] }), /slurpers\.0\.schedds\.0.*expected a host name/);
  assert.match(bad({ schedds: [{ name: 's1', pool: 'a b' }] }), /slurpers\.0\.schedds\.0\.pool.*expected a host name/);
  assert.match(bad({ schedds: [] }), /slurpers\.0\.schedds/);
  assert.match(bad({ schedds: ['s1'], pools: ['cm\n1'] }), /slurpers\.0\.pools\.0/);
  assert.match(
    bad({ schedds: ['s1'], experiment: { rules: [{ attribute: 'AcctGroup', regex: '^group_([^.]+)' }] } }),
    /experiment\.rules\.0\.regex: needs a named group/,
  );
  assert.match(
    bad({ schedds: ['s1'], experiment: { rules: [{ attribute: 'AcctGroup', regex: '(?<experiment>[' }] } }),
    /experiment\.rules\.0\.regex: not a regex/,
  );
  assert.match(bad({ schedds: ['s1'], historyLimit: 0 }), /historyLimit/);
  assert.match(bad({ schedds: ['s1'], condorQ: [] }), /condorQ/);
  assert.match(bad({ schedds: ['s1'], sched: 1 }), /unrecognized key.*sched/i);
  const ok = configSchema.parse({
    slurpers: [{ type: 'condor', name: 'x', interval: 60, schedds: ['schedd01.fnal.gov', { name: 'schedd@fnpc:9618', pool: 'cm.fnal.gov:9618' }] }],
  }).slurpers[0] as CondorConfig;
  assert.deepEqual(ok.schedds, [{ name: 'schedd01.fnal.gov' }, { name: 'schedd@fnpc:9618', pool: 'cm.fnal.gov:9618' }]);
  assert.equal(ok.condorQ[0], 'condor_q');
  assert.equal(ok.experiment.fallback, 'unknown');
  assert.equal(new CondorSlurper(ok).experimentOf({ AccountingGroup: 'group_nova.prod.alice' }), 'nova');
});

test('condor config: the README example is a valid configuration with the defaults it shows', async () => {
  const readme = await readFile(new URL('../../../../README.md', import.meta.url), 'utf8');
  const block = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]).find((b) => b.includes('type: condor'));
  assert.ok(block, 'the README has a condor example');
  const parsed = configSchema.parse(parseYaml(block));
  const s = parsed.slurpers[0] as CondorConfig;
  const defaults = configSchema.parse({ slurpers: [{ type: 'condor', name: 'x', interval: 60, schedds: ['s'] }] }).slurpers[0] as CondorConfig;
  for (const k of ['condorQ', 'condorHistory', 'condorStatus', 'historyLimit', 'timeout'] as const)
    assert.deepEqual(s[k], defaults[k], `README shows the default ${k}`);
  assert.deepEqual(
    s.experiment.rules.map((r) => [r.attribute, r.regex.source]),
    defaults.experiment.rules.map((r) => [r.attribute, r.regex.source]),
  );
  assert.deepEqual(s.schedds, [{ name: 'schedd01.fnal.gov' }, { name: 'jobsub01.fnal.gov', pool: 'gpcollector.fnal.gov:9618' }]);
});
