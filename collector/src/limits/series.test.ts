// The series limiter on its own, over a real SQLite catalog: a new series whose samples keep coming (one shared
// labels object, as the Graphite listener hands them) before the catalog lists it takes one place in the budget
// and all its samples go in; a series over the budget is refused in every batch until there is room.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Catalog } from '../catalog/catalog.js';
import { seriesLimitsSchema } from '../config/security.js';
import { openDb } from '../db/index.js';
import { Labels, Sample } from '../model/series.js';
import { tempDir } from '../testing/harness.js';
import { SeriesLimiter } from './series.js';

test('a new series counts once however many batches bring it before it is registered; one over the budget is refused each time', async () => {
  const t = await tempDir();
  const db = await openDb({ client: 'sqlite', filename: path.join(t.dir, 'rexmon.db') });
  try {
    const catalog = new Catalog(db, path.join(t.dir, 'rrd'));
    const limiter = new SeriesLimiter(seriesLimitsSchema.parse({ newPerSourcePerMinute: 2 }), catalog, pino({ level: 'silent' }), new Registry());
    const shared: Record<string, Labels> = { a: { host: 'a' }, b: { host: 'b' }, c: { host: 'c' } };
    const sample = (h: string, time: number, labels = shared[h]): Sample => ({ name: 'load', labels, value: time, time });
    const hosts = (r: { admitted: Sample[] }) => r.admitted.map((s) => `${s.labels.host}@${s.time}`);

    assert.deepEqual(hosts(limiter.admit([sample('a', 1), sample('b', 1)], 'graphite_tcp', 'src')), ['a@1', 'b@1']);
    // Before the catalog lists a and b: their later samples go in without taking more of the budget; c is one too many.
    const second = limiter.admit([sample('a', 2), sample('c', 2), sample('b', 2), sample('c', 3)], 'graphite_tcp', 'src');
    assert.deepEqual(hosts(second), ['a@2', 'b@2']);
    assert.equal(second.refused, 2);
    assert.equal(second.limit, 'seriesLimits.newPerSourcePerMinute');
    // The same series with labels objects of their own (an HTTP body) are found by key alike.
    assert.deepEqual(hosts(limiter.admit([sample('a', 3, { host: 'a' }), sample('c', 4, { host: 'c' })], 'http', 'src')), ['a@3']);
    // Once registered, they are known series: always taken, by either labels object.
    await catalog.register(['a', 'b'].map((h) => ({ name: 'load', labels: shared[h], template: 'gauge', step: 60, ds: 'value' })));
    assert.deepEqual(hosts(limiter.admit([sample('a', 4), sample('b', 4, { host: 'b' }), sample('c', 5)], 'graphite_tcp', 'src')), ['a@4', 'b@4']);
  } finally {
    await db.destroy();
    await t.cleanup();
  }
});
