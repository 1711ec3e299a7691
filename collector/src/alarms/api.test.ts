// /api/v1/alarms, /alarms/rules, /alarms/history and the alarm figures in /metrics, against a real collector:
// filters, every bad parameter a 400 naming it, read auth.
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { parseSelector } from '../matchers/selector.js';
import { api, startCollector, TestCollector } from '../testing/harness.js';
import { RecordingSink } from './testing.js';
import type { AlarmInstance } from './types.js';

const rules = [
  { name: 'disk', match: 'disk_pct', warning: 80, critical: 90, steps: 5, labels: { team: 'ops' }, for: '1m' },
  { name: 'cold', match: 'temp', direction: 'below', warning: 10, steps: 5, repeatInterval: '1h' },
  // Its RRD file is removed below: every evaluation of it fails.
  { name: 'broken', match: 'vanished', warning: 1 },
];
let c: TestCollector;
let viewer = '';
let editor = '';
const minute = Math.floor(Date.now() / 1000 / 60) * 60;

before(async () => {
  c = await startCollector(
    {
      auth: { anonymousRead: false },
      alarms: { interval: 3600, rules },
    },
    undefined,
    { alarmSink: new RecordingSink() },
  );
  viewer = await createToken(c.collector.db, 'viewer', 'viewer');
  editor = await createToken(c.collector.db, 'editor', 'editor');
  const samples = [];
  for (const [host, v] of [
    ['a', 95],
    ['b', 85],
    ['c', 10],
  ] as const)
    for (const t of [minute - 60, minute]) samples.push({ name: 'disk_pct', labels: { host }, value: v, time: t });
  for (const t of [minute - 60, minute]) {
    samples.push({ name: 'temp', labels: { host: 'a' }, value: 5, time: t });
    samples.push({ name: 'vanished', labels: {}, value: 5, time: t });
  }
  const r = await api(c.url, '/api/v1/samples', { method: 'POST', token: editor, body: JSON.stringify(samples) });
  assert.equal(r.status, 202);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor });
  await unlink(c.collector.catalog.find([parseSelector('vanished')])[0].file);
  // `for: 1m`: the disk instances go bad only once that has passed.
  await c.collector.alarms.evaluate(minute);
  await c.collector.alarms.evaluate(minute + 60);
});
after(async () => {
  await c?.stop();
});

const get = <T = { data: AlarmInstance[] }>(q: string, token = viewer) => api<T>(c.url, `/api/v1/alarms${q}`, { token });
const hosts = async (q: string) => {
  const r = await get(q);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.map((i) => `${i.rule}:${i.labels.host ?? ''}:${i.state}`);
};

test('reads need a token (anonymousRead off)', async () => {
  for (const p of ['', '/rules', '/history']) {
    const r = await get(p, '');
    assert.equal(r.status, 401, p);
    assert.equal(r.body.error?.path, 'Authorization');
  }
});

test('GET /alarms/rules lists the rules with their defaults, durations in seconds', async () => {
  const r = await get<{ data: Record<string, unknown>[] }>('/rules');
  assert.equal(r.status, 200);
  assert.deepEqual(
    r.body.data.map((x) => x.name),
    ['disk', 'cold', 'broken'],
  );
  const disk = r.body.data[0];
  assert.equal(disk.for, 60);
  assert.equal(disk.repeatInterval, 14400);
  assert.equal(disk.aggregate, 'last');
  assert.equal(disk.direction, 'above');
  assert.deepEqual(disk.labels, { team: 'ops' });
  assert.equal(r.body.data[1].repeatInterval, 3600);
});

test('GET /alarms: every instance, and filters by state, rule, match (rule labels too) and inDowntime', async () => {
  assert.deepEqual(await hosts(''), ['disk:a:CRITICAL', 'disk:b:WARNING', 'disk:c:OK', 'cold:a:WARNING']);
  assert.deepEqual(await hosts('?state=critical,WARNING'), ['disk:a:CRITICAL', 'disk:b:WARNING', 'cold:a:WARNING']);
  assert.deepEqual(await hosts('?state=OK&state=CRITICAL'), ['disk:a:CRITICAL', 'disk:c:OK']);
  assert.deepEqual(await hosts('?rule=cold'), ['cold:a:WARNING']);
  assert.deepEqual(await hosts(`?match=${encodeURIComponent('{host="a"}')}`), ['disk:a:CRITICAL', 'cold:a:WARNING']);
  assert.deepEqual(await hosts(`?match=${encodeURIComponent('{team="ops",host=~"a|b"}')}`), ['disk:a:CRITICAL', 'disk:b:WARNING']);
  assert.deepEqual(await hosts('?inDowntime=true'), []);
  assert.equal((await hosts('?inDowntime=false')).length, 4);
  const lim = await get<{ data: AlarmInstance[]; total: number; truncated: boolean }>('?limit=2');
  assert.deepEqual([lim.body.data.length, lim.body.total, lim.body.truncated], [2, 4, true]);
  const r = await get<{ data: AlarmInstance[]; total: number; truncated: boolean }>('?rule=disk&state=CRITICAL');
  assert.deepEqual([r.body.total, r.body.truncated], [1, false]);
  const a = r.body.data[0];
  assert.deepEqual(
    { ...a, summary: undefined },
    {
      rule: 'disk',
      series: 'disk_pct{host="a"}',
      name: 'disk_pct',
      labels: { host: 'a', team: 'ops' },
      state: 'CRITICAL',
      value: 95,
      bound: 90,
      since: minute + 60,
      evaluatedAt: minute + 60,
      summary: undefined,
      muted: false,
    },
  );
  assert.equal(a.summary, 'disk CRITICAL: disk_pct{host="a"} = 95 (bound 90)');
});

test('GET /alarms: a bad filter is a 400 naming it', async () => {
  const cases: [string, string, RegExp][] = [
    ['?state=BROKEN', 'state', /not one of OK, WARNING, CRITICAL, UNKNOWN/],
    ['?rule=nope', 'rule', /no rule named "nope"; configured: disk, cold, broken/],
    [`?match=${encodeURIComponent('{host=')}`, 'match', /./],
    ['?inDowntime=maybe', 'inDowntime', /true or false/],
    ['?rule=disk&rule=cold', 'rule', /given 2 times/],
    ['?limit=0', 'limit', /integer from 1 to 100000/],
  ];
  for (const [q, path, msg] of cases) {
    const r = await get(q);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error?.path, path, q);
    assert.match(r.body.error!.message, msg, q);
  }
});

test('GET /alarms/history: by rule, series, time range and limit; bad parameters are 400s naming them', async () => {
  type H = { data: { at: number; rule: string; series: string; from: string; to: string; value: number; bound: number }[]; truncated: boolean };
  const all = await get<H>('/history');
  assert.equal(all.status, 200);
  assert.deepEqual(
    all.body.data.map((x) => `${x.at - minute} ${x.rule} ${x.series} ${x.from}→${x.to}`).sort(),
    ['0 cold temp{host="a"} OK→WARNING', '60 disk disk_pct{host="a"} OK→CRITICAL', '60 disk disk_pct{host="b"} OK→WARNING'].sort(),
  );
  const one = await get<H>(`/history?series=${encodeURIComponent('disk_pct{host="b"}')}`);
  assert.deepEqual(
    one.body.data.map((x) => [x.to, x.value, x.bound]),
    [['WARNING', 85, 80]],
  );
  assert.equal((await get<H>('/history?rule=cold')).body.data.length, 1);
  assert.equal((await get<H>(`/history?from=${minute + 1}`)).body.data.length, 2);
  assert.equal((await get<H>(`/history?to=${minute + 1}`)).body.data.length, 1);
  const lim = await get<H>('/history?limit=1');
  assert.equal(lim.body.data.length, 1);
  assert.equal(lim.body.truncated, true);
  for (const [q, path] of [
    ['?limit=0', 'limit'],
    ['?from=yesterday-ish', 'from'],
    [`?from=${minute}&to=${minute - 10}`, 'to'],
    ['?rule=nope', 'rule'],
  ]) {
    const r = await get(`/history${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error?.path, path, q);
  }
});

test('/metrics: instances by rule and state, evaluation time, evaluation errors', async () => {
  const r = await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
  const text = await r.text();
  assert.match(text, /^rexmon_alarm_instances\{rule="disk",state="CRITICAL"\} 1$/m);
  assert.match(text, /^rexmon_alarm_instances\{rule="disk",state="WARNING"\} 1$/m);
  assert.match(text, /^rexmon_alarm_instances\{rule="disk",state="OK"\} 1$/m);
  assert.match(text, /^rexmon_alarm_instances\{rule="cold",state="WARNING"\} 1$/m);
  assert.match(text, /^rexmon_alarm_evaluation_seconds_count\{rule="disk"\} [1-9]/m);
  // Two evaluations of `broken` failed (its file is gone); the other rules still evaluated.
  assert.match(text, /^rexmon_alarm_evaluation_errors_total\{rule="broken"\} 2$/m);
  assert.match(text, /^rexmon_alarm_evaluation_errors_total\{rule="disk"\} 0$/m);
  assert.match(text, /^rexmon_alarm_notices_total\{reason="change"\} 3$/m);
});
