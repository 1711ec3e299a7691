#!/usr/bin/env node
// Alarm evaluation: one rule (avg of the last 5 steps, warning and critical bounds) over 1,000 / 10,000 / 50,000
// matching series of a real collector archive (rrdcached, RRD files, SQLite), beside the raw query time for the
// same series and window (the query engine alone, in the same slices). Evaluation times: the first (every state
// row created, ~10% of the series going bad and told to the sink) and the steady one (nothing changed: no SQL).
// Usage: node bench/alarms.mjs [--sizes 1000,10000,50000] [--runs 3]
import { parseArgs } from 'node:util';
import { SLICE } from '../collector/dist/alarms/evaluator.js';
import { Collector } from '../collector/dist/app.js';
import { configSchema } from '../collector/dist/config/schema.js';
import { parseSelector } from '../collector/dist/matchers/selector.js';
import { QueryEngine } from '../collector/dist/query/engine.js';
import { tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { sizes: { type: 'string', default: '1000,10000,50000' }, runs: { type: 'string', default: '3' } } });
const SIZES = opt.sizes.split(',').map(Number);
const RUNS = Number(opt.runs);
const STEPS = 5;
const POINTS = 8;
// A lean template (1 min × 3 h, 2 KB a file): 50,000 files of the default one would take 15 GB.
const TEMPLATE = { step: 60, type: 'GAUGE', rras: [{ cf: ['AVERAGE'], steps: 1, rows: 180 }] };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;

class CountingSink {
  notices = 0;
  async accept(list) {
    this.notices += list.length;
  }
}

const rows = [];
for (const n of SIZES) {
  const t = tmp('rexmon-bench-alarms-');
  const config = configSchema.parse({
    dataDir: t.dir,
    http: { listen: '127.0.0.1:0' },
    graphite: { tcp: false, udp: false },
    slurpers: [],
    log: { level: 'warn' },
    rrd: { templates: { bench: TEMPLATE }, defaultTemplate: 'bench' },
    alarms: { interval: 3600, rules: [{ name: 'bench', match: 'bench_alarm', aggregate: 'avg', steps: STEPS, warning: 90, critical: 95 }] },
  });
  const sink = new CountingSink();
  const c = new Collector(config, undefined, { alarmSink: sink });
  await c.start();

  // Setup: POINTS values a minute apart for every series, the newest on the last whole minute, straight into the pipeline.
  const t0 = performance.now();
  const end = Math.floor(Date.now() / 1000 / 60) * 60;
  let batch = [];
  const push = async () => {
    // A full queue says so (push() is false): wait for the writer to drain it, as a listener's client would.
    for (;;) {
      const ok = c.pipeline.push(batch, 'bench');
      if (ok && (await ok)) break;
      if (c.pipeline.refusal(batch.length) !== 'the ingest queue is full') throw new Error(`the pipeline refused a batch: ${c.pipeline.refusal(batch.length)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    batch = [];
  };
  for (let i = 0; i < POINTS; i++)
    for (let k = 0; k < n; k++) {
      // Every tenth series is above the warning bound: those instances change state at the first evaluation.
      batch.push({ name: 'bench_alarm', labels: { host: `fnpc${String(k).padStart(5, '0')}` }, value: k % 10 === 0 ? 93 + i / 10 : 50 + (k % 30), time: end - (POINTS - 1 - i) * 60 });
      if (batch.length === 20000) await push();
    }
  if (batch.length) await push();
  await c.pipeline.flush();
  const setupMs = performance.now() - t0;
  const entries = c.catalog.find([parseSelector('bench_alarm')]);
  if (entries.length !== n) throw new Error(`expected ${n} series, found ${entries.length}`);

  // Raw: the query engine alone over the same series, window and slices as the evaluator reads.
  const query = new QueryEngine(c.catalog, c.archive, c.writer);
  const now = end + 30;
  const readAll = async () => {
    const t1 = performance.now();
    let values = 0;
    for (let i = 0; i < entries.length; i += SLICE) {
      const data = await query.read(entries.slice(i, i + SLICE), { cf: 'AVERAGE', from: now - (STEPS + 1) * 60, to: now, step: 60, rows: STEPS + 2 });
      for (const d of data) values += d.values.filter((v) => v !== null).length;
    }
    if (values < n * STEPS) throw new Error(`raw read found ${values} values, expected at least ${n * STEPS}`);
    return performance.now() - t1;
  };
  const flushMs = await readAll(); // the first read also flushes rrdcached's values into the files

  const t2 = performance.now();
  await c.alarms.evaluate(now);
  const first = performance.now() - t2;
  const bad = c.alarms.view.current({ state: ['WARNING', 'CRITICAL'] }).length;
  if (bad !== Math.ceil(n / 10) || sink.notices !== bad) throw new Error(`expected ${Math.ceil(n / 10)} bad instances and notices, got ${bad} and ${sink.notices}`);
  // Raw and steady runs interleaved, so that both see the same caches.
  const raw = [];
  const steady = [];
  for (let r = 0; r < RUNS; r++) {
    raw.push(await readAll());
    const t3 = performance.now();
    await c.alarms.evaluate(now + 1 + r);
    steady.push(performance.now() - t3);
  }
  if (sink.notices !== bad) throw new Error('steady evaluations told something');
  // The short downtime timer between evaluations (no downtime changed: mutes are not recomputed).
  const checks = [];
  for (let r = 0; r < RUNS; r++) {
    const t4 = performance.now();
    await c.alarms.checkDowntimes();
    checks.push(performance.now() - t4);
  }
  const stateRows = (await c.db('alarm_states').count({ n: '*' }))[0].n;
  if (Number(stateRows) !== n) throw new Error(`expected ${n} stored states, found ${stateRows}`);
  rows.push({ n, setupMs, flushMs, raw: median(raw), first, steady: median(steady), check: median(checks) });
  await c.stop();
  t.cleanup();
}

console.log(`alarm evaluation: one rule, avg of the last ${STEPS} steps at 60 s, ~10% of the series bad; median of ${RUNS} runs (first evaluation: once)`);
console.log('');
console.log('| matching series | setup (files + values) | first read (flushes rrdcached) | raw query (engine alone) | first evaluation | steady evaluation | steady × raw | downtime check |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.n.toLocaleString('en-US')} | ${s(r.setupMs)} | ${s(r.flushMs)} | ${s(r.raw)} | ${s(r.first)} | ${s(r.steady)} | ${(r.steady / r.raw).toFixed(2)} | ${(r.check).toFixed(0)} ms |`,
  );
