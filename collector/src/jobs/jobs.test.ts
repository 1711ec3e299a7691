// Job-state monitoring against a real collector (SQLite file, rrdtool, rrdcached): lifecycle events posted to
// /api/v1/events fold into the state per job; the timer's work (tick) is driven at chosen times in the past so
// every write lands on an RRD row of its own, read back from the files; a restart keeps every job.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfigText } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { parseSelector } from '../matchers/selector.js';
import { seriesKey } from '../model/series.js';
import { api, rrdFetch, startCollector, tempDir, TestCollector } from '../testing/harness.js';

// Aligned and in the past: ticks at base + n·60 s each land on a row of their own.
const base = (Math.floor(Date.now() / 1000 / 60) * 60 - 4 * 3600) * 1000;
const at = (s: number) => base + s * 1000;

type JobOut = {
  job: string;
  state: string;
  experiment: string;
  site: string;
  labels: Record<string, string>;
  data: Record<string, unknown>;
  firstAt: number;
  stateSince: number;
  lastAt: number;
  silentSince: number | null;
  finishedAt: number | null;
  events: number;
};
type Hist = {
  time: number;
  type: string;
  source: string;
  from: string | null;
  to: string | null;
  labels: Record<string, string>;
  data: Record<string, unknown>;
};

async function post(c: TestCollector, events: object[]) {
  const r = await api<{ data: { accepted: number } }>(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(events) });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  // Taken by every processor (the job-state fold among them) before the test looks.
  await c.collector.events.drain(30_000);
}
const ev = (type: string, job: string, s: number, labels: Record<string, string> = {}, data: Record<string, unknown> = {}) => ({
  type,
  source: 'schedd01.fnal.gov',
  time: at(s),
  labels: { job, ...labels },
  data,
});
async function jobs(c: TestCollector, query = '') {
  const r = await api<{ data: JobOut[]; truncated: boolean; total: number }>(c.url, `/api/v1/jobs${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
const ids = async (c: TestCollector, query: string) => (await jobs(c, query)).data.map((j) => j.job).sort();
async function job(c: TestCollector, id: string) {
  const r = await api<{ data: JobOut & { history: Hist[] }; truncated: boolean }>(c.url, `/api/v1/jobs/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}
async function metric(c: TestCollector, re: RegExp): Promise<number> {
  const m = re.exec(await (await fetch(`${c.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}
/** One timer round at `s`, its samples flushed into the files. */
async function tick(c: TestCollector, s: number) {
  const r = await c.collector.jobs.tick(at(s));
  await c.collector.pipeline.flush();
  return r;
}
/** Every series matching, by `name{labels}`, with its value at second `s` (read through the query API). */
async function values(c: TestCollector, match: string, s: number): Promise<Record<string, number | null>> {
  const t = at(s) / 1000;
  type Q = { series: { name: string; labels: Record<string, string>; timestamps: number[]; values: (number | null)[] }[] };
  const r = await api<{ data: Q }>(c.url, `/api/v1/query?match=${encodeURIComponent(match)}&from=${t - 120}&to=${t + 60}&step=60`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return Object.fromEntries(r.body.data.series.map((x) => [seriesKey(x.name, x.labels), x.values[x.timestamps.indexOf(t)] ?? null]));
}

describe('configuration', () => {
  test('defaults: on, the job.* lifecycle, 60 s, 1 h silent timeout, 7 d retention', () => {
    const c = configSchema.parse({}).jobs;
    assert.equal(c.enabled, true);
    assert.equal(c.events['job.submitted'], 'queued');
    assert.equal(c.events['job.heartbeat'], null);
    assert.deepEqual(c.terminal, ['finished', 'failed', 'removed']);
    assert.deepEqual([c.interval, c.silentTimeout, c.retention], [60, 3600, 7 * 86400]);
  });

  test('bad settings are refused naming the key', () => {
    const issues = (jobs: unknown) => {
      const r = configSchema.safeParse({ jobs });
      assert.equal(r.success, false, JSON.stringify(jobs));
      return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    };
    assert.match(issues({ events: { 'has space': 'queued' } }), /jobs\.events\.has space: event type "has space"/);
    assert.match(issues({ events: { 'job.x': 'Bad State' } }), /jobs\.events\.job\.x: state "Bad State"/);
    assert.match(issues({ events: { 'job.x': 'running' }, terminal: ['done'] }), /jobs\.terminal\.0: state "done" is no event's state/);
    assert.match(issues({ silentEvent: 'job.started' }), /jobs\.silentEvent: "job.started" is also a lifecycle event/);
    assert.match(issues({ interval: 0 }), /jobs\.interval: must be more than 0/);
    assert.match(issues({ silentTimeout: '5 minutes' }), /jobs\.silentTimeout/);
    assert.match(issues({ keys: { job: 'id', site: 'id' } }), /jobs\.keys: job, experiment and site need three different keys/);
    assert.match(issues({ keys: { job: 'a-b' } }), /jobs\.keys\.job: a key name/);
    assert.match(issues({ retention: -1 }), /jobs\.retention/);
    assert.match(issues({ enable: true }), /jobs: Unrecognized key/i);
    // From a file: the file, the key path and its line.
    assert.throws(
      () => parseConfigText(['jobs:', '  interval: 1m', '  events:', '    job.go: Running'].join('\n'), 'rexmon.yaml'),
      (e: Error) => /rexmon\.yaml/.test(e.message) && /jobs\.events\.job\.go \(line 4\): state "Running"/.test(e.message),
    );
  });
});

describe('state per job, API and filters', () => {
  let c: TestCollector;
  before(async () => {
    c = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { anonymousWrite: true }, jobs: { interval: 3600, silentTimeout: 0 } });
    await post(c, [
      ev('job.submitted', '100.0', 10, { experiment: 'nova', site: 'FNAL' }, { user: 'alice', cpus: 1 }),
      ev('job.started', '100.0', 20, {}, { host: 'fnpc3001' }),
      ev('job.held', '100.0', 30, { user: 'alice' }, { reason: 'disk quota' }),
      ev('job.released', '100.0', 40),
      ev('job.started', '100.0', 50, {}, { host: 'fnpc3002' }),
      ev('job.finished', '100.0', 60, {}, { exitCode: 0 }),
      ev('job.submitted', '101.0', 11, { experiment: 'nova', site: 'CERN', user: 'bob' }),
      ev('job.held', '101.0', 21),
      // Experiment and site from data, a numeric job id.
      { type: 'job.submitted', source: 'jobsub', time: at(12), data: { job: 7, experiment: 'dune', site: 'FNAL', user: 'carol' } },
      { type: 'job.started', source: 'jobsub', time: at(22), data: { job: '7' } },
      // Not lifecycle types: stored as events, no job.
      ev('job.state', '999.0', 13),
      ev('disk.error', '998.0', 14),
    ]);
  });
  after(() => c?.stop());

  test('the latest state, where it came from and the free keys', async () => {
    const j = await job(c, '100.0');
    assert.equal(j.state, 'finished');
    assert.equal(j.experiment, 'nova');
    assert.equal(j.site, 'FNAL');
    assert.deepEqual(j.labels, { user: 'alice' });
    assert.deepEqual(j.data, { user: 'alice', cpus: 1, host: 'fnpc3002', reason: 'disk quota', exitCode: 0 });
    assert.deepEqual([j.firstAt, j.stateSince, j.lastAt, j.finishedAt, j.silentSince, j.events], [at(10), at(60), at(60), at(60), null, 6]);
    assert.deepEqual(
      j.history.map((h) => [h.type, h.from, h.to, h.time]),
      [
        ['job.submitted', null, 'queued', at(10)],
        ['job.started', 'queued', 'running', at(20)],
        ['job.held', 'running', 'held', at(30)],
        ['job.released', 'held', 'queued', at(40)],
        ['job.started', 'queued', 'running', at(50)],
        ['job.finished', 'running', 'finished', at(60)],
      ],
    );
    assert.equal(j.history[0].source, 'schedd01.fnal.gov');
    assert.deepEqual(j.history[2].data, { reason: 'disk quota' });
    const seven = await job(c, '7');
    assert.deepEqual([seven.state, seven.experiment, seven.site, seven.data.user], ['running', 'dune', 'FNAL', 'carol']);
  });

  test('only lifecycle types make jobs', async () => {
    assert.deepEqual(await ids(c, ''), ['100.0', '101.0', '7']);
    assert.equal((await api(c.url, '/api/v1/jobs/999.0')).status, 404);
  });

  test('filters: state, experiment, site, silent, several values, limit with total', async () => {
    assert.deepEqual(await ids(c, '?state=held'), ['101.0']);
    assert.deepEqual(await ids(c, '?state=held,running'), ['101.0', '7']);
    assert.deepEqual(await ids(c, '?state=held&state=finished'), ['100.0', '101.0']);
    assert.deepEqual(await ids(c, '?experiment=nova'), ['100.0', '101.0']);
    assert.deepEqual(await ids(c, '?experiment=nova&site=CERN'), ['101.0']);
    assert.deepEqual(await ids(c, '?site=FNAL&state=running'), ['7']);
    assert.deepEqual(await ids(c, '?silent=true'), []);
    assert.deepEqual(await ids(c, '?silent=false'), ['100.0', '101.0', '7']);
    const one = await jobs(c, '?limit=1');
    assert.deepEqual([one.data.length, one.truncated, one.total], [1, true, 3]);
    // Newest event first.
    assert.equal(one.data[0].job, '100.0');
    assert.deepEqual([(await jobs(c, '')).truncated, (await jobs(c, '')).total], [false, 3]);
  });

  test('match: a selector over the job labels, the name part is the state', async () => {
    const m = (s: string) => ids(c, `?match=${encodeURIComponent(s)}`);
    assert.deepEqual(await m('{user="alice"}'), ['100.0']);
    assert.deepEqual(await m('{user=~"alice|bob"}'), ['100.0', '101.0']);
    assert.deepEqual(await m('held'), ['101.0']);
    assert.deepEqual(await m('{site="FNAL", state!="finished"}'), ['7']);
    assert.deepEqual(await m('{job=~"10.*"}'), ['100.0', '101.0']);
    assert.deepEqual(await ids(c, `?match=${encodeURIComponent('held')}&match=${encodeURIComponent('running')}`), ['101.0', '7']);
    assert.deepEqual(await ids(c, `?experiment=nova&match=${encodeURIComponent('{user="bob"}')}`), ['101.0']);
    const counted = await jobs(c, `?limit=1&match=${encodeURIComponent('{experiment=~".+"}')}`);
    assert.deepEqual([counted.data.length, counted.truncated, counted.total], [1, true, 3]);
  });

  test('bad parameters are 400 naming the parameter; an unknown job is 404', async () => {
    for (const [query, param, msg] of [
      ['?state=bogus', 'state', /unknown state "bogus"; states: queued, running, held, suspended, finished, failed, removed/],
      ['?experiment=a%0Ab', 'experiment', /control character/],
      ['?site=' + 'x'.repeat(1025), 'site', /longer than 1024/],
      ['?silent=yes', 'silent', /must be one of true, false/],
      ['?limit=0', 'limit', /integer from 1 to 10000/],
      ['?limit=10001', 'limit', /integer from 1 to 10000/],
      ['?limit=1&limit=2', 'limit', /given 2 times/],
      ['?match=%7Buser%3D', 'match', /./],
    ] as const) {
      const r = await api(c.url, `/api/v1/jobs${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(r.body.error?.path, param, query);
      assert.match(r.body.error!.message, msg, query);
    }
    for (const [id, msg] of [
      ['a%0Ab', /control character/],
      ['x'.repeat(201), /longer than 200/],
    ] as const) {
      const r = await api(c.url, `/api/v1/jobs/${id}`);
      assert.equal(r.status, 400);
      assert.equal(r.body.error?.path, 'id');
      assert.match(r.body.error!.message, msg);
    }
    const bad = await api(c.url, '/api/v1/jobs/100.0?limit=x');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.path, 'limit');
    const none = await api(c.url, '/api/v1/jobs/nope.0');
    assert.equal(none.status, 404);
    assert.equal(none.body.error?.path, 'id');
    assert.match(none.body.error!.message, /no job "nope.0"/);
  });

  test('history limit: the newest events, oldest first, truncated said', async () => {
    const r = await api<{ data: { history: Hist[] }; truncated: boolean }>(c.url, '/api/v1/jobs/100.0?limit=2');
    assert.equal(r.status, 200);
    assert.equal(r.body.truncated, true);
    assert.deepEqual(
      r.body.data.history.map((h) => h.type),
      ['job.started', 'job.finished'],
    );
  });

  test('a late event goes into the history only; events that cannot be folded are stored, counted, not folded', async () => {
    const late0 = await metric(c, /^rexmon_jobs_events_total\{result="late"\} (\S+)/m);
    const bad0 = await metric(c, /^rexmon_jobs_events_total\{result="ignored_invalid"\} (\S+)/m);
    const unknown0 = await metric(c, /^rexmon_jobs_events_total\{result="ignored_unknown_job"\} (\S+)/m);
    await post(c, [
      ev('job.started', '101.0', 15), // before its job.held at 21
      { type: 'job.started', source: 'x', time: at(70), labels: { experiment: 'nova' } }, // no job
      { type: 'job.started', source: 'x', time: at(70), data: { job: 'a\nb' } },
      { type: 'job.started', source: 'x', time: at(70), data: { job: '' } },
      ev('job.heartbeat', 'never-seen', 70), // no state to keep
    ]);
    const j = await job(c, '101.0');
    assert.equal(j.state, 'held');
    assert.equal(j.lastAt, at(21));
    // In time order: between its submission and the hold.
    assert.deepEqual(
      j.history.map((h) => [h.type, h.from, h.to, h.time]),
      [
        ['job.submitted', null, 'queued', at(11)],
        ['job.started', null, null, at(15)],
        ['job.held', 'queued', 'held', at(21)],
      ],
    );
    assert.equal(await metric(c, /^rexmon_jobs_events_total\{result="late"\} (\S+)/m), late0 + 1);
    assert.equal(await metric(c, /^rexmon_jobs_events_total\{result="ignored_invalid"\} (\S+)/m), bad0 + 3);
    assert.equal(await metric(c, /^rexmon_jobs_events_total\{result="ignored_unknown_job"\} (\S+)/m), unknown0 + 1);
    assert.equal((await api(c.url, '/api/v1/jobs/never-seen')).status, 404);
    // Stored as events all the same.
    const stored = await api<{ data: unknown[] }>(c.url, `/api/v1/events?from=${at(70)}&to=${at(70)}`);
    assert.equal(stored.body.data.length, 4);
  });

  test('selectors parse as everywhere (a parse error names match)', () => {
    assert.throws(() => parseSelector('{user=', 'match'), /match/);
  });
});

describe('series in the RRD files, silent jobs, retention', () => {
  let c: TestCollector;
  before(async () => {
    c = await startCollector({ auth: { anonymousWrite: true }, jobs: { interval: 3600, silentTimeout: 600, retention: 3600, silentRetention: 7200 } });
  });
  after(() => c?.stop());

  test('job_states, job_transitions and job_silent per experiment and site, 0 where nothing is', async () => {
    const nova = { experiment: 'nova', site: 'FNAL' };
    await post(c, [
      ev('job.submitted', 'a', 5, nova),
      ev('job.submitted', 'b', 6, nova),
      ev('job.submitted', 'c', 7, nova),
      ev('job.submitted', 'd', 8, { experiment: 'dune', site: 'CERN' }),
    ]);
    assert.equal((await tick(c, 60)).samples, 2 * (4 + 1) + 2); // 2 pairs × (4 live states + silent) + 2 transition series
    await post(c, [ev('job.started', 'a', 70), ev('job.started', 'b', 71), ev('job.held', 'c', 72, {}, { reason: 'memory' })]);
    await tick(c, 120);
    await post(c, [ev('job.finished', 'a', 130), ev('job.failed', 'b', 131)]);
    await tick(c, 180);
    await tick(c, 240);

    const states = await values(c, 'job_states{experiment="nova"}', 120);
    assert.deepEqual(states, {
      'job_states{experiment="nova",site="FNAL",state="held"}': 1,
      'job_states{experiment="nova",site="FNAL",state="queued"}': 0,
      'job_states{experiment="nova",site="FNAL",state="running"}': 2,
      'job_states{experiment="nova",site="FNAL",state="suspended"}': 0,
    });
    assert.deepEqual(await values(c, 'job_states{experiment="nova",state=~"queued|running|held"}', 60), {
      'job_states{experiment="nova",site="FNAL",state="held"}': 0,
      'job_states{experiment="nova",site="FNAL",state="queued"}': 3,
      'job_states{experiment="nova",site="FNAL",state="running"}': 0,
    });
    assert.deepEqual(await values(c, 'job_states{experiment="nova",state=~"queued|running|held"}', 180), {
      'job_states{experiment="nova",site="FNAL",state="held"}': 1,
      'job_states{experiment="nova",site="FNAL",state="queued"}': 0,
      'job_states{experiment="nova",site="FNAL",state="running"}': 0,
    });
    assert.deepEqual(await values(c, 'job_states{experiment="dune",state="queued"}', 180), { 'job_states{experiment="dune",site="CERN",state="queued"}': 1 });
    // Transitions: a count per write, 0 once the series has moved before.
    const tr = (from: string, to: string, s: number) => values(c, `job_transitions{experiment="nova",from="${from}",to="${to}"}`, s);
    assert.deepEqual(await tr('none', 'queued', 60), { 'job_transitions{experiment="nova",from="none",site="FNAL",to="queued"}': 3 });
    assert.deepEqual(await tr('none', 'queued', 120), { 'job_transitions{experiment="nova",from="none",site="FNAL",to="queued"}': 0 });
    assert.deepEqual(await tr('queued', 'running', 120), { 'job_transitions{experiment="nova",from="queued",site="FNAL",to="running"}': 2 });
    assert.deepEqual(await tr('queued', 'held', 120), { 'job_transitions{experiment="nova",from="queued",site="FNAL",to="held"}': 1 });
    assert.deepEqual(await tr('running', 'finished', 180), { 'job_transitions{experiment="nova",from="running",site="FNAL",to="finished"}': 1 });
    assert.deepEqual(await tr('running', 'failed', 180), { 'job_transitions{experiment="nova",from="running",site="FNAL",to="failed"}': 1 });
    assert.deepEqual(await tr('running', 'failed', 240), { 'job_transitions{experiment="nova",from="running",site="FNAL",to="failed"}': 0 });
    // The same values straight from the file with rrdtool.
    const [entry] = c.collector.catalog.find([parseSelector('job_states{experiment="nova",state="running"}')]);
    const file = path.resolve(c.dataDir, 'rrd', entry.file);
    await c.collector.writer.flush([entry.file]);
    const rows = await rrdFetch(file, 'AVERAGE', at(60) / 1000 - 60, at(180) / 1000);
    assert.deepEqual([rows.get(at(60) / 1000), rows.get(at(120) / 1000), rows.get(at(180) / 1000)], [0, 2, 0]);
  });

  test('a job without events for longer than silentTimeout is flagged: an event, job_silent, the API; an event clears it', async () => {
    // Rows at least every heartbeat (120 s), so the series have no gap.
    for (let s = 300; s < 660; s += 60) assert.equal((await tick(c, s)).silent, 0);
    // c (held at 72) and d (queued at 8) are live; at 8 + 600 + … d is silent first.
    const r = await tick(c, 660);
    assert.equal(r.silent, 1);
    const d = await job(c, 'd');
    assert.equal(d.silentSince, at(660));
    assert.deepEqual(await ids(c, '?silent=true'), ['d']);
    const flagged = await api<{ data: { type: string; time: number; labels: Record<string, string>; data: Record<string, unknown> }[] }>(
      c.url,
      '/api/v1/events?type=job.silent',
    );
    assert.equal(flagged.body.data.length, 1);
    assert.deepEqual(flagged.body.data[0].labels, { experiment: 'dune', job: 'd', site: 'CERN' });
    assert.equal(flagged.body.data[0].time, at(660));
    assert.deepEqual(flagged.body.data[0].data, { state: 'queued', lastEventAt: new Date(at(8)).toISOString(), silentSeconds: 652 });
    assert.deepEqual(
      d.history.map((h) => [h.type, h.from, h.to]),
      [
        ['job.submitted', null, 'queued'],
        ['job.silent', 'queued', 'queued'],
      ],
    );
    // Flagged once only.
    assert.equal((await tick(c, 720)).silent, 1); // now c (held at 72, 648 s ago)
    assert.deepEqual(await ids(c, '?silent=true'), ['c', 'd']);
    assert.equal((await tick(c, 780)).silent, 0);
    assert.deepEqual(await values(c, 'job_silent', 720), { 'job_silent{experiment="dune",site="CERN"}': 1, 'job_silent{experiment="nova",site="FNAL"}': 1 });
    assert.deepEqual(await values(c, 'job_silent', 660), { 'job_silent{experiment="dune",site="CERN"}': 1, 'job_silent{experiment="nova",site="FNAL"}': 0 });
    assert.equal(await metric(c, /^rexmon_jobs_silent_flagged_total (\S+)/m), 2);
    // A heartbeat: alive again, state kept.
    await post(c, [ev('job.heartbeat', 'd', 790)]);
    const back = await job(c, 'd');
    assert.deepEqual([back.state, back.silentSince, back.lastAt], ['queued', null, at(790)]);
    await tick(c, 840);
    assert.deepEqual(await values(c, 'job_silent', 840), { 'job_silent{experiment="dune",site="CERN"}': 0, 'job_silent{experiment="nova",site="FNAL"}': 1 });
  });

  test('finished jobs are forgotten after the retention, silent ones after silentRetention, with their history', async () => {
    const hist = async (id: string) => Number(((await c.collector.db('job_events').where('job', id).count({ n: '*' }).first()) as { n: number }).n);
    assert.ok((await hist('a')) > 0);
    // a finished at 130, b failed at 131: retention 3600 s.
    let r = await tick(c, 130 + 3600);
    assert.deepEqual(r.forgotten, { finished: 0, silent: 0 });
    r = await tick(c, 131 + 3600 + 1);
    assert.deepEqual(r.forgotten, { finished: 2, silent: 0 });
    assert.equal((await api(c.url, '/api/v1/jobs/a')).status, 404);
    assert.equal(await hist('a'), 0);
    assert.equal(await hist('b'), 0);
    assert.deepEqual(await ids(c, ''), ['c', 'd']);
    // c: silent since 720; silentRetention 7200 s. d is live again (heartbeat at 790), flagged again at 790 + 600 +.
    r = await tick(c, 720 + 7200 + 60);
    assert.deepEqual(r.forgotten, { finished: 0, silent: 1 });
    assert.deepEqual(await ids(c, ''), ['d']);
    assert.equal(await hist('c'), 0);
    assert.equal(await metric(c, /^rexmon_jobs_forgotten_total\{rule="finished"\} (\S+)/m), 2);
    assert.equal(await metric(c, /^rexmon_jobs_forgotten_total\{rule="silent"\} (\S+)/m), 1);
  });
});

test('restart: jobs, their history and the silent flags survive; folding goes on from the stored state', async () => {
  const tmp = await tempDir();
  try {
    const cfg = { rrd: { cached: { mode: 'off' } }, auth: { anonymousWrite: true }, jobs: { interval: 3600, silentTimeout: 600 } };
    let c = await startCollector(cfg, tmp.dir);
    await post(c, [ev('job.submitted', 'r1', 10, { experiment: 'mu2e', site: 'FNAL' }), ev('job.started', 'r1', 20), ev('job.submitted', 'r2', 30)]);
    await c.collector.jobs.tick(at(900));
    await c.stop();
    c = await startCollector(cfg, tmp.dir);
    try {
      const r1 = await job(c, 'r1');
      assert.deepEqual([r1.state, r1.experiment, r1.silentSince, r1.history.length], ['running', 'mu2e', at(900), 3]);
      assert.deepEqual([(await job(c, 'r2')).state, (await job(c, 'r2')).experiment], ['queued', 'unknown']);
      // The transition series of the last day go on after the restart: 2 pairs × (4 live states + job_silent) + 3 transitions.
      assert.equal((await c.collector.jobs.tick(at(930))).samples, 13);
      await post(c, [ev('job.finished', 'r1', 950)]);
      const after = await job(c, 'r1');
      assert.deepEqual([after.state, after.silentSince, after.finishedAt], ['finished', null, at(950)]);
      assert.deepEqual(after.history.map((h) => [h.type, h.from, h.to]).slice(-2), [
        ['job.silent', 'running', 'running'],
        ['job.finished', 'running', 'finished'],
      ]);
    } finally {
      await c.stop();
    }
  } finally {
    await tmp.cleanup();
  }
});

test('jobs.enabled false: events are stored, no job is made', async () => {
  const c = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { anonymousWrite: true }, jobs: { enabled: false } });
  try {
    await post(c, [ev('job.submitted', 'x1', 10)]);
    assert.deepEqual((await jobs(c, '')).data, []);
    assert.equal((await api<{ data: unknown[] }>(c.url, '/api/v1/events?type=job.submitted')).body.data.length, 1);
  } finally {
    await c.stop();
  }
});
