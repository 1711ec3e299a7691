// The event API against a real collector (in-process, free loopback port, SQLite file).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hashToken } from '../auth/tokens.js';
import { api, startCollector, TestCollector, tempDir, waitFor } from '../testing/harness.js';

const EDITOR = 'rxm_events_editor';
const VIEWER = 'rxm_events_viewer';
const tokens = [
  { name: 'feeder', role: 'editor', sha256: hashToken(EDITOR) },
  { name: 'wall', role: 'viewer', sha256: hashToken(VIEWER) },
];
let c: TestCollector;

before(async () => {
  c = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { tokens } });
});
after(async () => {
  await c?.stop();
});

type E = { id: number; time: number; type: string; source: string; labels: Record<string, string>; data: Record<string, unknown> };
type Err = { error: { status: number; message: string; path?: string; errors?: { index: number; path: string; message: string }[] } };
/** POSTs, and after a 202 waits until every processor (the store) took the batch, so a read sees it. */
const post = async (body: unknown, token = EDITOR) => {
  const r = await api<{ data: { accepted: number } } & Partial<Err>>(c.url, '/api/v1/events', {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    token,
  });
  if (r.status === 202) assert.ok(await c.collector.events.dispatcher.drain(10000), 'processors drained');
  return r;
};
const get = async (query: string, token = VIEWER) => api<{ data: E[] }>(c.url, `/api/v1/events${query}`, { token });
const list = async (query: string) => {
  const r = await get(query);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
};
const count = async () => (await list('?limit=10000')).length;
const clear = () => c.collector.db('events').delete();

const T = 1795300000000; // 2026-11-22T...Z in ms

test('roles: anonymous POST is 401, a viewer POST 403; viewers and anonymous loopback clients read', async () => {
  const ev = { type: 'job.state', source: 'schedd01' };
  const anon = await post(ev, '');
  assert.equal(anon.status, 401);
  assert.equal(anon.body.error!.path, 'Authorization');
  const viewer = await post(ev, VIEWER);
  assert.equal(viewer.status, 403);
  assert.match(viewer.body.error!.message, /needs editor/);
  assert.equal(await count(), 0);
  assert.equal((await get('', '')).status, 200);
  assert.equal((await get('', 'not-a-token')).status, 401);
});

test('one event: stored with every field; time defaults to now', async () => {
  await clear();
  const before = Date.now();
  const r = await post({
    type: 'file.delivered',
    source: 'dcache-door3',
    labels: { experiment: 'nova', site: '' },
    data: { file: '/pnfs/nova/raw/r1.root', bytes: 1073741824, checksumOk: true },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.deepEqual(r.body.data, { accepted: 1 });
  const [e] = await list('');
  assert.equal(typeof e.id, 'number');
  assert.ok(e.time >= before && e.time <= Date.now(), `time ${e.time}`);
  assert.equal(e.type, 'file.delivered');
  assert.equal(e.source, 'dcache-door3');
  assert.deepEqual(e.labels, { experiment: 'nova' });
  assert.deepEqual(e.data, { file: '/pnfs/nova/raw/r1.root', bytes: 1073741824, checksumOk: true });
  assert.deepEqual(Object.keys(e).sort(), ['data', 'id', 'labels', 'source', 'time', 'type']);
});

test('times: Unix ms, Unix seconds, ISO 8601 (with and without zone offset) all become ms', async () => {
  await clear();
  const r = await post([
    { type: 't', source: 'ms', time: T + 123 },
    { type: 't', source: 's', time: T / 1000 - 60 },
    { type: 't', source: 's-text', time: String(T / 1000 - 120) },
    { type: 't', source: 'iso', time: new Date(T - 180000).toISOString() },
    { type: 't', source: 'iso-offset', time: '2026-11-22T08:00:00-06:00' },
  ]);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const got = Object.fromEntries((await list('')).map((e) => [e.source, e.time]));
  assert.deepEqual(got, { ms: T + 123, s: T - 60000, 's-text': T - 120000, iso: T - 180000, 'iso-offset': Date.parse('2026-11-22T14:00:00Z') });
});

test('many: 10,000 in one request; 10,001 is 413 and nothing is stored', async () => {
  await clear();
  const batch = Array.from({ length: 10000 }, (_, i) => ({
    type: 'job.state',
    source: `schedd${i % 4}`,
    time: T + i,
    labels: { experiment: 'nova' },
    data: { job: `${i}.0`, to: 'running' },
  }));
  const r = await post(batch);
  assert.equal(r.status, 202, JSON.stringify(r.body).slice(0, 300));
  assert.equal(r.body.data.accepted, 10000);
  assert.equal(await count(), 10000);
  const tooMany = await post([...batch, batch[0]]);
  assert.equal(tooMany.status, 413);
  assert.match(tooMany.body.error!.message, /at most 10000 events/);
  assert.equal(await count(), 10000);
});

test('whole or nothing: every bad item named by index and field, nothing stored', async () => {
  await clear();
  const good = { type: 'job.state', source: 'schedd01', data: { job: '1.0' } };
  const bigData = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
  const r = await post([
    good,
    { source: 'x' },
    { type: 'has space', source: 'x' },
    { type: 'a'.repeat(101), source: 'x' },
    { type: 'x' },
    { type: 'x', source: 'line\nbreak' },
    { type: 'x', source: 's'.repeat(201) },
    { type: 'x', source: 'x', time: 'yesterday' },
    { type: 'x', source: 'x', labels: { 'bad-name': 'v' } },
    { type: 'x', source: 'x', labels: { host: 'a\u0000b' } },
    { type: 'x', source: 'x', data: { nested: { a: 1 } } },
    { type: 'x', source: 'x', data: { list: [1, 2] } },
    { type: 'x', source: 'x', data: { nothing: null } },
    { type: 'x', source: 'x', data: bigData },
    { type: 'x', source: 'x', data: { blob: 'x'.repeat(5000) } },
    { type: 'x', source: 'x', value: 3 },
    'not an object',
    good,
  ]);
  assert.equal(r.status, 400);
  assert.match(r.body.error!.message, /^16 of 18 events are invalid; nothing was stored/);
  assert.equal(r.body.error!.path, '[1].type');
  const errs = r.body.error!.errors!.map((e) => `${e.index} ${e.path}`);
  assert.deepEqual(errs, [
    '1 [1].type',
    '2 [2].type',
    '3 [3].type',
    '4 [4].source',
    '5 [5].source',
    '6 [6].source',
    '7 [7].time',
    '8 [8].labels.bad-name',
    '9 [9].labels.host',
    '10 [10].data.nested',
    '11 [11].data.list',
    '12 [12].data.nothing',
    '13 [13].data',
    '14 [14].data',
    '15 [15].value',
    '16 [16]',
  ]);
  const msg = (i: number) => r.body.error!.errors!.find((e) => e.index === i)!.message;
  assert.match(msg(1), /type is required/);
  assert.match(msg(4), /source is required/);
  assert.match(msg(5), /control character/);
  assert.match(msg(6), /longer than 200/);
  assert.match(msg(7), /not a time/);
  assert.match(msg(10), /string, number or boolean/);
  assert.match(msg(13), /65 keys; at most 64/);
  assert.match(msg(14), /bytes as JSON; at most 4096/);
  assert.match(msg(15), /unknown field "value"/);
  assert.equal(await count(), 0);

  // A single event: the error path has no index.
  const one = await post({ type: 'x', source: 'x', time: -5 });
  assert.equal(one.status, 400);
  assert.equal(one.body.error!.path, 'time');
  assert.match(one.body.error!.message, /^the event is invalid; nothing was stored/);
  for (const body of ['{"type":', '"text"', '42', 'null']) {
    const b = await post(body);
    assert.equal(b.status, 400, body);
    assert.equal(b.body.error!.path, 'body', body);
  }
  assert.equal(await count(), 0);
});

test('filters: time range, type, source, selector over labels (__name__ = type), limit', async () => {
  await clear();
  const seed = [
    { type: 'job.state', source: 'schedd01', time: T, labels: { experiment: 'nova', schedd: 's01' } },
    { type: 'job.state', source: 'schedd02', time: T + 60000, labels: { experiment: 'minerva', schedd: 's02' } },
    { type: 'file.delivered', source: 'dcache', time: T + 120000, labels: { experiment: 'nova' } },
    { type: 'disk.error', source: 'fnpc3001', time: T + 180000, labels: { host: 'fnpc3001' }, data: { device: 'sdb' } },
    { type: 'disk.error', source: 'fnpc3002', time: T + 240000 },
  ];
  assert.equal((await post(seed)).status, 202);
  const src = (es: E[]) => es.map((e) => e.source);
  assert.deepEqual(src(await list('')), ['fnpc3002', 'fnpc3001', 'dcache', 'schedd02', 'schedd01'], 'newest first');
  // Range, inclusive at both ends; every time form.
  assert.deepEqual(src(await list(`?from=${T + 60000}&to=${T + 180000}`)), ['fnpc3001', 'dcache', 'schedd02']);
  assert.deepEqual(src(await list(`?from=${T / 1000 + 60}&to=${T / 1000 + 180}`)), ['fnpc3001', 'dcache', 'schedd02']);
  assert.deepEqual(src(await list(`?from=${new Date(T + 60000).toISOString()}&to=${new Date(T + 180000).toISOString()}`)), ['fnpc3001', 'dcache', 'schedd02']);
  assert.deepEqual(src(await list(`?from=${T + 200000}`)), ['fnpc3002']);
  assert.deepEqual(src(await list(`?to=${T}`)), ['schedd01']);
  // Type and source: comma-separated or repeated.
  assert.deepEqual(src(await list('?type=job.state')), ['schedd02', 'schedd01']);
  assert.deepEqual(src(await list('?type=job.state,disk.error')), ['fnpc3002', 'fnpc3001', 'schedd02', 'schedd01']);
  assert.deepEqual(src(await list('?type=file.delivered&type=disk.error&source=dcache&source=fnpc3002')), ['fnpc3002', 'dcache']);
  assert.deepEqual(src(await list('?type=nothing.here')), []);
  // Selectors over labels; the metric name position is the type; repeated match is a union.
  const m = (s: string) => `?match=${encodeURIComponent(s)}`;
  assert.deepEqual(src(await list(m('{experiment="nova"}'))), ['dcache', 'schedd01']);
  assert.deepEqual(src(await list(m('job.state{experiment=~"nova|minerva"}'))), ['schedd02', 'schedd01']);
  assert.deepEqual(src(await list(m('{__name__=~"disk\\..*",host!="fnpc3001"}'))), ['fnpc3002']);
  assert.deepEqual(src(await list(`${m('file.delivered')}&match=${encodeURIComponent('{schedd="s01"}')}`)), ['dcache', 'schedd01']);
  assert.deepEqual(src(await list(`${m('{experiment="nova"}')}&type=job.state&from=${T}&to=${T}`)), ['schedd01']);
  // Limit.
  assert.deepEqual(src(await list('?limit=2')), ['fnpc3002', 'fnpc3001']);
  assert.deepEqual(src(await list(`${m('{experiment!=""}')}&limit=1`)), ['dcache']);
});

test('an answer cut by the limit says so: truncated and the total that matched', async () => {
  const page = async (query: string) => {
    const r = await api<{ data: E[]; truncated: boolean; total: number }>(c.url, `/api/v1/events${query}`, { token: VIEWER });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { n: r.body.data.length, truncated: r.body.truncated, total: r.body.total };
  };
  // The five events of the test before.
  assert.deepEqual(await page('?limit=2'), { n: 2, truncated: true, total: 5 });
  assert.deepEqual(await page('?limit=5'), { n: 5, truncated: false, total: 5 });
  assert.deepEqual(await page('?type=disk.error,job.state&limit=1'), { n: 1, truncated: true, total: 4 });
  assert.deepEqual(await page(`?match=${encodeURIComponent('{experiment=~"nova|minerva"}')}&limit=2`), { n: 2, truncated: true, total: 3 });
});

test('the default limit is 1000, the maximum 10000', async () => {
  await clear();
  assert.equal((await post(Array.from({ length: 1500 }, (_, i) => ({ type: 'tick', source: 'clock', time: T + i })))).status, 202);
  const d = await list('');
  assert.equal(d.length, 1000);
  assert.equal(d[0].time, T + 1499);
  assert.equal((await list('?limit=10000')).length, 1500);
});

test('bad query parameters: 400 naming the parameter', async () => {
  const cases: [string, string, RegExp][] = [
    ['?limit=0', 'limit', /integer from 1 to 10000/],
    ['?limit=10001', 'limit', /integer from 1 to 10000/],
    ['?limit=ten', 'limit', /integer/],
    ['?from=yesterday', 'from', /not a time/],
    [`?from=${T}&to=${T - 1}`, 'to', /before from/],
    ['?type=has%20space', 'type', /type "has space"/],
    [`?match=${encodeURIComponent('{host=~"("}')}`, 'match', /invalid regular expression/],
    [`?match=${encodeURIComponent('host="x"')}`, 'match', /expected/],
  ];
  for (const [q, path, re] of cases) {
    const r = await get(q);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error!.path, path, `${q}: ${r.body.error!.message}`);
    assert.match(r.body.error!.message, re, q);
  }
});

test('/metrics counts stored and refused events', async () => {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  assert.match(text, /^rexmon_events_stored_total \d+/m);
  assert.match(text, /^rexmon_events_rejected_total [1-9]\d*/m);
  assert.match(text, /^rexmon_events_pruned_total\{rule="age"\} \d+/m);
});

test('retention: pruned at start (age, then count) and on demand', async () => {
  const tmp = await tempDir();
  const now = Date.now();
  const day = 86400000;
  let a: TestCollector | undefined = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { tokens } }, tmp.dir);
  try {
    const seed = [
      { type: 'old', source: 'a', time: now - 40 * day },
      { type: 'old', source: 'b', time: now - 31 * day },
      ...Array.from({ length: 8 }, (_, i) => ({ type: 'recent', source: `r${i}`, time: now - (i + 1) * 60000 })),
    ];
    const r = await api(a.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(seed), token: EDITOR });
    assert.equal(r.status, 202);
    await a.stop();
    a = undefined;
    // Restarted with the default 30 d retention and at most 5 events: the two old ones go, then the 3 oldest recent ones.
    a = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { tokens }, events: { maxEvents: 5 } }, tmp.dir);
    const b = a;
    const left = await waitFor('pruning at start', async () => {
      const l = (await api<{ data: E[] }>(b.url, '/api/v1/events', { token: VIEWER })).body.data;
      return l.length === 5 && l;
    });
    assert.deepEqual(
      left.map((e) => e.source),
      ['r0', 'r1', 'r2', 'r3', 'r4'],
    );
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    assert.match(metrics, /^rexmon_events_pruned_total\{rule="age"\} 2$/m);
    assert.match(metrics, /^rexmon_events_pruned_total\{rule="count"\} 3$/m);
    // On demand, with the clock moved on 30 days: everything is past the retention.
    assert.deepEqual(await b.collector.events.prune(now + 30 * day), { expired: 5, overflow: 0 });
  } finally {
    await a?.stop();
    await tmp.cleanup();
  }
});
