// The event journal on a real directory: batches finish out of order; only what every processor took is
// forgotten, and a reopen offers the rest again with their numbers.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { tempDir } from '../testing/harness.js';
import { EventJournal } from './journal.js';
import type { EventInput } from './model.js';

const ev = (i: number): EventInput => ({ time: 1795300000000 + i, type: 't', source: 's', labels: { k: 'v' }, data: { i, ok: true, s: 'x\ny' } });
const open = (dir: string) => new EventJournal({ dir, fsync: 'always', fsyncInterval: 1, segmentBytes: 65536, log: () => {} });

test('out-of-order completion: the done point stops at the oldest unfinished batch; reopen replays from there', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let j = open(dir);
    assert.deepEqual(await j.open(), []);
    const seqs = [await j.append([ev(1), ev(2)], randomUUID()), await j.append([ev(3)], randomUUID()), await j.append([ev(4)], randomUUID())];
    assert.deepEqual(seqs, [1, 2, 3]);
    j.done(2);
    j.done(3);
    assert.equal(j.unfinished, 3, 'batch 1 holds the done point');
    await j.close();

    j = open(dir);
    const again = await j.open();
    assert.deepEqual(
      again.map((b) => b.seq),
      [1, 2, 3],
    );
    assert.deepEqual(again[0].events, [ev(1), ev(2)], 'events come back as they went in');
    j.done(1);
    j.done(3);
    assert.equal(j.unfinished, 2);
    j.done(2);
    assert.equal(j.unfinished, 0);
    await j.trim();
    assert.equal(await j.append([ev(5)], randomUUID()), 4, 'numbers continue after the replayed ones');
    j.done(4);
    await j.close();

    j = open(dir);
    assert.deepEqual(await j.open(), [], 'nothing finished is offered again');
    await j.trim();
    await j.close();
    const segments = readdirSync(dir).filter((f) => f.endsWith('.wal'));
    assert.ok(segments.length <= 2, `old segments trimmed: ${segments.join(' ')}`);
  } finally {
    await cleanup();
  }
});

test('appends while the log is sealed for a trim all land (no write to a closing segment)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let j = open(dir);
    await j.open();
    const first = await j.append([ev(0)], randomUUID());
    j.done(first);
    // The trim seals the open segment (everything is done) while 200 appends are in flight.
    const trimming = j.trim();
    const appends = Array.from({ length: 200 }, (_, i) => j.append([ev(i + 1)], randomUUID()));
    await trimming;
    const seqs = await Promise.all(appends);
    assert.equal(new Set(seqs).size, 200);
    await j.close();
    j = open(dir);
    const left = await j.open();
    assert.deepEqual(
      left.map((b) => b.events[0].data.i),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    await j.close();
  } finally {
    await cleanup();
  }
});
