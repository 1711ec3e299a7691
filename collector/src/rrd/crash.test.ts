// Crashes during writes lose nothing: a killed rrdtool child is restarted and its commands in flight sent
// again; a killed rrdcached is restarted and every value it acknowledged within its write interval is sent
// again (it acknowledges values still in its journal's write buffer, which a SIGKILL loses).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Sample } from '../model/series.js';
import { rrdFetch, startCollector, TestCollector, waitFor } from '../testing/harness.js';

const SERIES = 200;
const POINTS = 100;

function workload(base: number): Sample[] {
  const samples: Sample[] = [];
  // Time-major order, as slurpers send: each series gets its points over many batches.
  for (let i = 0; i < POINTS; i++)
    for (let s = 0; s < SERIES; s++) samples.push({ name: 'crash_test', labels: { n: String(s) }, value: s * 1000 + i, time: base + i * 60 });
  return samples;
}

async function verify(c: TestCollector, base: number) {
  const entries = c.collector.catalog.find([{ matchers: [], text: '' }]);
  assert.equal(entries.length, SERIES);
  const missing: string[] = [];
  for (const e of entries) {
    const n = Number(e.labels.n);
    const got = await rrdFetch(e.file, 'AVERAGE', base - 60, base + (POINTS - 1) * 60);
    for (let i = 0; i < POINTS; i++) if (got.get(base + i * 60) !== n * 1000 + i) missing.push(`n=${n} i=${i}: ${got.get(base + i * 60)}`);
  }
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} values missing or wrong`);
}

test('killing the rrdtool children while they create files and write loses no value', async () => {
  const c = await startCollector({ pipeline: { batchSize: 2000, flushInterval: 0 } });
  try {
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - (POINTS + 10) * 60;
    assert.ok(c.collector.pipeline.push(workload(base), 'test'));
    // The first batch creates 200 files through the rrdtool pipes: kill them while they do.
    let kills = 0;
    while (kills < 3) {
      const pids = c.collector.archive.pids();
      if (pids.length) {
        try {
          process.kill(pids[kills % pids.length], 'SIGKILL');
          kills++;
        } catch {
          /* exited already */
        }
      }
      await new Promise((r) => setTimeout(r, 15));
    }
    await c.collector.pipeline.flush();
    assert.ok(c.collector.archive.restarts() >= 1, 'rrdtool children were restarted');
    await verify(c, base);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`rexmon_samples_written_total ${SERIES * POINTS}\\b`));
    assert.doesNotMatch(metrics, /^rexmon_samples_rejected_total\{/m, 'nothing refused or counted as lost');
  } finally {
    await c.stop();
  }
});

test('killing rrdcached with SIGKILL while batches stream in loses no value', async () => {
  const c = await startCollector({ pipeline: { batchSize: 2000, flushInterval: 0 } });
  try {
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - (POINTS + 10) * 60;
    assert.ok(c.collector.pipeline.push(workload(base), 'test'));
    await waitFor('some values written', async () => ((await c.collector.metrics.written.get()).values[0]?.value ?? 0) > 6000);
    const before = c.collector.cachedProc!.pid!;
    process.kill(before, 'SIGKILL');
    await c.collector.pipeline.flush();
    assert.notEqual(c.collector.cachedProc!.pid, before, 'rrdcached was restarted');
    await verify(c, base);
  } finally {
    await c.stop();
  }
});
