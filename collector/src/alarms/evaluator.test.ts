// The alarm evaluator against a real collector: real rrdcached and RRD files, a real SQLite file. Values are written
// at known times and each evaluation is run at a chosen time, so the expected states follow from the values alone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, startCollector, TestCollector } from '../testing/harness.js';
import { postSamples, RecordingSink } from './testing.js';
import type { AlarmInstance } from './types.js';

const sink = new RecordingSink();
let c: TestCollector;
// Two hours back, on a minute: every value lies inside the 1-minute RRA and before the clock.
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 7200;
const at = (i: number) => base + 60 * i;

const rules = [
  {
    name: 'disk',
    match: 'disk_used_pct',
    direction: 'above',
    warning: 80,
    critical: 90,
    clear: { warning: 75, critical: 85 },
    for: '2m',
    labels: { team: 'ops' },
    summary: '{{ $labels.host }} disk {{ $value }}% > {{ $bound }} ({{ $state }})',
  },
  { name: 'avg3', match: 'load{host="agg"}', aggregate: 'avg', steps: 3, warning: 25 },
  { name: 'max3', match: 'load{host="agg"}', aggregate: 'max', steps: 3, warning: 25 },
  { name: 'min3', match: 'load{host="agg"}', aggregate: 'min', steps: 3, direction: 'below', warning: 15, critical: 5 },
  { name: 'band', match: 'load{host="agg"}', direction: 'outside', warning: [15, 25], critical: [0, 100] },
  { name: 'gone', match: 'heartbeat', warning: 1000, missing: { criticalAfter: '5m' } },
  { name: 'rep', match: 'pressure', critical: 90, repeatInterval: '5m' },
];

before(async () => {
  c = await startCollector({ auth: { anonymousWrite: true }, alarms: { interval: 3600, rules } }, undefined, { alarmSink: sink });
});
after(async () => {
  await c?.stop();
});

const current = (rule: string) => c.collector.alarms.view.current({ rule });
const one = (rule: string): AlarmInstance => {
  const list = current(rule);
  assert.equal(list.length, 1, JSON.stringify(list));
  return list[0];
};

test('a value sequence crossing warning and critical, with `for` and hysteresis, gives exactly the expected states and notices', async () => {
  const values = [50, 82, 83, 84, 78, 92, 88, 91, 86, 84, 76, 74, 81, 70, 81, 82];
  const expect = ['OK', 'OK', 'OK', 'WARNING', 'WARNING', 'WARNING', 'WARNING', 'CRITICAL', 'CRITICAL', 'WARNING', 'WARNING', 'OK', 'OK', 'OK', 'OK', 'OK'];
  await postSamples(
    c.url,
    values.map((v, i) => ({ name: 'disk_used_pct', labels: { host: 'fnpc1', mount: '/' }, value: v, time: at(i + 1) })),
  );
  const seen: string[] = [];
  const notices: string[] = [];
  for (let i = 0; i < values.length; i++) {
    await c.collector.alarms.evaluate(at(i + 1));
    const inst = one('disk');
    assert.equal(inst.value, values[i], `value at step ${i + 1}`);
    seen.push(inst.state);
    if (i + 1 === 8) assert.equal(inst.summary, 'fnpc1 disk 91% > 90 (CRITICAL)');
    notices.push(...sink.take('disk').map((n) => `${i + 1}: ${n}`));
  }
  assert.deepEqual(seen, expect);
  const s = 'disk disk_used_pct{host="fnpc1",mount="/"}';
  assert.deepEqual(notices, [`4: ${s} OK→WARNING change`, `8: ${s} WARNING→CRITICAL change`, `10: ${s} CRITICAL→WARNING change`, `12: ${s} WARNING→OK change`]);

  const inst = one('disk');
  assert.deepEqual(inst.labels, { host: 'fnpc1', mount: '/', team: 'ops' });
  assert.equal(inst.since, at(12));
  assert.equal(inst.evaluatedAt, at(16));
  assert.equal(inst.muted, false);
  assert.equal(inst.downtime, undefined);

  // The history holds every change with its value and bound, newest first.
  const h = await api<{ data: { at: number; from: string; to: string; value: number; bound: number }[]; truncated: boolean }>(
    c.url,
    '/api/v1/alarms/history?rule=disk',
  );
  assert.equal(h.status, 200);
  assert.deepEqual(
    h.body.data.map((x) => [x.at, x.from, x.to, x.value, x.bound]),
    [
      [at(12), 'WARNING', 'OK', 74, 75],
      [at(10), 'CRITICAL', 'WARNING', 84, 80],
      [at(8), 'WARNING', 'CRITICAL', 91, 90],
      [at(4), 'OK', 'WARNING', 84, 80],
    ],
  );
  assert.equal(h.body.truncated, false);
});

test('aggregations over the last N steps: avg, max, min; and a range (outside)', async () => {
  await postSamples(
    c.url,
    [10, 20, 30].map((v, i) => ({ name: 'load', labels: { host: 'agg' }, value: v, time: at(i + 1) })),
  );
  await c.collector.alarms.evaluate(at(3));
  assert.deepEqual([one('avg3').value, one('avg3').state], [20, 'OK']);
  assert.deepEqual([one('max3').value, one('max3').state, one('max3').bound], [30, 'WARNING', 25]);
  assert.deepEqual([one('min3').value, one('min3').state, one('min3').bound], [10, 'WARNING', 15]);
  // The last value, 30, is outside [15, 25]: WARNING on the upper side; inside [0, 100], so not CRITICAL.
  assert.deepEqual([one('band').value, one('band').state, one('band').bound], [30, 'WARNING', 25]);
  assert.deepEqual(sink.take('max3'), ['max3 load{host="agg"} OK→WARNING change']);
});

test('missing data: UNKNOWN, then CRITICAL once it has lasted missing.criticalAfter ("host stopped reporting"), OK when data is back', async () => {
  await postSamples(
    c.url,
    [1, 2, 3].map((v, i) => ({ name: 'heartbeat', labels: { host: 'quiet' }, value: v, time: at(i + 1) })),
  );
  const states: string[] = [];
  // The interval just closed may still get a late value: at(4) still judges at(3)'s value.
  for (const i of [3, 4, 5, 6, 7, 8, 9]) {
    await c.collector.alarms.evaluate(at(i));
    states.push(`${i}:${one('gone').state}`);
  }
  // Data stopped after at(3): missing from at(5) on (criticalAfter counted from the last value, at(3)).
  assert.deepEqual(states, ['3:OK', '4:OK', '5:UNKNOWN', '6:UNKNOWN', '7:UNKNOWN', '8:CRITICAL', '9:CRITICAL']);
  assert.equal(one('gone').value, null);
  assert.equal(one('gone').bound, null);
  await postSamples(c.url, [{ name: 'heartbeat', labels: { host: 'quiet' }, value: 4, time: at(10) }]);
  await c.collector.alarms.evaluate(at(10));
  assert.equal(one('gone').state, 'OK');
  const s = 'gone heartbeat{host="quiet"}';
  assert.deepEqual(sink.take('gone'), [`${s} OK→UNKNOWN change`, `${s} UNKNOWN→CRITICAL change`, `${s} CRITICAL→OK change`]);
});

test('an unresolved CRITICAL is told again every repeatInterval, not in between', async () => {
  await postSamples(
    c.url,
    [95, 95, 95, 95, 95, 95, 95, 95, 95, 95, 95, 95].map((v, i) => ({ name: 'pressure', labels: { line: 'p1' }, value: v, time: at(i + 1) })),
  );
  const told: string[] = [];
  for (let i = 1; i <= 12; i++) {
    await c.collector.alarms.evaluate(at(i));
    told.push(...sink.take('rep').map((n) => `${i}: ${n.split(' ').slice(2).join(' ')}`));
  }
  assert.deepEqual(told, ['1: OK→CRITICAL change', '6: CRITICAL→CRITICAL repeat', '11: CRITICAL→CRITICAL repeat']);
});
