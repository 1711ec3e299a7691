#!/usr/bin/env node
// The event queue: EVENTS events POSTed in batches (one client, one batch at a time) to a collector process;
// time until the last 202, and until every event is in the SQL store (counted back through the API). Rows:
// the journal off (the baseline: accepted in memory), the journal with wal.fsync interval, and with
// wal.fsync always (the default). Also the same with a handler that takes 50 ms per event: the 202s and the
// store must not wait for it.
// Usage: node bench/event-queue.mjs [--events 20000] [--batch 500]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, rss, startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { events: { type: 'string', default: '20000' }, batch: { type: 'string', default: '500' } } });
const EVENTS = Number(opt.events);
const BATCH = Number(opt.batch);

async function run(name, events) {
  const t = tmp('rexmon-bench-events-');
  const slow = path.join(t.dir, 'slow.mjs');
  writeFileSync(slow, 'export default () => new Promise((r) => setTimeout(r, 50));\n');
  const c = await startCollector(t.dir, { extraConfig: `rrd: {cached: {mode: "off"}}\n${events(slow)}` });
  const h = { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' };
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  let refused = 0;
  for (let b = 0; b < EVENTS / BATCH; b++) {
    const body = JSON.stringify(Array.from({ length: BATCH }, (_, k) => ({ type: 'file.delivered', source: `door${k % 4}`, labels: { station: `fnpc${k % 50}` }, data: { n: b * BATCH + k, bytes: 1e6 } })));
    for (;;) {
      const r = await fetch(`${c.url}/api/v1/events`, { method: 'POST', headers: h, body });
      await r.text();
      if (r.status === 202) break;
      if (r.status !== 503) throw new Error(`HTTP ${r.status}`);
      refused++;
      await new Promise((res) => setTimeout(res, 1000 * Number(r.headers.get('retry-after') ?? 1)));
    }
  }
  const acked = (performance.now() - t0) / 1000;
  let stored = 0;
  for (;;) {
    const r = await fetch(`${c.url}/api/v1/events?type=file.delivered&limit=1`, { headers: h });
    stored = (await r.json()).total ?? 0;
    if (stored >= EVENTS || performance.now() - t0 > 300000) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c.pid) - cpu0;
  const mem = rss(c.pid).peak;
  await c.stop();
  t.cleanup();
  return { name, acked, seconds, cpu, mem, stored, refused };
}

const rows = [
  ['journal off (baseline)', () => 'events: {journal: false}\n'],
  ['journal, wal.fsync interval', () => 'wal: {fsync: interval}\n'],
  ['journal, wal.fsync always (default)', () => ''],
  ['journal always + a 50 ms/event handler (queue 100000)', (slow) => `events: {handlers: [{name: slow, module: ${JSON.stringify(slow)}, queue: 100000}]}\n`],
];
console.log(`event queue: ${EVENTS.toLocaleString('en')} events in batches of ${BATCH} over HTTP, one client, SQLite store (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`);
console.log('');
console.log('| set-up | last 202 | all stored | events/s stored | × baseline | CPU s (collector) | peak RSS MB | 503s |');
console.log('|---|---|---|---|---|---|---|---|');
let base;
for (const [name, cfg] of rows) {
  const r = await run(name, cfg);
  base ??= r.seconds;
  if (r.stored < EVENTS) throw new Error(`${name}: only ${r.stored} of ${EVENTS} stored`);
  console.log(`| ${r.name} | ${r.acked.toFixed(2)} s | ${r.seconds.toFixed(2)} s | ${Math.round(EVENTS / r.seconds).toLocaleString('en')} | ${(r.seconds / base).toFixed(2)} | ${r.cpu.toFixed(2)} | ${Math.round(r.mem)} | ${r.refused} |`);
}
