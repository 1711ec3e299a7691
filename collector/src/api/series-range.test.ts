// Look-ups by time range: /series, /labels and /label/:name/values with from/to give only series with data in it
// (last update ≥ from, created ≤ to), for native series (before and after a restart) and imported trees alike.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { api, run, startCollector, tempDir, TestCollector } from '../testing/harness.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));
const now = Math.floor(Date.now() / 1000 / 60) * 60;
const DAY = 86400;
let tree: { dir: string; cleanup: () => Promise<void> };
let data: { dir: string; cleanup: () => Promise<void> };
let c: TestCollector;

/** An RRD in collectd's layout with values at the given times. */
async function collectdFile(host: string, times: number[]) {
  const file = path.join(tree.dir, host, 'cpu-0', 'cpu-idle.rrd');
  await mkdir(path.dirname(file), { recursive: true });
  await run('rrdtool', ['create', file, '--start', String(times[0] - 60), '--step', '60', 'DS:value:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:6000']);
  await run('rrdtool', ['update', file, ...times.map((t, i) => `${t}:${i}`)]);
}

const minutes = (end: number, n: number) => Array.from({ length: n }, (_, i) => end - (n - 1 - i) * 60);

before(async () => {
  tree = await tempDir('rexmon-tree-');
  data = await tempDir('rexmon-data-');
  await collectdFile('fnpc3001', minutes(now - 60, 5));
  await collectdFile('fnpc9000', minutes(now - 3 * DAY, 5)); // stopped reporting three days ago
  await run('node', [BIN, 'import', tree.dir, '--preset', 'collectd', '--data-dir', data.dir]);
  c = await startCollector({}, data.dir);
  const token = await createToken(c.collector.db, 'seeder', 'editor');
  const samples = [
    ...minutes(now - 60, 10).map((time) => ({ name: 'cpu_load', labels: { host: 'live' }, value: 1, time })),
    // Sent late (backfilled): its data begins three days before the series was registered.
    ...minutes(now - 3 * DAY, 10).map((time) => ({ name: 'cpu_load', labels: { host: 'stale', rack: 'r7' }, value: 2, time })),
  ];
  assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', token, body: JSON.stringify(samples) })).status, 202);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token });
});
after(async () => {
  await c?.stop();
  await tree.cleanup();
  await data.cleanup();
});

const get = async <T>(p: string) => {
  const r = await api<{ data: T }>(c.url, p);
  assert.equal(r.status, 200, `${p}: ${JSON.stringify(r.body)}`);
  return r.body.data;
};
const hosts = (match: string, range = '') => get<string[]>(`/api/v1/label/host/values?match=${encodeURIComponent(match)}${range}`);

async function checkRanges() {
  // Without a range: every series, as before.
  assert.deepEqual(await hosts('cpu_load'), ['live', 'stale']);
  assert.deepEqual(await hosts('collectd_cpu_cpu'), ['fnpc3001', 'fnpc9000']);
  // The last hour: only what reported in it.
  assert.deepEqual(await hosts('cpu_load', `&from=${now - 3600}&to=${now}`), ['live']);
  assert.deepEqual(await hosts('collectd_cpu_cpu', `&from=${now - 3600}`), ['fnpc3001']);
  // Four to two days ago: the backfilled series had data then; the live one did not exist yet.
  assert.deepEqual(await hosts('cpu_load', `&from=${now - 4 * DAY}&to=${now - 2 * DAY}`), ['stale']);
  // Imported series' creation is unknown (written before rexmon saw them): only their last update counts.
  assert.deepEqual(await hosts('collectd_cpu_cpu', `&from=${now - 4 * DAY}&to=${now - 2 * DAY}`), ['fnpc3001', 'fnpc9000']);
  assert.deepEqual(await hosts('collectd_cpu_cpu', `&from=${now - 2 * DAY}&to=${now - DAY}`), ['fnpc3001']);
}

test('label values by range: last update ≥ from, created ≤ to; native and imported', async () => {
  await checkRanges();
});

test('series and label names by range; every time format of /query; GET and POST', async () => {
  const series = await get<{ labels: Record<string, string> }[]>(`/api/v1/series?match=cpu_load&from=${new Date((now - 3600) * 1000).toISOString()}`);
  assert.deepEqual(
    series.map((s) => s.labels.host),
    ['live'],
  );
  assert.deepEqual(await get<string[]>(`/api/v1/labels?match=cpu_load&from=${(now - 3600) * 1000}`), ['__name__', 'host']);
  assert.deepEqual(await get<string[]>(`/api/v1/labels?match=cpu_load`), ['__name__', 'host', 'rack']);
  assert.deepEqual(await get<string[]>(`/api/v1/labels?match=cpu_load&to=${now - 2 * DAY}`), ['__name__', 'host', 'rack']);
  const post = await api<{ data: string[] }>(c.url, '/api/v1/label/host/values', {
    method: 'POST',
    body: JSON.stringify({ match: 'cpu_load', from: (now - 3600) * 1000, to: now * 1000 }),
  });
  assert.deepEqual(post.body.data, ['live']);
  const form = await api<{ data: string[] }>(c.url, '/api/v1/label/__name__/values', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ match: '{host=~"stale|fnpc9000"}', from: String(now - 3600) }).toString(),
  });
  assert.deepEqual(form.body.data, []);
});

test('bad from/to are 400 naming the parameter', async () => {
  for (const [params, name, re] of [
    ['from=yesterday', 'from', /"yesterday" is not a time/],
    ['to=soon', 'to', /not a time/],
    [`from=${now}&to=${now - 60}`, 'to', /not be before from/],
  ] as const) {
    for (const route of ['/api/v1/series', '/api/v1/labels', '/api/v1/label/host/values']) {
      const r = await api(c.url, `${route}?match=cpu_load&${params}`);
      assert.equal(r.status, 400, `${route} ${params}`);
      assert.equal(r.body.error!.path, name);
      assert.match(r.body.error!.message, re);
    }
  }
});

test('after a restart the ranges hold: creation from the catalog, last updates from the files', async () => {
  await c.stop();
  c = await startCollector({}, data.dir);
  await checkRanges();
});
