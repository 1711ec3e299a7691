// The alarm store on a real SQLite file and on a real PostgreSQL server: states upserted in bulk and read back
// intact, removals, history newest first with its filters, and states of rules no longer configured dropped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sqlBackends } from '../testing/postgres.js';
import { AlarmStore, StoredInstance } from './store.js';
import type { AlarmState } from './types.js';

const backends = sqlBackends();
const T = 1795300000;

const inst = (i: number, extra: Partial<StoredInstance> = {}): StoredInstance => ({
  rule: 'disk',
  series: `disk_pct{host="h${String(i).padStart(5, '0')}"}`,
  name: 'disk_pct',
  labels: { host: `h${String(i).padStart(5, '0')}` },
  state: 'OK',
  value: 42.5,
  bound: 80,
  since: T,
  evaluatedAt: T + 60,
  warnSince: null,
  critSince: null,
  missingSince: null,
  muted: false,
  downtime: null,
  toldState: 'OK',
  toldMuted: false,
  notifiedAt: null,
  ...extra,
});

for (const backend of backends) {
  test(`alarm store on ${backend.name}`, async (t) => {
    const db = await backend.open();
    const store = new AlarmStore(db);
    try {
      await t.test('12,000 states in one write (several transactions), read back (paged) with every field intact; an upsert changes one', async () => {
        const all = Array.from({ length: 12000 }, (_, i) => inst(i));
        all[7] = inst(7, {
          state: 'CRITICAL',
          value: null,
          bound: null,
          warnSince: T + 1,
          critSince: T + 2,
          missingSince: T + 3,
          muted: true,
          downtime: { id: 3, kind: 'planned', author: 'alice', reason: 'kernel update', end: null },
          toldState: 'WARNING',
          toldMuted: true,
          notifiedAt: T + 4,
        });
        await store.write(all, [], []);
        const back = await store.load();
        assert.equal(back.length, 12000);
        assert.deepEqual(back[11999], all[11999]);
        assert.deepEqual(back[7], all[7]);
        assert.deepEqual(back[0], all[0]);
        await store.write([{ ...all[0], state: 'WARNING', since: T + 120 }], [], []);
        const again = await store.load();
        assert.equal(again.length, 12000);
        assert.deepEqual([again[0].state, again[0].since], ['WARNING', T + 120]);
      });

      await t.test('removals and dropping the states of rules no longer configured', async () => {
        await store.write([inst(1, { rule: 'old' }), inst(2, { rule: 'old' })], [{ rule: 'disk', series: inst(5).series }], []);
        assert.equal((await store.load()).length, 12001);
        assert.equal(await store.dropRulesExcept(['disk']), 2);
        const left = await store.load();
        assert.equal(left.length, 11999);
        assert.ok(!left.some((x) => x.series === inst(5).series));
      });

      await t.test('history: newest first, by rule, series, time range, limit', async () => {
        const change = (at: number, rule: string, series: string, from: AlarmState, to: AlarmState) => ({
          at,
          rule,
          series,
          from,
          to,
          value: 91.5,
          bound: 90,
          muted: at % 2 === 0,
          downtimeId: at % 2 === 0 ? 3 : null,
        });
        await store.write(
          [],
          [],
          [change(T + 1, 'disk', 'a', 'OK', 'WARNING'), change(T + 2, 'disk', 'b', 'OK', 'CRITICAL'), change(T + 3, 'temp', 'a', 'WARNING', 'OK')],
        );
        const all = await store.history({ limit: 10 });
        assert.deepEqual(
          all.map((h) => [h.at, h.rule, h.series, h.from, h.to, h.value, h.bound, h.muted, h.downtimeId]),
          [
            [T + 3, 'temp', 'a', 'WARNING', 'OK', 91.5, 90, false, null],
            [T + 2, 'disk', 'b', 'OK', 'CRITICAL', 91.5, 90, true, 3],
            [T + 1, 'disk', 'a', 'OK', 'WARNING', 91.5, 90, false, null],
          ],
        );
        assert.deepEqual(
          (await store.history({ rule: 'disk', limit: 10 })).map((h) => h.at),
          [T + 2, T + 1],
        );
        assert.deepEqual(
          (await store.history({ series: 'a', limit: 10 })).map((h) => h.at),
          [T + 3, T + 1],
        );
        assert.deepEqual(
          (await store.history({ from: T + 2, to: T + 2, limit: 10 })).map((h) => h.at),
          [T + 2],
        );
        assert.deepEqual(
          (await store.history({ limit: 1 })).map((h) => h.at),
          [T + 3],
        );
      });
    } finally {
      await db.destroy();
    }
  });
}
