// End to end through real sockets, the pipeline, rrdcached and rrdtool: what goes in comes out of the API,
// and matches `rrdtool fetch` on the same file.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { api, rrdFetch, sendTcp, startCollector, TestCollector, waitFor } from '../testing/harness.js';

let c: TestCollector;
let editor: string;
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 3600; // aligned, an hour ago: every row is complete

type Q = { series: { name: string; labels: Record<string, string>; timestamps: number[]; values: (number | null)[] }[] };

before(async () => {
  c = await startCollector({ graphite: { mappings: [{ match: 'lab.*.temp', name: 'temp', labels: { host: '$1' } }] } });
  editor = await createToken(c.collector.db, 'test', 'editor');
});
after(() => c.stop());

async function query(match: string, extra = ''): Promise<Q> {
  const r = await api<{ data: Q }>(c.url, `/api/v1/query?match=${encodeURIComponent(match)}&from=${base - 60}&to=${base + 600}&step=60${extra}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}

function valuesAt(q: Q, times: number[]): (number | null)[] {
  const s = q.series[0];
  return times.map((t) => s.values[s.timestamps.indexOf(t)] ?? null);
}

test('Graphite TCP: mapped lines land in the archive, first point included, equal to rrdtool fetch', async () => {
  const times = Array.from({ length: 10 }, (_, i) => base + i * 60);
  const lines = times.map((t, i) => `lab.host01.temp ${20 + i} ${t}`).join('\n') + '\n';
  await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, lines);
  const q = await waitFor('the series', async () => {
    const r = await query('temp{host="host01"}');
    return r.series.length === 1 && r.series[0].values.filter((v) => v !== null).length >= 10 ? r : undefined;
  });
  assert.deepEqual(q.series[0].labels, { host: 'host01' });
  assert.deepEqual(
    valuesAt(q, times),
    times.map((_, i) => 20 + i),
  );
  const entry = c.collector.catalog.find([{ matchers: [], text: '' }]).find((e) => e.name === 'temp')!;
  const fetched = await rrdFetch(entry.file, 'AVERAGE', base - 60, base + 540);
  assert.deepEqual(
    times.map((t) => fetched.get(t)),
    times.map((_, i) => 20 + i),
    'API and rrdtool fetch agree',
  );
});

test('Graphite UDP: datagrams land too', async () => {
  const sock = dgram.createSocket('udp4');
  const times = [base, base + 60, base + 120];
  await new Promise<void>((r) => sock.send(times.map((t, i) => `udp.metric;host=u1 ${i + 1} ${t}`).join('\n'), c.graphiteUdp!.port, '127.0.0.1', () => r()));
  sock.close();
  const q = await waitFor('udp series', async () => {
    const r = await query('udp.metric');
    return r.series.length === 1 && r.series[0].values.filter((v) => v !== null).length === 3 ? r : undefined;
  });
  assert.deepEqual(q.series[0].labels, { host: 'u1' });
  assert.deepEqual(valuesAt(q, times), [1, 2, 3]);
});

test('HTTP JSON batch: accepted with an editor token, refused whole when one sample is bad', async () => {
  const batch = [0, 1, 2, 3].map((i) => ({ name: 'cpu_usage', labels: { host: 'fnpc3001' }, value: i / 10, time: (base + i * 60) * 1000 }));
  const anon = await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(batch) });
  assert.equal(anon.status, 401);
  assert.match(anon.body.error!.message, /role editor/);
  const bad = await api<{ error: { errors: { index: number; path: string }[] } }>(c.url, '/api/v1/samples', {
    method: 'POST',
    token: editor,
    body: JSON.stringify([...batch, { name: 'x/../../y', value: 1 }, { name: 'ok', labels: { h: 'a\nb' }, value: 2 }, { name: 'ok', value: 'high' }]),
  });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error!.message, /3 of 7 samples are invalid; nothing was stored/);
  assert.deepEqual(
    bad.body.error.errors.map((e) => e.path),
    ['[4].name', '[5].labels.h', '[6].value'],
  );
  const good = await api<{ data: { accepted: number } }>(c.url, '/api/v1/samples', { method: 'POST', token: editor, body: JSON.stringify(batch) });
  assert.equal(good.status, 202);
  assert.equal(good.body.data.accepted, 4);
  const q = await waitFor('http series', async () => {
    const r = await query('cpu_usage');
    return r.series.length === 1 && r.series[0].values.filter((v) => v !== null).length === 4 ? r : undefined;
  });
  assert.deepEqual(valuesAt(q, [base, base + 60, base + 120, base + 180]), [0, 0.1, 0.2, 0.3]);
  assert.equal((await query('x')).series.length, 0, 'nothing of the refused batch was stored');
});

test('bad Graphite lines are counted and logged, the good lines around them are kept', async () => {
  const t = base + 1200;
  const huge = 'a'.repeat(10000);
  const payload =
    [
      `good.one 1 ${t}`,
      'garbage',
      `${huge} 1 ${t}`,
      `../../etc/passwd 1 ${t}`,
      `name\twith 1 2 3 4`,
      `good.two 2 ${t}`,
      `quo"te 1 ${t}`,
      `good.three 3 ${t}`,
    ].join('\n') + '\n';
  await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, payload);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor });
  const names = (await api<{ data: string[] }>(c.url, '/api/v1/label/__name__/values')).body.data;
  for (const n of ['good.one', 'good.two', 'good.three']) assert.ok(names.includes(n), `${n} kept`);
  assert.ok(!names.some((n) => n.includes('passwd') || n.includes('"')));
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  const m = /rexmon_input_errors_total\{source="graphite_tcp"\} (\d+)/.exec(metrics);
  assert.ok(m && Number(m[1]) >= 5, `5 bad lines counted: ${m?.[0]}`);
});

test('out-of-order values are refused with a counter, newer ones still written', async () => {
  const t = base + 1800;
  await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `ooo.metric 1 ${t}\nooo.metric 2 ${t + 60}\n`);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor });
  await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `ooo.metric 9 ${t}\nooo.metric 3 ${t + 120}\n`);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor });
  const r = await api<{ data: Q }>(c.url, `/api/v1/query?match=ooo.metric&from=${t - 60}&to=${t + 180}&step=60`);
  const s = r.body.data.series[0];
  assert.deepEqual(
    [t, t + 60, t + 120].map((x) => s.values[s.timestamps.indexOf(x)]),
    [1, 2, 3],
  );
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  assert.match(metrics, /rexmon_samples_rejected_total\{reason="out_of_order"\} [1-9]/);
});

test('Graphite `nan` and JSON null are stored as unknown without dropping the neighbours; hex, binary and empty values are refused', async () => {
  const t = base + 2400;
  const before = await inputErrors();
  const payload =
    [
      `nan.metric 1 ${t}`,
      `nan.metric nan ${t + 60}`,
      `nan.metric 3 ${t + 120}`,
      `strict.hex 0x10 ${t}`,
      `strict.bin 0b11 ${t}`,
      `strict.empty  ${t}`,
      `strict.inf Infinity ${t}`,
    ].join('\n') + '\n';
  await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, payload);
  const json = [1, null, 3].map((value, i) => ({ name: 'null_metric', value, time: t + i * 60 }));
  const posted = await api(c.url, '/api/v1/samples', { method: 'POST', token: editor, body: JSON.stringify(json) });
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor });
  for (const name of ['nan.metric', 'null_metric']) {
    const entry = c.collector.catalog.find([{ matchers: [], text: '' }]).find((e) => e.name === name)!;
    assert.ok(entry, `${name} stored`);
    const fetched = await rrdFetch(entry.file, 'AVERAGE', t - 60, t + 120);
    assert.deepEqual(
      [t, t + 60, t + 120].map((x) => fetched.get(x)),
      [1, null, 3],
      `${name}: unknown in the middle, neighbours kept`,
    );
  }
  const names = (await api<{ data: string[] }>(c.url, '/api/v1/label/__name__/values')).body.data;
  assert.deepEqual(
    names.filter((n) => n.startsWith('strict.')),
    [],
  );
  assert.equal((await inputErrors()) - before, 4, 'each refused line counted');
});

async function inputErrors(): Promise<number> {
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  return Number(/rexmon_input_errors_total\{source="graphite_tcp"\} (\d+)/.exec(metrics)?.[1] ?? 0);
}
