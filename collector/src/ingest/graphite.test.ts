import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { GraphiteMapper, parseGeneralLine, parseGraphiteLine } from './graphite.js';

const mapper = new GraphiteMapper([
  { match: 'lab.*.temp', name: 'temp', labels: { host: '$1' } },
  { match: 'condor.*.*.jobs.*', name: 'condor_jobs', labels: { experiment: '$1', schedd: '$2', state: '$3' } },
  { match: 'deep.**.value', name: 'deep', labels: { path: '$1' } },
]);
const ok = (line: string) => {
  const r = parseGraphiteLine(line, mapper, 1000);
  if (!r || 'error' in r) throw new Error(`expected a sample from ${line}: ${JSON.stringify(r)}`);
  return r.sample;
};
const bad = (line: string) => {
  const r = parseGraphiteLine(line, mapper, 1000);
  if (!r || !('error' in r)) throw new Error(`expected an error from ${line}`);
  return r.error;
};

test('mapping rules turn paths into series; unmapped paths keep the path', () => {
  assert.deepEqual(ok('lab.host01.temp 21.5 1795300000'), { name: 'temp', labels: { host: 'host01' }, value: 21.5, time: 1795300000 });
  assert.deepEqual(ok('condor.nova.s01.jobs.idle 12 1795300000').labels, { experiment: 'nova', schedd: 's01', state: 'idle' });
  assert.deepEqual(ok('deep.a.b.c.value 1 1795300000').labels, { path: 'a.b.c' });
  assert.deepEqual(ok('lab.host01.humidity 40 1795300000'), { name: 'lab.host01.humidity', labels: {}, value: 40, time: 1795300000 });
});

test('tagged form, missing or -1 timestamp, milliseconds, CRLF', () => {
  assert.deepEqual(ok('cpu.usage;host=fnpc3001;dc=fcc 0.93 1795300000'), {
    name: 'cpu.usage',
    labels: { host: 'fnpc3001', dc: 'fcc' },
    value: 0.93,
    time: 1795300000,
  });
  assert.equal(ok('x 1').time, 1000);
  assert.equal(ok('x 1 -1').time, 1000);
  assert.equal(ok('x 1 1795300000123').time, 1795300000);
  assert.equal(ok('x 1 1795300000\r').value, 1);
  assert.equal(parseGraphiteLine('   ', mapper, 1), undefined);
});

test('malformed lines get a clear error', () => {
  assert.match(bad('x'), /expected "path value \[timestamp\]"/);
  assert.match(bad('x abc 1'), /value "abc" is not a decimal number or nan/);
  assert.match(bad('x 1 soon'), /timestamp "soon"/);
  assert.match(bad('x 1 2 3'), /4 field/);
  assert.match(bad('../../etc/passwd 1 1'), /invalid/);
  assert.match(bad('cpu;bad 1 1'), /tag "bad" is not name=value/);
  assert.match(bad('cpu;h=a\u0001b 1 1'), /control character/);
  assert.match(bad('ho"st;x=1 1 1'), /metric name "ho\\"st" is invalid/);
  assert.deepEqual(ok('lab.ho"st.temp 1 1').labels, { host: 'ho"st' }, 'a quote in a label value is data, escaped on the way to disk');
});

test('values and timestamps: decimal and exponent forms only; nan is unknown', () => {
  for (const [text, want] of [
    ['1', 1],
    ['-2.5', -2.5],
    ['+.5', 0.5],
    ['3.', 3],
    ['1e3', 1000],
    ['6.02E-2', 0.0602],
  ] as const)
    assert.equal(ok(`x ${text} 1795300000`).value, want, text);
  for (const text of ['nan', 'NaN', 'NAN', '-nan']) assert.ok(Number.isNaN(ok(`x ${text} 1795300000`).value), text);
  for (const text of ['0x10', '0b11', '0o7', 'Infinity', '-Infinity', '1_000', '1e', '.', '+', '1,5', '١'])
    assert.match(bad(`x ${text} 1795300000`), /is not a decimal number or nan/, text);
  for (const text of ['0x10', '1e', 'nan', 'Infinity', '0', '-5']) assert.match(bad(`x 1 ${text}`), /timestamp .* is not a positive decimal number/, text);
  assert.equal(ok('x 1 1.7953e9').time, 1795300000);
});

test('an empty value field is refused, not read as "value = the timestamp"', () => {
  // What `echo "x $v $(date +%s)"` sends when $v is empty.
  assert.match(bad('x  1795300000'), /empty field/);
  assert.match(bad('x\t\t1795300000'), /empty field/);
  assert.match(bad('x \t1795300000'), /empty field/);
  // Aligned columns stay fine when all three fields are there.
  assert.deepEqual(ok('x   2\t\t1795300000'), { name: 'x', labels: {}, value: 2, time: 1795300000 });
});

test('a path is mapped and checked once: its samples share one series; a bad path stays an error every time; the memory is bounded', () => {
  const m = new GraphiteMapper([{ match: 'lab.*.temp', name: 'temp', labels: { host: '$1' } }], 3);
  const one = (line: string) => {
    const r = parseGraphiteLine(line, m, 1000);
    if (!r || 'error' in r) throw new Error(`expected a sample from ${line}`);
    return r.sample;
  };
  const a = one('lab.h1.temp 1 1795300000');
  const b = one('lab.h1.temp 2 1795300060');
  assert.equal(a.labels, b.labels, 'the same labels object');
  assert.deepEqual([b.name, b.labels, b.value, b.time], ['temp', { host: 'h1' }, 2, 1795300060]);
  for (let i = 0; i < 2; i++)
    assert.match((parseGraphiteLine('9bad.path 1 1795300000', m, 1000) as { error: string }).error, /metric name "9bad.path" is invalid/);
  // Past its size the cache starts afresh: later lines still map right.
  for (const h of ['h2', 'h3', 'h4', 'h5']) assert.deepEqual(one(`lab.${h}.temp 3 1795300000`).labels, { host: h });
  assert.deepEqual(one('lab.h1.temp 4 1795300120').labels, { host: 'h1' });
});

test('the common-line reader answers exactly what the general parser does (values to the last bit)', () => {
  const digits = (max: number) => fc.stringMatching(new RegExp(`^[0-9]{1,${max}}$`));
  const value = fc.oneof(
    fc.double({ noNaN: true }).map(String),
    fc.tuple(fc.constantFrom('', '-', '+'), digits(18), fc.constantFrom('', '.'), fc.oneof(fc.constant(''), digits(18))).map((p) => p.join('')),
    fc.tuple(digits(3), fc.constantFrom('e', 'E', 'e-', 'e+'), digits(3)).map((p) => p.join('')),
    fc.constantFrom('nan', '-NaN', '.', '-', '+.5', '5.', '0x10', 'Infinity', '1_0', '١', ''),
  );
  const time = fc.oneof(digits(16), fc.constantFrom('-1', 'N', '0', '00', '1795300000.5', '1795300000123', '+1795300000', ''));
  const path = fc.oneof(
    fc.constantFrom('lab.h1.temp', 'deep.a.b.value', 'x', 'cpu;host=a', '9bad', 'a\tb', '\u00a0x', ' x', 'x\r', 'é.x', 'a..b'),
    fc.stringMatching(/^[a-z.;=\t -]{0,12}$/),
  );
  const sep = fc.constantFrom(' ', ' ', ' ', '  ', '\t');
  const line = fc.tuple(path, sep, value, sep, time, fc.constantFrom('', '', '\r', ' ')).map((p) => p.join(''));
  fc.assert(
    fc.property(line, (text) => {
      const m = new GraphiteMapper([{ match: 'lab.*.temp', name: 'temp', labels: { host: '$1' } }]);
      const expected = parseGeneralLine(text, m, 1000);
      const got = parseGraphiteLine(text, new GraphiteMapper([{ match: 'lab.*.temp', name: 'temp', labels: { host: '$1' } }]), 1000);
      assert.deepEqual(got, expected, JSON.stringify(text));
      if (got && 'sample' in got) assert.ok(Object.is(got.sample.value, (expected as typeof got).sample.value), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});
