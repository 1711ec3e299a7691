// The log's binary sample records give back exactly what was appended (values to the last bit, NaN as unknown),
// records written as JSON by earlier versions still replay, and a damaged record is refused, not misread.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Sample } from '../model/series.js';
import { tempDir } from '../testing/harness.js';
import { frame } from './records.js';
import { decodeSamples, encodeJson, encodeSamples } from './sample-codec.js';
import { WriteAheadLog } from './wal.js';

const labels = fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/), fc.string({ unit: 'binary', maxLength: 20 }), { maxKeys: 4, noNullPrototype: true });
const sample = fc.record(
  {
    name: fc.stringMatching(/^[a-z_:][a-z0-9_:.-]{0,30}$/),
    labels,
    value: fc.oneof(fc.double(), fc.constant(NaN), fc.constant(-0)),
    time: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constant(1_764_547_200)),
    counter: fc.constant(true),
  },
  { requiredKeys: ['name', 'labels', 'value', 'time'] },
);

function sameSamples(got: Sample[], want: Sample[]) {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.deepEqual({ ...g, value: 0 }, { ...want[i], value: 0 });
    assert.ok(Object.is(g.value, want[i].value) || (Number.isNaN(g.value) && Number.isNaN(want[i].value)), `value ${i}: ${g.value} ≠ ${want[i].value}`);
  });
}

test('binary records give back every sample as appended: names, labels, counters, values to the last bit', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), fc.array(sample, { maxLength: 40 }), (source, samples) => {
      // Samples sharing a labels object, as a listener sends them, and samples with their own.
      const shared = samples.map((s, i) => (i % 3 === 2 ? { ...s, name: samples[i - 1].name, labels: samples[i - 1].labels } : s));
      const buf = encodeSamples({ source, samples: shared });
      assert.equal(buf[0], 1, 'binary');
      const back = decodeSamples(buf);
      assert.equal(back.source, source);
      sameSamples(back.samples, shared);
    }),
    { numRuns: 500 },
  );
});

test('a time a uint32 cannot hold keeps its batch in JSON, read back the same', () => {
  const samples: Sample[] = [{ name: 'm', labels: {}, value: 1.5, time: 2 ** 33 }];
  const buf = encodeSamples({ source: 's', samples });
  assert.equal(String.fromCharCode(buf[0]), '{');
  sameSamples(decodeSamples(buf).samples, samples);
});

test('a cut or padded binary record is refused, never read as other samples', () => {
  const buf = encodeSamples({ source: 'graphite_tcp', samples: [{ name: 'm', labels: { a: 'b' }, value: 2, time: 1_764_547_200 }] });
  for (const bad of [buf.subarray(0, buf.length - 1), buf.subarray(0, 10), Buffer.concat([buf, Buffer.from([0])])])
    assert.throws(() => decodeSamples(bad), RangeError);
});

test('a log written as JSON by an earlier version replays, and appends after it are binary and replay too', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const old: Sample[] = [
      { name: 'old', labels: { host: 'a' }, value: NaN, time: 1_700_000_000 },
      { name: 'old', labels: { host: 'a' }, value: 0.1, time: 1_700_000_001, counter: true },
    ];
    appendFileSync(path.join(dir, `${'1'.padStart(20, '0')}.wal`), frame(encodeJson({ source: 'graphite_tcp', samples: old })));
    const opts = { dir, fsync: 'always' as const, fsyncInterval: 1, segmentBytes: 1 << 20, log: () => {} };
    const w = new WriteAheadLog(opts);
    const first = [...w.replay()];
    assert.equal(first.length, 1);
    sameSamples(first[0].samples, old);
    await w.open();
    const fresh: Sample[] = [{ name: 'new', labels: {}, value: 1e-300, time: 1_700_000_002 }];
    await w.append('api', fresh);
    await w.close();
    const all = [...new WriteAheadLog(opts).replay()];
    assert.deepEqual(
      all.map((r) => [r.seq, r.source]),
      [
        [1, 'graphite_tcp'],
        [2, 'api'],
      ],
    );
    sameSamples(all[1].samples, fresh);
  } finally {
    await cleanup();
  }
});
