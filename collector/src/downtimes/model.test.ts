import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../model/series.js';
import { parseSelector } from '../matchers/selector.js';
import { annotationToDowntime } from './grafana-import.js';
import { annotationTags, checkFields, couldOverlap, covers, Downtime, MAX_OCCURRENCES, occurrenceList, occurrences, scopeOf, stateAt } from './model.js';
import { muteTimingFor } from './mute-timings.js';
import { desiredSilences, planSilences } from './reconciler.js';
import { addWallClock, fromWallMs, isTimeZone } from './tz.js';

const T = (iso: string) => Date.parse(iso) / 1000;
const NOW = T('2025-03-01T00:00:00Z');

function dt(fields: Record<string, unknown>, extra: Partial<Downtime> = {}): Downtime {
  const f = checkFields({ kind: 'planned', match: '{host="fnpc3001"}', author: 'alice', reason: 'test', ...fields }, NOW);
  return {
    ...f,
    id: 1,
    triggeredAt: null,
    endedAt: null,
    endedBy: null,
    cancelledAt: null,
    cancelledBy: null,
    source: 'api',
    externalId: null,
    createdAt: NOW,
    updatedAt: NOW,
    version: 1,
    ...extra,
  };
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
  assert.deepEqual(occurrences(night, T('2025-03-08T12:00:00Z'), T('2025-03-09T12:00:00Z')), [
    { start: T('2025-03-09T04:00:00Z'), end: T('2025-03-09T11:00:00Z') },
  ]);
  assert.deepEqual(occurrences(night, T('2025-11-01T12:00:00Z'), T('2025-11-02T13:00:00Z')), [
    { start: T('2025-11-02T03:00:00Z'), end: T('2025-11-02T12:00:00Z') },
  ]);
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
  assert.deepEqual(
    occurrences(d, T('2025-03-01T00:00:00Z'), T('2025-04-01T00:00:00Z')).map((o) => o.start),
    [T('2025-03-03T12:00:00Z'), T('2025-03-04T12:00:00Z'), T('2025-03-05T12:00:00Z')],
  );
  // An occurrence that started before the range but reaches into it is included.
  assert.deepEqual(occurrences(d, T('2025-03-04T12:30:00Z'), T('2025-03-04T13:30:00Z')), [
    { start: T('2025-03-04T12:00:00Z'), end: T('2025-03-04T13:00:00Z') },
  ]);
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
  assert.match(first.comment, /^test — alice \(rexmon downtime #7, occurrence 2025-03-03T12:00:00Z\) \[rexmon:7:\d+:[0-9a-f]{12}\]$/);
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
  assert.deepEqual(
    plan.update.map((u) => [u.id, u.silence.key]),
    [['s', b.key]],
  );
  // Of the duplicates k and d, the smaller id (d) stays.
  assert.deepEqual(plan.expire.map((s) => s.id).sort(), ['g', 'k']);
});

test('mute timings: rules that fit a time interval, and those that do not', () => {
  const mk = (rule: string, duration = '4h') => dt({ start: NOW, duration, recurrence: { rule, timezone: 'America/Chicago' } }, { id: 3 });
  assert.deepEqual(muteTimingFor(mk('0 8 * * TUE'), 'rexmon-downtime-'), {
    name: 'rexmon-downtime-3',
    time_intervals: [{ times: [{ start_time: '08:00', end_time: '12:00' }], weekdays: ['tuesday'], location: 'America/Chicago' }],
  });
  assert.deepEqual(muteTimingFor(mk('30 22 1-5 1,7 *', '90m'), 'p-')!.time_intervals, [
    { times: [{ start_time: '22:30', end_time: '24:00' }], days_of_month: ['1:5'], months: ['1', '7'], location: 'America/Chicago' },
  ]);
  assert.deepEqual(muteTimingFor(mk('0 6 * * mon-fri', '1h'), 'p-')!.time_intervals[0].weekdays, ['monday:friday']);
  assert.equal(muteTimingFor(mk('0 22 * * SAT', '8h'), 'p-'), undefined); // crosses midnight
  assert.equal(muteTimingFor(mk('0 */2 * * *', '10m'), 'p-'), undefined); // steps
  assert.equal(muteTimingFor(mk('0 8 1 * MON'), 'p-'), undefined); // cron ORs the day fields
});

test('Grafana annotations become downtime bodies; ones without a scope are skipped', () => {
  const r = annotationToDowntime({
    id: 5,
    time: 1.7e12,
    timeEnd: 1.7e12 + 3.6e6,
    text: '<b>Disk</b> swap',
    tags: ['downtime', 'planned', 'host:fnpc3001', 'disk'],
    login: 'carol',
  });
  assert.ok('body' in r);
  assert.deepEqual(r.body, {
    kind: 'planned',
    match: '{host="fnpc3001"}',
    start: 1.7e12,
    end: 1.7e12 + 3.6e6,
    author: 'carol',
    reason: 'Disk swap',
    tags: ['disk', 'grafana'],
  });
  assert.ok('skip' in annotationToDowntime({ id: 6, time: 1.7e12, tags: ['downtime'] }));
  assert.ok('skip' in annotationToDowntime({ id: 7, time: 1.7e12, tags: ['downtime', 'planned', 'host=a'] }));
  const open = annotationToDowntime({ id: 8, time: 1.7e12, tags: ['downtime', 'host=a'] });
  assert.ok('body' in open && open.body.kind === 'unplanned' && open.body.end === null);
});

test('an occurrence starting in the second pass of the repeated hour ends after it starts (fall back)', () => {
  // 01:00 CST (07:00Z) + 10 min is 01:10 CST (07:10Z), not 01:10 CDT (06:10Z, before the start).
  assert.equal(addWallClock(T('2025-11-02T07:00:00Z'), 600, 'America/Chicago'), T('2025-11-02T07:10:00Z'));
  assert.equal(addWallClock(T('2025-11-02T06:00:00Z'), 600, 'America/Chicago'), T('2025-11-02T06:10:00Z'));
  assert.equal(fromWallMs(Date.UTC(2025, 10, 2, 1, 30), 'America/Chicago', Date.parse('2025-11-02T06:45:00Z')), Date.parse('2025-11-02T07:30:00Z'));
  const d = dt({ start: '2025-11-01T00:00:00Z', duration: '30m', recurrence: { rule: '0 * * * *', timezone: 'America/Chicago' } });
  assert.deepEqual(occurrences(d, T('2025-11-02T05:00:00Z'), T('2025-11-02T09:00:00Z')), [
    { start: T('2025-11-02T05:00:00Z'), end: T('2025-11-02T05:30:00Z') }, // 00:00 CDT
    { start: T('2025-11-02T06:00:00Z'), end: T('2025-11-02T06:30:00Z') }, // 01:00 CDT
    { start: T('2025-11-02T07:00:00Z'), end: T('2025-11-02T07:30:00Z') }, // 01:00 CST
    { start: T('2025-11-02T08:00:00Z'), end: T('2025-11-02T08:30:00Z') }, // 02:00 CST
  ]);
  assert.deepEqual(occurrences(d, T('2025-11-02T07:00:00Z'), T('2025-11-02T07:45:00Z')), [
    { start: T('2025-11-02T07:00:00Z'), end: T('2025-11-02T07:30:00Z') },
  ]);
});

test('hourly for an hour in America/Chicago: accepted whatever the filing day; occurrences cut at the next start across DST', () => {
  const body = (start: string) => ({ start, duration: '1h', recurrence: { rule: '0 * * * *', timezone: 'America/Chicago' } });
  for (const day of ['2025-11-01T12:00:00Z', '2025-06-01T00:00:00Z', '2025-03-08T12:00:00Z', '2025-10-31T00:00:00Z'])
    assert.doesNotThrow(() => dt(body(day)), day);
  for (const day of ['2025-11-01T12:00:00Z', '2025-06-01T00:00:00Z']) fails({ ...body(day), duration: '61m', end: undefined }, 'duration', /overlap/);
  const d = dt(body('2025-11-01T12:00:00Z'));
  assert.deepEqual(occurrences(d, T('2025-11-02T05:00:00Z'), T('2025-11-02T09:00:00Z')), [
    { start: T('2025-11-02T05:00:00Z'), end: T('2025-11-02T06:00:00Z') },
    { start: T('2025-11-02T06:00:00Z'), end: T('2025-11-02T07:00:00Z') }, // 01:00 CDT + 1 h wall clock is 02:00 CST (08:00Z): cut at the next run
    { start: T('2025-11-02T07:00:00Z'), end: T('2025-11-02T08:00:00Z') },
    { start: T('2025-11-02T08:00:00Z'), end: T('2025-11-02T09:00:00Z') },
  ]);
  // Spring forward: 01:00 CST + 1 h is 03:00 CDT (08:00Z), where the next run (03:00 CDT) starts.
  assert.deepEqual(occurrences(d, T('2026-03-08T06:00:00Z'), T('2026-03-08T09:00:00Z')), [
    { start: T('2026-03-08T06:00:00Z'), end: T('2026-03-08T07:00:00Z') },
    { start: T('2026-03-08T07:00:00Z'), end: T('2026-03-08T08:00:00Z') },
    { start: T('2026-03-08T08:00:00Z'), end: T('2026-03-08T09:00:00Z') },
  ]);
  // A weekly rule whose runs are a week apart takes any duration up to a week.
  assert.doesNotThrow(() => dt({ start: NOW, duration: '7d', recurrence: { rule: '0 8 * * TUE', timezone: 'America/Chicago' } }));
  fails({ start: NOW, duration: '169h', end: undefined, recurrence: { rule: '0 8 * * TUE', timezone: 'America/Chicago' } }, 'duration', /overlap/);
  // Day fields ORed: the 1st and Mondays may be a day apart.
  fails({ start: NOW, duration: '25h', end: undefined, recurrence: { rule: '0 8 1 * MON', timezone: 'UTC' } }, 'duration', /overlap/);
});

test('times, durations and scopes a target cannot take are refused, naming the field', () => {
  fails({ duration: '1000000y', end: undefined }, 'duration', /at most 10 years/);
  fails({ duration: 2 ** 31 + 1, end: undefined }, 'duration', /at most 10 years/);
  fails({ end: 9e15 }, 'end', /9999/);
  fails({ end: '+20000y' }, 'end', /9999/);
  fails({ start: 9e15, end: undefined, duration: '1h' }, 'start', /9999/);
  fails({ start: '9999-12-31T23:00:00Z', end: undefined, duration: '2h' }, 'duration', /9999/);
  fails({ duration: '11y', end: undefined, recurrence: { rule: '0 0 1 1 *', timezone: 'UTC' } }, 'duration', /at most 10 years/);
  assert.equal(dt({ start: NOW, duration: 10 * 36525 * 864 }).end, NOW + 10 * 36525 * 864);
  for (const re of ['a(?!x)', '(?=a)a', '(?<=a)b', '(?<!a)b', '(a)\\\\1', '(?<n>a)\\\\k<n>', '(?<n>a)', '\\\\u0041', '\\\\cA', '[^]'])
    fails({ match: `{host="a",svc=~"${re}"}` }, 'match', /Alertmanager \(Go RE2\) cannot compile|RE2 \(.*\) cannot compile/);
  for (const re of ['a|b', '[a-z]+\\\\d', '(?:ab)+', '[\\\\]a]', 'a\\\\(b', 'x{2,3}', '\\\\x41'])
    assert.doesNotThrow(() => dt({ match: `{host="a",svc=~"${re}"}`, start: NOW, end: NOW + 60 }), re);
});

test('a scope with a metric name or __name__ is refused: alerts carry no metric name', () => {
  fails({ match: 'cpu{host="a"}' }, 'match', /cannot name a metric/);
  fails({ match: '{__name__="cpu",host="a"}' }, 'match', /cannot name a metric/);
  fails({ match: '{__name__=~"cpu.*",host="a"}' }, 'match', /cannot name a metric/);
});

test('recurring rules must run at least an hour apart; long ranges report truncation', () => {
  fails({ duration: '1m', end: undefined, recurrence: { rule: '* * * * *', timezone: 'UTC' } }, 'recurrence.rule', /at least 1 h apart/);
  fails({ duration: '10m', end: undefined, recurrence: { rule: '*/15 * * * *', timezone: 'America/Chicago' } }, 'recurrence.rule', /15 min apart/);
  fails({ duration: '10m', end: undefined, recurrence: { rule: '0,30 8 * * *', timezone: 'UTC' } }, 'recurrence.rule', /30 min apart/);
  assert.doesNotThrow(() => dt({ start: NOW, duration: '10m', recurrence: { rule: '@hourly', timezone: 'UTC' } }));
  const hourly = dt({ start: '2025-01-01T00:00:00Z', duration: '10m', recurrence: { rule: '0 * * * *', timezone: 'UTC' } });
  const r = occurrenceList(hourly, T('2025-01-01T00:00:00Z'), T('2026-01-01T00:00:00Z'), 100);
  assert.equal(r.list.length, 100);
  assert.equal(r.truncated, true);
  const all = occurrenceList(hourly, T('2025-01-01T00:00:00Z'), T('2025-01-02T00:00:00Z'), 100);
  assert.deepEqual([all.list.length, all.truncated], [24, false]);
  assert.ok(occurrenceList(hourly, T('2025-01-01T00:00:00Z'), T('2027-01-01T00:00:00Z')).truncated, `more than ${MAX_OCCURRENCES} in two years`);
  assert.deepEqual(occurrences(hourly, T('2025-06-01T00:30:00Z'), Infinity, 1), [{ start: T('2025-06-01T01:00:00Z'), end: T('2025-06-01T01:10:00Z') }]);
});

test('POST takes no version; end: null with a duration is refused, not turned into a fixed end', () => {
  fails({ version: 1 }, 'version', /only an edit \(PATCH\) takes a version/);
  fails({ end: null, duration: '2h', kind: 'unplanned' }, 'duration', /not both.*end: null asks for an open end/);
  const d = dt({ start: NOW, end: NOW + 3600 });
  assert.equal(checkFields({ reason: 'x', version: 1 }, NOW, d).reason, 'x');
  assert.throws(() => checkFields({ kind: 'unplanned', end: null, duration: '2h' }, NOW, d), /not both/);
});

test('Grafana tags: only name:value or name=value with a label name and a value without whitespace are labels', () => {
  const r = annotationToDowntime({
    id: 9,
    time: 1.7e12,
    timeEnd: 1.7e12 + 1,
    tags: ['downtime', 'host:fnpc3001', 'http://wiki/x', 'note: foo', 'rack = 12', 'a b:c', '__name__:cpu', 'dc=fcc2', 'url:https://x'],
  });
  assert.ok('body' in r);
  assert.equal(r.body.match, '{host="fnpc3001",dc="fcc2"}');
  assert.deepEqual(r.body.tags, ['http://wiki/x', 'note: foo', 'rack = 12', 'a b:c', '__name__:cpu', 'url:https://x', 'grafana']);
  assert.ok('skip' in annotationToDowntime({ id: 10, time: 1.7e12, tags: ['downtime', 'http://x', 'note: foo'] }));
  // Quotes and backslashes in a value are escaped by the selector formatter.
  const q = annotationToDowntime({ id: 11, time: 1.7e12, tags: ['downtime', 'job:a"b\\c'] });
  assert.ok('body' in q && q.body.match === '{job="a\\"b\\\\c"}');
  assert.equal(
    checkFields({ kind: 'unplanned', match: (q as { body: { match: string } }).body.match, author: 'a', reason: 'r', start: NOW, end: null }, NOW).match,
    '{job="a\\"b\\\\c"}',
  );
});

test('a downtime scope is parsed once per downtime; covers() and the tags reuse it', () => {
  const d = dt({ match: '{host=~"fnpc.*",rack="12"}', start: NOW, end: NOW + 60 });
  const s = scopeOf(d);
  assert.equal(scopeOf(d), s);
  assert.ok(covers(d, 'cpu', { host: 'fnpc1', rack: '12' }));
  assert.equal(scopeOf(d), s);
  annotationTags(d);
  assert.equal(scopeOf(d).matchers[0].re, s.matchers[0].re);
  // A changed scope is parsed again.
  d.match = '{host="x"}';
  assert.deepEqual(
    scopeOf(d).matchers.map((m) => m.value),
    ['x'],
  );
});

test('silence plan: duplicates keep the smallest id whatever the order; edited matchers or end are put back; unbuildable rows are reported', () => {
  const now = T('2025-03-03T10:00:00Z');
  const d = dt({ start: '2025-03-03T09:00:00Z', end: '2025-03-03T12:00:00Z' }, { id: 4 });
  const want = desiredSilences([d], now, { createdBy: 'rexmon', lookahead: 86400, kinds: ['planned'] });
  const [w] = want.values();
  assert.equal(w.startsAt, '2025-03-03T09:00:00Z');
  const live = (id: string, extra: object = {}) => ({ ...w, id, status: { state: 'active' as const }, ...extra });
  const dups = [live('b-2'), live('a-1'), live('c-3')];
  for (const order of [dups, [...dups].reverse()]) {
    const plan = planSilences(order, want, 'rexmon');
    assert.equal(plan.keep, 1);
    assert.deepEqual(
      plan.expire.map((s) => s.id),
      ['b-2', 'c-3'],
    );
  }
  const edited = planSilences([live('e', { matchers: [{ name: 'host', value: 'other', isRegex: false, isEqual: true }] })], want, 'rexmon');
  assert.deepEqual([edited.keep, edited.update.map((u) => u.id)], [0, ['e']]);
  const later = planSilences([live('e', { endsAt: '2025-03-05T00:00:00.000Z' })], want, 'rexmon');
  assert.deepEqual([later.keep, later.update.map((u) => u.id)], [0, ['e']]);
  // Alertmanager's own spelling of the same end (milliseconds) and a matcher without isEqual are the same silence.
  assert.equal(
    planSilences([live('e', { endsAt: '2025-03-03T12:00:00.000Z', matchers: [{ name: 'host', value: 'fnpc3001', isRegex: false }] })], want, 'rexmon').keep,
    1,
  );

  const problems: { key: string; error: string }[] = [];
  const huge = { ...d, id: 5, end: 9e15 };
  const got = desiredSilences([huge, d], now, { createdBy: 'rexmon', lookahead: 86400, kinds: ['planned'] }, undefined, problems as never);
  assert.deepEqual([...got.keys()], [w.key]);
  assert.equal(problems.length, 1);
  assert.match(problems[0].error, /downtime #5: no silence can be made/);
});
