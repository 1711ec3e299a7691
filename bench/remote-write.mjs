#!/usr/bin/env node
// Export to Prometheus remote_write: samples/s from rexmon's export stage (RemoteWriteQueue: grouping by series,
// label mapping, protobuf + snappy encoding, one request in flight) into a real Prometheus (Debian's, with
// --web.enable-remote-write-receiver, on loopback), beside the raw baseline: the same requests, encoded
// beforehand, posted directly one after another (what Prometheus itself can take over one connection).
// Then the whole collector: samples posted to POST /api/v1/samples, time until Prometheus has them all.
// Every run is checked: Prometheus' count of stored samples must equal what was sent.
// Usage: node bench/remote-write.mjs [--series 10000] [--points 10] [--batch 2000]
import { parseArgs } from 'node:util';
import { Collector } from '../collector/dist/app.js';
import { configSchema } from '../collector/dist/config/schema.js';
import { exportSchema } from '../collector/dist/export/config.js';
import { promLabels } from '../collector/dist/export/labels.js';
import { encodeWriteRequest } from '../collector/dist/export/prompb.js';
import { RemoteWriteMetrics, RemoteWriteQueue } from '../collector/dist/export/remote-write.js';
import { startPrometheus } from '../collector/dist/testing/prometheus.js';
import { Registry } from 'prom-client';
import { tmp } from './lib.mjs';

const { values: opt } = parseArgs({
  options: { series: { type: 'string', default: '10000' }, points: { type: 'string', default: '10' }, batch: { type: 'string', default: '2000' } },
});
const SERIES = Number(opt.series);
const POINTS = Number(opt.points);
const BATCH = Number(opt.batch);
const N = SERIES * POINTS;
// Room for two rounds of points (the collector's cold and warm runs), all in the past.
const t0 = Math.floor(Date.now() / 1000) - 2 * POINTS * 15 - 60;

/** Point-major, as a collector receives them: every series' first point, then every series' second, ... */
function samples(name, round = 0) {
  const out = [];
  for (let p = round * POINTS; p < (round + 1) * POINTS; p++)
    for (let s = 0; s < SERIES; s++) out.push({ name, labels: { host: `h${s % 100}`, dev: `d${Math.floor(s / 100)}` }, value: s + p / 10, time: t0 + p * 15 });
  return out;
}

const prom = await startPrometheus();
const rows = [];
async function stored(name) {
  const r = await prom.query(`sum(count_over_time(${name}[1h]))`, Math.floor(Date.now() / 1000) + 1);
  return Number(r[0]?.value?.[1] ?? 0);
}
function row(run, ms, name, n, lost) {
  rows.push({ run, ms, name, n, lost });
}

try {
  // Warm-up (JIT, protobufjs' generated encoders, Prometheus' first requests), not measured: the first run
  // otherwise pays about a second that the others do not.
  {
    const cfg = exportSchema.parse({ remoteWrite: [{ url: prom.writeUrl, name: 'warm' }] }).remoteWrite[0];
    const q = new RemoteWriteQueue(cfg, new RemoteWriteMetrics(new Registry()), { warn: console.error, info: () => {} });
    await q.start();
    for (let p = 0; p < 5; p++) q.offer(Array.from({ length: 2000 }, (_, s) => ({ name: 'bench_warm', labels: { s: String(s) }, value: p, time: t0 + p * 15 })));
    await q.flush();
    await q.stop();
  }

  // 1. Raw: the same grouping, encoded before the clock starts, posted in order.
  {
    const all = samples('bench_raw');
    const bodies = [];
    for (let i = 0; i < all.length; i += BATCH) {
      const bySeries = new Map();
      for (const s of all.slice(i, i + BATCH)) {
        const labels = promLabels(s.name, s.labels, {});
        const key = JSON.stringify(labels);
        if (!bySeries.has(key)) bySeries.set(key, { labels, samples: [] });
        bySeries.get(key).samples.push({ value: s.value, timestamp: s.time * 1000 });
      }
      bodies.push(await encodeWriteRequest([...bySeries.values()]));
    }
    const headers = { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' };
    const start = performance.now();
    for (const body of bodies) {
      const r = await fetch(prom.writeUrl, { method: 'POST', headers, body });
      if (!r.ok) throw new Error(`raw post: HTTP ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
    const ms = performance.now() - start;
    row('raw: pre-encoded requests posted directly (baseline)', ms, 'bench_raw', N, N - (await stored('bench_raw')));
  }

  // 2. The export stage alone: offered in pipeline-sized batches, until all are sent.
  {
    const all = samples('bench_export');
    const cfg = exportSchema.parse({ remoteWrite: [{ url: prom.writeUrl, name: 'bench', queue: { capacity: N, maxSamplesPerSend: BATCH } }] }).remoteWrite[0];
    const metrics = new RemoteWriteMetrics(new Registry());
    const q = new RemoteWriteQueue(cfg, metrics, { warn: console.error, info: () => {} });
    await q.start();
    const start = performance.now();
    for (let i = 0; i < all.length; i += 20000) q.offer(all.slice(i, i + 20000));
    await q.flush();
    const ms = performance.now() - start;
    await q.stop();
    row('rexmon export stage (RemoteWriteQueue)', ms, 'bench_export', N, N - (await stored('bench_export')));
  }

  // 3. The whole collector: HTTP ingest, pipeline, RRD writer (rrdcached) and the exporter side by side; beside
  // it the same collector without export (its samples are checked in /metrics: written to the archive).
  for (const exporting of [false, true]) {
    const t = tmp('rexmon-bench-rw-');
    const name = exporting ? 'bench_collector' : 'bench_rrd_only';
    const config = configSchema.parse({
      dataDir: t.dir,
      http: { listen: '127.0.0.1:0' },
      graphite: { tcp: false, udp: false },
      slurpers: [],
      log: { level: 'warn' },
      auth: { anonymousWrite: true },
      rrd: { templates: { lean: { step: 15, type: 'GAUGE', rras: [{ cf: ['AVERAGE'], steps: 1, rows: 240 }] } }, defaultTemplate: 'lean' },
      export: exporting ? { remoteWrite: [{ url: prom.writeUrl, name: 'bench', queue: { capacity: N, maxSamplesPerSend: BATCH, flushInterval: 0.2 } }] } : {},
    });
    const c = new Collector(config);
    await c.start();
    try {
      const url = `${c.addresses.http}/api/v1/samples`;
      for (const [round, what] of [
        [0, `cold: ${SERIES.toLocaleString('en')} RRD files created`],
        [1, 'warm: files exist'],
      ]) {
        const all = samples(name, round);
        const start = performance.now();
        for (let i = 0; i < all.length; i += 5000) {
          for (;;) {
            const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(all.slice(i, i + 5000)) });
            await r.text();
            if (r.status === 202) break;
            if (r.status !== 503) throw new Error(`collector post: HTTP ${r.status}`);
            await new Promise((res) => setTimeout(res, 50));
          }
        }
        // Everything in the files and handed to the exporter, then sent.
        await c.pipeline.flush();
        await c.exporter?.drain();
        const ms = performance.now() - start;
        const lost = exporting
          ? (round + 1) * N - (await stored(name))
          : (round + 1) * N - (await c.metrics.written.get()).values.reduce((n, v) => n + v.value, 0);
        row(`rexmon collector: HTTP ingest → RRD${exporting ? ' + remote_write' : ' only (no export)'} (${what})`, ms, name, N, lost);
      }
    } finally {
      await c.stop();
      t.cleanup();
    }
  }
} finally {
  await prom.stop();
}

const base = rows[0].ms;
console.log(`remote_write to Prometheus on loopback: ${N.toLocaleString('en')} samples, ${SERIES.toLocaleString('en')} series × ${POINTS} points, ${BATCH} samples a request\n`);
console.log('| run | time | samples/s | × raw | samples lost |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.run} | ${(r.ms / 1000).toFixed(2)} s | ${Math.round((r.n / r.ms) * 1000).toLocaleString('en')} | ${(r.ms / base).toFixed(2)} | ${r.lost} |`);
