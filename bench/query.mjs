#!/usr/bin/env node
// Query latency: p50/p99 of GET /api/v1/query for one day at 60 s step, for 1 series and for 100 series,
// beside `rrdtool xport` on the same files run directly (a process per call, and through one `rrdtool -`).
// Then the same for --big series (default 1,000; 0 skips it). Usage: node bench/query.mjs [--runs 200] [--big 1000]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { RrdPipe, startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '200' }, big: { type: 'string', default: '1000' } } });
const RUNS = Number(opt.runs);
const BIG = Number(opt.big);
const SERIES = Math.max(100, BIG);
const DAY = 86400;
const end = Math.floor(Date.now() / 1000 / 60) * 60 - 120;
const start = end - DAY;

const t = tmp('rexmon-bench-query-');
const c = await startCollector(t.dir);
// One day of 1-min data for 100 series (and --big more), pushed through the API.
for (let n = 0; n < SERIES; n++) {
  const batch = [];
  for (let ts = start; ts <= end; ts += 60) batch.push({ name: 'bench_q', labels: { n: String(n).padStart(3, '0') }, value: Math.sin(ts / 3600 + n), time: ts });
  const r = await fetch(`${c.url}/api/v1/samples`, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' }, body: JSON.stringify(batch) });
  if (r.status !== 202) throw new Error(`ingest: HTTP ${r.status} ${await r.text()}`);
}
await c.flush();
const files = Array.from({ length: SERIES }, (_, n) => path.join(t.dir, 'rrd', seriesFile('bench_q', { n: String(n).padStart(3, '0') })));
const xportArgs = (k) => ['xport', '--json', '--start', String(start), '--end', String(end), '--step', '60', '--maxrows', '1441', ...files.slice(0, k).flatMap((f, i) => [`DEF:v${i}=${f}:value:AVERAGE`, `XPORT:v${i}`])];

async function measure(fn, runs = RUNS) {
  for (let i = 0; i < 5; i++) await fn(); // warm-up
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length * 0.5)], p99: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))] };
}

async function api(match, expectSeries) {
  const r = await fetch(`${c.url}/api/v1/query?match=${encodeURIComponent(match)}&from=${start}&to=${end}&step=60&maxDataPoints=1441`);
  const body = await r.json();
  if (!r.ok || body.data?.series?.length !== expectSeries || body.data.series[0].values.length < 1440) throw new Error(`unexpected answer: ${JSON.stringify(body).slice(0, 200)}`);
}

function processXport(k) {
  return new Promise((resolve, reject) => {
    const p = spawn('rrdtool', xportArgs(k), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 && JSON.parse(out).data.length >= 1440 ? resolve() : reject(new Error(`rrdtool xport exited ${code}`))));
  });
}

const pipe = new RrdPipe();
const pipeXport = async (k) => {
  const out = await pipe.run(xportArgs(k).join(' '));
  if (JSON.parse(out.join('\n')).data.length < 1440) throw new Error('short xport');
};

const rows = [];
const matchFor = (k) => (k === 1 ? 'bench_q{n="000"}' : k === SERIES ? 'bench_q' : `bench_q{n=~"0[0-9][0-9]"}`);
for (const k of BIG > 100 ? [1, 100, BIG] : [1, 100]) {
  const runs = k > 100 ? Math.max(10, Math.round(RUNS / 10)) : RUNS;
  rows.push([`rexmon GET /api/v1/query, ${k} series`, await measure(() => api(matchFor(k), k), runs)]);
  rows.push([`rrdtool xport, process per call, ${k} series`, await measure(() => processXport(k), runs)]);
  rows.push([`rrdtool xport through one \`rrdtool -\`, ${k} series`, await measure(() => pipeXport(k), runs)]);
}
pipe.close();
await c.stop();
t.cleanup();
console.log(`query: 1 day at 60 s step (1,441 rows), ${RUNS} runs each (${Math.max(10, Math.round(RUNS / 10))} for ${BIG} series) after 5 warm-up runs, one client at a time`);
console.log('');
console.log('| what | p50 | p99 |');
console.log('|---|---|---|');
for (const [name, r] of rows) console.log(`| ${name} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
