// The writer groups a batch's samples by series through the labels object a listener shares across them: a series
// whose samples come in several equal labels objects, one labels object under two names, and a known series in a
// new object must each end up whole in their own file; and the rare paths of a series in a batch (out of order, a
// second given twice, refused values) beside series in order. Real collector, rrdcached and rrdtool.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { Labels, Sample } from '../model/series.js';
import { api, rrdFetch, startCollector } from '../testing/harness.js';
import { metricValue } from '../testing/pki.js';

/** Minutes from 20 minutes ago, and a push of one batch straight into the pipeline, flushed to the files. */
async function batches(c: Awaited<ReturnType<typeof startCollector>>) {
  const editor = await createToken(c.collector.db, 'test', 'editor');
  const base = Math.floor(Date.now() / 1000 / 60) * 60 - 1200;
  return {
    at: (i: number) => base + 60 * i,
    push: async (samples: Sample[]) => {
      assert.equal(await c.collector.pipeline.push(samples, 'test'), true);
      assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor })).status, 200);
    },
  };
}

test('one batch: a series in several labels objects, one object under two names, a known series in a new object', async () => {
  const c = await startCollector();
  try {
    const { at, push } = await batches(c);
    // Known before the batch, through its own labels object.
    await push([{ name: 'g_known', labels: { host: 'k' }, value: 1, time: at(1) }]);
    const a1: Labels = { host: 'a' };
    const a2: Labels = { host: 'a' };
    const shared: Labels = { host: 's' };
    const known: Labels = { host: 'k' };
    await push([
      { name: 'g_new', labels: a1, value: 10, time: at(1) },
      { name: 'g_new', labels: a2, value: 11, time: at(2) },
      { name: 'g_one', labels: shared, value: 20, time: at(1) },
      { name: 'g_two', labels: shared, value: 30, time: at(1) },
      { name: 'g_new', labels: a1, value: 12, time: at(3) },
      { name: 'g_known', labels: known, value: 2, time: at(2) },
      { name: 'g_one', labels: shared, value: 21, time: at(2) },
      { name: 'g_two', labels: shared, value: 31, time: at(2) },
      { name: 'g_new', labels: a2, value: 13, time: at(4) },
      { name: 'g_known', labels: known, value: 3, time: at(3) },
    ]);
    const expect: [string, string, number[]][] = [
      ['g_new', 'a', [10, 11, 12, 13]],
      ['g_one', 's', [20, 21]],
      ['g_two', 's', [30, 31]],
      ['g_known', 'k', [1, 2, 3]],
    ];
    const all = c.collector.catalog.find([{ matchers: [], text: '' }]);
    assert.equal(all.length, 4, 'four series, one file each');
    for (const [name, host, values] of expect) {
      const e = all.find((x) => x.name === name && x.labels.host === host);
      assert.ok(e, `${name}{host=${host}} registered`);
      const got = await rrdFetch(e.file, 'AVERAGE', at(0), at(values.length), 60);
      const stored = values.map((_, i) => got.get(at(i + 1)));
      assert.deepEqual(stored, values, `${name}{host=${host}}: every value in its own file`);
    }
  } finally {
    await c.stop();
  }
});

test('one batch: out of order, a second given twice, values not after the last update and too old, beside series in order', async () => {
  const c = await startCollector();
  try {
    const { at, push } = await batches(c);
    const rejected = async (reason: string) => metricValue(await (await fetch(`${c.url}/metrics`)).text(), 'rexmon_samples_rejected_total', { reason });
    await push([{ name: 'g_late', labels: { host: 'l' }, value: 1, time: at(3) }]);
    const late: Labels = { host: 'l' };
    const mixed: Labels = { host: 'm' };
    const plain: Labels = { host: 'p' };
    const tooOld = Math.floor(Date.now() / 1000) - 3 * 366 * 86400; // the default template keeps a year
    await push([
      { name: 'g_mixed', labels: mixed, value: 13, time: at(3) },
      { name: 'g_plain', labels: plain, value: 1, time: at(1) },
      { name: 'g_mixed', labels: mixed, value: 11, time: at(1) },
      { name: 'g_late', labels: late, value: 2, time: at(2) }, // before its last update (at 3): refused
      { name: 'g_plain', labels: plain, value: 2, time: at(2) },
      { name: 'g_mixed', labels: mixed, value: 12, time: at(2) },
      { name: 'g_mixed', labels: mixed, value: 99, time: tooOld },
      { name: 'g_late', labels: late, value: 4, time: at(4) },
      { name: 'g_mixed', labels: mixed, value: 14, time: at(3) }, // the same second again: the later one wins
      { name: 'g_plain', labels: plain, value: 3, time: at(3) },
    ]);
    const expect: [string, string, (number | null)[]][] = [
      ['g_mixed', 'm', [11, 12, 14]],
      ['g_plain', 'p', [1, 2, 3]],
      ['g_late', 'l', [null, 1, 4]],
    ];
    const all = c.collector.catalog.find([{ matchers: [], text: '' }]);
    for (const [name, host, values] of expect) {
      const e = all.find((x) => x.name === name && x.labels.host === host);
      assert.ok(e, `${name}{host=${host}} registered`);
      const got = await rrdFetch(e.file, 'AVERAGE', at(0), at(values.length + 1), 60);
      const from = name === 'g_late' ? 2 : 1;
      assert.deepEqual(
        values.map((_, i) => got.get(at(i + from)) ?? null),
        values,
        `${name}{host=${host}}: in time order, the later of two values for one second`,
      );
    }
    assert.equal(await rejected('out_of_order'), 1, 'the value before the last update, counted');
    assert.equal(await rejected('too_old'), 1, 'the value older than every row, counted');
  } finally {
    await c.stop();
  }
});
