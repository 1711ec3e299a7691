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
