import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RE2JS } from 're2js';
import { exactName, literalAlternation, matchesLabels, parseSelector } from './selector.js';

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

test('an alternation of plain strings (an "All" variable) is a set look-up with the answers RE2 gives, and fast', () => {
  const patterns = ['a|b', '(a|b)', '(?:a|b)', 'fnpc\\.3003|x', 'a||b', '', '(a)|(b)', 'a.b', 'a\\d', '(?i)a|b', 'a\\|b', '(a\\\\)', 'é|ü', 'a\\-b|c\\/d'];
  const values = ['a', 'b', 'ab', '', 'a|b', 'fnpc.3003', 'fnpcx3003', 'x', 'A', 'a.b', 'axb', 'a1', 'a)', '(a)', 'é', 'a-b', 'c/d', 'a\\d'];
  for (const p of patterns) {
    const re = RE2JS.compile(`^(?:${p})$`);
    const set = literalAlternation(p);
    const sel = parseSelector(`m{h=~${JSON.stringify(p)}}`);
    for (const v of values) {
      assert.equal(matchesLabels(sel, 'm', { h: v }), re.matches(v), `${p} on ${JSON.stringify(v)}`);
      if (set) assert.equal(set.has(v), re.matches(v), `set ${p} on ${JSON.stringify(v)}`);
    }
  }
  assert.equal(literalAlternation('a.b'), undefined);
  assert.equal(literalAlternation('(a)|(b)'), undefined);
  assert.deepEqual([...literalAlternation('(fnpc\\.1|fnpc2)')!], ['fnpc.1', 'fnpc2']);
  // 117,000 hosts (a 1 MB selector): RE2JS took ~1.8 s to compile it.
  const hosts = Array.from({ length: 117000 }, (_, i) => `h${String(i).padStart(7, '0')}`);
  // It takes the set look-up, not the regex compiler (speed belongs in bench/, not in a timed test).
  assert.equal(literalAlternation(`(${hosts.join('|')})`)?.size, hosts.length);
  const big = parseSelector(`m{host=~"(${hosts.join('|')})"}`);
  assert.ok(matchesLabels(big, 'm', { host: 'h0116999' }));
  assert.ok(!matchesLabels(big, 'm', { host: 'h0117000' }));
});
