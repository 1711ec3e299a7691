import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLabels, checkMetricName, checkSample, seriesKey, ValidationError } from './series.js';

test('metric names: valid ones pass, bad ones say why', () => {
  assert.equal(checkMetricName('condor_jobs'), 'condor_jobs');
  assert.equal(checkMetricName('lab.host01.temp'), 'lab.host01.temp');
  assert.throws(() => checkMetricName('../etc/passwd'), /metric name "\.\.\/etc\/passwd" is invalid/);
  assert.throws(() => checkMetricName('a b'), /invalid/);
  assert.throws(() => checkMetricName('x\ny'), /invalid/);
  assert.throws(() => checkMetricName(''), /non-empty/);
  assert.throws(() => checkMetricName('x'.repeat(201)), /longer than 200/);
});

test('label values: control characters refused, slashes and quotes allowed (escaped later)', () => {
  assert.deepEqual(checkLabels({ host: 'a/../b', q: 'say "hi"' }), { host: 'a/../b', q: 'say "hi"' });
  assert.throws(
    () => checkLabels({ host: 'a\nb' }),
    (e: ValidationError) => e.path === 'labels.host' && /control character/.test(e.message),
  );
  assert.throws(() => checkLabels({ host: 'a\0b' }), /control character/);
  assert.throws(() => checkLabels({ 'bad-name': 'x' }), /label name "bad-name" is invalid/);
  assert.throws(() => checkLabels({ __name__: 'x' }), /reserved/);
  assert.throws(() => checkLabels(['x']), /object/);
  assert.deepEqual(checkLabels({ empty: '' }), {}, 'an empty label is no label');
});

test('samples: milliseconds become seconds, time defaults to now, bad values are named', () => {
  assert.equal(checkSample({ name: 'x', value: 1, time: 1795300000123 }, 5).time, 1795300000);
  assert.equal(checkSample({ name: 'x', value: 1 }, 5).time, 5);
  assert.throws(
    () => checkSample({ name: 'x', value: 'NaN' }, 5, '[3]'),
    (e: ValidationError) => e.path === '[3].value',
  );
  assert.throws(() => checkSample({ name: 'x', value: Infinity }, 5), /finite/);
  assert.throws(() => checkSample({ name: 'x', value: 1, time: -4 }, 5), /positive/);
});

test('series key is canonical whatever the label order', () => {
  assert.equal(seriesKey('m', { b: '2', a: '1' }), seriesKey('m', { a: '1', b: '2' }));
  assert.equal(seriesKey('m', { a: 'x"y' }), 'm{a="x\\"y"}');
  assert.equal(seriesKey('m', {}), 'm');
});
