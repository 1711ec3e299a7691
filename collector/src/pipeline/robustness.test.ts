// One bad sample must never stop, wipe or wedge ingest: out-of-range times are refused alone (counted by
// reason), a far-future value cannot destroy a series, and a batch a processor cannot take is split until the
// one bad sample is found — the rest is written. Real collector, rrdcached and rrdtool.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { Metrics } from '../metrics/metrics.js';
import { Sample } from '../model/series.js';
import { api, rrdFetch, sendTcp, startCollector, TestCollector } from '../testing/harness.js';
import { Pipeline, Processor } from './pipeline.js';

let c: TestCollector;
let editor: string;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  c = await startCollector();
  editor = await createToken(c.collector.db, 'test', 'editor');
});
after(() => c.stop());

async function metric(name: string): Promise<string> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

function fileOf(name: string) {
  return c.collector.catalog.find([{ matchers: [], text: '' }]).find((e) => e.name === name)?.file;
}

test('out-of-range timestamps over Graphite are refused alone; every other line is written and flush answers', async () => {
  const base = Math.floor(now() / 60) * 60 - 600;
  const good = Array.from({ length: 5 }, (_, i) => `range.good ${i} ${base + i * 60}`);
  const lines = [good[0], 'range.bad 1 1e20', good[1], 'range.bad 1 86400', good[2], 'range.bad 1 32503680000', good[3], good[4]];
  await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, lines.join('\n') + '\n');
  const flushed = await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor, signal: AbortSignal.timeout(10000) });
  assert.equal(flushed.status, 200);
  const got = await rrdFetch(fileOf('range.good')!, 'AVERAGE', base - 60, base + 240);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => got.get(base + i * 60)),
    [0, 1, 2, 3, 4],
  );
  assert.equal(fileOf('range.bad'), undefined, 'no series was made for the refused samples');
  assert.match(await metric('rexmon_samples_dropped_total'), /source="graphite_tcp",reason="too_old"} 1\b/);
  assert.match(await metric('rexmon_samples_dropped_total'), /source="graphite_tcp",reason="too_new"} 2\b/);
  assert.equal((await api(c.url, '/readyz')).status, 200);
});

test('HTTP: a batch with an out-of-range time is refused whole with 400 naming the sample', async () => {
  const r = await api(c.url, '/api/v1/samples', {
    method: 'POST',
    token: editor,
    body: JSON.stringify([
      { name: 'http_range', value: 1 },
      { name: 'http_range', value: 2, time: 1e20 },
    ]),
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.error!.path, '[1].time');
  const errors = (r.body.error as unknown as { errors: { message: string }[] }).errors;
  assert.match(errors[0].message, /ahead of the collector's clock \(tolerance 300 s\)/);
});

test("a far-future value is refused and the series' later values still go in", async () => {
  const t0 = Math.floor(now() / 60) * 60 - 300;
  const send = (value: number, time: number) =>
    api(c.url, '/api/v1/samples', { method: 'POST', token: editor, body: JSON.stringify([{ name: 'future_guard', value, time }]) });
  assert.equal((await send(1, t0)).status, 202);
  assert.equal((await send(2, 32503680000)).status, 400, 'year 3000 refused');
  // Graphite has no answer to give: dropped and counted instead.
  await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `future_guard 2 32503680000\n`);
  for (let i = 1; i <= 3; i++) assert.equal((await send(10 + i, t0 + i * 60)).status, 202);
  assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor })).status, 200);
  const got = await rrdFetch(fileOf('future_guard')!, 'AVERAGE', t0 - 120, t0 + 180);
  assert.deepEqual(
    [1, 2, 3].map((i) => got.get(t0 + i * 60)),
    [11, 12, 13],
  );
});

test('a value older than the oldest row of its template is refused alone; newer ones of the same batch go in', async () => {
  const base = Math.floor(now() / 60) * 60 - 600;
  const tooOld = now() - 3 * 366 * 86400; // the default template keeps a year
  const r = await api(c.url, '/api/v1/samples', {
    method: 'POST',
    token: editor,
    body: JSON.stringify([
      { name: 'old_guard', value: 9, time: tooOld },
      { name: 'old_guard', value: 1, time: base },
      { name: 'old_guard', value: 2, time: base + 60 },
    ]),
  });
  assert.equal(r.status, 202);
  assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor })).status, 200);
  const got = await rrdFetch(fileOf('old_guard')!, 'AVERAGE', base - 60, base + 60);
  assert.deepEqual([got.get(base), got.get(base + 60)], [1, 2]);
  assert.match(await metric('rexmon_samples_rejected_total'), /reason="too_old"} 1\b/);
});

test('the pipeline splits a batch its processor throws on until the one bad sample is dropped (counted); the rest is handled', async () => {
  const metrics = new Metrics();
  const handled: number[] = [];
  const proc: Processor = {
    name: 'picky',
    async handle(batch: Sample[]) {
      if (batch.some((s) => s.value === 13)) throw new Error('cannot take 13');
      handled.push(...batch.map((s) => s.value));
    },
  };
  const logs: string[] = [];
  const p = new Pipeline({ queueCapacity: 10000, batchSize: 1000, flushInterval: 0, futureTolerance: 300, stopTimeout: 1, log: (m) => logs.push(m) }, metrics);
  p.add(proc);
  p.start();
  const t = now();
  const samples = Array.from({ length: 1000 }, (_, i) => ({ name: 'p', labels: {}, value: i, time: t }));
  assert.equal(await p.push(samples, 'test'), true);
  await p.flush();
  assert.deepEqual(
    handled.sort((a, b) => a - b),
    samples.map((s) => s.value).filter((v) => v !== 13),
  );
  const dropped = (await metrics.dropped.get()).values.find((v) => v.labels.reason === 'poison');
  assert.equal(dropped?.value, 1);
  assert.ok(logs.some((l) => /dropping a sample it cannot take: p \{\} 13/.test(l)));
  await p.stop();
});

test('a lane waiting for a fuller batch hands it on as soon as it is full, not after flushInterval', async () => {
  const metrics = new Metrics();
  const batches: { size: number; at: number }[] = [];
  const proc: Processor = {
    name: 'timed',
    async handle(batch: Sample[]) {
      batches.push({ size: batch.length, at: performance.now() });
    },
  };
  const p = new Pipeline({ queueCapacity: 10000, batchSize: 100, flushInterval: 30, futureTolerance: 300, stopTimeout: 1, log: () => {} }, metrics);
  p.add(proc);
  p.start();
  const t = now();
  const some = (n: number) => Array.from({ length: n }, (_, i) => ({ name: 'w', labels: {}, value: i, time: t }));
  assert.equal(await p.push(some(10), 'test'), true); // the lane now waits up to 30 s for 90 more
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(batches.length, 0, 'a partial batch waits');
  const t0 = performance.now();
  assert.equal(await p.push(some(150), 'test'), true);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(batches[0]?.size, 100, 'the full batch went');
  assert.ok(batches[0].at - t0 < 1000, `handed on after ${Math.round(batches[0].at - t0)} ms`);
  await p.flush();
  assert.deepEqual(
    batches.map((b) => b.size),
    [100, 60],
  );
  await p.stop();
});

test('a push refused with room left for fewer samples than it brings waits for the queue to drain, not in a spin', async () => {
  const metrics = new Metrics();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let handled = 0;
  const proc: Processor = {
    name: 'slow',
    async handle(batch: Sample[]) {
      await gate;
      handled += batch.length;
    },
  };
  const p = new Pipeline({ queueCapacity: 100, batchSize: 10, flushInterval: 0, futureTolerance: 300, stopTimeout: 1, log: () => {} }, metrics);
  p.add(proc);
  p.start();
  const t = now();
  const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ name: 'w', labels: {}, value: i, time: t }));
  assert.equal(await p.push(batch(95), 'test'), true);
  await new Promise((r) => setImmediate(r)); // the processor takes its first 10 and blocks
  assert.equal(p.push(batch(20), 'test'), false, 'room for 15, not for 20');
  // Before the fix this resolved at once (the queue had room for some), and a listener looping on push spun
  // without yielding to I/O: the processor never ran and promises piled up until the heap ran out.
  let woke = false;
  const waiting = p.waitForSpace(20).then(() => (woke = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(woke, false, 'waits while nothing was taken');
  release();
  await waiting;
  assert.ok(handled >= 10);
  let pushed: false | Promise<boolean> = false;
  while (!(pushed = p.push(batch(20), 'test'))) await p.waitForSpace(20);
  assert.equal(await pushed, true);
  await p.flush();
  assert.equal(handled, 115);
  await p.stop();
});
