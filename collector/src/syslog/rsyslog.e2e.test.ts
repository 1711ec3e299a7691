// A real rsyslog (Debian's rsyslogd, unprivileged, its own config and work directory, on loopback) relays what
// `logger` sends it to rexmon with omfwd over TCP, in both framings: octet-counted RFC 5424
// (RSYSLOG_SyslogProtocol23Format) and LF-framed RFC 3164 (RSYSLOG_TraditionalForwardFormat, omfwd's default).
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { alive, api, freePort, run, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';

type Series = { name: string; labels: Record<string, string>; values: (number | null)[] };
type Ev = { time: number; source: string; labels: Record<string, string>; data: Record<string, string | number> };

const RSYSLOGD = '/usr/sbin/rsyslogd';
let c: TestCollector;
let rs: ChildProcess;
let rsPort: number;
let work: Awaited<ReturnType<typeof tempDir>>;
let rsLog = '';
const host = os.hostname();

before(async () => {
  c = await startCollector({
    graphite: { tcp: false, udp: false },
    syslog: {
      tcp: '127.0.0.1:0',
      mappings: [{ match: { sdId: 'meter@32473' }, sd: 'meter@32473', name: 'relayed_${key}', labels: { app: '${app}', host: '${hostname}' }, event: true }],
    },
  });
  const rexmon = c.collector.addresses.syslogTcp!.split(':')[1];
  work = await tempDir('rexmon-rsyslog-');
  rsPort = await freePort();
  const conf = path.join(work.dir, 'rsyslog.conf');
  await writeFile(
    conf,
    [
      `global(workDirectory="${work.dir}")`,
      'module(load="imtcp")',
      `input(type="imtcp" port="${rsPort}" address="127.0.0.1")`,
      `if $programname startswith 'oc-' then action(type="omfwd" target="127.0.0.1" port="${rexmon}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`,
      `if $programname startswith 'lf-' then action(type="omfwd" target="127.0.0.1" port="${rexmon}" protocol="tcp")`,
      '',
    ].join('\n'),
  );
  rs = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(work.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  rs.stdout!.on('data', (d) => (rsLog += d));
  rs.stderr!.on('data', (d) => (rsLog += d));
  // Ready once its TCP input takes a connection.
  await waitFor(`rsyslogd listening on ${rsPort} (${rsLog})`, async () => {
    if (rs.exitCode !== null) throw new Error(`rsyslogd exited ${rs.exitCode}: ${rsLog}`);
    return run('logger', ['-n', '127.0.0.1', '-P', String(rsPort), '--tcp', '-t', 'probe', 'up']).then(
      () => true,
      () => false,
    );
  });
});

after(async () => {
  if (rs.exitCode === null && rs.pid && alive(rs.pid)) {
    const exited = new Promise((r) => rs.once('exit', r));
    rs.kill('SIGTERM');
    await exited;
  }
  await c.stop();
  await work.cleanup();
});

const send = (...args: string[]) => run('logger', ['-n', '127.0.0.1', '-P', String(rsPort), '--tcp', ...args]);
const events = async (app: string) =>
  (await api<{ data: Ev[] }>(c.url, `/api/v1/events?type=syslog&from=now-1h&match=${encodeURIComponent(`{app="${app}"}`)}`)).body.data;

test('rsyslog → rexmon, octet-counted RFC 5424: SD params become samples, the message an event with its SD', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  await send('--rfc5424', '-t', 'oc-meter', '--sd-id', 'meter@32473', '--sd-param', 'temp="19.25"', '--sd-param', 'hum="40"', 'room 2 reading');
  const [e] = await waitFor('the relayed event', async () => ((await events('oc-meter')).length ? events('oc-meter') : undefined));
  assert.equal(e.source, host);
  assert.deepEqual(e.labels, { app: 'oc-meter', facility: 'user', severity: 'notice' });
  assert.equal(e.data.message, 'room 2 reading');
  assert.equal(e.data['meter@32473.temp'], '19.25');
  assert.equal(e.data['meter@32473.hum'], '40');
  await c.collector.pipeline.flush();
  for (const [name, want] of [
    ['relayed_temp', 19.25],
    ['relayed_hum', 40],
  ] as const) {
    const r = await api<{ data: { series: Series[] } }>(c.url, `/api/v1/query?match=${name}&from=${t0 - 120}&to=${t0 + 120}&step=60`);
    assert.equal(r.body.data.series.length, 1, name);
    assert.deepEqual(r.body.data.series[0].labels, { app: 'oc-meter', host });
    // One sample may cover parts of two steps: each holds its value.
    assert.deepEqual([...new Set(r.body.data.series[0].values.filter((v) => v !== null))], [want]);
  }
});

test('rsyslog → rexmon, LF-framed RFC 3164: many messages on one kept connection, every one stored once, in order', async () => {
  // RFC 3164 into rsyslog too: a tag it got from an RFC 5424 app-name it forwards without the ':' that ends a tag.
  for (let i = 0; i < 20; i++) await send('--rfc3164', '-t', 'lf-batch', '-p', 'daemon.err', `message ${i} of 20`);
  const got = await waitFor('20 relayed events', async () => {
    const l = await events('lf-batch');
    return l.length >= 20 ? l : undefined;
  });
  assert.equal(got.length, 20);
  // Newest first (time, then id): reversed, the order they were sent in.
  assert.deepEqual(
    got.map((e) => e.data.message).reverse(),
    Array.from({ length: 20 }, (_, i) => `message ${i} of 20`),
  );
  for (const e of got) {
    assert.equal(e.source, host);
    assert.deepEqual(e.labels, { app: 'lf-batch', facility: 'daemon', severity: 'error' });
  }
  const text = await (await fetch(`${c.url}/metrics`)).text();
  assert.match(text, /rexmon_syslog_messages_total\{listener="syslog_tcp",format="rfc3164"\} 20\n/);
  assert.doesNotMatch(text, /rexmon_syslog_refused_total\{/, 'nothing refused');
});
