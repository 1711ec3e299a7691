// The outbox on a real SQLite file and a real PostgreSQL server: once-only notices, grouping that puts each
// notice in exactly one message, claims that only one sender wins, and the figures /metrics reads. On
// PostgreSQL two collectors (two connection pools on one database) race for the same groups and messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDb } from '../db/index.js';
import { sqlBackends } from '../testing/postgres.js';
import { Outbox, QueuedNotice } from './outbox.js';

const backends = sqlBackends();
const q = (i: number, extra: Partial<QueuedNotice> = {}): QueuedNotice => ({
  kind: 'alarm',
  group: `g${i % 3}`,
  recipients: ['ops@lab.example'],
  payload: { i },
  dueAt: 1000,
  ...extra,
});
const render = (n: { payload: unknown }[]) => ({ subject: `${n.length}`, body: n.map((x) => JSON.stringify(x.payload)).join('\n') });

for (const backend of backends) {
  test(`outbox on ${backend.name}`, async (t) => {
    const db = await backend.open();
    const box = new Outbox(db, 'lab.example');
    try {
      await t.test('once-only notices, due groups, each notice in exactly one message, one claim wins', async () => {
        await box.enqueue([q(0, { kind: 'downtime', group: 'd', dedupKey: 'downtime:1:start', dueAt: 500 })], 400);
        await box.enqueue([q(0, { kind: 'downtime', group: 'd', dedupKey: 'downtime:1:start', dueAt: 500 })], 450);
        await box.enqueue(
          Array.from({ length: 600 }, (_, i) => q(i)),
          700,
        );
        let st = await box.stats();
        assert.equal(st.waitingNotices, 601);
        assert.equal(st.oldestPending, 400);
        assert.equal((await box.dueGroups(999)).length, 1, 'only the downtime group is due before 1000');
        const groups = await box.dueGroups(1000);
        assert.equal(groups.length, 4);
        const ids: number[] = [];
        for (const g of groups) for (let id; (id = await box.compose(g, 150, render, 1000)) !== undefined;) ids.push(id);
        // 1 + three groups of 200 in mails of at most 150: 1 + 3 × 2.
        assert.equal(ids.length, 7);
        const carried = (await Promise.all(ids.map((id) => box.notices(id)))).flat().map((n) => n.id);
        assert.equal(carried.length, 601);
        assert.equal(new Set(carried).size, 601);
        st = await box.stats();
        assert.equal(st.waitingNotices, 0);
        assert.equal(st.byStatus.pending, 7);
        const [m] = await box.due(1000, 1);
        assert.equal(await box.claim(m, 1000, 5000), true);
        assert.equal(await box.claim(m, 1000, 5000), false, 'a second claim of the same attempt loses');
        await box.markFailed(m.id, 'ECONNREFUSED', 2000);
        const again = (await box.get(m.id))!;
        assert.deepEqual([again.status, again.attempts, again.nextAttemptAt, again.lastError], ['pending', 1, 2000, 'ECONNREFUSED']);
        assert.equal(await box.claim(again, 2000, 6000), true);
        await box.markSent(m.id, 2100);
        assert.deepEqual([(await box.get(m.id))!.status, (await box.get(m.id))!.sentAt], ['sent', 2100]);
        assert.equal((await box.list({ status: ['sent'], limit: 10 })).length, 1);
      });

      if (backend.name === 'PostgreSQL')
        await t.test('two collectors on one database: every notice in one message, every message claimed once', async () => {
          const other = await openDb({ client: 'pg', connection: db.client.config.connection as string });
          try {
            const box2 = new Outbox(other, 'lab.example');
            await box.enqueue(
              Array.from({ length: 2000 }, (_, i) => q(i, { group: `race${i % 20}` })),
              3000,
            );
            const work = async (b: Outbox) => {
              const made: number[] = [];
              for (const g of await b.dueGroups(3000)) for (let id; (id = await b.compose(g, 30, render, 3000)) !== undefined;) made.push(id);
              return made;
            };
            const made = (await Promise.all([work(box), work(box2)])).flat();
            const carried = (await Promise.all(made.map((id) => box.notices(id)))).flat().map((n) => n.id);
            assert.equal(carried.length, 2000);
            assert.equal(new Set(carried).size, 2000);
            const due = await box.due(3000, 1000);
            const claims = await Promise.all(due.flatMap((m) => [box.claim(m, 3000, 9000), box2.claim(m, 3000, 9000)]));
            assert.equal(claims.filter(Boolean).length, due.length);
          } finally {
            await other.destroy();
          }
        });
    } finally {
      await db.destroy();
    }
  });
}
