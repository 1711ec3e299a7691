import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../model/series.js';
import { parseSelector } from '../matchers/selector.js';
import { annotationToDowntime } from './grafana-import.js';
import { annotationTags, checkFields, couldOverlap, Downtime, occurrences, stateAt } from './model.js';
import { muteTimingFor } from './mute-timings.js';
import { desiredSilences, planSilences } from './reconciler.js';
import { addWallClock, fromWallMs, isTimeZone } from './tz.js';

const T = (iso: string) => Date.parse(iso) / 1000;
const NOW = T('2025-03-01T00:00:00Z');

function dt(fields: Record<string, unknown>, extra: Partial<Downtime> = {}): Downtime {
  const f = checkFields({ kind: 'planned', match: '{host="fnpc3001"}', author: 'alice', reason: 'test', ...fields }, NOW);
  return { ...f, id: 1, triggeredAt: null, endedAt: null, endedBy: null, cancelledAt: null, cancelledBy: null, source: 'api', externalId: null, createdAt: NOW, updatedAt: NOW, version: 1, ...extra };
}

function fails(body: Record<string, unknown>, path: string, re: RegExp) {
  assert.throws(
    () => checkFields({ kind: 'planned', match: '{host="a"}', author: 'alice', reason: 'r', start: NOW, end: NOW + 3600, ...body }, NOW),
    (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.equal(e.path, path, e.message);
      assert.match(e.message, re);
      return true;
    },
  );
}

test('time zones: validity and wall-clock conversion across DST', () => {
  assert.ok(isTimeZone('America/Chicago'));
  assert.ok(isTimeZone('UTC'));
  assert.ok(!isTimeZone('Mars/Olympus_Mons'));
  assert.ok(!isTimeZone(''));
  // 2025-03-09 02:30 does not exist in Chicago: it lands after the gap (03:30 CDT = 08:30Z).
  assert.equal(fromWallMs(Date.UTC(2025, 2, 9, 2, 30), 'America/Chicago'), Date.parse('2025-03-09T08:30:00Z'));
  // 2025-11-02 01:30 happens twice: the first (CDT, 06:30Z).
  assert.equal(fromWallMs(Date.UTC(2025, 10, 2, 1, 30), 'America/Chicago'), Date.parse('2025-11-02T06:30:00Z'));
  // Saturday 22:00 + 8 h is Sunday 06:00 local on both switch nights: 7 h and 9 h of real time.
  assert.equal(addWallClock(T('2025-03-09T04:00:00Z'), 8 * 3600, 'America/Chicago'), T('2025-03-09T11:00:00Z'));
  assert.equal(addWallClock(T('2025-11-02T03:00:00Z'), 8 * 3600, 'America/Chicago'), T('2025-11-02T12:00:00Z'));
});

test('recurring occurrences in America/Chicago stay at 08:00–12:00 local across the March and November switches', () => {
  const d = dt({ start: '2025-02-25T00:00:00Z', duration: '4h', recurrence: { rule: '0 8 * * TUE', timezone: 'America/Chicago' } });
  const march = occurrences(d, T('2025-03-01T00:00:00Z'), T('2025-03-19T00:00:00Z'));
  assert.deepEqual(march, [
    { start: T('2025-03-04T14:00:00Z'), end: T('2025-03-04T18:00:00Z') }, // CST, UTC-6
    { start: T('2025-03-11T13:00:00Z'), end: T('2025-03-11T17:00:00Z') }, // CDT, UTC-5
    { start: T('2025-03-18T13:00:00Z'), end: T('2025-03-18T17:00:00Z') },
  ]);
  const november = occurrences(d, T('2025-10-27T00:00:00Z'), T('2025-11-05T00:00:00Z'));
  assert.deepEqual(november, [
    { start: T('2025-10-28T13:00:00Z'), end: T('2025-10-28T17:00:00Z') }, // CDT
    { start: T('2025-11-04T14:00:00Z'), end: T('2025-11-04T18:00:00Z') }, // CST
  ]);
  // Overnight windows that contain the switch keep their local end (06:00): 7 h in March, 9 h in November.
  const night = dt({ start: '2025-03-01T00:00:00Z', duration: '8h', recurrence: { rule: '0 22 * * SAT', timezone: 'America/Chicago' } });
  assert.deepEqual(occurrences(night, T('2025-03-08T12:00:00Z'), T('2025-03-09T12:00:00Z')), [{ start: T('2025-03-09T04:00:00Z'), end: T('2025-03-09T11:00:00Z') }]);
  assert.deepEqual(occurrences(night, T('2025-11-01T12:00:00Z'), T('2025-11-02T13:00:00Z')), [{ start: T('2025-11-02T03:00:00Z'), end: T('2025-11-02T12:00:00Z') }]);
  // A time skipped by the switch runs once after the gap; a repeated time runs once (the first).
  const gap = dt({ start: '2025-03-07T00:00:00Z', duration: '30m', recurrence: { rule: '30 2 * * *', timezone: 'America/Chicago' } });
  assert.deepEqual(
    occurrences(gap, T('2025-03-08T00:00:00Z'), T('2025-03-11T00:00:00Z')).map((o) => o.start),
    [T('2025-03-08T08:30:00Z'), T('2025-03-09T08:00:00Z'), T('2025-03-10T07:30:00Z')],
  );
  const twice = dt({ start: '2025-10-30T00:00:00Z', duration: '30m', recurrence: { rule: '30 1 * * *', timezone: 'America/Chicago' } });
  assert.deepEqual(
    occurrences(twice, T('2025-11-01T00:00:00Z'), T('2025-11-04T00:00:00Z')).map((o) => o.start),
    [T('2025-11-01T06:30:00Z'), T('2025-11-02T06:30:00Z'), T('2025-11-03T07:30:00Z')],
  );
});

test('recurring series: bounded by start and end, ended early, never stored twice', () => {
  const d = dt({ start: '2025-03-03T00:00:00Z', end: '2025-03-06T00:00:00Z', duration: '1h', recurrence: { rule: '0 12 * * *', timezone: 'UTC' } });
  assert.equal(d.end, T('2025-03-06T00:00:00Z'));
  assert.deepEqual(occurrences(d, T('2025-03-01T00:00:00Z'), T('2025-04-01T00:00:00Z')).map((o) => o.start), [T('2025-03-03T12:00:00Z'), T('2025-03-04T12:00:00Z'), T('2025-03-05T12:00:00Z')]);
  // An occurrence that started before the range but reaches into it is included.
  assert.deepEqual(occurrences(d, T('2025-03-04T12:30:00Z'), T('2025-03-04T13:30:00Z')), [{ start: T('2025-03-04T12:00:00Z'), end: T('2025-03-04T13:00:00Z') }]);
  const ended = { ...d, endedAt: T('2025-03-04T12:30:00Z') };
  assert.deepEqual(occurrences(ended, T('2025-03-01T00:00:00Z'), T('2025-04-01T00:00:00Z')), [
    { start: T('2025-03-03T12:00:00Z'), end: T('2025-03-03T13:00:00Z') },
    { start: T('2025-03-04T12:00:00Z'), end: T('2025-03-04T12:30:00Z') },
  ]);
  assert.equal(stateAt(ended, T('2025-03-04T12:15:00Z')), 'active');
  assert.equal(stateAt(ended, T('2025-03-04T12:45:00Z')), 'ended');
  assert.equal(stateAt(d, T('2025-03-04T14:00:00Z')), 'scheduled');
  assert.equal(stateAt(d, T('2025-03-05T13:00:00Z')), 'ended');
});

test('fixed, open and flexible windows and their states', () => {
  const fixed = dt({ start: NOW + 3600, duration: '2h' });
  assert.equal(fixed.end, NOW + 3 * 3600);
  assert.equal(fixed.duration, null);
  assert.equal(stateAt(fixed, NOW), 'scheduled');
  assert.equal(stateAt(fixed, NOW + 3600), 'active');
  assert.equal(stateAt(fixed, NOW + 3 * 3600), 'ended');
  assert.equal(stateAt({ ...fixed, cancelledAt: NOW }, NOW + 3600), 'cancelled');
  assert.deepEqual(occurrences({ ...fixed, cancelledAt: NOW }, 0, Infinity), []);

  const open = dt({ kind: 'unplanned', start: NOW - 60, end: null });
  assert.equal(stateAt(open, NOW + 1e6), 'active');
  assert.deepEqual(occurrences(open, NOW, NOW + 10), [{ start: NOW - 60, end: null }]);
  assert.deepEqual(occurrences({ ...open, endedAt: NOW }, NOW - 100, NOW + 10), [{ start: NOW - 60, end: NOW }]);

  const flex = dt({ flexible: true, start: NOW, end: NOW + 86400, duration: '2h' });
  assert.equal(stateAt(flex, NOW + 10), 'scheduled');
  assert.deepEqual(occurrences(flex, 0, Infinity), []);
  assert.equal(stateAt(flex, NOW + 86400), 'ended');
  const fired = { ...flex, triggeredAt: NOW + 80000 };
  // Once triggered it lasts its duration, even past the window's end.
  assert.deepEqual(occurrences(fired, 0, Infinity), [{ start: NOW + 80000, end: NOW + 87200 }]);
  assert.equal(stateAt(fired, NOW + 87000), 'active');
});

test('bad input is refused and the error names the field', () => {
  fails({ end: NOW - 10 }, 'end', /end must be after start/);
  fails({ match: '{host="a"' }, 'match', /missing '}'|expected/);
  fails({ match: '{host=~"("}' }, 'match', /invalid regular expression/);
  fails({ match: '{}' }, 'match', /at least one label matcher/);
  fails({ match: '{host!="a"}' }, 'match', /must not match the empty string/);
  fails({ recurrence: { rule: '0 8 * * TUE', timezone: 'America/Chikago' }, duration: '4h' }, 'recurrence.timezone', /unknown time zone "America\/Chikago"/);
  fails({ recurrence: { rule: '0 8 * * TUE' }, duration: '4h' }, 'recurrence.timezone', /required/);
  fails({ recurrence: { rule: '0 8 * * FOO', timezone: 'UTC' }, duration: '4h' }, 'recurrence.rule', /not a cron rule/);
  fails({ recurrence: { rule: '0 8 * *', timezone: 'UTC' }, duration: '4h' }, 'recurrence.rule', /not a cron rule/);
  fails({ recurrence: { rule: '0 0 30 2 *', timezone: 'UTC' }, duration: '4h' }, 'recurrence.rule', /no occurrence/);
  fails({ recurrence: { rule: '0 * * * *', timezone: 'UTC' }, duration: '2h', end: undefined }, 'duration', /overlap/);
  fails({ recurrence: { rule: '0 8 * * *', timezone: 'UTC' }, end: undefined }, 'duration', /required with recurrence/);
  fails({ recurrence: { rule: '0 8 * * *', timezone: 'UTC', every: 1 }, duration: '1h' }, 'recurrence.every', /unknown field/);
  fails({ author: undefined }, 'author', /author is required/);
  fails({ author: '  ' }, 'author', /author is required/);
  fails({ reason: undefined }, 'reason', /reason is required/);
  fails({ kind: 'maybe' }, 'kind', /planned or unplanned/);
  fails({ end: undefined }, 'end', /only an unplanned downtime may stay open/);
  fails({ duration: '2h' }, 'duration', /not both/);
  fails({ duration: 'soon', end: undefined }, 'duration', /not a duration/);
  fails({ start: 'yesterday' }, 'start', /not a time/);
  fails({ flexible: true, duration: undefined }, 'duration', /flexible/);
  fails({ flexible: true, duration: '1h', recurrence: { rule: '0 8 * * *', timezone: 'UTC' } }, 'flexible', /cannot be flexible/);
  fails({ tags: 'x' }, 'tags', /array/);
  fails({ colour: 'red' }, 'colour', /unknown field/);
});

test('PATCH merges onto the stored fields and checks the result as a whole', () => {
  const d = dt({ start: NOW, end: NOW + 3600 });
  assert.equal(checkFields({ end: NOW + 7200 }, NOW, d).end, NOW + 7200);
  assert.equal(checkFields({ duration: '30m' }, NOW, d).end, NOW + 1800);
  assert.equal(checkFields({ reason: 'new' }, NOW, d).end, NOW + 3600);
  assert.throws(() => checkFields({ start: NOW + 7200 }, NOW, d), /end must be after start/);
  assert.throws(() => checkFields({ end: null }, NOW, d), /only an unplanned/);
  assert.equal(checkFields({ kind: 'unplanned', end: null }, NOW, d).end, null);
});

test('scope filters: could a series match both the downtime scope and the filter?', () => {
  const m = (s: string) => parseSelector(s).matchers;
  assert.ok(couldOverlap(m('{host="fnpc3001"}'), m('cpu{host="fnpc3001"}')));
  assert.ok(!couldOverlap(m('{host="fnpc3001"}'), m('{host="fnpc3002"}')));
  assert.ok(couldOverlap(m('{host=~"fnpc.*"}'), m('{host="fnpc3002"}')));
  assert.ok(!couldOverlap(m('{host=~"fnpc.*"}'), m('{host="dcache01"}')));
  assert.ok(couldOverlap(m('{service="dcache"}'), m('{host="fnpc3001"}')));
  assert.ok(!couldOverlap(m('{service=~"enstore|dcache"}'), m('{service="condor"}')));
  assert.ok(!couldOverlap(m('{host="a",service!="x"}'), m('{host="a",service="x"}')));
});

test('annotation tags carry the kind and the scope', () => {
  const d = dt({ match: '{host="fnpc3001",service=~"enstore|dcache"}', start: NOW, end: NOW + 60, tags: ['disk'] });
  assert.deepEqual(annotationTags(d), ['downtime', 'planned', 'host=fnpc3001', 'service=~enstore|dcache', 'disk']);
});

test('silences: one per occurrence within the look-ahead; the plan keeps, updates, creates and expires only rexmon silences', () => {
  const now = T('2025-03-03T10:00:00Z');
  const rec = dt({ start: '2025-03-01T00:00:00Z', duration: '1h', recurrence: { rule: '0 12 * * *', timezone: 'UTC' } }, { id: 7 });
  const want = desiredSilences([rec], now, { createdBy: 'rexmon', lookahead: 2 * 86400, kinds: ['planned'] });
  assert.deepEqual([...want.keys()], [`7:${T('2025-03-03T12:00:00Z')}`, `7:${T('2025-03-04T12:00:00Z')}`]);
  const first = [...want.values()][0];
  assert.deepEqual(first.matchers, [{ name: 'host', value: 'fnpc3001', isRegex: false, isEqual: true }]);
  assert.match(first.comment, /^test — alice \(rexmon downtime #7, occurrence 2025-03-03T12:00:00.000Z\) \[rexmon:7:\d+:[0-9a-f]{12}\]$/);
  assert.equal(desiredSilences([rec], now, { createdBy: 'rexmon', lookahead: 86400, kinds: ['unplanned'] }).size, 0);

  const [a, b] = [...want.values()];
  const have = (s: typeof a, id: string, extra: object = {}) => ({ ...s, id, status: { state: 'active' as const }, ...extra });
  const foreign = { ...a, id: 'f', createdBy: 'bob', status: { state: 'active' as const } };
  const stale = have({ ...b, comment: b.comment.replace(/:[0-9a-f]{12}\]$/, ':000000000000]') }, 's');
  const gone = have({ ...a, comment: '[rexmon:99:1:abcdefabcdef]' }, 'g');
  const dup = have(a, 'd');
  const plan = planSilences([foreign, have(a, 'k'), dup, stale, gone, have(a, 'x', { status: { state: 'expired' } })], want, 'rexmon');
  assert.equal(plan.keep, 1);
  assert.deepEqual(plan.create, []);
  assert.deepEqual(plan.update.map((u) => [u.id, u.silence.key]), [['s', b.key]]);
  assert.deepEqual(plan.expire.map((s) => s.id).sort(), ['d', 'g']);
});

test('mute timings: rules that fit a time interval, and those that do not', () => {
  const mk = (rule: string, duration = '4h') => dt({ start: NOW, duration, recurrence: { rule, timezone: 'America/Chicago' } }, { id: 3 });
  assert.deepEqual(muteTimingFor(mk('0 8 * * TUE'), 'rexmon-downtime-'), {
    name: 'rexmon-downtime-3',
    time_intervals: [{ times: [{ start_time: '08:00', end_time: '12:00' }], weekdays: ['tuesday'], location: 'America/Chicago' }],
  });
  assert.deepEqual(muteTimingFor(mk('30 22 1-5 1,7 *', '90m'), 'p-')!.time_intervals, [{ times: [{ start_time: '22:30', end_time: '24:00' }], days_of_month: ['1:5'], months: ['1', '7'], location: 'America/Chicago' }]);
  assert.deepEqual(muteTimingFor(mk('0 6 * * mon-fri', '1h'), 'p-')!.time_intervals[0].weekdays, ['monday:friday']);
  assert.equal(muteTimingFor(mk('0 22 * * SAT', '8h'), 'p-'), undefined); // crosses midnight
  assert.equal(muteTimingFor(mk('*/30 * * * *', '10m'), 'p-'), undefined); // steps
  assert.equal(muteTimingFor(mk('0 8 1 * MON'), 'p-'), undefined); // cron ORs the day fields
});

test('Grafana annotations become downtime bodies; ones without a scope are skipped', () => {
  const r = annotationToDowntime({ id: 5, time: 1.7e12, timeEnd: 1.7e12 + 3.6e6, text: '<b>Disk</b> swap', tags: ['downtime', 'planned', 'host:fnpc3001', 'disk'], login: 'carol' });
  assert.ok('body' in r);
  assert.deepEqual(r.body, { kind: 'planned', match: '{host="fnpc3001"}', start: 1.7e12, end: 1.7e12 + 3.6e6, author: 'carol', reason: 'Disk swap', tags: ['disk', 'grafana'] });
  assert.ok('skip' in annotationToDowntime({ id: 6, time: 1.7e12, tags: ['downtime'] }));
  assert.ok('skip' in annotationToDowntime({ id: 7, time: 1.7e12, tags: ['downtime', 'planned', 'host=a'] }));
  const open = annotationToDowntime({ id: 8, time: 1.7e12, tags: ['downtime', 'host=a'] });
  assert.ok('body' in open && open.body.kind === 'unplanned' && open.body.end === null);
});
