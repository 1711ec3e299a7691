import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exactName, matchesLabels, parseSelector } from './selector.js';

test('parses the Prometheus selector syntax with all four operators', () => {
  const s = parseSelector('cpu_usage{host=~"fnpc.*", mode!="idle", dc!~"x|y", exp="nova"}');
  assert.equal(exactName(s), 'cpu_usage');
  assert.deepEqual(
    s.matchers.map((m) => [m.name, m.op, m.value]),
    [
      ['__name__', '=', 'cpu_usage'],
      ['host', '=~', 'fnpc.*'],
      ['mode', '!=', 'idle'],
      ['dc', '!~', 'x|y'],
      ['exp', '=', 'nova'],
    ],
  );
  assert.ok(matchesLabels(s, 'cpu_usage', { host: 'fnpc3001', mode: 'user', exp: 'nova' }));
  assert.ok(!matchesLabels(s, 'cpu_usage', { host: 'fnpc3001', mode: 'idle', exp: 'nova' }));
  assert.ok(!matchesLabels(s, 'cpu_usage', { host: 'xfnpc3001', mode: 'user', exp: 'nova' }), 'regexes are anchored');
  assert.ok(!matchesLabels(s, 'cpu_usage', { host: 'fnpc1', dc: 'x', exp: 'nova' }));
  assert.ok(!matchesLabels(s, 'other', { host: 'fnpc1', exp: 'nova' }));
});

test('empty selector, name only, __name__ regex, escapes and single quotes', () => {
  assert.equal(parseSelector('').matchers.length, 0);
  assert.equal(parseSelector('{}').matchers.length, 0);
  assert.ok(matchesLabels(parseSelector('{__name__=~"cpu.*"}'), 'cpu_x', {}));
  assert.ok(matchesLabels(parseSelector(`m{a='x"y'}`), 'm', { a: 'x"y' }));
  assert.ok(matchesLabels(parseSelector('m{a="x\\"y"}'), 'm', { a: 'x"y' }));
  assert.ok(matchesLabels(parseSelector('m{a=~"\\d+"}'), 'm', { a: '42' }));
  assert.ok(matchesLabels(parseSelector('m{missing=""}'), 'm', {}), 'absent label equals empty string');
});

test('bad selectors say what and where', () => {
  assert.throws(() => parseSelector('m{host="a"'), /missing '}'|expected ',' or '}'/);
  assert.throws(() => parseSelector('m{host=a}'), /expected a quoted label value at position 8/);
  assert.throws(() => parseSelector('m{host~"a"}'), /expected one of = != =~ !~ after label host/);
  assert.throws(() => parseSelector('m{host=~"("}'), /invalid regular expression "\(" for label host/);
  assert.throws(() => parseSelector('m{h="a"} junk'), /unexpected text/);
  assert.throws(() => parseSelector('m{h="a}'), /unterminated string/);
});
