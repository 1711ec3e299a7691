// The `alarms:` config section: defaults, and every mistake refused with the path inside the file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfigText } from '../config/load.js';
import { render } from './template.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'rexmon.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('expected the config to be refused');
}

const rule = (extra: string) => `alarms:\n  rules:\n    - name: disk\n      match: disk_used_pct\n${extra}`;

test('defaults: every minute, repeat after 4 h, unplanned downtimes do not mute, no rules', () => {
  const c = parseConfigText('{}', 'rexmon.yaml');
  assert.deepEqual(c.alarms, { interval: 60, repeatInterval: 14400, unplannedMutes: false, downtimeCheckInterval: 5, rules: [] });
  const r = parseConfigText(rule('      warning: 80\n'), 'rexmon.yaml').alarms.rules[0];
  assert.equal(r.direction, 'above');
  assert.equal(r.aggregate, 'last');
  assert.equal(r.steps, 1);
  assert.equal(r.for, 0);
  assert.equal(r.cf, 'AVERAGE');
  assert.deepEqual(r.missing, {});
  assert.equal(r.repeatInterval, undefined);
});

test('a full rule: durations in words, a range, hysteresis, missing data', () => {
  const text = [
    'alarms:',
    '  interval: 30s',
    '  repeatInterval: 2h',
    '  unplannedMutes: true',
    '  rules:',
    '    - name: temp-band',
    '      match: \'temp{room="B1"}\'',
    '      direction: outside',
    '      warning: [15, 28]',
    '      critical: [10, 35]',
    '      clear: { warning: [16, 27] }',
    '      aggregate: avg',
    '      steps: 5',
    '      for: 5m',
    '      missing: { criticalAfter: 15m }',
    '      labels: { team: facilities }',
    "      summary: '{{ $labels.room }} at {{ $value }} C'",
    '      repeatInterval: 30m',
  ].join('\n');
  const a = parseConfigText(text, 'rexmon.yaml').alarms;
  assert.equal(a.interval, 30);
  assert.equal(a.repeatInterval, 7200);
  assert.equal(a.unplannedMutes, true);
  const r = a.rules[0];
  assert.deepEqual([r.warning, r.critical, r.clear], [[15, 28], [10, 35], { warning: [16, 27] }]);
  assert.deepEqual([r.for, r.missing.criticalAfter, r.repeatInterval, r.steps], [300, 900, 1800, 5]);
});

test('mistakes name the path inside alarms and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['alarms:\n  interval: 0\n', /^alarms\.interval \(line 2\): must be more than 0/],
    ['alarms:\n  intervall: 60\n', /^alarms \(line 2\): unknown key "intervall"/],
    [rule('      warning: 80\n      critical: 70\n'), /^alarms\.rules\.0\.critical \(line \d+\): critical must be at least warning/],
    [rule('      direction: below\n      warning: 10\n      critical: 20\n'), /^alarms\.rules\.0\.critical .*critical must be at most warning/],
    [
      rule('      warning: 80\n      clear: { warning: 85 }\n'),
      /^alarms\.rules\.0\.clear\.warning .*must be at most warning \(80\), or the state would never clear/,
    ],
    [rule('      critical: 90\n      clear: { warning: 85 }\n'), /^alarms\.rules\.0\.clear\.warning .*a clear bound needs a warning bound/],
    [rule('      direction: outside\n      warning: 80\n'), /^alarms\.rules\.0\.warning .*direction outside needs a range \[low, high\]/],
    [rule('      warning: [1, 2]\n'), /^alarms\.rules\.0\.warning .*direction above needs a number, not a range/],
    [rule('      direction: outside\n      warning: [20, 10]\n'), /^alarms\.rules\.0\.warning.*low < high/],
    [rule('      direction: outside\n      warning: [10, 20]\n      critical: [12, 18]\n'), /^alarms\.rules\.0\.critical .*must contain the warning range/],
    [rule(''), /^alarms\.rules\.0\.warning: a rule needs `warning`, `critical` \(or both\), or `missing.criticalAfter`/],
    [rule('      warning: 80\n      for: 5x\n'), /^alarms\.rules\.0\.for .*"5x" is not a duration/],
    [rule('      warning: 80\n      aggregate: median\n'), /^alarms\.rules\.0\.aggregate .*last.*avg.*max.*min/],
    [rule('      warning: 80\n      steps: 0\n'), /^alarms\.rules\.0\.steps/],
    [rule('      warning: 80\n      summary: "{{ $labels }} is {{ $valeu }}"\n'), /^alarms\.rules\.0\.summary .*only \$labels takes a label name/],
    [rule('      warning: 80\n      summary: "{{ $valeu }}"\n'), /^alarms\.rules\.0\.summary .*unknown placeholder \{\{ \$valeu \}\}/],
    [rule('      warning: 80\n      summary: "{{ value }}"\n'), /^alarms\.rules\.0\.summary .*not a placeholder/],
    [rule('      warning: 80\n      missing: { critical: 5m }\n'), /^alarms\.rules\.0\.missing \(line 6\): unknown key "critical"/],
    [rule('      warning: 80\n      labels: { "bad-name": x }\n'), /^alarms\.rules\.0\.labels\.bad-name.*letters, digits and _/],
    ['alarms:\n  rules:\n    - name: x\n      match: \'disk{host="a"\'\n      warning: 1\n', /^alarms\.rules\.0\.match /],
    ['alarms:\n  rules:\n    - name: "a b"\n      match: x\n      warning: 1\n', /^alarms\.rules\.0\.name .*letters, digits/],
    [
      'alarms:\n  rules:\n    - { name: x, match: a, warning: 1 }\n    - { name: x, match: b, warning: 1 }\n',
      /^alarms\.rules\.1\.name .*duplicate rule name "x"/,
    ],
  ];
  for (const [text, re] of cases) {
    const p = problems(text);
    assert.ok(
      p.some((x) => re.test(x)),
      `${JSON.stringify(text)}: ${JSON.stringify(p)}`,
    );
  }
});

test('summary templates: labels, value (rounded), bound, state, rule, series, name; a missing label is empty', () => {
  const d = { labels: { host: 'fnpc1' }, value: 91.23456, bound: 90, state: 'CRITICAL', rule: 'disk', series: 'disk{host="fnpc1"}', name: 'disk' };
  assert.equal(
    render('{{ $labels.host }} {{$labels.mount}}|{{ $value }} > {{ $bound }} {{ $state }} {{ $rule }} {{ $series }} {{ $name }}', d),
    'fnpc1 |91.23 > 90 CRITICAL disk disk{host="fnpc1"} disk',
  );
  assert.equal(render('{{ $value }}', { ...d, value: 0.000123456 }), '0.000123');
  assert.equal(render('{{ $value }}', { ...d, value: null }), 'none');
});
