#!/usr/bin/env node
// Syslog ingest: the same points as bench/ingest.mjs's workload (series × points, 60 s apart, series known
// beforehand) sent to a collector as Graphite plaintext (the baseline), as RFC 5424 octet-counted frames with
// the value in structured data, and as RFC 3164 LF-framed lines with `load=<value>` in the message; time until
// every value is in its file, then every value verified with rrdtool fetch. Last, unmapped messages stored as
// events (SQLite), counted back through the API.
// Usage: node bench/syslog.mjs [--series 2000] [--points 10] [--events 20000]
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { cpuSeconds, freePort, rss, sendTcp, startCollector, tmp, verify } from './lib.mjs';

const { values: opt } = parseArgs({ options: { series: { type: 'string', default: '2000' }, points: { type: 'string', default: '10' }, events: { type: 'string', default: '20000' } } });
const SERIES = Number(opt.series);
const POINTS = Number(opt.points);
const EVENTS = Number(opt.events);
const base = Math.floor(Date.now() / 1000 / 60) * 60 - (POINTS + 30) * 60;
const host = (s) => `fnpc${String(s).padStart(5, '0')}`;
const value = (s, i) => s + i / 100;
const total = SERIES * POINTS;
const iso = (t) => new Date(t * 1000).toISOString();
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** RFC 3164 time in local time, as its senders write it. */
const bsd = (t) => {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};
const oc = (m) => `${Buffer.byteLength(m)} ${m}`;

const FORMATS = {
  graphite: { line: (s, i, t) => `bench.${host(s)}.load ${value(s, i)} ${t}\n` },
  'syslog RFC 5424, octet-counted, value in SD': { line: (s, i, t) => oc(`<14>1 ${iso(t)} ${host(s)} bench - - [m@1 load="${value(s, i)}"] reading`) },
  'syslog RFC 3164, LF-framed, load=value in the message': { line: (s, i, t) => `<14>${bsd(t)} ${host(s)} bench: load=${value(s, i)}\n` },
};
const graphiteMapping = `    - {match: "bench.*.load", name: bench_load, labels: {host: $1}}\n`;
const syslogConfig = (port) =>
  `syslog:\n  tcp: 127.0.0.1:${port}\n  mappings:\n` +
  `    - {match: {app: bench, sdId: m@1}, sd: m@1, values: [load], name: bench_load, labels: {host: '\${hostname}'}}\n` +
  `    - {match: {app: bench}, kv: true, values: [load], name: bench_load, labels: {host: '\${hostname}'}}\n`;

function payload(fmt, from, points) {
  const out = [];
  for (let i = from; i < from + points; i++) for (let s = 0; s < SERIES; s++) out.push(FORMATS[fmt].line(s, i, base + i * 60));
  return out.join('');
}

async function run(fmt) {
  const t = tmp('rexmon-bench-syslog-');
  const port = await freePort();
  const c = await startCollector(t.dir, { graphiteMappings: graphiteMapping, extraConfig: syslogConfig(port) });
  const target = fmt === 'graphite' ? c.graphitePort : port;
  // Every series known first (catalog row and file) with one earlier point.
  await sendTcp(target, payload(fmt, -1, 1));
  await c.flush();
  const body = payload(fmt, 0, POINTS);
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  await sendTcp(target, body);
  await c.flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c.pid) - cpu0;
  const mem = rss(c.pid).peak;
  await c.stop();
  const exp = new Map();
  const root = path.join(t.dir, 'rrd');
  for (let s = 0; s < SERIES; s++) exp.set(path.join(root, seriesFile('bench_load', { host: host(s) })), Array.from({ length: POINTS }, (_, i) => [base + i * 60, value(s, i)]));
  const lost = await verify(exp, base - 60, base + POINTS * 60);
  t.cleanup();
  return { name: fmt, seconds, cpu, mem, lost, bytes: Buffer.byteLength(body) };
}

async function events() {
  const t = tmp('rexmon-bench-syslog-events-');
  const port = await freePort();
  const c = await startCollector(t.dir, { extraConfig: `syslog:\n  tcp: 127.0.0.1:${port}\n` });
  const now = Math.floor(Date.now() / 1000);
  const lines = [];
  for (let i = 0; i < EVENTS; i++) lines.push(oc(`<11>1 ${iso(now)} ${host(i % 100)} batchjob ${i} - - job ${i} failed: exit code ${i % 7}`));
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  await sendTcp(port, lines.join(''));
  let stored = 0;
  for (;;) {
    const r = await fetch(`${c.url}/api/v1/events?type=syslog&from=now-1h&limit=1`, { headers: { authorization: `Bearer ${c.token}` } });
    stored = (await r.json()).total ?? 0;
    if (stored >= EVENTS || performance.now() - t0 > 120000) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c.pid) - cpu0;
  const mem = rss(c.pid).peak;
  await c.stop();
  t.cleanup();
  return { seconds, cpu, mem, stored };
}

console.log(
  `syslog: ${total.toLocaleString('en')} points, ${SERIES.toLocaleString('en')} known series × ${POINTS}, 60 s apart, one TCP connection, time until durable, then every value verified with rrdtool fetch (${os.cpus().length} cores)`,
);
const results = [];
for (const fmt of Object.keys(FORMATS)) results.push(await run(fmt));
const baseline = results[0].seconds;
console.log('');
console.log('| input | bytes sent | time to durable | samples/s | × Graphite | CPU s (collector) | peak RSS MB | values lost |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results)
  console.log(
    `| ${r.name} | ${(r.bytes / 1e6).toFixed(1)} MB | ${r.seconds.toFixed(2)} s | ${Math.round(total / r.seconds).toLocaleString('en')} | ${(r.seconds / baseline).toFixed(2)} | ${r.cpu.toFixed(2)} | ${Math.round(r.mem)} | ${r.lost} |`,
  );
const e = await events();
console.log('');
console.log(
  `unmapped messages as events: ${e.stored.toLocaleString('en')} of ${EVENTS.toLocaleString('en')} stored in ${e.seconds.toFixed(2)} s (${Math.round(e.stored / e.seconds).toLocaleString('en')}/s), CPU ${e.cpu.toFixed(2)} s, peak RSS ${Math.round(e.mem)} MB`,
);
process.exitCode = results.some((r) => r.lost > 0) || e.stored !== EVENTS ? 1 : 0;
