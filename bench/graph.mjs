#!/usr/bin/env node
// Graph rendering: p50/p99 of GET /api/v1/graph.png (one day at 60 s, 400×100, planned and unplanned downtime
// shaded) for 1 series and for 20 (the per-graph maximum), beside `rrdtool graph` on the same files with the same
// arguments run directly, a process per call (the baseline). Then the status page (GET /) with 1,000 alarms.
// Usage: node bench/graph.mjs [--runs 100]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '100' } } });
const RUNS = Number(opt.runs);
const DAY = 86400;
const end = Math.floor(Date.now() / 1000 / 60) * 60 - 120;
const start = end - DAY;
const ALARMS = 1000;

const t = tmp('rexmon-bench-graph-');
// Evaluated every 15 s (a few ms for these series, beside the runs measured), so the page has its alarms.
const rules = `alarms:\n  interval: 15\n  rules:\n    - {name: hot, match: bench_g, warning: 0.5, critical: 0.9}\n`;
// Log level error: the alarm stage logs every state change as a warning while no notifier is wired.
const c = await startCollector(t.dir, { extraConfig: rules, logLevel: 'error' });
const say = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
say('collector started; writing data');
// Whatever fails, the collector this started is stopped.
const rows = [];
try {
  const auth = { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' };
  const pad = (n) => String(n).padStart(4, '0');
  // 20 series with a day of 1-min data, and ALARMS - 20 more with the last hour only (alarms for the page).
  for (let n = 0; n < ALARMS; n++) {
    const batch = [];
    for (let ts = n < 20 ? start : end - 3600; ts <= end; ts += 60)
      batch.push({ name: 'bench_g', labels: { n: pad(n), site: 'lab' }, value: Math.sin(ts / 3600 + n), time: ts });
    const r = await fetch(`${c.url}/api/v1/samples`, { method: 'POST', headers: auth, body: JSON.stringify(batch) });
    if (r.status !== 202) throw new Error(`ingest: HTTP ${r.status} ${await r.text()}`);
  }
  await c.flush();
  say('data written');
  for (const [kind, from, to] of [
    ['planned', start + 3 * 3600, start + 6 * 3600],
    ['unplanned', start + 12 * 3600, start + 13 * 3600],
  ]) {
    const r = await fetch(`${c.url}/api/v1/downtimes`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ kind, match: '{site="lab"}', start: from, end: to, author: 'bench', reason: 'bench' }),
    });
    if (r.status !== 201) throw new Error(`downtime: HTTP ${r.status} ${await r.text()}`);
  }
  const files = Array.from({ length: 20 }, (_, n) => path.join(t.dir, 'rrd', seriesFile('bench_g', { n: pad(n), site: 'lab' })));
  // What the collector sends rrdtool for the same graph (downtime windows as CDEF + AREA, one LINE per series).
  const window = (w) => `TIME,${w[0]},GE,TIME,${w[1]},LT,*`;
  const graphArgs = (k, out) => [
    'graph',
    out,
    '--imgformat',
    'PNG',
    '--start',
    String(start),
    '--end',
    String(end),
    '--width',
    '400',
    '--height',
    '100',
    '--slope-mode',
    ...files.slice(0, k).map((f, i) => `DEF:v${i}=${f}:value:AVERAGE`),
    `CDEF:u=v0,POP,${window([start + 12 * 3600, start + 13 * 3600])},0,GT,INF,UNKN,IF`,
    'AREA:u#FFBB78:unplanned downtime',
    `CDEF:p=v0,POP,${window([start + 3 * 3600, start + 6 * 3600])},0,GT,INF,UNKN,IF`,
    'AREA:p#AEC7E8:planned downtime',
    ...files.slice(0, k).map((_, i) => `LINE1:v${i}#1F77B4:bench_g{n='${pad(i)}',site='lab'}`),
  ];

  async function measure(fn) {
    for (let i = 0; i < 5; i++) await fn(); // warm-up
    const ms = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return { p50: ms[Math.floor(ms.length * 0.5)], p99: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))] };
  }

  async function api(match, k) {
    const r = await fetch(`${c.url}/api/v1/graph.png?match=${encodeURIComponent(match)}&from=${start}&to=${end}&width=400&height=100`, { headers: auth });
    const png = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200 || png.readUInt32BE(0) !== 0x89504e47 || !r.headers.get('x-rexmon-graph').startsWith(`series=${k}; planned=1; unplanned=1`))
      throw new Error(`unexpected answer: ${r.status} ${png.toString().slice(0, 200)}`);
  }

  function processGraph(k) {
    return new Promise((resolve, reject) => {
      const p = spawn('rrdtool', graphArgs(k, path.join(t.dir, 'direct.png')), { stdio: ['ignore', 'ignore', 'inherit'] });
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rrdtool graph exited ${code}`))));
    });
  }

  async function statusPage() {
    const r = await fetch(`${c.url}/`, { headers: auth });
    const html = await r.text();
    if (r.status !== 200 || !html.includes('500 more alarms not shown')) throw new Error(`unexpected page: ${r.status} ${html.slice(0, 200)}`);
  }

  for (const k of [1, 20]) {
    say(`graphs of ${k} series`);
    rows.push([`rexmon GET /api/v1/graph.png, ${k} series`, await measure(() => api(k === 1 ? 'bench_g{n="0000"}' : `bench_g{n=~"00[01][0-9]"}`, k))]);
    rows.push([`rrdtool graph, process per call, ${k} series (baseline)`, await measure(() => processGraph(k))]);
  }
  say('waiting for the alarms');
  // Wait for an evaluation that has seen every series: the page then lists 500 of 1,000 alarms with 12 graph links.
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const r = await (await fetch(`${c.url}/api/v1/alarms`, { headers: auth })).json();
    if ((r.data?.length ?? 0) >= ALARMS) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  say('status page');
  rows.push([`rexmon GET / (status page), ${ALARMS} alarms`, await measure(statusPage)]);
} finally {
  await c.stop();
  t.cleanup();
}
console.log(`graph: 1 day at 60 s, 400×100 px, two downtimes shaded; ${RUNS} runs each after 5 warm-up runs, one client at a time`);
console.log('');
console.log('| what | p50 | p99 |');
console.log('|---|---|---|');
for (const [name, r] of rows) console.log(`| ${name} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
