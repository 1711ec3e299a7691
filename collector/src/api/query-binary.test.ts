// The range query's float64-columns answer: the same data as the JSON answer, asked for by Accept.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { QueryResult } from '../query/engine.js';
import { api, startCollector, TestCollector } from '../testing/harness.js';
import { encodeQueryBinary, QUERY_BINARY_TYPE } from './query-binary.js';

type Series = { name: string; labels: Record<string, string>; timestamps: number[]; values: (number | null)[] };
type Answer = { from: number; to: number; step: number; cf: string; series: Series[] };
type Input = Omit<QueryResult, 'cf'> & { cf: string };

/** Reads the layout documented in query-binary.ts back into the JSON answer's shape. */
function decode(buf: Buffer): Answer {
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'RXQUERY1');
  const hlen = buf.readUInt32LE(8);
  const head = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8'));
  let at = Math.ceil((12 + hlen) / 8) * 8;
  const next = () => {
    const v = buf.readDoubleLE(at);
    at += 8;
    return v;
  };
  const series = head.series.map((s: { name: string; labels: Record<string, string>; rows: number; start?: number; interval?: number }) => {
    const timestamps = s.start !== undefined ? Array.from({ length: s.rows }, (_, i) => s.start! + i * s.interval!) : Array.from({ length: s.rows }, next);
    const values = Array.from({ length: s.rows }, () => {
      const v = next();
      return Number.isNaN(v) ? null : v;
    });
    return { name: s.name, labels: s.labels, timestamps, values };
  });
  assert.equal(at, buf.length, 'no bytes after the last column');
  return { from: head.from, to: head.to, step: head.step, cf: head.cf, series };
}

test('the encoder: regular times as start and interval, others as a column; null, NaN and ±Infinity travel as NaN (null)', () => {
  const input: Input = {
    from: 100,
    to: 400,
    step: 60,
    cf: 'AVERAGE',
    series: [
      { name: 'a', labels: { host: 'x' }, timestamps: [120, 180, 240], values: Float64Array.of(1.5, NaN, 0.1 + 0.2) },
      { name: 'b', labels: {}, timestamps: [120, 130, 240], values: Float64Array.of(Infinity, -3e-300, NaN) },
      { name: 'c', labels: { ü: 'ø' }, timestamps: [], values: new Float64Array(0) },
    ],
  };
  const buf = encodeQueryBinary(input as QueryResult);
  const head = JSON.parse(buf.subarray(12, 12 + buf.readUInt32LE(8)).toString('utf8'));
  assert.deepEqual(
    head.series.map((s: object) => s),
    [
      { name: 'a', labels: { host: 'x' }, rows: 3, start: 120, interval: 60 },
      { name: 'b', labels: {}, rows: 3 },
      { name: 'c', labels: { ü: 'ø' }, rows: 0, start: 0, interval: 0 },
    ],
  );
  const out = decode(buf);
  assert.deepEqual(out.series[0].values, [1.5, null, 0.1 + 0.2], 'full float64 precision');
  assert.deepEqual(out.series[1].timestamps, [120, 130, 240]);
  assert.deepEqual(out.series[1].values, [null, -3e-300, null]);
  assert.deepEqual(out.series[2], { ...input.series[2], values: [] });
});

let c: TestCollector;
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;

before(async () => {
  c = await startCollector({ auth: { anonymousWrite: true } });
  const samples = [];
  for (const host of ['a', 'b'])
    for (let i = 0; i < 5; i++) samples.push({ name: 'bin_load', labels: { host }, value: i / 7 + (host === 'b' ? 1e6 : 0), time: base + i * 60 });
  assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) })).status, 202);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST' });
});
after(() => c.stop());

async function fetchAs(params: string, accept?: string): Promise<{ type: string; body: Buffer }> {
  const r = await fetch(`${c.url}/api/v1/query?from=${base - 60}&to=${base + 300}&step=60&${params}`, { headers: accept ? { accept } : {} });
  assert.equal(r.status, 200);
  return { type: r.headers.get('content-type') ?? '', body: Buffer.from(await r.arrayBuffer()) };
}

test('GET /api/v1/query with Accept for the columns answers the same data as the JSON answer', async () => {
  for (const params of ['match=bin_load', 'match=bin_load&agg=sum', 'match=bin_load&fn=rate', `match=${encodeURIComponent('bin_load{host="b"}')}&cf=MAX`]) {
    const json = await fetchAs(params);
    assert.match(json.type, /^application\/json/, 'JSON without Accept');
    const cols = await fetchAs(params, `${QUERY_BINARY_TYPE}, application/json;q=0.5`);
    assert.equal(cols.type, QUERY_BINARY_TYPE, params);
    const want = JSON.parse(json.body.toString()).data as Answer;
    assert.ok(want.series.length > 0 && want.series[0].values.some((v) => v !== null), `${params}: data to compare`);
    assert.deepEqual(decode(cols.body), want, params);
  }
});

test('Accept: JSON first, */* or none answers JSON; the columns only when preferred', async () => {
  for (const accept of [undefined, '*/*', 'application/json', `application/json, ${QUERY_BINARY_TYPE}`])
    assert.match((await fetchAs('match=bin_load', accept)).type, /^application\/json/, String(accept));
  const r = await fetch(`${c.url}/api/v1/query?match=bad{`, { headers: { accept: QUERY_BINARY_TYPE } });
  assert.equal(r.status, 400);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, 'errors stay JSON');
});
