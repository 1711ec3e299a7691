#!/usr/bin/env node
// What a cold ingest allocates, by function: the ingest bench's workload (Graphite points over series the collector
// has not seen, one TCP connection) sent to a fresh collector whose V8 sampling heap profiler (through its inspector,
// on a loopback port) counts every allocation, collected or not. --phase all: from the first line sent until every
// value is written; --phase write: from the moment every file exists (what writing the values allocates).
// Allocation that outlives a young-generation collection or two is what fills the old generation.
// Usage: node bench/alloc.mjs [--series 10000] [--points 10] [--phase all|write] [--top 25]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { coldLines, freePort, metricValue, positiveIntegers, sendTcp, sleep, startColdCollector, tmp } from './lib.mjs';

// Node 20's WebSocket client (for the inspector) sits behind a flag: run again with it.
if (typeof WebSocket === 'undefined') {
  const r = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const { values: opt } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    points: { type: 'string', default: '10' },
    phase: { type: 'string', default: 'all' },
    top: { type: 'string', default: '25' },
  },
});
const { series: SERIES, points: POINTS, top: TOP } = positiveIntegers(opt, ['series', 'points', 'top']);
if (!['all', 'write'].includes(opt.phase)) throw new Error(`--phase must be all or write, got ${JSON.stringify(opt.phase)}`);

const inspectPort = await freePort();
process.env.BENCH_NODE_ARGS = `${process.env.BENCH_NODE_ARGS ?? ''} --inspect=127.0.0.1:${inspectPort}`;
const t = tmp('rexmon-bench-alloc-');
const c = await startColdCollector(t.dir, SERIES);
const counter = async (name) => metricValue(await c.metrics(), name);

const [target] = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json();
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => (ws.addEventListener('open', resolve), ws.addEventListener('error', reject)));
let ids = 0;
const waiting = new Map();
ws.addEventListener('message', (ev) => {
  const m = JSON.parse(ev.data);
  if (m.id && waiting.has(m.id)) (waiting.get(m.id)(m), waiting.delete(m.id));
});
const call = (method, params = {}) =>
  new Promise((resolve, reject) => {
    const id = ++ids;
    waiting.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
    ws.send(JSON.stringify({ id, method, params }));
  });
const startSampling = () => call('HeapProfiler.startSampling', { samplingInterval: 2048, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });

const lines = coldLines(SERIES, POINTS);
try {
  await call('HeapProfiler.enable');
  if (opt.phase === 'all') await startSampling();
  const sent = sendTcp(c.graphitePort, lines);
  if (opt.phase === 'write') {
    while ((await counter('rexmon_rrd_files_created_total')) < SERIES) await sleep(20);
    await startSampling();
  }
  const t0 = performance.now();
  while ((await counter('rexmon_samples_written_total')) < SERIES * POINTS) {
    if (performance.now() - t0 > 600_000) throw new Error('not every value written after 10 minutes');
    await sleep(50);
  }
  await sent;
  const { profile } = await call('HeapProfiler.stopSampling');
  const bySite = new Map();
  let total = 0;
  const walk = (node) => {
    const f = node.callFrame;
    const site = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '(native)'}`;
    if (node.selfSize) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  const mb = (b) => (b / 1048576).toFixed(1);
  console.log(`allocated during a cold ingest of ${(SERIES * POINTS).toLocaleString('en')} points over ${SERIES.toLocaleString('en')} new series, phase ${opt.phase}: ${mb(total)} MB (sampled every 2 KB; collector's dist/ lines)\n`);
  console.log('| MB | share | function |');
  console.log('|---|---|---|');
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`| ${mb(bytes)} | ${((100 * bytes) / total).toFixed(0)}% | ${site} |`);
} finally {
  ws.close();
  await c.stop();
  t.cleanup();
}
