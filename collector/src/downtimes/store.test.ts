// The downtime store on a real SQLite file and on a real PostgreSQL server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../api/http-error.js';
import { ValidationError } from '../model/series.js';
import { sqlBackends } from '../testing/postgres.js';
import { stateAt } from './model.js';
import { DowntimeStore } from './store.js';

const who = { actor: 'alice', principal: 'ops-token' };
const base = { kind: 'planned', match: '{host="fnpc3001"}', author: 'alice', reason: 'disk swap' };

async function rejects(p: Promise<unknown>, status: number, re: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HttpError, String(e));
    assert.equal(e.status, status, e.message);
    assert.match(e.message, re);
    return true;
  });
}

const backends = sqlBackends();

for (const backend of backends) {
  test(`downtime store on ${backend.name}`, async (t) => {
    const db = await backend.open();
    const store = new DowntimeStore(db);
    const changes: number[] = [];
    store.onChange((id) => changes.push(id));
    const now = Math.floor(Date.now() / 1000);
    try {
      await t.test('create, read back with numbers (not strings), history entry', async () => {
        const d = await store.create({ ...base, start: now - 60, end: now + 3600, tags: ['disk'] }, who, now);
        assert.equal(typeof d.id, 'number');
        assert.equal(d.start, now - 60);
        assert.equal(d.end, now + 3600);
        assert.equal(d.flexible, false);
        assert.deepEqual(d.tags, ['disk']);
        assert.equal(d.version, 1);
        assert.deepEqual(await store.get(d.id), d);
        const h = await store.history(d.id);
        assert.equal(h.length, 1);
        assert.equal(h[0].action, 'create');
        assert.equal(h[0].actor, 'alice');
        assert.equal(h[0].principal, 'ops-token');
        assert.deepEqual(h[0].changes.match, { from: null, to: '{host="fnpc3001"}' });
        assert.deepEqual(changes, [d.id]);
      });

      await t.test('recurring and open downtimes keep their fields', async () => {
        const r = await store.create({ ...base, start: now, duration: '4h', recurrence: { rule: '0 8 * * TUE', timezone: 'America/Chicago' } }, who, now);
        assert.deepEqual(r.recurrence, { rule: '0 8 * * TUE', timezone: 'America/Chicago' });
        assert.equal(r.duration, 14400);
        assert.equal(r.end, null);
        const o = await store.create({ ...base, kind: 'unplanned', start: now - 10, end: null }, who, now);
        assert.equal(o.end, null);
        assert.equal(stateAt(o, now), 'active');
      });

      await t.test('edit: fields changed are recorded; stale versions and bad values are refused', async () => {
        const d = await store.create({ ...base, start: now + 3600, end: now + 7200 }, who, now);
        const u = await store.update(d.id, { end: now + 10800, reason: 'two disks', by: 'bob' }, { actor: 'bob', principal: 'cli' }, now);
        assert.equal(u.end, now + 10800);
        assert.equal(u.version, 2);
        const h = await store.history(d.id);
        assert.equal(h[1].action, 'update');
        assert.equal(h[1].actor, 'bob');
        assert.deepEqual(h[1].changes, { end: { from: now + 7200, to: now + 10800 }, reason: { from: 'disk swap', to: 'two disks' } });
        await rejects(store.update(d.id, { reason: 'x', version: 1 }, who, now), 409, /version 2/);
        await assert.rejects(store.update(d.id, { end: now }, who, now), /end must be after start/);
        // No change, no new version and no history row.
        assert.equal((await store.update(d.id, { reason: 'two disks' }, who, now)).version, 2);
        assert.equal((await store.history(d.id)).length, 2);
      });

      await t.test('end early and cancel', async () => {
        const future = await store.create({ ...base, start: now + 3600, end: now + 7200 }, who, now);
        await rejects(store.end(future.id, who, now), 409, /has not started yet.*cancel it instead/);
        const running = await store.create({ ...base, start: now - 3600, end: now + 3600 }, who, now);
        const ended = await store.end(running.id, { actor: 'carol', principal: 'cli' }, now);
        assert.equal(ended.endedAt, now);
        assert.equal(ended.endedBy, 'carol');
        assert.equal(stateAt(ended, now + 1), 'ended');
        await rejects(store.end(running.id, who, now + 1), 409, /already ended/);
        await rejects(store.update(running.id, { reason: 'x' }, who, now + 1), 409, /no longer be edited/);
        const c = await store.cancel(future.id, { actor: 'dave', principal: 'cli' }, now);
        assert.equal(stateAt(c, now), 'cancelled');
        assert.equal(c.cancelledBy, 'dave');
        await rejects(store.cancel(future.id, who, now), 409, /already cancelled/);
        assert.deepEqual(
          (await store.history(future.id)).map((h) => h.action),
          ['create', 'cancel'],
        );
      });

      await t.test('list: only what may overlap the range; cancelled on request', async () => {
        const ids = (l: { id: number }[]) => l.map((d) => d.id);
        const past = await store.create({ ...base, start: now - 86400, end: now - 80000 }, who, now);
        const all = await store.list({ includeCancelled: true });
        assert.ok(ids(all).includes(past.id));
        const current = await store.list({ from: now, to: now + 1 });
        assert.ok(!ids(current).includes(past.id));
        assert.ok(current.every((d) => d.cancelledAt === null));
        assert.ok(ids(await store.list({ from: now - 86400, to: now - 86000 })).includes(past.id));
        assert.deepEqual(await store.list({ kinds: ['unplanned'] }).then((l) => [...new Set(l.map((d) => d.kind))]), ['unplanned']);
      });

      await t.test('a flexible downtime is triggered once, even by two collectors (two connections) at the same time', async () => {
        // Two collectors sharing the database: separate knex instances (connection pools) on the same
        // SQLite file or PostgreSQL database, racing for the same downtime at once.
        const other = await backend.open();
        try {
          const stores = [store, new DowntimeStore(other)];
          for (let round = 0; round < 5; round++) {
            const f = await store.create({ ...base, flexible: true, start: now - 60, end: now + 3600, duration: '1h' }, who, now);
            const results = await Promise.all(
              [0, 1, 0, 1].map((i, n) => stores[i].trigger(f.id, now - 30, { actor: 'rexmon', principal: `alerts:am${n}` }, { alert: 'HostDown' }, now + 5)),
            );
            assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
            const g = (await store.get(f.id))!;
            assert.equal(g.triggeredAt, now - 30);
            assert.equal(g.version, 2);
            assert.equal(stateAt(g, now + 10), 'active');
            const h = await store.history(f.id);
            assert.deepEqual(
              h.map((e) => e.action),
              ['create', 'trigger'],
            );
            assert.deepEqual(h[1].changes.alert, { from: null, to: 'HostDown' });
            // The change is stamped with the time given, not the wall clock.
            assert.equal(h[1].at, now + 5);
            assert.equal(g.updatedAt, now + 5);
          }
        } finally {
          await other.destroy();
        }
      });

      await t.test('a triggered flexible downtime made fixed: the reset trigger is in the history', async () => {
        const f = await store.create({ ...base, flexible: true, start: now - 600, end: now + 3600, duration: '1h' }, who, now);
        assert.ok(await store.trigger(f.id, now - 300, who, {}, now - 300));
        const u = await store.update(f.id, { flexible: false, end: now + 1800 }, who, now);
        assert.equal(u.triggeredAt, null);
        const h = await store.history(f.id);
        assert.equal(h[2].action, 'update');
        assert.deepEqual(h[2].changes.triggeredAt, { from: now - 300, to: null });
        assert.deepEqual(h[2].changes.flexible, { from: true, to: false });
      });

      await t.test('version is refused on create; huge durations never reach the integer column', async () => {
        const invalid = (p: Promise<unknown>, path: string, re: RegExp) =>
          assert.rejects(p, (e: unknown) => e instanceof ValidationError && e.path === path && re.test(e.message));
        await invalid(store.create({ ...base, start: now, end: now + 60, version: 3 }, who, now), 'version', /only an edit/);
        await invalid(store.create({ ...base, start: now, duration: 2 ** 31 + 10 }, who, now), 'duration', /at most 10 years/);
        await invalid(store.create({ ...base, start: now, duration: '1000000y' }, who, now), 'duration', /at most 10 years/);
        const ten = await store.create(
          { ...base, start: now, duration: '1h', recurrence: { rule: '0 8 * * *', timezone: 'UTC' }, end: '9999-12-31T00:00:00Z' },
          who,
          now,
        );
        assert.equal(ten.end, Date.parse('9999-12-31T00:00:00Z') / 1000);
        await store.cancel(ten.id, who, now);
      });

      await t.test('unknown ids are 404; an external id is imported once', async () => {
        await rejects(store.mustGet(999999), 404, /no downtime with id "999999"/);
        await rejects(store.mustGet('abc'), 404, /no downtime/);
        await rejects(store.history(424242), 404, /no downtime/);
        await store.create({ ...base, start: now, end: now + 60 }, who, now, { source: 'grafana', externalId: 'grafana-annotation:1' });
        await assert.rejects(store.create({ ...base, start: now, end: now + 60 }, who, now, { source: 'grafana', externalId: 'grafana-annotation:1' }));
        assert.equal((await store.findByExternalId('grafana-annotation:1'))!.source, 'grafana');
      });

      await t.test('opening the database again runs no migration twice', async () => {
        const again = await backend.open();
        try {
          assert.ok((await new DowntimeStore(again).list({ includeCancelled: true })).length > 5);
        } finally {
          await again.destroy();
        }
      });
    } finally {
      await db.destroy();
    }
  });
}
