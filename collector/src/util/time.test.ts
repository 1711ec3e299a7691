import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseTime } from './time.js';

test('times: ISO 8601, Unix seconds, Unix milliseconds above 1e11, relative forms', () => {
  const now = 1795300000;
  assert.equal(parseTime('2026-11-22T00:00:00Z', now), Date.parse('2026-11-22T00:00:00Z') / 1000);
  assert.equal(parseTime('2026-11-22T01:00:00+01:00', now), Date.parse('2026-11-22T00:00:00Z') / 1000);
  assert.equal(parseTime('1795300000', now), 1795300000);
  assert.equal(parseTime(1795300000123, now), 1795300000.123);
  assert.equal(parseTime('1795300000123', now), 1795300000.123);
  assert.equal(parseTime('100000000000', now), 100000000000, 'exactly 1e11 is still seconds');
  assert.equal(parseTime('now', now), now);
  assert.equal(parseTime('now-1h', now), now - 3600);
  assert.equal(parseTime('+2h', now), now + 7200);
  assert.equal(parseTime('-30m', now), now - 1800);
  assert.equal(parseTime('now-1d12h', now), now - 86400 - 43200);
});

test('bad times and durations name the input', () => {
  assert.throws(() => parseTime('yesterday'), /"yesterday" is not a time/);
  assert.throws(() => parseTime('2026-13-45'), /is not a time/);
  assert.throws(() => parseTime('now-1x'), /not a duration/);
  assert.throws(() => parseDuration('5 minutes'), /not a duration/);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('90'), 90);
});

test("an ISO time without an offset: refused by default (the API), read in this process's zone with local (the CLI)", () => {
  assert.throws(() => parseTime('2026-11-22T08:00', 0, 'from'), /from: "2026-11-22T08:00" has no UTC offset/);
  assert.throws(() => parseTime('2026-11-22', 0, 'from'), /has no UTC offset/);
  assert.equal(parseTime('2026-11-22T08:00', 0, 'from', 'local'), new Date(2026, 10, 22, 8, 0).getTime() / 1000);
  assert.equal(parseTime('2026-11-22', 0, 'from', 'local'), new Date(2026, 10, 22).getTime() / 1000, 'a date alone is local midnight');
  assert.throws(() => parseTime('2026-13-45', 0, 'from', 'local'), /is not a time/);
  assert.throws(() => parseTime('2026-02-30T08:00Z', 0, 'from'), /is not a time/);
  assert.throws(() => parseTime('2026-11-22T25:00', 0, 'from', 'local'), /is not a time/);
  assert.throws(() => parseTime('2026-11-22T25:00', 0, 'from'), /is not a time/);
});
