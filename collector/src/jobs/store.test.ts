// The job fold and its SQL on a real SQLite file and on a real PostgreSQL server: events stored through the event
// store fold inside its transaction; lists, history, silent flags, counts, the last day's transitions, forgetting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/schema.js';
import { EventInput } from '../events/model.js';
import { EventStore } from '../events/store.js';
import { parseSelector } from '../matchers/selector.js';
import { sqlBackends } from '../testing/postgres.js';
import { Jobs } from './index.js';

const T0 = 1795300000000; // ms, beyond 32 bits
const ev = (type: string, job: string, s: number, labels: Record<string, string> = {}): EventInput => ({
  time: T0 + s * 1000,
  type,
  source: 'schedd01',
  labels: { job, ...labels },
  data: { n: s },
});

for (const backend of sqlBackends()) {
  test(`job fold on ${backend.name}`, async (t) => {
    const db = await backend.open();
    try {
      const events = new EventStore(db);
      const jobs = new Jobs(db, configSchema.parse({ jobs: { silentTimeout: 600 } }).jobs, {
        log: pino({ level: 'silent' }),
        push: () => false, // no series here: jobs.test.ts reads them from the RRD files
        emit: (e) => events.insert(e),
      });
      events.onInsert((trx, e) => jobs.process(e, trx));

      await t.test('events fold in the insert transaction; a rolled-back insert folds nothing', async () => {
        await events.insert([ev('job.submitted', 'p1', 1, { experiment: 'nova', site: 'FNAL', user: 'alice' }), ev('job.started', 'p1', 2)]);
        await events.insert([ev('job.submitted', 'p2', 3, { experiment: 'dune', site: 'CERN' }), ev('job.held', 'p2', 4)]);
        await assert.rejects(
          db.transaction(async (trx) => {
            await trx('events').insert({ time: 1, type: 'x', source: 'x', labels: '{}', data: '{}', created_at: 1 });
            await jobs.process([ev('job.submitted', 'p3', 5)], trx);
            throw new Error('rolled back');
          }),
          /rolled back/,
        );
        assert.deepEqual(
          (await jobs.store.list({ limit: 10 })).jobs.map((j) => [j.job, j.state, j.experiment, j.site]),
          [
            ['p2', 'held', 'dune', 'CERN'],
            ['p1', 'running', 'nova', 'FNAL'],
          ],
        );
        const p1 = await jobs.store.get('p1');
        assert.deepEqual([p1!.firstAt, p1!.lastAt, p1!.labels, p1!.data, p1!.events], [T0 + 1000, T0 + 2000, { user: 'alice' }, { n: 2 }, 2]);
      });

      await t.test('filters and selectors', async () => {
        const ids = async (q: Parameters<typeof jobs.store.list>[0]) => (await jobs.store.list(q)).jobs.map((j) => j.job);
        assert.deepEqual(await ids({ states: ['held'], limit: 10 }), ['p2']);
        assert.deepEqual(await ids({ experiments: ['nova'], sites: ['FNAL'], limit: 10 }), ['p1']);
        assert.deepEqual(await ids({ selectors: [parseSelector('{user="alice"}')], limit: 10 }), ['p1']);
        assert.deepEqual(await ids({ selectors: [parseSelector('held')], limit: 10 }), ['p2']);
        assert.equal((await jobs.store.list({ limit: 1 })).total, 2);
      });

      await t.test('silent: flagged with an event through the event store, in the history; counted per pair', async () => {
        assert.equal(await jobs.flagSilent(T0 + 500 * 1000), 0);
        assert.equal(await jobs.flagSilent(T0 + 610 * 1000), 2);
        assert.equal(await jobs.flagSilent(T0 + 620 * 1000), 0);
        const flagged = await events.query({ types: ['job.silent'], limit: 10 });
        assert.deepEqual(flagged.map((e) => e.labels.job).sort(), ['p1', 'p2']);
        const h = await jobs.store.history('p1', 10);
        assert.deepEqual(
          h.events.map((e) => [e.type, e.from, e.to]),
          [
            ['job.submitted', null, 'queued'],
            ['job.started', 'queued', 'running'],
            ['job.silent', 'running', 'running'],
          ],
        );
        const counts = (await jobs.store.counts()).sort((a, b) => a.experiment.localeCompare(b.experiment));
        assert.deepEqual(counts, [
          { experiment: 'dune', site: 'CERN', state: 'held', n: 1, silent: 1 },
          { experiment: 'nova', site: 'FNAL', state: 'running', n: 1, silent: 1 },
        ]);
      });

      await t.test("the last day's transitions, for a restart", async () => {
        const r = (await jobs.store.recentTransitions(T0)).map((x) => `${x.experiment} ${x.from}>${x.to} ${x.at - T0}`).sort();
        assert.deepEqual(r, ['dune none>queued 3000', 'dune queued>held 4000', 'nova none>queued 1000', 'nova queued>running 2000']);
        assert.deepEqual(await jobs.store.recentTransitions(T0 + 5000), []);
      });

      await t.test('forgotten: finished past the retention, silent past silentRetention, with their history', async () => {
        await events.insert([ev('job.finished', 'p1', 700)]);
        assert.deepEqual(await jobs.store.forget(T0 + 700 * 1000, 0), { finished: 0, silent: 0 });
        assert.deepEqual(await jobs.store.forget(T0 + 701 * 1000, 0), { finished: 1, silent: 0 });
        assert.deepEqual(await jobs.store.forget(0, T0 + 611 * 1000), { finished: 0, silent: 1 });
        assert.equal(await jobs.store.size(), 0);
        const left = (await db('job_events').count({ n: '*' }).first()) as { n: number | string };
        assert.equal(Number(left.n), 0);
      });
    } finally {
      await db.destroy();
    }
  });
}
