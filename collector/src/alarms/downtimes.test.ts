// Alarms and downtimes against a real collector (real rrdcached, SQLite file, the downtime API): planned downtimes
// mute, and when one ends (ended early, cancelled, window closed) with the problem still there, exactly one
// `downtime-ended` notice goes out at once; unplanned downtimes only annotate unless alarms.unplannedMutes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { downtimeApi } from '../testing/downtimes.js';
import { api, startCollector, TestCollector, waitFor } from '../testing/harness.js';
import { postSamples, RecordingSink } from './testing.js';
import type { AlarmInstance } from './types.js';

const rules = [{ name: 'hot', match: 'temp', critical: 90, steps: 5, summary: '{{ $labels.host }} at {{ $value }}' }];
const nowSec = () => Math.floor(Date.now() / 1000);
const minute = () => Math.floor(nowSec() / 60) * 60;

async function hot(c: TestCollector, hosts: string[]) {
  const t = minute();
  await postSamples(
    c.url,
    hosts.flatMap((host) => [
      { name: 'temp', labels: { host }, value: 95, time: t - 60 },
      { name: 'temp', labels: { host }, value: 96, time: t },
    ]),
  );
}

const byHost = (list: AlarmInstance[]) => Object.fromEntries(list.map((i) => [i.labels.host, i]));

let c: TestCollector;
const sink = new RecordingSink();
const dt = downtimeApi(() => c.url);

before(async () => {
  // No timer in reach: a downtime ended or cancelled through the API must be acted on by the store's change hook.
  c = await startCollector({ auth: { anonymousWrite: true }, alarms: { interval: 3600, downtimeCheckInterval: 3600, rules } }, undefined, { alarmSink: sink });
});
after(async () => {
  await c?.stop();
});

test('planned downtimes mute and, when ended early or cancelled with the problem still there, each gives exactly one downtime-ended notice at once', async () => {
  await hot(c, ['dt1', 'dt3', 'dt4']);
  const now = nowSec();
  const d1 = await dt.post({ match: '{host="dt1"}', start: now - 60, end: now + 3600 });
  const d3 = await dt.post({ match: '{host="dt3"}', start: now - 60, end: now + 3600, kind: 'unplanned', author: 'bob', reason: 'power cut' });
  const d4 = await dt.post({ match: '{host="dt4"}', start: now - 60, end: now + 3600 });
  await c.collector.alarms.evaluate();

  const all = byHost(c.collector.alarms.view.current());
  for (const h of ['dt1', 'dt3', 'dt4']) assert.equal(all[h].state, 'CRITICAL', h);
  assert.deepEqual(all.dt1.downtime, { id: d1.id, kind: 'planned', author: 'alice', reason: 'maintenance', end: now + 3600 });
  assert.equal(all.dt1.muted, true);
  assert.equal(all.dt4.muted, true);
  // Unplanned: shown in downtime, not muted (alarms.unplannedMutes is false by default), so told.
  assert.deepEqual(all.dt3.downtime, { id: d3.id, kind: 'unplanned', author: 'bob', reason: 'power cut', end: now + 3600 });
  assert.equal(all.dt3.muted, false);
  assert.deepEqual(sink.take(), ['hot temp{host="dt3"} OK→CRITICAL change']);

  // The API shows what is in downtime.
  const inDt = await api<{ data: AlarmInstance[] }>(c.url, '/api/v1/alarms?inDowntime=true');
  assert.deepEqual(inDt.body.data.map((i) => i.labels.host).sort(), ['dt1', 'dt3', 'dt4']);
  const muted = await api<{ data: AlarmInstance[] }>(c.url, '/api/v1/alarms?inDowntime=false');
  assert.deepEqual(muted.body.data, []);

  // The change while muted is stored, marked muted, with the downtime.
  const h = await api<{ data: { series: string; to: string; muted: boolean; downtimeId: number | null }[] }>(
    c.url,
    `/api/v1/alarms/history?series=${encodeURIComponent('temp{host="dt1"}')}`,
  );
  assert.deepEqual(
    h.body.data.map((x) => [x.to, x.muted, x.downtimeId]),
    [['CRITICAL', true, d1.id]],
  );

  // Ended early: told at once (the store's change hook), not at the next evaluation (an hour away).
  await dt.call('POST', `/downtimes/${d1.id}/end`);
  const n1 = await waitFor('the downtime-ended notice of dt1', async () => sink.notices.length > 0 && sink.notices, 3000);
  assert.equal(n1.length, 1);
  assert.deepEqual([n1[0].instance.series, n1[0].from, n1[0].to, n1[0].reason], ['temp{host="dt1"}', 'OK', 'CRITICAL', 'downtime-ended']);
  assert.equal(n1[0].instance.muted, false);
  assert.equal(n1[0].instance.downtime, undefined);
  assert.equal(n1[0].instance.summary, 'dt1 at 96');
  sink.take();

  // Cancelled: the same.
  const r = await api(c.url, `/api/v1/downtimes/${d4.id}`, { method: 'DELETE' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitFor('the downtime-ended notice of dt4', async () => sink.notices.length > 0, 3000);
  assert.deepEqual(sink.take(), ['hot temp{host="dt4"} OK→CRITICAL downtime-ended']);

  // Nothing more: not at the next check, not at the next evaluation.
  await c.collector.alarms.checkDowntimes();
  await c.collector.alarms.evaluate();
  assert.deepEqual(sink.take(), []);
  const after = byHost(c.collector.alarms.view.current());
  assert.equal(after.dt1.muted, false);
  assert.equal(after.dt4.downtime, undefined);
  assert.equal(after.dt3.downtime?.id, d3.id);
});

test('a downtime that starts mutes a problem already told; ending it with the problem solved tells the recovery', async () => {
  await hot(c, ['dt5']);
  await c.collector.alarms.evaluate();
  assert.deepEqual(sink.take(), ['hot temp{host="dt5"} OK→CRITICAL change']);
  const now = nowSec();
  const d = await dt.post({ match: '{host="dt5"}', start: now - 1, end: now + 3600 });
  await waitFor('dt5 muted', async () => byHost(c.collector.alarms.view.current()).dt5.muted, 3000);
  // Fixed meanwhile: stored and shown, not told.
  const t = minute() + 60;
  await postSamples(c.url, [{ name: 'temp', labels: { host: 'dt5' }, value: 20, time: t }]);
  await c.collector.alarms.evaluate(t);
  assert.equal(byHost(c.collector.alarms.view.current()).dt5.state, 'OK');
  assert.deepEqual(sink.take(), []);
  await dt.call('POST', `/downtimes/${d.id}/end`);
  await waitFor('the recovery notice of dt5', async () => sink.notices.length > 0, 3000);
  assert.deepEqual(sink.take(), ['hot temp{host="dt5"} CRITICAL→OK change']);
});

test('alarms.unplannedMutes: unplanned downtimes mute too; a firing alarm starts a flexible downtime that mutes it', async () => {
  const sink2 = new RecordingSink();
  const c2 = await startCollector({ auth: { anonymousWrite: true }, alarms: { interval: 3600, unplannedMutes: true, rules } }, undefined, { alarmSink: sink2 });
  try {
    const dt2 = downtimeApi(() => c2.url);
    const now = nowSec();
    const u = await dt2.post({ match: '{host="u1"}', start: now - 60, end: null, kind: 'unplanned' });
    const f = await dt2.post({ match: '{host="f1"}', start: now - 60, end: now + 3600, flexible: true, duration: 600 });
    await hot(c2, ['u1', 'f1', 'plain']);
    await c2.collector.alarms.evaluate();
    const all = byHost(c2.collector.alarms.view.current());
    assert.deepEqual([all.u1.muted, all.u1.downtime?.id, all.u1.downtime?.end], [true, u.id, null]);
    assert.deepEqual([all.f1.muted, all.f1.downtime?.id], [true, f.id]);
    const triggered = await dt2.call('GET', `/downtimes/${f.id}`);
    assert.equal(triggered.state, 'active');
    assert.deepEqual(sink2.take(), ['hot temp{host="plain"} OK→CRITICAL change']);
  } finally {
    await c2.stop();
  }
});

test('a planned window that closes by itself: the short timer (downtimeCheckInterval) tells it within a few seconds', async () => {
  const sink3 = new RecordingSink();
  const c3 = await startCollector({ auth: { anonymousWrite: true }, alarms: { interval: 3600, downtimeCheckInterval: 1, rules } }, undefined, {
    alarmSink: sink3,
  });
  try {
    const now = nowSec();
    const d = await downtimeApi(() => c3.url).post({ match: '{host="dt2"}', start: now - 60, end: now + 3 });
    await hot(c3, ['dt2']);
    await c3.collector.alarms.evaluate();
    assert.equal(byHost(c3.collector.alarms.view.current()).dt2.muted, true);
    assert.deepEqual(sink3.take(), []);
    await waitFor('the downtime-ended notice of dt2', async () => sink3.notices.length > 0, 10000);
    const told = Date.now() / 1000;
    assert.ok(told >= d.end!, 'told only once the window closed');
    assert.ok(told < d.end! + 5, `told within the check interval of the close (${(told - d.end!).toFixed(1)} s after)`);
    assert.deepEqual(sink3.take(), ['hot temp{host="dt2"} OK→CRITICAL downtime-ended']);
    await c3.collector.alarms.evaluate();
    assert.deepEqual(sink3.take(), []);
  } finally {
    await c3.stop();
  }
});
