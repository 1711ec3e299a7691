// The forward buffer on real files: order, the acknowledged cursor across reopen, a torn tail cut off, sequence
// numbers never reused after a restart, the size bound, and segments deleted once acknowledged.
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../testing/harness.js';
import { BufferFull, ForwardBuffer } from './buffer.js';

const payload =
  (n: number, pad = 0) =>
  (q: number) =>
    Buffer.from(JSON.stringify({ q, n, pad: 'x'.repeat(pad) }));
const ns = (recs: { payload: Buffer }[]) => recs.map((r) => (JSON.parse(r.payload.toString()) as { n: number }).n);

function open(dir: string, maxBytes = 1 << 20, segmentBytes = 64 * 1024) {
  return new ForwardBuffer({ dir, maxBytes, segmentBytes, log: () => {} });
}

test('batches come back in order, survive a reopen until acknowledged, and keep their sequence numbers', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let b = open(dir);
    await b.open();
    for (let i = 1; i <= 5; i++) assert.equal(await b.append(payload(i), true), i);
    assert.deepEqual(ns(await b.read(1 << 20)), [1, 2, 3, 4, 5]);
    assert.deepEqual(ns(await b.read(1 << 20, 2)), [1, 2]);
    await b.ack(2);
    assert.equal(b.pending, 3);
    await b.close();

    b = open(dir);
    await b.open();
    const left = await b.read(1 << 20);
    assert.deepEqual(
      left.map((r) => r.seq),
      [3, 4, 5],
    );
    assert.deepEqual(ns(left), [3, 4, 5]);
    assert.equal(await b.append(payload(6), true), 6, 'numbering goes on after the last record');
    await b.close();
  } finally {
    await cleanup();
  }
});

test('after everything was acknowledged and the files are gone, a restart never reuses a sequence number', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let b = open(dir);
    await b.open();
    for (let i = 1; i <= 3; i++) await b.append(payload(i), true);
    await b.ack(3);
    assert.equal(b.pending, 0);
    await b.close();
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.fwd') && f !== '00000000000000000004.fwd'),
      [],
      'acknowledged segments deleted',
    );
    b = open(dir);
    await b.open();
    assert.equal(b.pending, 0);
    assert.equal(await b.append(payload(4), true), 4);
    await b.close();
  } finally {
    await cleanup();
  }
});

test('a torn tail (crash mid-write) is cut off and appends go on after the last good record', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let b = open(dir);
    await b.open();
    await b.append(payload(1), true);
    await b.append(payload(2), true);
    await b.close();
    const seg = readdirSync(dir).find((f) => f.endsWith('.fwd'))!;
    appendFileSync(path.join(dir, seg), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5])); // a header promising 200 bytes, then 1
    const logs: string[] = [];
    b = new ForwardBuffer({ dir, maxBytes: 1 << 20, segmentBytes: 64 * 1024, log: (m) => logs.push(m) });
    await b.open();
    assert.match(logs.join('\n'), /9 byte\(s\) after the last good record cut off/);
    assert.equal(await b.append(payload(3), true), 3);
    assert.deepEqual(ns(await b.read(1 << 20)), [1, 2, 3]);
    await b.close();
  } finally {
    await cleanup();
  }
});

test('past maxBytes an append is refused with BufferFull, nothing written; acknowledging frees the room', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // 1 MiB bound, 64 KiB segments, 100 KB records: the tenth does not fit.
    const b = open(dir, 1 << 20, 64 * 1024);
    await b.open();
    let n = 0;
    for (;;) {
      try {
        await b.append(payload(++n, 100_000), false);
      } catch (e) {
        assert.ok(e instanceof BufferFull, String(e));
        assert.match((e as Error).message, /forward buffer is full \(\d+ of 1048576 bytes used/);
        break;
      }
      assert.ok(n < 20, 'the bound holds');
    }
    const kept = b.pending;
    assert.equal(kept, n - 1);
    assert.ok(b.bytes <= 1 << 20);
    await assert.rejects(b.append(payload(999, 100_000), false), BufferFull);
    assert.equal(b.pending, kept, 'a refused append leaves nothing behind');
    const first = await b.read(1 << 20, 3);
    await b.ack(first[2].seq);
    assert.ok(b.bytes < 1 << 20, 'acknowledged segments are deleted');
    const seq = await b.append(payload(1000, 100_000), true);
    assert.equal(seq, kept + 1, 'the refused appends took no sequence number');
    assert.deepEqual(ns(await b.read(1 << 30)).slice(-1), [1000]);
    await b.close();
  } finally {
    await cleanup();
  }
});
