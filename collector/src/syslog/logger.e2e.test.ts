// Syslog into a real collector from util-linux's `logger` (TCP octet-counted and LF-framed, UDP; RFC 5424 with
// structured data and RFC 3164): the samples and events stored are read back through the API.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, test } from 'node:test';
import { api, run, startCollector, TestCollector, waitFor } from '../testing/harness.js';

type Series = { name: string; labels: Record<string, string>; timestamps: number[]; values: (number | null)[] };
type Ev = { time: number; type: string; source: string; labels: Record<string, string>; data: Record<string, string | number> };

let c: TestCollector;
let tcp: string;
let udp: string;
const host = os.hostname();

before(async () => {
  c = await startCollector({
    graphite: { tcp: false, udp: false },
    syslog: {
      tcp: '127.0.0.1:0',
      udp: '127.0.0.1:0',
      mappings: [
        { match: { sdId: 'meter@32473' }, sd: 'meter@32473', name: 'lab_${key}', labels: { host: '${hostname}', app: '${app}' } },
        {
          match: { app: 'dcache' },
          kv: true,
          values: ['bytes', 'files'],
          name: 'dcache_${key}',
          labels: { host: '${hostname}', door: '${msgid}' },
          event: true,
        },
        {
          match: { app: 'condor' },
          regex: 'idle=(?P<idle>\\d+) running=(?P<running>\\d+) queue=(?P<queue>\\w+)',
          values: ['idle', 'running'],
          name: 'condor_jobs',
          labels: { state: '${key}', schedd: '${hostname}', queue: '${queue}' },
        },
      ],
    },
  });
  tcp = String(c.collector.addresses.syslogTcp!.split(':')[1]);
  udp = String(c.collector.addresses.syslogUdp!.split(':')[1]);
});
after(() => c.stop());

const logger = (...args: string[]) => run('logger', ['-n', '127.0.0.1', ...args]);
async function events(query: string, from = 'now-1h'): Promise<Ev[]> {
  const r = await api<{ data: Ev[] }>(c.url, `/api/v1/events?type=syslog&from=${from}&${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}
async function series(match: string, from: number): Promise<Series[]> {
  await c.collector.pipeline.flush();
  const r = await api<{ data: { series: Series[] } }>(
    c.url,
    `/api/v1/query?match=${encodeURIComponent(match)}&from=${from - 120}&to=${from + 120}&step=60&cf=AVERAGE`,
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.series;
}
/** The distinct known values of a series (one sample may cover parts of two steps: both hold its value). */
const only = (s: Series) => [...new Set(s.values.filter((v) => v !== null))];
const metric = (name: string, label: string) => `rexmon_syslog_${name}_total{${label}}`;
async function counter(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(metric(name, labels)));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('RFC 5424 over TCP with octet counting: SD params become samples named by SD-ID params, app-name and hostname', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  await logger(
    '-P',
    tcp,
    '--tcp',
    '--rfc5424',
    '--octet-count',
    '-t',
    'labmeter',
    '--sd-id',
    'meter@32473',
    '--sd-param',
    'temp="21.5"',
    '--sd-param',
    'volts="230"',
    'reading',
  );
  await waitFor('lab_temp', async () => (await series('lab_temp', t0)).length === 1);
  const [temp] = await series('lab_temp', t0);
  assert.deepEqual(temp.labels, { app: 'labmeter', host });
  assert.deepEqual(only(temp), [21.5]);
  const [volts] = await series('lab_volts', t0);
  assert.deepEqual(only(volts), [230]);
  // Mapped (and no `event: true`): no event; logger's own [timeQuality] element is no value of this mapping.
  assert.equal((await events('match=' + encodeURIComponent('{app="labmeter"}'))).length, 0);
  assert.equal((await series('lab_tzKnown', t0)).length, 0);
});

test('RFC 5424 over UDP: key=value pairs of the message become samples, msgid a label, and the message an event too', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  await logger('-P', udp, '--udp', '--rfc5424', '-t', 'dcache', '--msgid', 'door1', 'transfer done bytes=1048576 files=3 user=bob');
  await waitFor('dcache_bytes', async () => (await series('dcache_bytes', t0)).length === 1);
  const [bytes] = await series('dcache_bytes', t0);
  assert.deepEqual(bytes.labels, { door: 'door1', host });
  assert.deepEqual(only(bytes), [1048576]);
  assert.deepEqual(only((await series('dcache_files', t0))[0]), [3]);
  // user=bob is not a number and not asked for: no series for it.
  assert.equal((await series('dcache_user', t0)).length, 0);
  const [e] = await waitFor('the dcache event', async () => {
    const l = await events('match=' + encodeURIComponent('{app="dcache"}'));
    return l.length ? l : undefined;
  });
  assert.equal(e.source, host);
  assert.deepEqual(e.labels, { app: 'dcache', facility: 'user', msgid: 'door1', severity: 'notice' });
  assert.equal(e.data.message, 'transfer done bytes=1048576 files=3 user=bob');
  assert.equal(e.data['timeQuality.tzKnown'], '1');
});

test('RFC 3164 over TCP with LF framing: a regex with named groups gives values and labels', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  await logger('-P', tcp, '--tcp', '--rfc3164', '-t', 'condor', 'idle=12 running=30 queue=short');
  await waitFor('condor_jobs', async () => (await series('condor_jobs', t0)).length === 2);
  const got = (await series('condor_jobs', t0)).map((s) => [s.labels, only(s)]);
  assert.deepEqual(
    got.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [
      [{ queue: 'short', schedd: host, state: 'idle' }, [12]],
      [{ queue: 'short', schedd: host, state: 'running' }, [30]],
    ],
  );
});

test('unmapped messages (both formats, TCP and UDP) are stored as events of type syslog and counted', async () => {
  const before = await counter('unmapped', 'listener="syslog_tcp"');
  const beforeUdp = await counter('unmapped', 'listener="syslog_udp"');
  const t0 = Date.now();
  await logger('-P', tcp, '--tcp', '--rfc3164', '-t', 'sshd', '-p', 'auth.warning', 'Failed password for root from 10.0.0.9');
  await logger(
    '-P',
    tcp,
    '--tcp',
    '--octet-count',
    '--rfc5424',
    '-t',
    'kernel-ish',
    '-p',
    'local3.err',
    '--sd-id',
    'disk@32473',
    '--sd-param',
    'dev="sda"',
    'I/O error on [sda] "quoted"',
  );
  await logger('-P', udp, '--udp', '--rfc3164', '-t', 'cron', '-p', 'cron.info', 'job started');
  const got = await waitFor('3 events', async () => {
    const l = await events(`match=${encodeURIComponent('{app=~"sshd|kernel-ish|cron"}')}`, String(t0 - 2000));
    return l.length === 3 ? l : undefined;
  });
  const by = Object.fromEntries(got.map((e) => [e.labels.app, e]));
  assert.equal(by.sshd.source, host);
  assert.deepEqual(by.sshd.labels, { app: 'sshd', facility: 'auth', severity: 'warn' });
  assert.equal(by.sshd.data.message, 'Failed password for root from 10.0.0.9');
  assert.ok(Math.abs(by.sshd.time - t0) < 2000, 'the message time (RFC 3164: to the second)');
  assert.deepEqual(by['kernel-ish'].labels, { app: 'kernel-ish', facility: 'local3', severity: 'error' });
  assert.equal(by['kernel-ish'].data.message, 'I/O error on [sda] "quoted"');
  assert.equal(by['kernel-ish'].data['disk@32473.dev'], 'sda');
  assert.equal(by['kernel-ish'].data.procid, undefined);
  assert.deepEqual(by.cron.labels, { app: 'cron', facility: 'cron', severity: 'info' });
  assert.equal(await counter('unmapped', 'listener="syslog_tcp"'), before + 2);
  assert.equal(await counter('unmapped', 'listener="syslog_udp"'), beforeUdp + 1);
});
