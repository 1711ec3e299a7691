#!/usr/bin/env node
// Where a cold ingest's time goes: the ingest bench's workload (Graphite points over series the collector has not
// seen, 60 s apart, one TCP connection) sent to a fresh collector, whose counters are read every --poll ms: lines
// received, RRD files created, values written, and its memory (RSS and V8's heap spaces, from the same /metrics); then
// the flush. Prints one row per change of the counters. --warm: every series is made known first (one earlier point,
// written and flushed), as in the ingest bench's warm run; the counters then count from there.
// Usage: node bench/cold-phases.mjs [--series 10000] [--points 10] [--poll 100] [--warm]
import { parseArgs } from 'node:util';
import { coldBase, coldLines, metricValue, positiveIntegers, sendTcp, sleep, startColdCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    points: { type: 'string', default: '10' },
    poll: { type: 'string', default: '100' },
    warm: { type: 'boolean', default: false },
  },
});
const { series: SERIES, points: POINTS, poll: POLL } = positiveIntegers(opt, ['series', 'points', 'poll']);

const t = tmp('rexmon-bench-cold-');
const c = await startColdCollector(t.dir, SERIES);
const counters = async () => {
  const text = await c.metrics();
  const value = (name, labels) => metricValue(text, name, labels);
  const space = (name) => value('rexmon_nodejs_heap_space_size_total_bytes', `space="${name}"`);
  const mb = (bytes) => Math.round(bytes / 1048576);
  return {
    received: value('rexmon_samples_received_total'),
    created: value('rexmon_rrd_files_created_total'),
    written: value('rexmon_samples_written_total'),
    // prom-client reads these when /metrics is asked: V8's committed size of each space.
    memory: `${mb(value('rexmon_process_resident_memory_bytes'))} | ${mb(space('new'))} / ${mb(space('old'))} / ${mb(space('large_object') + space('new_large_object'))}`,
  };
};
const total = SERIES * POINTS;
const base = coldBase(POINTS);
const lines = coldLines(SERIES, POINTS, base);
if (opt.warm) {
  await sendTcp(c.graphitePort, coldLines(SERIES, 1, base - 60));
  await c.flush();
}
const before = await counters();

console.log(`${opt.warm ? 'warm' : 'cold'} phases: ${total.toLocaleString('en')} points over ${SERIES.toLocaleString('en')} ${opt.warm ? 'known' : 'new'} series, counters read every ${POLL} ms\n`);
console.log('| s | received | files created | written | RSS MB | heap young / old / large objects MB |');
console.log('|---|---|---|---|---|---|');
const t0 = performance.now();
const at = () => ((performance.now() - t0) / 1000).toFixed(1);
let sentAt;
const send = sendTcp(c.graphitePort, lines).then(() => (sentAt = at()));
let last = '';
try {
  for (;;) {
    await sleep(POLL);
    const m = await counters();
    for (const k of ['received', 'created', 'written']) m[k] -= before[k];
    const row = `| ${m.received.toLocaleString('en')} | ${m.created.toLocaleString('en')} | ${m.written.toLocaleString('en')} |`;
    if (row !== last) console.log(`| ${at()} ${row} ${m.memory} |`);
    last = row;
    if (m.written >= total) break;
    if (performance.now() - t0 > 600_000) throw new Error('not every value written after 10 minutes');
  }
  await send;
  const f0 = performance.now();
  await c.flush();
  console.log(`\nsent by ${sentAt} s; flush ${((performance.now() - f0) / 1000).toFixed(2)} s; durable after ${at()} s`);
} finally {
  await c.stop();
  t.cleanup();
}
