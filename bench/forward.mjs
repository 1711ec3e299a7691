#!/usr/bin/env node
// Forwarding: N samples (1,000 series) POSTed in batches of 5,000 to a site collector that forwards them to a
// central one, time until the central collector has taken every one (in its write-ahead log and queues), beside
// the baseline of POSTing the same batches straight to the central collector. Both collectors in this process,
// real rrdcached, SQLite, HTTP on loopback; RRD writes happen meanwhile in both.
// Usage: node bench/forward.mjs [--samples 100000]
import { parseArgs } from 'node:util';
import { startCollector } from '../collector/dist/testing/harness.js';

const { values: opt } = parseArgs({ options: { samples: { type: 'string', default: '100000' } } });
const N = Number(opt.samples);
const SERIES = 1000;
const BATCH = 5000;
const rrd = { templates: { lean: { step: 60, rras: [{ cf: ['AVERAGE'], steps: 1, rows: 2000 }] } }, defaultTemplate: 'lean', minFreeBytes: 0 };
const base = Math.floor(Date.now() / 1000 / 60) * 60 - (N / SERIES + 10) * 60;
const batches = [];
for (let off = 0; off < N; off += BATCH) {
  const b = [];
  for (let i = off; i < Math.min(N, off + BATCH); i++)
    b.push({ name: 'bench_fwd', labels: { n: String(i % SERIES) }, value: i, time: base + Math.floor(i / SERIES) * 60 });
  batches.push(JSON.stringify(b));
}

async function received(url, source) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^rexmon_samples_received_total\\{source="${source}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function post(url, body) {
  for (;;) {
    const r = await fetch(`${url}/api/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await r.text();
    if (r.status === 202) return;
    if (r.status !== 503) throw new Error(`POST answered ${r.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function until(url, source) {
  while ((await received(url, source)) < N) await new Promise((r) => setTimeout(r, 20));
}

const common = { auth: { anonymousWrite: true }, rrd, log: { level: 'warn' } };
// Baseline: straight to the central collector.
let central = await startCollector(common);
let t0 = performance.now();
for (const b of batches) await post(central.url, b);
await until(central.url, 'http');
const direct = performance.now() - t0;
await central.stop();

central = await startCollector(common);
const site = await startCollector({ ...common, forward: { url: central.url, labels: { site: 'bench' } } });
t0 = performance.now();
for (const b of batches) await post(site.url, b);
const siteTook = performance.now() - t0;
await until(central.url, 'forward');
const forwarded = performance.now() - t0;
await site.stop();
await central.stop();

const rate = (ms) => `${Math.round(N / (ms / 1000)).toLocaleString('en')}/s`;
console.log(`${N.toLocaleString('en')} samples over ${SERIES} series, batches of ${BATCH}`);
console.log(`| path | time until the central collector took all | rate |`);
console.log(`|---|---|---|`);
console.log(`| POST to the central collector (baseline) | ${(direct / 1000).toFixed(2)} s | ${rate(direct)} |`);
console.log(
  `| POST to a site collector, forwarded | ${(forwarded / 1000).toFixed(2)} s (site took them in ${(siteTook / 1000).toFixed(2)} s) | ${rate(forwarded)} |`,
);
