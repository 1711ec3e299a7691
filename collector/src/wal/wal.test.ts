// The write-ahead log on real files: what was appended comes back in order, a torn tail is cut off
// (and appends continue after it), trim removes only sealed segments whose records are all stored.
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Sample } from '../model/series.js';
import { tempDir } from '../testing/harness.js';
import { FsyncPolicy, WriteAheadLog } from './wal.js';

const sample = (i: number): Sample => ({ name: 'm', labels: { i: String(i) }, value: i === 3 ? NaN : i * 1.5, time: 1_700_000_000 + i });

function wal(dir: string, fsync: FsyncPolicy = 'always', segmentBytes = 1 << 20, log: (m: string) => void = () => {}) {
  return new WriteAheadLog({ dir, fsync, fsyncInterval: 1, segmentBytes, log });
}

test('appends come back in order after a restart, unknown values included', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const w = wal(dir);
    assert.deepEqual([...w.replay()], []);
    await w.open();
    // 200 appends issued together: they share writes (group commit), each resolves with its sequence number.
    const seqs = await Promise.all(Array.from({ length: 200 }, (_, i) => w.append(`src${i % 3}`, [sample(i), sample(i + 1000)])));
    assert.deepEqual(
      seqs,
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    await w.close();
    const again = wal(dir);
    const recs = [...again.replay()];
    assert.equal(recs.length, 200);
    assert.deepEqual(recs[3].samples[0], sample(3)); // NaN survives as NaN
    assert.ok(Number.isNaN(recs[3].samples[0].value));
    assert.deepEqual(
      recs.map((r) => r.seq),
      seqs,
    );
    assert.equal(recs[7].source, 'src1');
    await again.open();
    assert.equal(await again.append('x', [sample(1)]), 201, 'numbering continues after the replayed records');
    await again.close();
  } finally {
    await cleanup();
  }
});

test('a torn or corrupt tail is cut at the last good record and appends continue after it', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const w = wal(dir, 'off');
    assert.deepEqual([...w.replay()], []);
    await w.open();
    for (let i = 0; i < 5; i++) await w.append('t', [sample(i)]);
    await w.close();
    const [seg] = readdirSync(dir);
    const good = statSync(path.join(dir, seg)).size;
    // A crash in the middle of a write: a length header promising more than is there.
    appendFileSync(path.join(dir, seg), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5, 6]));
    const logged: string[] = [];
    const again = wal(dir, 'off', 1 << 20, (m) => logged.push(m));
    assert.equal([...again.replay()].length, 5);
    assert.equal(statSync(path.join(dir, seg)).size, good, 'the torn bytes were cut off');
    assert.match(logged.join('\n'), /10 byte\(s\) after the last good record cut off/);
    await again.open();
    await again.append('t', [sample(9)]);
    await again.close();
    const recs = [...wal(dir).replay()];
    assert.deepEqual(
      recs.map((r) => r.samples[0].labels.i),
      ['0', '1', '2', '3', '4', '9'],
    );
  } finally {
    await cleanup();
  }
});

test('trim deletes sealed segments up to a checkpoint and never the open one or later records', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const w = wal(dir, 'off', 65536);
    assert.deepEqual([...w.replay()], []);
    await w.open();
    const big = Array.from({ length: 400 }, (_, i) => sample(i));
    for (let i = 0; i < 10; i++) await w.append('t', big); // ~20 KB each: several segments
    const upTo = await w.seal();
    assert.equal(upTo, 10);
    await w.append('t', [sample(1)]); // after the checkpoint: must survive trim
    const before = readdirSync(dir).length;
    assert.ok(before >= 3, `several segments (${before})`);
    assert.ok(w.trim(upTo) >= 2);
    const left = [...wal(dir).replay()];
    assert.deepEqual(
      left.map((r) => r.seq),
      [11],
    );
    await w.close();
  } finally {
    await cleanup();
  }
});

test('appends arriving while seal() rotates the segment (and while a full segment rotates) are all written, none refused, seqs as replayed', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // Small segments: writes rotate too, beside the seals (checkpoints) running meanwhile.
    const w = wal(dir, 'off', 4096);
    assert.deepEqual([...w.replay()], []);
    await w.open();
    const appends: Promise<number>[] = [];
    const seals: Promise<number>[] = [];
    for (let round = 0; round < 200; round++) {
      for (let k = 0; k < 5; k++) appends.push(w.append('src', [sample(round * 5 + k)]));
      seals.push(w.seal());
      // More appends while the old file is closing: they must wait for the new one, not write to a closed handle.
      for (let k = 0; k < 3; k++) appends.push(w.append('src', [sample(100000 + round * 3 + k)]));
      if (round % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.allSettled(appends);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    assert.deepEqual(refused, [], 'no append refused');
    await Promise.all(seals);
    await w.close();
    const recs = [...wal(dir).replay()];
    assert.equal(recs.length, appends.length);
    assert.deepEqual(
      recs.map((r) => r.seq),
      results.map((r) => (r as PromiseFulfilledResult<number>).value).sort((a, b) => a - b),
      'each record replays with the sequence number its append got',
    );
  } finally {
    await cleanup();
  }
});

test(
  'appends that arrive while seal() changes segments wait for the new one (none fails on the closed file), and all come back',
  { timeout: 60_000 },
  async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const w = wal(dir);
      assert.deepEqual([...w.replay()], []);
      await w.open();
      const results: Promise<number>[] = [];
      let stop = false;
      // Appends keep arriving, a few at a time, while the checkpoint seals again and again.
      const load = (async () => {
        for (let i = 0; !stop; i++) {
          const some = [0, 1, 2].map(() => w.append('a', [sample(i)]));
          results.push(...some);
          await Promise.race([Promise.allSettled(some), new Promise((r) => setTimeout(r, 1))]);
        }
      })();
      for (let i = 0; i < 200; i++) {
        await w.seal();
        await new Promise((r) => setTimeout(r, 2));
      }
      stop = true;
      await load;
      const settled = await Promise.allSettled(results);
      const failed = settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason));
      assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${results.length} appends failed`);
      await w.close();
      assert.equal([...wal(dir).replay()].length, results.length);
    } finally {
      await cleanup();
    }
  },
);

test('appends arriving while a seal switches segments are all written, in the new segment, and trim keeps them', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const w = wal(dir, 'always', 4096);
    assert.deepEqual([...w.replay()], []);
    await w.open();
    // Before the fix the switch closed the handle first: appends meanwhile failed with "file closed".
    const appends: Promise<number>[] = [];
    const seals: Promise<number>[] = [];
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 20; i++) appends.push(w.append('t', [sample(round * 20 + i)]));
      seals.push(w.seal());
      for (let i = 0; i < 5; i++) appends.push(w.append('t', [sample(10000 + round * 5 + i)]));
    }
    const seqs = await Promise.all(appends);
    const sealed = await Promise.all(seals);
    assert.equal(new Set(seqs).size, appends.length, 'every append resolved with its own seq');
    // Records after the last seal's checkpoint survive a trim up to it.
    const upTo = sealed[sealed.length - 1];
    w.trim(upTo);
    await w.close();
    const recs = [...wal(dir).replay()];
    assert.deepEqual(
      recs.map((r) => r.seq),
      seqs.filter((s) => s > upTo).sort((a, b) => a - b),
    );
    // Nothing trimmed too early either: without trimming, every record comes back exactly once, in order.
  } finally {
    await cleanup();
  }
});

test('without a trim, every record appended around many seals comes back once and in order', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const w = wal(dir, 'off', 2048);
    assert.deepEqual([...w.replay()], []);
    await w.open();
    const appends: Promise<number>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) appends.push(w.append('t', [sample(round * 10 + i)]));
      void w.seal();
    }
    const seqs = await Promise.all(appends);
    await w.close();
    const recs = [...wal(dir).replay()];
    assert.deepEqual(
      recs.map((r) => r.seq),
      seqs,
    );
    assert.deepEqual(
      recs.map((r) => r.samples[0].labels.i),
      Array.from({ length: 200 }, (_, i) => String(i)),
    );
  } finally {
    await cleanup();
  }
});
