// The event store on a real SQLite file and on a real PostgreSQL server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSelector } from '../matchers/selector.js';
import { sqlBackends } from '../testing/postgres.js';
import { checkEvent, EventInput } from './model.js';
import { EventStore } from './store.js';

const backends = sqlBackends();

const T0 = 1795300000000; // ms, beyond 32 bits
const ev = (time: number, type: string, source: string, labels: Record<string, string> = {}, data: EventInput['data'] = {}): EventInput => ({
  time,
  type,
  source,
  labels,
  data,
});

for (const backend of backends) {
  test(`event store on ${backend.name}`, async (t) => {
    const db = await backend.open();
    const store = new EventStore(db);
    try {
      await t.test('insert one, read it back with numbers, booleans and labels intact', async () => {
        const e = checkEvent(
          {
            type: 'job.state',
            source: 'schedd01',
            time: T0,
            labels: { experiment: 'nova' },
            data: { job: '123.0', from: 'idle', to: 'running', exit: 0, ratio: 0.5, held: false },
          },
          T0,
        );
        assert.equal(await store.insert([e]), 1);
        const [got] = await store.query({ limit: 10 });
        assert.equal(typeof got.id, 'number');
        assert.equal(got.time, T0);
        assert.equal(got.type, 'job.state');
        assert.equal(got.source, 'schedd01');
        assert.deepEqual(got.labels, { experiment: 'nova' });
        assert.deepEqual(got.data, { job: '123.0', from: 'idle', to: 'running', exit: 0, ratio: 0.5, held: false });
        await db('events').delete();
      });

      await t.test('insert many in one transaction (more rows than one INSERT takes)', async () => {
        const many = Array.from({ length: 5000 }, (_, i) =>
          ev(T0 + i * 1000, i % 2 ? 'file.delivered' : 'job.state', `host${i % 10}`, { experiment: i % 3 ? 'nova' : 'minerva' }, { i }),
        );
        assert.equal(await store.insert(many), 5000);
        assert.equal(await store.count(), 5000);
      });

      await t.test('newest first; time range inclusive; type, source filters', async () => {
        const all = await store.query({ limit: 10000 });
        assert.equal(all.length, 5000);
        assert.equal(all[0].time, T0 + 4999 * 1000);
        assert.ok(all.every((e, i) => i === 0 || all[i - 1].time >= e.time));
        const range = await store.query({ from: T0 + 10000, to: T0 + 20000, limit: 100 });
        assert.deepEqual(
          range.map((e) => e.time),
          Array.from({ length: 11 }, (_, i) => T0 + 20000 - i * 1000),
        );
        const files = await store.query({ types: ['file.delivered'], limit: 10000 });
        assert.equal(files.length, 2500);
        assert.ok(files.every((e) => e.type === 'file.delivered'));
        const two = await store.query({ types: ['file.delivered', 'job.state'], sources: ['host3', 'host4'], limit: 10000 });
        assert.equal(two.length, 1000);
        assert.ok(two.every((e) => e.source === 'host3' || e.source === 'host4'));
      });

      await t.test('selectors over labels (__name__ is the type), scanned past the first chunk, with a limit', async () => {
        // Only i % 3 == 0 is minerva; among odd i that is i % 6 == 3: 833 events, spread over the whole table.
        const sel = parseSelector('file.delivered{experiment="minerva"}');
        const hits = await store.query({ selectors: [sel], limit: 10000 });
        assert.equal(hits.length, 833);
        assert.ok(hits.every((e) => e.type === 'file.delivered' && e.labels.experiment === 'minerva'));
        const firstTen = await store.query({ selectors: [sel], limit: 10 });
        assert.deepEqual(firstTen, hits.slice(0, 10));
        const oldest = await store.query({ selectors: [sel], to: T0 + 20000, limit: 10000 });
        assert.deepEqual(
          oldest.map((e) => e.data.i),
          [15, 9, 3],
        );
        const union = await store.query({
          selectors: [parseSelector('{experiment=~"min.*"}'), parseSelector('{__name__="job.state",experiment="nova"}')],
          limit: 10000,
        });
        assert.equal(union.length, 1667 + 1666);
        assert.equal((await store.query({ selectors: [parseSelector('{experiment="cdf"}')], limit: 10 })).length, 0);
      });

      await t.test('total: how many match whatever the limit, by COUNT or past the scan chunk with selectors', async () => {
        const sel = parseSelector('file.delivered{experiment="minerva"}');
        assert.equal(await store.total({ selectors: [sel] }), 833);
        assert.equal(await store.total({ selectors: [sel], to: T0 + 20000 }), 3);
        assert.equal(await store.total({ types: ['file.delivered'] }), (await store.query({ types: ['file.delivered'], limit: 10000 })).length);
        assert.equal(await store.total({ selectors: [parseSelector('{experiment="cdf"}')] }), 0);
      });

      await t.test('prune: older than the retention, then the oldest beyond maxEvents', async () => {
        const now = T0 + 5000 * 1000;
        // Retention 1000 s: the events at T0 .. T0+3999 s are older than now-1000 s.
        assert.deepEqual(await store.prune(1000 * 1000, 1000000, now), { expired: 4000, overflow: 0 });
        assert.equal(await store.count(), 1000);
        assert.equal((await store.query({ limit: 10000 })).at(-1)!.time, T0 + 4000 * 1000);
        // Two events at the same time: ties go by id, the older id first.
        await store.insert([ev(now, 'tie', 'a'), ev(now, 'tie', 'b')]);
        assert.deepEqual(await store.prune(1000 * 1000, 300, now), { expired: 0, overflow: 702 });
        const left = await store.query({ limit: 10000 });
        assert.equal(left.length, 300);
        assert.deepEqual(
          left.slice(0, 2).map((e) => e.source),
          ['b', 'a'],
        );
        assert.equal(left.at(-1)!.time, T0 + 4702 * 1000);
        assert.deepEqual(await store.prune(1000 * 1000, 1, now), { expired: 0, overflow: 299 });
        assert.deepEqual(
          (await store.query({ limit: 10 })).map((e) => e.source),
          ['b'],
        );
        assert.deepEqual(await store.prune(1000 * 1000, 1, now), { expired: 0, overflow: 0 });
      });
    } finally {
      await db.destroy();
    }
  });
}
