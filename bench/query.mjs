#!/usr/bin/env node
// Query latency: p50/p99 of GET /api/v1/query for one day at 60 s step, for 1 series and for 100 series,
// beside `rrdtool xport` on the same files run directly (a process per call, and through one `rrdtool -`).
// Then the same for --big series (default 1,000; 0 skips it). The collector answers in JSON and as float64
// columns (what the Grafana plugin asks for), reading the files itself (rrd.directRead, the default), then
// restarted on the same files with rrd.directRead: false (every read an xport on its reader pipes).
// Usage: node bench/query.mjs [--runs 200] [--big 1000]
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
let c = await startCollector(t.dir);
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

const queryUrl = (match) => `${c.url}/api/v1/query?match=${encodeURIComponent(match)}&from=${start}&to=${end}&step=60&maxDataPoints=1441`;

async function api(match, expectSeries) {
  const r = await fetch(queryUrl(match));
  const body = await r.json();
  if (!r.ok || body.data?.series?.length !== expectSeries || body.data.series[0].values.length < 1440) throw new Error(`unexpected answer: ${JSON.stringify(body).slice(0, 200)}`);
}

/** The columns answer (README › HTTP API), decoded as a client would: the header's JSON, then views on the doubles. */
async function apiColumns(match, expectSeries) {
  const r = await fetch(queryUrl(match), { headers: { accept: 'application/vnd.rexmon.query+binary' } });
  const buf = Buffer.from(await r.arrayBuffer());
  if (!r.ok || buf.toString('latin1', 0, 8) !== 'RXQUERY1') throw new Error(`unexpected answer: HTTP ${r.status} ${buf.toString('utf8', 0, 200)}`);
  const headerLength = buf.readUInt32LE(8);
  const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength));
  let at = buf.byteOffset + Math.ceil((12 + headerLength) / 8) * 8;
  const copy = at % 8 === 0 ? buf.buffer : buf.buffer.slice(buf.byteOffset); // Float64Array needs 8-byte alignment
  if (copy !== buf.buffer) at -= buf.byteOffset;
  let values = 0;
  for (const s of header.series) {
    if (s.interval === undefined) at += 8 * s.rows;
    values += new Float64Array(copy, at, s.rows).length;
    at += 8 * s.rows;
  }
  if (header.series.length !== expectSeries || values < 1440 * expectSeries) throw new Error(`unexpected columns answer: ${header.series.length} series, ${values} values`);
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
const sizes = BIG > 100 ? [1, 100, BIG] : [1, 100];
const runsFor = (k) => (k > 100 ? Math.max(10, Math.round(RUNS / 10)) : RUNS);
for (const k of sizes) {
  const runs = runsFor(k);
  rows.push([`rexmon GET /api/v1/query, JSON, ${k} series`, await measure(() => api(matchFor(k), k), runs)]);
  rows.push([`rexmon GET /api/v1/query, columns, ${k} series`, await measure(() => apiColumns(matchFor(k), k), runs)]);
  rows.push([`rrdtool xport, process per call, ${k} series`, await measure(() => processXport(k), runs)]);
  rows.push([`rrdtool xport through one \`rrdtool -\`, ${k} series (baseline)`, await measure(() => pipeXport(k), runs)]);
}
// The same collector build on the same files, reading every series through xport.
await c.stop();
c = await startCollector(t.dir, { extraConfig: 'rrd: {directRead: false}\n' });
for (const k of sizes) {
  const runs = runsFor(k);
  rows.push([`rexmon with rrd.directRead: false, JSON, ${k} series`, await measure(() => api(matchFor(k), k), runs)]);
  rows.push([`rexmon with rrd.directRead: false, columns, ${k} series`, await measure(() => apiColumns(matchFor(k), k), runs)]);
}
pipe.close();
await c.stop();
t.cleanup();
console.log(`query: 1 day at 60 s step (1,441 rows), ${RUNS} runs each (${Math.max(10, Math.round(RUNS / 10))} for ${BIG} series) after 5 warm-up runs, one client at a time`);
console.log('');
console.log('| what | p50 | p99 |');
console.log('|---|---|---|');
for (const [name, r] of rows) console.log(`| ${name} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
