// The forward: section: defaults, and each bad value refused with its key path and line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfigText } from '../config/load.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'rexmon.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('expected the config to be refused');
}

test('forward: off by default, with the documented defaults; a good section parses', () => {
  const f = loadConfig(undefined).forward;
  assert.equal(f.url, undefined);
  assert.deepEqual(
    { ...f },
    {
      labels: {},
      events: true,
      maxBufferBytes: 1024 * 1024 * 1024,
      segmentBytes: 16 * 1024 * 1024,
      maxRequestBytes: 4 * 1024 * 1024,
      timeout: 30,
      backoff: { min: 0.5, max: 30 },
      idRetention: 7 * 86400,
    },
  );
  const c = parseConfigText('forward: {url: "https://central.example:8443/", tokenFile: /etc/t, labels: {site: fnal}, timeout: 1m, idRetention: 1d}', 'x.yaml');
  assert.equal(c.forward.url, 'https://central.example:8443/');
  assert.deepEqual(c.forward.labels, { site: 'fnal' });
  assert.equal(c.forward.timeout, 60);
});

test('forward: bad values name the key', () => {
  const cases: [string, RegExp][] = [
    ['forward: {url: "central:8080"}', /^forward\.url \(line 1\): /],
    ['forward: {url: "ftp://central"}', /^forward\.url \(line 1\): must be http:\/\/ or https:\/\//],
    ['forward: {url: "http://u:secret@central"}', /^forward\.url \(line 1\): must not carry a user or password/],
    ['forward: {labels: {"bad-name": x}}', /^forward\.labels \(line 1\): label name "bad-name" is invalid/],
    ['forward: {maxBufferBytes: 1000}', /^forward\.maxBufferBytes \(line 1\): /],
    ['forward: {backoff: {min: 5, max: 1}}', /^forward\.backoff\.max \(line 1\): must be at least backoff\.min/],
    ['forward: {idRetention: 10s}', /^forward\.idRetention \(line 1\): must be at least 1h/],
    ['forward: {name: "a b"}', /^forward\.name \(line 1\): use 1 to 40 letters/],
    ['forward: {urll: "http://x"}', /^forward \(line 1\): unknown key "urll"/],
  ];
  for (const [text, want] of cases) {
    const p = problems(text);
    assert.ok(
      p.some((x) => want.test(x)),
      `${text}\n${p.join('\n')}`,
    );
  }
});
