#!/usr/bin/env node
// The cost of "acknowledged = durable": the same HTTP ingest (100,000 samples over 10,000 known series, in
// POSTs of --batch samples from --clients concurrent clients) through the collector with the write-ahead
// log off, and with it on under each fsync policy (off, interval, always). Prints time to the last 202 and
// time until everything is in the RRD files, each value then verified with rrdtool fetch.
// Usage: node bench/wal.mjs [--series 10000] [--points 10] [--batch 1000] [--clients 8]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { cpuSeconds, startCollector, tmp, verify } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    points: { type: 'string', default: '10' },
    batch: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '8' },
  },
});
const [SERIES, POINTS, BATCH, CLIENTS] = [opt.series, opt.points, opt.batch, opt.clients].map(Number);
const base = Math.floor(Date.now() / 1000 / 60) * 60 - (POINTS + 30) * 60;
const host = (s) => `fnpc${String(s).padStart(5, '0')}`;
const value = (s, i) => s + i / 100;
const total = SERIES * POINTS;

// Time-major bodies, as slurpers report: every series' point for one minute, then the next.
const samples = [];
for (let i = 0; i < POINTS; i++) for (let s = 0; s < SERIES; s++) samples.push({ name: 'bench_load', labels: { host: host(s) }, value: value(s, i), time: base + i * 60 });
const bodies = [];
for (let k = 0; k < samples.length; k += BATCH) bodies.push(JSON.stringify(samples.slice(k, k + BATCH)));

async function post(c, body) {
  for (;;) {
    const r = await fetch(`${c.url}/api/v1/samples`, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' }, body });
    await r.text();
    if (r.status === 202) return;
    if (r.status !== 503) throw new Error(`POST /samples: HTTP ${r.status}`);
    await new Promise((res) => setTimeout(res, 50)); // queue full: retry, as a client should
  }
}

async function run(label, walYaml) {
  const t = tmp('rexmon-bench-wal-');
  const c = await startCollector(t.dir, { extraConfig: walYaml });
  // Warm: every series known with one earlier point, so the runs measure ingest, not file creation.
  const warm = Array.from({ length: SERIES }, (_, s) => ({ name: 'bench_load', labels: { host: host(s) }, value: 0, time: base - 60 }));
  for (let k = 0; k < warm.length; k += BATCH) await post(c, JSON.stringify(warm.slice(k, k + BATCH)));
  await c.flush();
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  // Bodies go out in order, CLIENTS at a time: a series' points leave in time order.
  for (let k = 0; k < bodies.length; k += CLIENTS) await Promise.all(bodies.slice(k, k + CLIENTS).map((b) => post(c, b)));
  const acked = (performance.now() - t0) / 1000;
  await c.flush();
  const durable = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c.pid) - cpu0;
  await c.stop();
  const exp = new Map();
  for (let s = 0; s < SERIES; s++)
    exp.set(
      path.join(t.dir, 'rrd', seriesFile('bench_load', { host: host(s) })),
      Array.from({ length: POINTS }, (_, i) => [base + i * 60, value(s, i)]),
    );
  const lost = await verify(exp, base - 60, base + POINTS * 60);
  t.cleanup();
  return { label, acked, durable, cpu, lost };
}

console.log(`wal: ${total.toLocaleString('en')} samples over ${SERIES.toLocaleString('en')} known series by HTTP, ${BATCH} per POST, ${CLIENTS} clients`);
const results = [
  await run('no write-ahead log (wal.enabled: false)', 'wal: {enabled: false}\n'),
  await run('wal, fsync: off', 'wal: {fsync: "off"}\n'),
  await run('wal, fsync: interval (1 s)', 'wal: {fsync: interval}\n'),
  await run('wal, fsync: always (default)', 'wal: {fsync: always}\n'),
];
console.log('');
console.log('| run | time to last 202 | acknowledged samples/s | time to durable | × without log | CPU s (collector) | values lost |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results)
  console.log(
    `| ${r.label} | ${r.acked.toFixed(2)} s | ${Math.round(total / r.acked).toLocaleString('en')} | ${r.durable.toFixed(2)} s | ${(r.durable / results[0].durable).toFixed(2)} | ${r.cpu.toFixed(2)} | ${r.lost} |`,
  );
process.exitCode = results.some((r) => r.lost > 0) ? 1 : 0;
