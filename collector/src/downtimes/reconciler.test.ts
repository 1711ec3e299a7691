// The silence reconciler against a real Prometheus Alertmanager: the set of rexmon silences ends equal
// to the set of active and upcoming planned downtime occurrences, through edits, ends, cancels, a
// collector restart and an Alertmanager outage; silences rexmon did not create are never touched.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { openDb } from '../db/index.js';
import { alertmanagerAvailable, startAlertmanager, TestAlertmanager } from '../testing/alertmanager.js';
import { downtimeApi } from '../testing/downtimes.js';
import { api, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';
import { AmClient, GettableSilence } from './alertmanager.js';
import { desiredSilences, planSilences, Reconciler, TargetStatus } from './reconciler.js';
import { DowntimeStore } from './store.js';

const LOOKAHEAD = 36 * 3600;
let am: TestAlertmanager;
let c: TestCollector;
let dir: { dir: string; cleanup: () => Promise<void> };

const overrides = () => ({
  rrd: { cached: { mode: 'off' } },
  auth: { anonymousWrite: true },
  downtimes: {
    alertmanagers: [{ url: am.url, name: 'am1' }],
    reconcileInterval: 3600,
    lookahead: LOOKAHEAD,
    backoff: { initial: 0.2, max: 1 },
    triggerInterval: 3600,
  },
});

before(async () => {
  if (!alertmanagerAvailable()) throw new Error('prometheus-alertmanager not found (Debian package prometheus-alertmanager) — install it to run this test');
  am = await startAlertmanager();
  dir = await tempDir();
  c = await startCollector(overrides(), dir.dir);
});
after(async () => {
  await c?.stop();
  await am?.stop();
  await dir?.cleanup();
});

const { post, call } = downtimeApi(() => c.url);

async function live() {
  return (await am.silences()).filter((s) => s.status.state !== 'expired');
}

/** Live silences rexmon made for one downtime. */
async function of(id: number) {
  return (await live()).filter((s) => s.createdBy === 'rexmon' && s.comment.includes(`[rexmon:${id}:`));
}

/** Keys `<downtime id>:<occurrence start>` of the live rexmon silences, with how often each appears. */
async function rexmonKeys(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const s of await live()) {
    if (s.createdBy !== 'rexmon') continue;
    const m = /\[rexmon:(\d+:\d+):[0-9a-f]{12}\]$/.exec(s.comment);
    if (m) out.set(m[1], (out.get(m[1]) ?? 0) + 1);
  }
  return out;
}

const HOUR = 3600;
const DAY = 86400;
const T = (iso: string) => Date.parse(iso) / 1000;

/**
 * Worked out by hand, not with the model's occurrences(): the keys of a daily 12:00-13:00 UTC downtime
 * whose occurrence is running now or starts within the look-ahead.
 */
function noonKeys(id: number): string[] {
  const now = Date.now() / 1000;
  const out: string[] = [];
  for (let day = Math.floor(now / DAY) * DAY - DAY; day < now + LOOKAHEAD; day += DAY) {
    const start = day + 12 * HOUR;
    if (start + HOUR > now && start < now + LOOKAHEAD) out.push(`${id}:${start}`);
  }
  return out;
}

async function assertInStep(what: string, expected: string[]) {
  const have = await rexmonKeys();
  assert.deepEqual([...have.keys()].sort(), [...expected].sort(), `${what}: rexmon silences = active and upcoming planned occurrences`);
  for (const [k, n] of have) assert.equal(n, 1, `${what}: one silence for ${k}, not ${n}`);
}

test('silences follow create, edit, end, cancel, restart and an Alertmanager outage; foreign silences untouched', async () => {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  // Silences made by people: one by another author that even carries a rexmon-like marker, one using
  // rexmon's name but without a marker.
  const foreign = [
    {
      matchers: [{ name: 'host', value: 'fnpc3001', isRegex: false, isEqual: true }],
      startsAt: iso(now),
      endsAt: iso(now + 7200e3),
      createdBy: 'bob',
      comment: 'manual [rexmon:1:1:abcdefabcdef]',
    },
    {
      matchers: [{ name: 'job', value: 'x', isRegex: false, isEqual: true }],
      startsAt: iso(now),
      endsAt: iso(now + 7200e3),
      createdBy: 'rexmon',
      comment: 'typed by hand',
    },
  ];
  const foreignIds: string[] = [];
  for (const f of foreign) {
    const r = await fetch(`${am.url}/api/v2/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
    foreignIds.push(((await r.json()) as { silenceID: string }).silenceID);
  }
  const foreignBefore = (await live()).filter((s) => foreignIds.includes(s.id)).sort((x, y) => x.id.localeCompare(y.id));

  const a = await post({ match: '{host="fnpc3001"}', start: 'now-5m', end: '+1h', reason: 'disk swap' });
  const b = await post({ match: '{service=~"enstore|dcache"}', start: '+2h', end: '+3h' });
  const u = await post({ kind: 'unplanned', match: '{host="fnpc3002"}', start: 'now-1m', end: null });
  const r = await post({ match: '{cluster="gpgrid"}', start: 'now-2d', duration: '1h', recurrence: { rule: '0 12 * * *', timezone: 'UTC' } });
  await c.collector.downtimes.syncNow();
  await assertInStep('after create', [`${a.id}:${a.start}`, `${b.id}:${b.start}`, ...noonKeys(r.id)]);
  const [aSil] = await of(a.id);
  assert.deepEqual(
    aSil.matchers.map((m) => [m.name, m.value, m.isRegex, m.isEqual ?? true]),
    [['host', 'fnpc3001', false, true]],
  );
  assert.equal(aSil.createdBy, 'rexmon');
  assert.match(aSil.comment, /^disk swap — alice \(rexmon downtime #\d+\)/);
  assert.equal(aSil.status.state, 'active');
  assert.equal(Date.parse(aSil.endsAt), a.end! * 1000);
  const [bSil] = await of(b.id);
  assert.equal(bSil.status.state, 'pending');
  assert.deepEqual(
    bSil.matchers.map((m) => [m.name, m.value, m.isRegex]),
    [['service', 'enstore|dcache', true]],
  );
  assert.deepEqual(await of(u.id), [], 'unplanned downtimes do not silence by default');
  assert.ok((await rexmonKeys()).size >= 3);

  // Edit: scope and end change; the old silence goes, exactly one new one stands.
  await call('PATCH', `/downtimes/${a.id}`, { match: '{host="fnpc3005"}', end: '+2h' });
  await c.collector.downtimes.syncNow();
  await assertInStep('after edit', [`${a.id}:${a.start}`, `${b.id}:${b.start}`, ...noonKeys(r.id)]);
  const edited = await of(a.id);
  assert.equal(edited.length, 1, JSON.stringify(edited, null, 1));
  assert.equal(edited[0].matchers[0].value, 'fnpc3005');

  // End early and cancel: their silences expire.
  await call('POST', `/downtimes/${a.id}/end`);
  await call('DELETE', `/downtimes/${b.id}`);
  await c.collector.downtimes.syncNow();
  await assertInStep('after end and cancel', noonKeys(r.id));
  assert.deepEqual([...(await of(a.id)), ...(await of(b.id))], []);

  // A silence expired by hand in Alertmanager comes back.
  const [rSil] = await of(r.id);
  await fetch(`${am.url}/api/v2/silence/${rSil.id}`, { method: 'DELETE' });
  await c.collector.downtimes.syncNow();
  await assertInStep('after a manual expiry', noonKeys(r.id));

  // Restart the collector: same DB, no duplicates, existing silences kept as they are.
  const idsBefore = (await live()).map((s) => s.id).sort();
  await c.stop();
  c = await startCollector(overrides(), dir.dir);
  await c.collector.downtimes.syncNow();
  await assertInStep('after restart', noonKeys(r.id));
  assert.deepEqual((await live()).map((s) => s.id).sort(), idsBefore);

  // Alertmanager down: changes wait, the target backs off; when it returns, it is reconciled unasked.
  await am.down();
  const d = await post({ match: '{host="fnpc3010"}', start: 'now', end: '+1h' });
  await call('DELETE', `/downtimes/${r.id}`);
  await assert.rejects(c.collector.downtimes.syncNow(), /ECONNREFUSED|fetch failed|connect/);
  const status = (await api<{ data: { name: string; ok: boolean; failures: number; lastError: string }[] }>(c.url, '/api/v1/downtimes/sync')).body.data;
  assert.equal(status[0].name, 'am1');
  assert.equal(status[0].ok, false);
  assert.ok(status[0].failures >= 1);
  await am.up();
  await waitFor('the reconciler to catch up after Alertmanager came back', async () => (await rexmonKeys()).has(`${d.id}:${d.start}`), 15000);
  await waitFor(
    'the cancelled recurring downtime to lose its silences',
    async () => ![...(await rexmonKeys()).keys()].some((k) => k.startsWith(`${r.id}:`)),
    15000,
  );
  await assertInStep('after the outage', [`${d.id}:${d.start}`]);

  const foreignAfter = (await live()).filter((s) => foreignIds.includes(s.id)).sort((x, y) => x.id.localeCompare(y.id));
  assert.equal(foreignAfter.length, 2);
  assert.deepEqual(foreignAfter, foreignBefore, 'silences not created by rexmon are untouched');
});

test('a flexible downtime starts when a matching alert fires in Alertmanager, then gets its silence', async () => {
  await am.postAlerts([{ labels: { alertname: 'HostDown', host: 'fnpc4001', severity: 'critical' }, startsAt: new Date(Date.now() - 30e3).toISOString() }]);
  const f1 = await post({ match: '{host="fnpc4001"}', flexible: true, start: 'now-1m', end: '+1h', duration: '30m' });
  const f2 = await post({ match: '{host="fnpc4002"}', flexible: true, start: 'now-1m', end: '+1h', duration: '30m' });
  assert.equal(f1.state, 'scheduled');
  await c.collector.downtimes.syncNow();
  assert.ok(!(await rexmonKeys()).has(`${f1.id}:${f1.start}`), 'no silence before the trigger');
  const fired = await c.collector.downtimes.pollAlerts();
  assert.deepEqual(fired, [f1.id]);
  const got = await call('GET', `/downtimes/${f1.id}`);
  assert.equal(got.state, 'active');
  assert.ok(got.triggeredAt! >= f1.start && got.triggeredAt! <= Date.now() / 1000);
  assert.equal((await call('GET', `/downtimes/${f2.id}`)).state, 'scheduled');
  const h = (
    await api<{ data: { action: string; principal: string; changes: Record<string, { to: unknown }> }[] }>(c.url, `/api/v1/downtimes/${f1.id}/history`)
  ).body.data;
  assert.equal(h[1].action, 'trigger');
  assert.equal(h[1].principal, 'alerts:am1');
  assert.equal(h[1].changes.alert.to, 'HostDown');
  await c.collector.downtimes.syncNow();
  const dLeft = [...(await rexmonKeys()).keys()].filter((k) => !k.startsWith(`${f1.id}:`));
  assert.equal(dLeft.length, 1, 'only the downtime filed during the outage besides the triggered one');
  await assertInStep('after the trigger', [...dLeft, `${f1.id}:${got.triggeredAt}`]);
  assert.ok((await rexmonKeys()).has(`${f1.id}:${got.triggeredAt}`));
  // A second poll does not trigger it again.
  assert.deepEqual(await c.collector.downtimes.pollAlerts(), []);
});

/** A downtime row written straight to the database, as one stored before today's input checks. */
async function legacyRow(fields: { match: string; start: number; end: number | null }) {
  const t = Math.floor(Date.now() / 1000);
  const [ret] = await c.collector.downtimes.store
    .db('downtimes')
    .insert({
      kind: 'planned',
      match: fields.match,
      flexible: false,
      start_at: fields.start,
      end_at: fields.end,
      duration: null,
      rule: null,
      timezone: null,
      author: 'old',
      reason: 'legacy',
      tags: '[]',
      source: 'api',
      external_id: null,
      created_at: t,
      updated_at: t,
      version: 1,
    })
    .returning('id');
  return Number(typeof ret === 'object' ? (ret as { id: number }).id : ret);
}

test('a silence Alertmanager would refuse (a regex RE2 cannot compile) or one that cannot be built is reported; every other downtime is still synced', async () => {
  const now = Math.floor(Date.now() / 1000);
  // Rows accepted before the checks: a lookahead Go's RE2 refuses, and an end no ISO time can hold.
  const re = await legacyRow({ match: '{host=~"fnpc(?!9)"}', start: now - 60, end: now + 3600 });
  const huge = await legacyRow({ match: '{host="fnpc9000"}', start: now - 60, end: 9e15 });
  const good = await post({ match: '{host="fnpc9001"}', start: 'now', end: '+1h' });
  await c.collector.downtimes.syncNow();
  assert.equal((await of(good.id)).length, 1, 'the good downtime got its silence');
  assert.deepEqual([...(await of(re)), ...(await of(huge))], []);
  type Status = { name: string; ok: boolean; failures: number; refused: { key: string; downtime: number; status: number | null; error: string }[] };
  const status = (await api<{ data: Status[] }>(c.url, '/api/v1/downtimes/sync')).body.data[0];
  assert.equal(status.ok, true, 'no back-off for a refused silence');
  assert.equal(status.failures, 0);
  const byId = new Map(status.refused.map((r) => [r.downtime, r]));
  // Selectors compile with RE2 now, so the lookahead is refused before it reaches Alertmanager, naming RE2.
  assert.equal(byId.get(re)?.status, null);
  assert.match(byId.get(re)!.error, /invalid regular expression .*RE2/);
  assert.equal(byId.get(huge)?.status, null);
  assert.match(byId.get(huge)!.error, new RegExp(`downtime #${huge}: no silence can be made`));
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  assert.match(metrics, /rexmon_downtime_sync_refused_total\{target="am1"\} [1-9]/);
  // Through the API such rows cannot be filed any more.
  for (const body of [
    { match: '{host=~"fnpc(?!9)"}', start: 'now', end: '+1h' },
    { match: '{host="x"}', start: 'now', end: 9e15 },
  ]) {
    const r = await api<{ error: { path: string } }>(c.url, '/api/v1/downtimes', {
      method: 'POST',
      body: JSON.stringify({ author: 'a', reason: 'r', kind: 'planned', ...body }),
    });
    assert.equal(r.status, 400);
  }
  await c.collector.downtimes.store.db('downtimes').whereIn('id', [re, huge]).update({ cancelled_at: now });
  await call('DELETE', `/downtimes/${good.id}`);
  await c.collector.downtimes.syncNow();
  assert.deepEqual((await api<{ data: Status[] }>(c.url, '/api/v1/downtimes/sync')).body.data[0].refused, []);
});

test('duplicates of one silence: every collector keeps the one with the smallest id', async () => {
  const x = await post({ match: '{host="fnpc9100"}', start: 'now', end: '+1h' });
  await c.collector.downtimes.syncNow();
  const [orig] = await of(x.id);
  // Two more copies, as two collectors sharing the database would make in a race.
  for (let i = 0; i < 2; i++) {
    const copy = { matchers: orig.matchers, startsAt: orig.startsAt, endsAt: orig.endsAt, createdBy: orig.createdBy, comment: orig.comment };
    const r = await fetch(`${am.url}/api/v2/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(copy) });
    assert.equal(r.status, 200);
  }
  const dups = (await of(x.id)) as unknown as GettableSilence[];
  assert.equal(dups.length, 3);
  const smallest = dups.map((s) => s.id).sort()[0];
  // Two collectors may list them in different orders; both keep the same one.
  const desired = desiredSilences([(await c.collector.downtimes.store.get(x.id))!], Date.now() / 1000, {
    createdBy: 'rexmon',
    lookahead: LOOKAHEAD,
    kinds: ['planned'],
  });
  const forward = planSilences(dups, desired, 'rexmon');
  const backward = planSilences([...dups].reverse(), desired, 'rexmon');
  assert.deepEqual(forward.expire.map((s) => s.id).sort(), backward.expire.map((s) => s.id).sort());
  assert.ok(!forward.expire.some((s) => s.id === smallest));
  await c.collector.downtimes.syncNow();
  assert.deepEqual(
    (await of(x.id)).map((s) => s.id),
    [smallest],
  );
  await call('DELETE', `/downtimes/${x.id}`);
  await c.collector.downtimes.syncNow();
});

test('a rexmon silence edited in Alertmanager (matchers, end; comment kept) is put back', async () => {
  const e = await post({ match: '{host="fnpc9200"}', start: 'now', end: '+1h' });
  await c.collector.downtimes.syncNow();
  const [s] = await of(e.id);
  // What the Alertmanager UI sends when a user edits a silence: the same id and comment, other matchers, a later end.
  const edited = {
    id: s.id,
    matchers: [{ name: 'host', value: 'fnpc9999', isRegex: false, isEqual: true }],
    startsAt: s.startsAt,
    endsAt: new Date(Date.now() + 5 * 3600e3).toISOString(),
    createdBy: s.createdBy,
    comment: s.comment,
  };
  const r = await fetch(`${am.url}/api/v2/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(edited) });
  assert.equal(r.status, 200, await r.text());
  const [changed] = await of(e.id);
  assert.equal(changed.matchers[0].value, 'fnpc9999');
  await c.collector.downtimes.syncNow();
  let now = await of(e.id);
  assert.equal(now.length, 1);
  assert.deepEqual(
    now[0].matchers.map((m) => [m.name, m.value, m.isRegex]),
    [['host', 'fnpc9200', false]],
  );
  assert.equal(Date.parse(now[0].endsAt), e.end! * 1000);
  // Only the end edited.
  const endOnly = { ...edited, id: now[0].id, matchers: now[0].matchers, endsAt: new Date(Date.now() + 9 * 3600e3).toISOString() };
  assert.equal(
    (await fetch(`${am.url}/api/v2/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(endOnly) })).status,
    200,
  );
  await c.collector.downtimes.syncNow();
  now = await of(e.id);
  assert.equal(now.length, 1);
  assert.equal(Date.parse(now[0].endsAt), e.end! * 1000);
  await call('DELETE', `/downtimes/${e.id}`);
  await c.collector.downtimes.syncNow();
});

test('a recurring downtime across the November DST change: silences at 08:00-12:00 Chicago time before and after', async () => {
  // A reconciler of its own with a fixed clock (in the future, so Alertmanager takes the silences)
  // and its own createdBy, so the collector's reconciler leaves its silences alone.
  const tmp = await tempDir();
  const db = await openDb({ client: 'sqlite', filename: path.join(tmp.dir, 'dst.sqlite') });
  const store = new DowntimeStore(db);
  const target = { name: 'am-dst', kind: 'alertmanager' as const, client: new AmClient(am.url, '', {}, 5000), silences: true, muteTimings: false };
  const rec = new Reconciler(
    store,
    [target],
    {
      interval: 3600,
      lookahead: 4 * DAY,
      kinds: ['planned'],
      createdBy: 'rexmon-dst',
      backoffInitial: 1,
      backoffMax: 1,
      clock: () => T('2030-11-01T00:00:00Z'),
    },
    pino({ level: 'silent' }),
  );
  try {
    const who = { actor: 'alice', principal: 'test' };
    const d = await store.create(
      {
        kind: 'planned',
        match: '{service="enstore"}',
        author: 'alice',
        reason: 'tapes',
        start: '2030-10-30T00:00:00Z',
        duration: '4h',
        recurrence: { rule: '0 8 * * *', timezone: 'America/Chicago' },
      },
      who,
      T('2030-10-30T00:00:00Z'),
    );
    await rec.syncNow();
    const mine = (await live()).filter((s) => s.createdBy === 'rexmon-dst');
    const got = mine.map((s) => [/\[rexmon:(\d+:\d+):/.exec(s.comment)![1], new Date(s.startsAt).toISOString(), new Date(s.endsAt).toISOString()]).sort();
    assert.deepEqual(got, [
      [`${d.id}:${T('2030-11-01T13:00:00Z')}`, '2030-11-01T13:00:00.000Z', '2030-11-01T17:00:00.000Z'], // CDT, UTC-5
      [`${d.id}:${T('2030-11-02T13:00:00Z')}`, '2030-11-02T13:00:00.000Z', '2030-11-02T17:00:00.000Z'],
      [`${d.id}:${T('2030-11-03T14:00:00Z')}`, '2030-11-03T14:00:00.000Z', '2030-11-03T18:00:00.000Z'], // CST, UTC-6 from Sunday 3 November
      [`${d.id}:${T('2030-11-04T14:00:00Z')}`, '2030-11-04T14:00:00.000Z', '2030-11-04T18:00:00.000Z'],
    ]);
    await store.cancel(d.id, who, T('2030-10-31T00:00:00Z'));
    await rec.syncNow();
    assert.deepEqual(
      (await live()).filter((s) => s.createdBy === 'rexmon-dst'),
      [],
    );
  } finally {
    await rec.stop();
    await db.destroy();
    await tmp.cleanup();
  }
});

test('an Alertmanager that lost its silences (restart on an empty storage, SIGKILL, a silence deleted by hand) gets them back within seconds; /sync and /metrics say what is there', async () => {
  // An Alertmanager and a collector of their own: this one is wiped and killed. Back-off starts at a
  // minute, so only the short probe can bring the silences back within seconds.
  const am2 = await startAlertmanager();
  const tmp = await tempDir();
  const base = overrides();
  let c2: TestCollector | undefined;
  try {
    c2 = await startCollector(
      { ...base, downtimes: { ...base.downtimes, alertmanagers: [{ url: am2.url, name: 'am2' }], checkInterval: 1, backoff: { initial: 60, max: 300 } } },
      tmp.dir,
    );
    const url = c2.url;
    const { post: post2 } = downtimeApi(() => url);
    // The JSON of /sync is the reconciler's TargetStatus.
    const status = async () => (await api<{ data: TargetStatus[] }>(url, '/api/v1/downtimes/sync')).body.data[0];
    const a = await post2({ match: '{host="fnpc9300"}', start: 'now-1m', end: '+1h' });
    const b = await post2({ match: '{host="fnpc9301"}', start: '+1h', end: '+2h' });
    const keys = [`${a.id}:${a.start}`, `${b.id}:${b.start}`].sort();
    const present = async () => {
      const have = (await am2.silences()).filter((s) => s.status.state !== 'expired' && s.createdBy === 'rexmon');
      return have.map((s) => /\[rexmon:(\d+:\d+):/.exec(s.comment)?.[1]).sort();
    };
    const allBack = async () => JSON.stringify(await present()) === JSON.stringify(keys);
    await c2.collector.downtimes.syncNow();
    assert.deepEqual(await present(), keys);
    const first = await waitFor('the first check', async () => {
      const s = await status();
      return s.startedAt && s.lastCheck ? s : undefined;
    });
    assert.equal(first.ok, true);
    assert.equal(first.expected, 2);
    assert.equal(first.present, 2);

    // (c) A silence deleted by hand comes back within the check interval (1 s here), not the reconcile interval (an hour).
    const [gone] = (await am2.silences()).filter((s) => s.comment.includes(`[rexmon:${a.id}:`));
    assert.equal((await fetch(`${am2.url}/api/v2/silence/${gone.id}`, { method: 'DELETE' })).status, 200);
    let t0 = Date.now();
    await waitFor('the deleted silence to come back', allBack, 2500);
    assert.ok(Date.now() - t0 < 2500);
    assert.match((await status()).lastRepair?.reason ?? '', /1 of 2 silences missing/);

    // (a) Restarted on the same port with an empty storage directory: silences back within 5 s, the restart reported.
    await am2.down();
    await am2.up({ empty: true });
    t0 = Date.now();
    await waitFor('the silences after a restart on an empty storage', allBack, 5000);
    assert.ok(Date.now() - t0 < 5000, `back after ${Date.now() - t0} ms`);
    const restarted = await waitFor('the restart in /sync', async () => {
      const s = await status();
      return s.restarts >= 1 && s.present === 2 ? s : undefined;
    });
    assert.notEqual(restarted.startedAt, first.startedAt);
    assert.equal(restarted.ok, true);
    assert.match(restarted.lastRepair!.reason, /restarted/);

    // (b) SIGKILL: /sync says ok: false with the error while it is down; started again on the same storage
    // a few seconds later, the silences (never snapshotted) are back within 5 s of it answering.
    const killedAt = Date.now() / 1000;
    await am2.kill();
    const down = await waitFor(
      '/sync to report the outage',
      async () => {
        const s = await status();
        return s.ok === false ? s : undefined;
      },
      3000,
    );
    assert.match(down.lastError ?? '', /ECONNREFUSED|fetch failed|connect/);
    const metricsDown = await (await fetch(`${url}/metrics`)).text();
    assert.match(metricsDown, /rexmon_downtime_target_up\{target="am2"\} 0/);
    await new Promise((r) => setTimeout(r, 3000));
    await am2.up();
    t0 = Date.now();
    await waitFor('the silences after a SIGKILL', allBack, 5000);
    assert.ok(Date.now() - t0 < 5000, `back after ${Date.now() - t0} ms`);
    const after = await waitFor('/sync to be in step again', async () => {
      const s = await status();
      return s.ok && s.present === 2 ? s : undefined;
    });
    assert.equal(after.lastError, null);
    assert.ok(after.lastRepair!.at > killedAt);
    assert.match(after.lastRepair!.reason, /^answers again, restarted/);
    assert.ok(after.restarts >= 2);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /rexmon_downtime_target_up\{target="am2"\} 1/);
    assert.match(metrics, /rexmon_downtime_silences\{target="am2",state="expected"\} 2/);
    assert.match(metrics, /rexmon_downtime_silences\{target="am2",state="present"\} 2/);
    assert.match(metrics, /rexmon_downtime_target_restarts_total\{target="am2"\} [2-9]/);
    assert.match(metrics, /rexmon_downtime_last_check_timestamp_seconds\{target="am2"\} \d/);
  } finally {
    await c2?.stop();
    await am2.stop();
    await tmp.cleanup();
  }
});
