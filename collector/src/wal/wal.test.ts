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

test('appends made while a checkpoint seals the segment are written to the new one, none refused', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const w = wal(dir);
    await w.open();
    const seqs: number[] = [];
    const expected: number[] = [];
    // A checkpoint's seal races appends issued before, during and after it (the bench's "file closed").
    for (let round = 0; round < 20; round++) {
      const early = await Promise.all(Array.from({ length: 5 }, (_, i) => w.append('r', [sample(round * 100 + i)])));
      // The seal starts closing its file at once; these appends come right behind it.
      const sealed = w.seal();
      const during = Array.from({ length: 5 }, (_, i) => w.append('r', [sample(round * 100 + 50 + i)]));
      await sealed;
      seqs.push(...early, ...(await Promise.all(during)));
      expected.push(...[0, 1, 2, 3, 4].map((i) => round * 100 + i), ...during.map((_, i) => round * 100 + 50 + i));
    }
    await w.close();
    const recs = [...wal(dir).replay()];
    assert.deepEqual(
      recs.map((r) => r.seq),
      seqs,
    );
    assert.deepEqual(
      recs.map((r) => r.samples[0].labels.i),
      expected.map(String),
    );
  } finally {
    await cleanup();
  }
});
