// The silence reconciler against a real Prometheus Alertmanager: the set of rexmon silences ends equal
// to the set of active and upcoming planned downtime occurrences, through edits, ends, cancels, a
// collector restart and an Alertmanager outage; silences rexmon did not create are never touched.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { alertmanagerAvailable, startAlertmanager, TestAlertmanager } from '../testing/alertmanager.js';
import { downtimeApi } from '../testing/downtimes.js';
import { api, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';
import { Downtime, occurrences } from './model.js';

const LOOKAHEAD = 36 * 3600;
let am: TestAlertmanager;
let c: TestCollector;
let dir: { dir: string; cleanup: () => Promise<void> };

const overrides = () => ({
  rrd: { cached: { mode: 'off' } },
  auth: { anonymousWrite: true },
  downtimes: { alertmanagers: [{ url: am.url, name: 'am1' }], reconcileInterval: 3600, lookahead: LOOKAHEAD, backoff: { initial: 0.2, max: 1 }, triggerInterval: 3600 },
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

/** What the DB says: every planned occurrence active now or starting within the look-ahead. */
async function expectedKeys(): Promise<string[]> {
  const now = Date.now() / 1000;
  const list = (await api<{ data: Downtime[] }>(c.url, '/api/v1/downtimes?kind=planned&state=active,scheduled')).body.data;
  return list.flatMap((d) => occurrences(d, now, now + LOOKAHEAD).map((o) => `${d.id}:${o.start}`)).sort();
}

async function assertInStep(what: string) {
  const have = await rexmonKeys();
  assert.deepEqual([...have.keys()].sort(), await expectedKeys(), `${what}: rexmon silences = active and upcoming planned occurrences`);
  for (const [k, n] of have) assert.equal(n, 1, `${what}: one silence for ${k}, not ${n}`);
}

test('silences follow create, edit, end, cancel, restart and an Alertmanager outage; foreign silences untouched', async () => {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  // Silences made by people: one by another author that even carries a rexmon-like marker, one using
  // rexmon's name but without a marker.
  const foreign = [
    { matchers: [{ name: 'host', value: 'fnpc3001', isRegex: false, isEqual: true }], startsAt: iso(now), endsAt: iso(now + 7200e3), createdBy: 'bob', comment: 'manual [rexmon:1:1:abcdefabcdef]' },
    { matchers: [{ name: 'job', value: 'x', isRegex: false, isEqual: true }], startsAt: iso(now), endsAt: iso(now + 7200e3), createdBy: 'rexmon', comment: 'typed by hand' },
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
  await assertInStep('after create');
  const [aSil] = await of(a.id);
  assert.deepEqual(aSil.matchers.map((m) => [m.name, m.value, m.isRegex, m.isEqual ?? true]), [['host', 'fnpc3001', false, true]]);
  assert.equal(aSil.createdBy, 'rexmon');
  assert.match(aSil.comment, /^disk swap — alice \(rexmon downtime #\d+\)/);
  assert.equal(aSil.status.state, 'active');
  assert.equal(Date.parse(aSil.endsAt), a.end! * 1000);
  const [bSil] = await of(b.id);
  assert.equal(bSil.status.state, 'pending');
  assert.deepEqual(bSil.matchers.map((m) => [m.name, m.value, m.isRegex]), [['service', 'enstore|dcache', true]]);
  assert.deepEqual(await of(u.id), [], 'unplanned downtimes do not silence by default');
  assert.ok((await rexmonKeys()).size >= 3);

  // Edit: scope and end change; the old silence goes, exactly one new one stands.
  await call('PATCH', `/downtimes/${a.id}`, { match: '{host="fnpc3005"}', end: '+2h' });
  await c.collector.downtimes.syncNow();
  await assertInStep('after edit');
  const edited = await of(a.id);
  assert.equal(edited.length, 1, JSON.stringify(edited, null, 1));
  assert.equal(edited[0].matchers[0].value, 'fnpc3005');

  // End early and cancel: their silences expire.
  await call('POST', `/downtimes/${a.id}/end`);
  await call('DELETE', `/downtimes/${b.id}`);
  await c.collector.downtimes.syncNow();
  await assertInStep('after end and cancel');
  assert.deepEqual([...(await of(a.id)), ...(await of(b.id))], []);

  // A silence expired by hand in Alertmanager comes back.
  const [rSil] = await of(r.id);
  await fetch(`${am.url}/api/v2/silence/${rSil.id}`, { method: 'DELETE' });
  await c.collector.downtimes.syncNow();
  await assertInStep('after a manual expiry');

  // Restart the collector: same DB, no duplicates, existing silences kept as they are.
  const idsBefore = (await live()).map((s) => s.id).sort();
  await c.stop();
  c = await startCollector(overrides(), dir.dir);
  await c.collector.downtimes.syncNow();
  await assertInStep('after restart');
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
  await waitFor('the cancelled recurring downtime to lose its silences', async () => ![...(await rexmonKeys()).keys()].some((k) => k.startsWith(`${r.id}:`)), 15000);
  await assertInStep('after the outage');

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
  const h = (await api<{ data: { action: string; principal: string; changes: Record<string, { to: unknown }> }[] }>(c.url, `/api/v1/downtimes/${f1.id}/history`)).body.data;
  assert.equal(h[1].action, 'trigger');
  assert.equal(h[1].principal, 'alerts:am1');
  assert.equal(h[1].changes.alert.to, 'HostDown');
  await c.collector.downtimes.syncNow();
  await assertInStep('after the trigger');
  assert.ok((await rexmonKeys()).has(`${f1.id}:${got.triggeredAt}`));
  // A second poll does not trigger it again.
  assert.deepEqual(await c.collector.downtimes.pollAlerts(), []);
});
