// Properties of the TCP framing over random streams: good frames in either framing, cut into random chunks,
// come out exactly; one bad frame among them (oversize in either framing, a count with no <PRI> behind it, a
// count too short) is refused alone and every other frame comes out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameSplitter } from './framing.js';

const MAX = 300;
// Message text: letters, digits at no place where they could pass for a count, spaces, and some UTF-8.
const text = fc.string({ unit: fc.constantFrom('a', 'b', 'z', ' ', 'é', 'Ж', '=', '[', ']', '"'), minLength: 1, maxLength: 60 });
const message = fc.tuple(fc.integer({ min: 0, max: 191 }), text).map(([pri, t]) => `<${pri}>1 - host app - - - x${t.trimEnd()}x`);
const framed = fc.record({ msg: message, octet: fc.boolean() });
const enc = (f: { msg: string; octet: boolean }) => (f.octet ? `${Buffer.byteLength(f.msg)} ${f.msg}` : `${f.msg}\n`);

type BadKind = 'oversize_octet' | 'oversize_lf' | 'no_pri' | 'too_short';
const bad = fc.record({
  kind: fc.constantFrom<BadKind>('oversize_octet', 'oversize_lf', 'no_pri', 'too_short'),
  msg: message,
  cut: fc.integer({ min: 2, max: 8 }),
});
function encBad(b: { kind: BadKind; msg: string; cut: number }): { bytes: string; reason: string } {
  const long = b.msg + 'y'.repeat(MAX);
  switch (b.kind) {
    case 'oversize_octet':
      return { bytes: `${Buffer.byteLength(long)} ${long}`, reason: 'oversize' };
    case 'oversize_lf':
      return { bytes: `${long}\n`, reason: 'oversize' };
    case 'no_pri':
      return { bytes: `${Buffer.byteLength(b.msg)} ${b.msg.replace(/^<\d+>/, '')}`, reason: 'octet_count' };
    case 'too_short':
      return { bytes: `${Buffer.byteLength(b.msg) - b.cut} ${b.msg}`, reason: 'octet_count' };
  }
}

/** Feeds the stream in chunks; at some frame boundaries the stream goes quiet (the listener's look-ahead timer). */
function run(parts: string[], chunks: number[]): string[] {
  const stream = Buffer.from(parts.join(''));
  const quietAt = new Set<number>();
  let b = 0;
  parts.forEach((p, i) => {
    b += Buffer.byteLength(p);
    if (i % 2) quietAt.add(b);
  });
  const out: string[] = [];
  const s = new FrameSplitter(MAX, { frame: (p) => out.push(p.toString('utf8')), refused: (r) => out.push(`!${r}`) });
  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const next = Math.min(at + chunks[i % chunks.length], [...quietAt].filter((q) => q > at).sort((x, y) => x - y)[0] ?? Infinity);
    s.push(stream.subarray(at, next));
    at = next;
    if (quietAt.has(at)) s.flush();
  }
  s.end();
  return out;
}

const chunking = fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 5 });

test('property: good frames in mixed framings and any chunking come out exactly, in order', () => {
  fc.assert(
    fc.property(fc.array(framed, { minLength: 1, maxLength: 12 }), chunking, (frames, chunks) => {
      assert.deepEqual(
        run(frames.map(enc), chunks),
        frames.map((f) => f.msg),
      );
    }),
    { numRuns: 300 },
  );
});

test('property: one bad frame among good ones is refused alone; every good frame comes out', () => {
  fc.assert(
    fc.property(fc.array(framed, { maxLength: 6 }), bad, fc.array(framed, { minLength: 1, maxLength: 6 }), chunking, (before, b, after, chunks) => {
      const e = encBad(b);
      assert.deepEqual(run([...before.map(enc), e.bytes, ...after.map(enc)], chunks), [
        ...before.map((f) => f.msg),
        `!${e.reason}`,
        ...after.map((f) => f.msg),
      ]);
    }),
    { numRuns: 300 },
  );
});
