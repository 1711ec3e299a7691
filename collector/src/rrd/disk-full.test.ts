// A full disk loses nothing acknowledged and says so: on a small tmpfs, new RRD files stop being made
// before the disk is full, their samples wait (kept in the queue and the write-ahead log), /readyz and
// /metrics report it, and once space returns every acknowledged sample is written.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { api, rrdFetch, run, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';

/** Runs `body` with a collector whose data dir is a fresh tmpfs of `size`; unmounts and cleans up after. */
async function onTmpfs(size: string, rrd: Record<string, unknown>, body: (c: TestCollector, disk: string) => Promise<void>) {
  const { dir, cleanup } = await tempDir();
  const disk = path.join(dir, 'disk');
  await mkdir(disk);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk]);
  let c: TestCollector | undefined;
  try {
    c = await startCollector({ graphite: { tcp: false, udp: false }, auth: { anonymousWrite: true }, rrd }, disk);
    await body(c, disk);
  } finally {
    await c?.collector.stop().catch(() => {});
    await run('umount', [disk]).catch(() => {});
    await cleanup();
  }
}

const SERIES = 40; // ~305 KB each with the default template: far more than the 6 MB disk holds

test('a full disk keeps acknowledged samples, reports it in /readyz and /metrics, and writes them once space returns', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  await onTmpfs('6m', { minFreeBytes: 1024 * 1024 }, async (col, disk) => {
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - 600;
    for (let round = 0; round < 3; round++) {
      const samples = Array.from({ length: SERIES }, (_, n) => ({
        name: 'disk_full',
        labels: { n: String(n) },
        value: n * 100 + round,
        time: base + round * 60,
      }));
      const r = await api(col.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) });
      assert.equal(r.status, 202, JSON.stringify(r.body));
    }
    const ready = await waitFor('/readyz to report the full disk', async () => {
      const r = await api<{ error?: { message: string } }>(col.url, '/readyz');
      return r.status === 503 ? r : undefined;
    });
    assert.match(ready.body.error!.message, /rrd: disk full: \d+ bytes free under .*needed for \d+ new RRD file/);
    assert.match(await (await fetch(`${col.url}/metrics`)).text(), /^rexmon_not_storing 1$/m);

    await run('mount', ['-o', 'remount,size=64m', disk]);
    await waitFor('writing again', async () => (await api(col.url, '/readyz')).status === 200, 20000);
    assert.equal((await api(col.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
    const wrong: string[] = [];
    for (let n = 0; n < SERIES; n++) {
      const got = await rrdFetch(path.join(disk, 'rrd/disk_full', `n=${n}.rrd`), 'AVERAGE', base - 60, base + 120);
      for (let round = 0; round < 3; round++)
        if (got.get(base + round * 60) !== n * 100 + round) wrong.push(`n=${n} round ${round}: ${got.get(base + round * 60)}`);
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${3 * SERIES} acknowledged values missing`);
    const metrics = await (await fetch(`${col.url}/metrics`)).text();
    assert.match(metrics, /^rexmon_not_storing 0$/m);
    assert.doesNotMatch(metrics, /^rexmon_samples_rejected_total\{/m, 'nothing refused');
  });
});

test('when the write-ahead log cannot be written, input is refused with 503 naming it, never acknowledged; taken again once it can', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  await onTmpfs('8m', { minFreeBytes: 0 }, async (col, disk) => {
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - 600;
    const post = (value: number, time: number) =>
      api<{ error?: { message: string } }>(col.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify([{ name: 'wal_full', value, time }]) });
    assert.equal((await post(1, base)).status, 202);
    assert.equal((await api(col.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
    // Fill the disk to the last byte.
    await run('dd', ['if=/dev/zero', `of=${path.join(disk, 'filler')}`, 'bs=64k']).catch(() => {});
    const refused = await post(2, base + 60);
    assert.equal(refused.status, 503);
    assert.match(refused.body.error!.message, /write-ahead log cannot be written .*ENOSPC.*nothing was stored/);
    const ready = await api<{ error?: { message: string } }>(col.url, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body.error!.message, /write-ahead log/);
    await run('rm', [path.join(disk, 'filler')]);
    const again = await waitFor('the log to take input again', async () => {
      const r = await post(3, base + 120);
      return r.status === 202 ? r : undefined;
    });
    assert.equal(again.status, 202);
    assert.equal((await api(col.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
    const got = await rrdFetch(path.join(disk, 'rrd/wal_full/series.rrd'), 'AVERAGE', base - 60, base + 120);
    assert.equal(got.get(base), 1);
    assert.equal(got.get(base + 120), 3);
    assert.match(await (await fetch(`${col.url}/metrics`)).text(), /rexmon_samples_dropped_total\{source="http",reason="wal_error"\} 1\b/);
  });
});
