// export.remoteWrite: off by default, every bad setting named with its path; the label mapping to Prometheus' rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfigText } from '../config/load.js';
import { startCollector, tempDir } from '../testing/harness.js';
import { promLabels, promMetricName } from './labels.js';
import { decodeWriteRequest, encodeWriteRequest } from './prompb.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'rexmon.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('expected the config to be refused');
}

const rw = (lines: string[]) => ['export:', '  remoteWrite:', ...lines.map((l) => `    ${l}`)].join('\n');

test('remote_write is off by default; one endpoint gets the documented defaults', () => {
  assert.deepEqual(parseConfigText('', 'rexmon.yaml').export, { remoteWrite: [] });
  const c = parseConfigText(rw(['- url: http://127.0.0.1:9090/api/v1/write']), 'rexmon.yaml').export.remoteWrite[0];
  assert.deepEqual(c, {
    url: 'http://127.0.0.1:9090/api/v1/write',
    headers: {},
    labels: {},
    timeout: 30,
    queue: { capacity: 100000, maxSamplesPerSend: 2000, flushInterval: 1, minBackoff: 0.1, maxBackoff: 30, stopTimeout: 10 },
  });
  const d = parseConfigText(rw(['- url: https://mimir.example/api/v1/push', '  queue: {flushInterval: 5s, maxBackoff: 2m}']), 'rexmon.yaml').export
    .remoteWrite[0];
  assert.equal(d.queue.flushInterval, 5);
  assert.equal(d.queue.maxBackoff, 120);
});

test('bad remote_write settings are refused, each naming its path and what is wrong', () => {
  assert.deepEqual(
    problems(
      rw([
        '- url: "ftp://y/api/v1/write"',
        '- url: "http://u:p@x/api/v1/write"',
        '  headers: {Content-Type: text/plain, "bad header": x}',
        '  labels: {"1a": x, __x: y, ok: ""}',
        '  queue: {capacity: 0}',
        '- url: not a url',
        '  timeout: 0',
        '  nope: 1',
      ]),
    ),
    [
      'export.remoteWrite.0.url (line 3): expected an http:// or https:// URL',
      'export.remoteWrite.1.url (line 4): put credentials in basicAuth, not in the URL',
      'export.remoteWrite.1.headers.Content-Type (line 5): header Content-Type is set by the remote_write protocol and cannot be overridden',
      'export.remoteWrite.1.headers.bad header (line 5): "bad header" is not a valid HTTP header name',
      'export.remoteWrite.1.labels.ok (line 6): an empty label value is no label',
      `export.remoteWrite.1.labels.1a (line 6): label name "1a" is invalid: use letters, digits and '_', not starting with a digit or "__"`,
      `export.remoteWrite.1.labels.__x (line 6): label name "__x" is invalid: use letters, digits and '_', not starting with a digit or "__"`,
      'export.remoteWrite.1.queue.capacity (line 7): Too small: expected number to be >0',
      'export.remoteWrite.1.queue.maxSamplesPerSend: maxSamplesPerSend must be at most capacity',
      'export.remoteWrite.2.url (line 8): Invalid URL',
      'export.remoteWrite.2.timeout (line 9): timeout must be more than 0',
      'export.remoteWrite.2 (line 8): unknown key "nope"',
    ],
  );
  assert.deepEqual(problems(rw(['- url: http://a/w', '  queue: {minBackoff: 5, maxBackoff: 1}'])), [
    'export.remoteWrite.0.queue.maxBackoff (line 4): maxBackoff must be at least minBackoff',
  ]);
  assert.deepEqual(problems(rw(['- url: http://a/w', '  bearerToken: t', '  basicAuth: {username: u, password: p}'])), [
    'export.remoteWrite.0.bearerToken (line 4): give only one of basicAuth, bearerToken',
  ]);
  assert.deepEqual(problems(rw(['- url: http://a/w', '  bearerToken: t', '  headers: {authorization: x}'])), [
    'export.remoteWrite.0.headers.authorization (line 5): bearerToken sets the Authorization header already',
  ]);
  assert.deepEqual(problems(rw(['- url: http://a/w', '- url: http://a/w'])), [
    'export.remoteWrite.1 (line 4): duplicate remote_write name "a/w" (give each a name)',
  ]);
});

test('names map to Prometheus rules; labels sorted in byte order with __name__; the series label wins over an extra one', () => {
  assert.equal(promMetricName('lab.host01.temp'), 'lab_host01_temp');
  assert.equal(promMetricName('collectd_cpu-0.idle'), 'collectd_cpu_0_idle');
  assert.equal(promMetricName('node:load1'), 'node:load1');
  assert.deepEqual(promLabels('a.b', { host: 'h1', Zone: 'z' }, { host: 'default', site: 'fnal' }), [
    { name: 'Zone', value: 'z' },
    { name: '__name__', value: 'a_b' },
    { name: 'host', value: 'h1' },
    { name: 'site', value: 'fnal' },
  ]);
});

test('the WriteRequest encodes as prompb says: snappy block format around the protobuf', async () => {
  const ts = [{ labels: [{ name: '__name__', value: 'x' }], samples: [{ value: 1.5, timestamp: 1796140000000 }] }];
  const body = await encodeWriteRequest(ts);
  // Snappy block format starts with the uncompressed length as a varint (not the framed format's 0xff stream header).
  assert.notEqual(body[0], 0xff);
  assert.deepEqual((await decodeWriteRequest(body)).timeseries, ts);
});

test('a credentials file that cannot be read stops the start, naming the endpoint and the file', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await assert.rejects(
      startCollector({ export: { remoteWrite: [{ url: 'http://127.0.0.1:9/api/v1/write', name: 'p', bearerTokenFile: `${dir}/missing-token` }] } }, dir),
      (e: Error) => e.message.startsWith(`export.remoteWrite p: cannot read bearerTokenFile ${dir}/missing-token: ENOENT`),
    );
  } finally {
    await cleanup();
  }
});
