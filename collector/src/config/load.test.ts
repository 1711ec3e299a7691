import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { run, tempDir } from '../testing/harness.js';
import { ConfigError, loadConfig, parseConfigText } from './load.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'rexmon.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('expected the config to be refused');
}

test('defaults work on one machine', () => {
  const c = loadConfig(undefined);
  assert.equal(c.dataDir, './data');
  assert.equal(c.http.listen, '127.0.0.1:8080');
  assert.equal(c.graphite.tcp, '127.0.0.1:2003');
  assert.equal(c.graphite.udp, '127.0.0.1:2003');
  assert.equal(c.database.client, 'sqlite');
  assert.deepEqual(
    c.slurpers.map((s) => [s.type, s.interval]),
    [['host', 60]],
  );
  assert.equal(c.rrd.cached.mode, 'spawn');
  assert.equal(c.auth.anonymousWrite, false);
});

test('unknown keys and wrong types name the key path, the line and what was expected', () => {
  const text = [
    'http:',
    '  listen: 127.0.0.1:8080',
    '  lisen: 1',
    'graphite:',
    '  tcp: 2003',
    'pipeline:',
    '  queueCapacity: "big"',
    'slurpers:',
    '  - type: command',
    '    name: x',
    '    command: /bin/true',
    '    interval: 5 minutes',
    'bogus: 1',
  ].join('\n');
  const p = problems(text);
  assert.ok(
    p.some((x) => /^http \(line 2\): unknown key "lisen"/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^graphite\.tcp \(line 5\): /.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^pipeline\.queueCapacity \(line 7\): .*number/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^slurpers\.0\.command \(line 11\): .*array/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^slurpers\.0\.interval \(line 12\): "5 minutes" is not a duration/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^\(top level\).*unknown key "bogus"/.test(x)),
    p.join('\n'),
  );
});

test('cross-field checks: unknown template, duplicate slurper names, schedule required, pg connection', () => {
  const p = problems(
    [
      'rrd:',
      '  defaultTemplate: nope',
      '  rules: [{match: "x*", template: missing}]',
      'slurpers:',
      '  - {type: command, name: a, command: [/bin/true]}',
      '  - {type: http, name: a, url: "http://127.0.0.1:1/", interval: 10}',
      'database: {client: pg}',
    ].join('\n'),
  );
  assert.ok(
    p.some((x) => /^rrd\.defaultTemplate.*unknown template "nope"; defined: gauge, counter/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^rrd\.rules\.0\.template.*unknown template "missing"/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^slurpers\.0.*needs `interval` or `cron`/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^slurpers\.1\.name.*duplicate slurper name "a"/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^database\.connection.*required when client is pg/.test(x)),
    p.join('\n'),
  );
});

test('YAML syntax errors give the line', () => {
  const p = problems('http:\n  listen: [unclosed\n');
  assert.match(p[0], /^line \d+, column \d+: /);
});

test('rexmon check-config prints the same errors and exits non-zero; OK for a good file', async () => {
  const t = await tempDir();
  try {
    const bad = path.join(t.dir, 'bad.yaml');
    await writeFile(bad, 'http:\n  listen: nowhere\n');
    await assert.rejects(run('node', [BIN, 'check-config', bad]), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid configuration`));
      assert.match(e.stderr, /http\.listen \(line 2\): expected HOST:PORT/);
      return true;
    });
    const good = path.join(t.dir, 'good.yaml');
    await writeFile(good, 'graphite:\n  mappings:\n    - {match: "lab.*.temp", name: temp, labels: {host: $1}}\n');
    const { stdout } = await run('node', [BIN, 'check-config', good]);
    assert.match(stdout, /good.yaml: OK/);
    await assert.rejects(run('node', [BIN, 'check-config', path.join(t.dir, 'missing.yaml')]), /cannot read: ENOENT/);
    await assert.rejects(
      run('node', [BIN, 'start', '--listen', 'nope', '--data-dir', t.dir]),
      /--listen: invalid configuration\n\s+- "nope": expected HOST:PORT/,
    );
  } finally {
    await t.cleanup();
  }
});

test('rexmon.example.yaml is valid and states the defaults', () => {
  const example = loadConfig(fileURLToPath(new URL('../../../rexmon.example.yaml', import.meta.url)));
  assert.deepEqual(example, loadConfig(undefined));
});

test('events: retention and maxEvents default to 30 d and 1,000,000; bad values name the key', () => {
  const c = loadConfig(undefined);
  const queue = { queue: 100000, journal: true, stopTimeout: 10, handlers: [], counters: [] };
  assert.deepEqual(c.events, { retention: 30 * 86400, maxEvents: 1000000, ...queue });
  assert.deepEqual(parseConfigText('events: {retention: 7d, maxEvents: 5000}', 'rexmon.yaml').events, { retention: 7 * 86400, maxEvents: 5000, ...queue });
  const p = problems(['events:', '  retention: 0', '  maxEvents: 1.5', '  keep: 1'].join('\n'));
  assert.ok(
    p.some((x) => /^events\.retention \(line 2\): must be more than 0/.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^events\.maxEvents \(line 3\): /.test(x)),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => /^events \(line \d\): unknown key "keep"/.test(x)),
    p.join('\n'),
  );
});

test('web: the status page limits have defaults; bad values name the key', () => {
  assert.deepEqual(loadConfig(undefined).web, { refresh: 30, maxAlarms: 500, maxGraphs: 12, maxNames: 500, graphRange: 6 * 3600 });
  assert.equal(parseConfigText('web: {graphRange: 1d, maxAlarms: 50}', 'rexmon.yaml').web.graphRange, 86400);
  const p = problems(['web:', '  maxGraphs: 500', '  maxAlarms: 0', '  refresh: soon', '  colour: red'].join('\n'));
  for (const want of [/^web\.maxGraphs \(line 2\): /, /^web\.maxAlarms \(line 3\): /, /^web\.refresh \(line 4\): /, /^web \(line \d\): unknown key "colour"/])
    assert.ok(
      p.some((x) => want.test(x)),
      `${want}\n${p.join('\n')}`,
    );
});
