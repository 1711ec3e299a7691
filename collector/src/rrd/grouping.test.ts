// The writer groups a batch's samples by series through the labels object a listener shares across them: a series
// whose samples come in several equal labels objects, one labels object under two names, and a known series in a
// new object must each end up whole in their own file. Real collector, rrdcached and rrdtool.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { Labels, Sample } from '../model/series.js';
import { api, rrdFetch, startCollector } from '../testing/harness.js';

test('one batch: a series in several labels objects, one object under two names, a known series in a new object', async () => {
  const c = await startCollector();
  try {
    const editor = await createToken(c.collector.db, 'test', 'editor');
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - 1200;
    const at = (i: number) => base + 60 * i;
    const push = async (samples: Sample[]) => {
      const ok = await c.collector.pipeline.push(samples, 'test');
      assert.equal(ok, true);
      const r = await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor });
      assert.equal(r.status, 200);
    };
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
