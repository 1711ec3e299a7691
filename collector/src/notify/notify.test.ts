// Mail from the notify stage, received by a real SMTP server on loopback: exact alarm mails, grouping,
// SMTP down / refusing with a collector restart in between (every mail exactly once), secrets kept out
// of logs, event-handler mail, downtime start and end notices, and config errors that name the key.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pino from 'pino';
import type { AlarmNotice, AlarmState } from '../alarms/types.js';
import { Collector } from '../app.js';
import { ConfigError, parseConfigText } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { downtimeApi } from '../testing/downtimes.js';
import { api, tempDir, waitFor } from '../testing/harness.js';
import { ReceivedMail, startSmtp, TestSmtp } from '../testing/smtp.js';
import { Outbox } from './outbox.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A collector in this process whose log lines (JSON, every level) are kept in `lines`. */
async function collector(notify: Record<string, unknown>, dataDir?: string, lines: string[] = []) {
  const dir = dataDir ?? (await tempDir()).dir;
  const config = configSchema.parse({
    dataDir: dir,
    http: { listen: '127.0.0.1:0' },
    graphite: { tcp: false, udp: false },
    slurpers: [],
    rrd: { cached: { mode: 'off' } },
    wal: { enabled: false },
    auth: { anonymousWrite: true },
    notify,
  });
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const c = new Collector(config, pino({ level: 'trace' }, sink));
  // A start that fails half-way leaves rrdtool pipes and the database open: stop what did start.
  await c.start().catch(async (e) => {
    await c.stop().catch(() => {});
    throw e;
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await c.stop();
  };
  cleanups.push(stop);
  return { c, url: c.addresses.http!, dir, lines, stop };
}

function smtpConfig(s: TestSmtp, extra: Record<string, unknown> = {}) {
  return { host: s.host, port: s.port, starttls: 'off', timeout: 2, ...extra };
}

async function smtpServer(opts?: Parameters<typeof startSmtp>[0]) {
  const s = await startSmtp(opts);
  cleanups.push(() => s.stop());
  return s;
}

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0) / 1000;

function notice(o: {
  rule?: string;
  name?: string;
  labels: Record<string, string>;
  from: AlarmState;
  to: AlarmState;
  value: number | null;
  bound: number | null;
  at: number;
  summary?: string;
  reason?: AlarmNotice['reason'];
  since?: number;
}): AlarmNotice {
  const name = o.name ?? 'disk_used_pct';
  const series = `${name}{${Object.entries(o.labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;
  return {
    instance: {
      rule: o.rule ?? 'disk_full',
      series,
      name,
      labels: o.labels,
      state: o.to,
      value: o.value,
      bound: o.bound,
      since: o.since ?? o.at,
      evaluatedAt: o.at,
      summary: o.summary ?? '',
      muted: false,
    },
    from: o.from,
    to: o.to,
    at: o.at,
    reason: o.reason ?? 'change',
  };
}

const outbox = async (url: string) =>
  (await api<{ data: { id: number; status: string; attempts: number; messageId: string; lastError: string | null }[] }>(url, '/api/v1/notify/outbox')).body
    .data;

test('one mail per state change, exactly: series, value, bound, time, summary and links', async () => {
  const smtp = await smtpServer();
  const { c, url } = await collector({
    smtp: smtpConfig(smtp),
    from: 'rexmon <rexmon@lab.example>',
    to: ['ops@lab.example'],
    groupWait: 0,
    pollInterval: 0.05,
    statusUrl: 'http://status.lab.example/',
    grafanaUrl: 'https://grafana.lab.example/d/disk?var-host={{labels.host}}',
  });
  const labels = { host: 'fnpc1', mount: '/' };
  const steps: AlarmNotice[] = [
    notice({ labels, from: 'OK', to: 'WARNING', value: 91.25, bound: 90, at: T0, summary: 'Disk / on fnpc1 is 91.25% full' }),
    notice({ labels, from: 'WARNING', to: 'CRITICAL', value: 97.5, bound: 95, at: T0 + 300, summary: 'Disk / on fnpc1 is 97.5% full' }),
    notice({
      labels,
      from: 'CRITICAL',
      to: 'CRITICAL',
      value: 98,
      bound: 95,
      at: T0 + 4200,
      since: T0 + 300,
      reason: 'repeat',
      summary: 'Disk / on fnpc1 is 98% full',
    }),
    notice({ labels, from: 'CRITICAL', to: 'OK', value: 80, bound: 85, at: T0 + 5400, summary: 'Disk / on fnpc1 is 80% full' }),
  ];
  for (const [i, n] of steps.entries()) {
    await c.notifier!.accept([n]);
    await waitFor(`mail ${i + 1}`, async () => smtp.mails.length === i + 1);
  }
  const series = 'disk_used_pct{host="fnpc1",mount="/"}';
  const tail = ['  rule disk_full', '  Grafana: https://grafana.lab.example/d/disk?var-host=fnpc1', '', 'Status page: http://status.lab.example/', ''];
  const expected = [
    {
      subject: `[rexmon] WARNING disk_full: ${series}`,
      body: [
        `WARNING disk_full: ${series}`,
        '',
        `WARNING ${series}`,
        '  Disk / on fnpc1 is 91.25% full',
        '  value 91.25, bound 90',
        '  OK -> WARNING at 2026-12-01 12:00:00 UTC',
        ...tail,
      ],
    },
    {
      subject: `[rexmon] CRITICAL disk_full: ${series}`,
      body: [
        `CRITICAL disk_full: ${series}`,
        '',
        `CRITICAL ${series}`,
        '  Disk / on fnpc1 is 97.5% full',
        '  value 97.5, bound 95',
        '  WARNING -> CRITICAL at 2026-12-01 12:05:00 UTC',
        ...tail,
      ],
    },
    {
      subject: `[rexmon] CRITICAL (still) disk_full: ${series}`,
      body: [
        `CRITICAL (still) disk_full: ${series}`,
        '',
        `CRITICAL ${series}`,
        '  Disk / on fnpc1 is 98% full',
        '  value 98, bound 95',
        '  still CRITICAL since 2026-12-01 12:05:00 UTC (repeated at 2026-12-01 13:10:00 UTC)',
        ...tail,
      ],
    },
    {
      subject: `[rexmon] OK disk_full: ${series}`,
      body: [
        `OK disk_full: ${series}`,
        '',
        `OK ${series}`,
        '  Disk / on fnpc1 is 80% full',
        '  value 80, bound 85',
        '  CRITICAL -> OK at 2026-12-01 13:30:00 UTC',
        ...tail,
      ],
    },
  ];
  const rows = await outbox(url);
  for (const [i, m] of smtp.mails.entries()) {
    assert.equal(m.subject, expected[i].subject);
    assert.equal(m.body, expected[i].body.join('\n'));
    assert.equal(m.from, 'rexmon <rexmon@lab.example>');
    assert.deepEqual(m.to, ['ops@lab.example']);
    assert.deepEqual(m.envelope, { from: 'rexmon@lab.example', to: ['ops@lab.example'] });
    assert.match(m.messageId, /^<[0-9a-f-]{36}@lab\.example>$/);
    assert.ok(rows.some((r) => r.messageId === m.messageId && r.status === 'sent' && r.attempts === 1));
  }
  const metrics = await (await fetch(url + '/metrics')).text();
  assert.match(metrics, /^rexmon_notify_mails_sent_total\{kind="alarm"\} 4$/m);
  assert.match(metrics, /^rexmon_notify_queued\{state="pending"\} 0$/m);
  assert.match(metrics, /^rexmon_notify_oldest_pending_age_seconds 0$/m);
});

test('a host going down with 300 series: one mail listing them after groupWait; routes by label', async () => {
  const smtp = await smtpServer();
  const { c, url } = await collector({
    smtp: smtpConfig(smtp),
    to: ['ops@lab.example'],
    routes: [{ match: '{experiment="nova"}', to: ['nova-admins@lab.example'] }],
    groupBy: ['rule', 'host'],
    groupWait: 2,
    maxPerMail: 1000,
    pollInterval: 0.05,
  });
  const down = (host: string, i: number, extra: Record<string, string> = {}) =>
    notice({
      rule: 'host_down',
      name: 'up',
      labels: { host, job: `j${String(i).padStart(3, '0')}`, ...extra },
      from: 'OK',
      to: 'CRITICAL',
      value: null,
      bound: null,
      at: T0,
    });
  // Three batches of one evaluation pass, and two series of another host, one routed elsewhere.
  for (let b = 0; b < 3; b++) await c.notifier!.accept(Array.from({ length: 100 }, (_, i) => down('fnpc1', b * 100 + i)));
  await c.notifier!.accept([down('fnpc2', 0), down('fnpc2', 1, { experiment: 'nova' })]);
  // Inside the group wait nothing is composed yet: the notices wait in SQL.
  assert.equal((await outbox(url)).length, 0);
  await waitFor('3 mails', async () => smtp.mails.length >= 3, 20000);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(smtp.mails.length, 3);
  const byHost = (h: string, to: string) => smtp.mails.find((m) => m.subject.includes(`host="${h}"`) && m.to.includes(to))!;
  const big = byHost('fnpc1', 'ops@lab.example');
  assert.equal(big.subject, '[rexmon] CRITICAL host_down {host="fnpc1"}: 300 series (300 CRITICAL)');
  const listed = big.body.split('\n').filter((l) => l.startsWith('CRITICAL up{'));
  assert.equal(listed.length, 300);
  assert.equal(new Set(listed).size, 300);
  assert.ok(listed.includes('CRITICAL up{host="fnpc1",job="j299"}'));
  assert.match(big.body, / {2}value none \(no data\)\n {2}OK -> CRITICAL at 2026-12-01 12:00:00 UTC\n {2}rule host_down\n/);
  assert.equal(byHost('fnpc2', 'ops@lab.example').subject, '[rexmon] CRITICAL host_down: up{host="fnpc2",job="j000"}');
  assert.deepEqual(byHost('fnpc2', 'nova-admins@lab.example').to, ['nova-admins@lab.example']);
});

test('a group larger than maxPerMail goes out in several mails, each notice in exactly one', async () => {
  const smtp = await smtpServer();
  const { c } = await collector({ smtp: smtpConfig(smtp), to: ['ops@lab.example'], groupWait: 0.2, maxPerMail: 40, pollInterval: 0.05 });
  await c.notifier!.accept(
    Array.from({ length: 100 }, (_, i) => notice({ labels: { host: `h${i}` }, from: 'OK', to: 'WARNING', value: i, bound: 90, at: T0 })),
  );
  await waitFor('3 mails', async () => smtp.mails.length >= 3);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(
    smtp.mails.map((m) => m.subject),
    ['40', '40', '20'].map((n) => `[rexmon] WARNING disk_full: ${n} series (${n} WARNING)`),
  );
  const lines = smtp.mails.flatMap((m) => m.body.split('\n').filter((l) => l.startsWith('WARNING disk_used_pct')));
  assert.equal(new Set(lines).size, 100);
});

test('SMTP down, then refusing, then up, with a collector restart in between: every mail delivered exactly once', async () => {
  const smtp = await smtpServer();
  await smtp.stop(); // nothing listens on its port: connections are refused
  const dir = (await tempDir()).dir;
  const notify = { smtp: smtpConfig(smtp), to: ['ops@lab.example'], groupWait: 0, pollInterval: 0.05, retry: { initial: 0.1, max: 0.4 } };
  const a = await collector(notify, dir);
  const n = (rule: string) => notice({ rule, labels: { host: 'fnpc1' }, from: 'OK', to: 'CRITICAL', value: 99, bound: 95, at: T0 });
  await a.c.notifier!.accept([n('r1')]);
  await a.c.notifier!.accept([n('r2'), n('r3')]);
  await waitFor('every message tried and refused', async () => {
    const rows = await outbox(a.url);
    return rows.length === 3 && rows.every((r) => r.status === 'pending' && r.attempts >= 1 && /ECONNREFUSED|ECONNECTION/.test(r.lastError ?? ''));
  });
  await a.stop();

  const b = await collector(notify, dir);
  await b.c.notifier!.accept([n('r4')]);
  smtp.refuse = { code: 451, message: 'try again later' };
  await smtp.start();
  await waitFor('the temporary refusal seen', async () => (await outbox(b.url)).some((r) => /451/.test(r.lastError ?? '')));
  assert.equal(smtp.mails.length, 0);
  smtp.refuse = undefined;
  await waitFor('4 mails', async () => smtp.mails.length >= 4, 20000);
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(smtp.mails.length, 4);
  assert.deepEqual(smtp.mails.map((m) => m.subject.split(' ')[2]).sort(), ['r1:', 'r2:', 'r3:', 'r4:']);
  const rows = await outbox(b.url);
  assert.equal(new Set(smtp.mails.map((m) => m.messageId)).size, 4);
  for (const m of smtp.mails) assert.equal(rows.find((r) => r.messageId === m.messageId)?.status, 'sent');
  const metrics = await (await fetch(b.url + '/metrics')).text();
  assert.match(metrics, /^rexmon_notify_mails_sent_total\{kind="alarm"\} 4$/m);
  assert.match(metrics, /^rexmon_notify_send_errors_total\{kind="alarm"\} [1-9]/m);
  assert.match(metrics, /^rexmon_notify_queued\{state="waiting"\} 0$/m);
});

test('a send cut by a crash: the message stays "sending" until its lease ends, then goes again with the same Message-ID', async () => {
  const { c } = await collector({ smtp: { host: '127.0.0.1', port: 1, starttls: 'off' }, to: ['ops@lab.example'], pollInterval: 600 });
  await c.notifier!.stop();
  const box = new Outbox(c.db, 'lab.example');
  await box.enqueue(
    [
      {
        kind: 'alarm',
        group: 'g',
        recipients: ['ops@lab.example'],
        payload: notice({ labels: { host: 'x' }, from: 'OK', to: 'CRITICAL', value: 1, bound: 0, at: T0 }),
        dueAt: 0,
      },
    ],
    1000,
  );
  const [key] = await box.dueGroups(2000);
  const id = await box.compose(key, 10, () => ({ subject: 's', body: 'b' }), 2000);
  assert.ok(id);
  const [m] = await box.due(2000);
  assert.equal(await box.claim(m, 2000, 62000), true);
  // The process dies here, after the claim: nobody else may take it before the lease ends.
  assert.deepEqual(await box.due(61999), []);
  const [again] = await box.due(62000);
  assert.equal(again.messageId, m.messageId);
  assert.equal(again.status, 'sending');
  assert.equal(await box.claim(again, 62000, 122000), true);
  // A second claimer with the stale row loses.
  assert.equal(await box.claim(again, 62000, 122000), false);
  await box.markSent(again.id, 63000);
  assert.deepEqual(await box.due(1e15), []);
});

test('the SMTP password (file or environment) reaches the server and never a log, the outbox or /metrics', async () => {
  const password = 'S3cr3t-pa55-b1d7e';
  const smtp = await smtpServer({ auth: { user: 'rexmon', password: 'something-else' } });
  const dir = (await tempDir()).dir;
  const file = path.join(dir, 'smtp-password');
  await writeFile(file, password + '\n');
  const lines: string[] = [];
  const { c, url } = await collector(
    {
      smtp: smtpConfig(smtp, { auth: { user: 'rexmon', passwordFile: file } }),
      to: ['ops@lab.example'],
      groupWait: 0,
      pollInterval: 0.05,
      retry: { initial: 0.1, max: 0.3 },
    },
    dir,
    lines,
  );
  await c.notifier!.accept([notice({ labels: { host: 'fnpc1' }, from: 'OK', to: 'CRITICAL', value: 99, bound: 95, at: T0 })]);
  await waitFor('a refused login', async () => (await outbox(url)).some((r) => /EAUTH/.test(r.lastError ?? '')));
  // The server now takes that password: the same message goes out.
  await smtp.stop();
  const good = await smtpServer({ auth: { user: 'rexmon', password }, port: smtp.port });
  await waitFor('the mail', async () => good.mails.length === 1);
  assert.equal(good.mails[0].user, 'rexmon');
  assert.ok(smtp.logins.concat(good.logins).some((l) => l.password === password));
  const seen = [lines.join(''), JSON.stringify(await outbox(url)), await (await fetch(url + '/metrics')).text()];
  assert.ok(
    lines.some((l) => /EAUTH/.test(l)),
    'the refused login is logged',
  );
  for (const s of seen) assert.ok(!s.includes(password) && !s.includes(Buffer.from(password).toString('base64')), 'the password shows');
  await c.stop();

  process.env.REXMON_TEST_SMTP_PW = password;
  const env = await collector(
    { smtp: smtpConfig(good, { auth: { user: 'rexmon', passwordEnv: 'REXMON_TEST_SMTP_PW' } }), to: ['ops@lab.example'], groupWait: 0, pollInterval: 0.05 },
    dir,
    lines,
  );
  await env.c.notifier!.accept([notice({ labels: { host: 'fnpc2' }, from: 'OK', to: 'CRITICAL', value: 99, bound: 95, at: T0 })]);
  await waitFor('the second mail', async () => good.mails.length === 2);
  delete process.env.REXMON_TEST_SMTP_PW;
  await env.stop();
  await assert.rejects(
    collector({ smtp: smtpConfig(good, { auth: { user: 'rexmon', passwordEnv: 'REXMON_TEST_SMTP_PW' } }) }),
    /notify\.smtp\.auth\.passwordEnv: the environment variable REXMON_TEST_SMTP_PW is not set/,
  );
  assert.ok(!lines.join('').includes(password));
});

test('an event handler mails the station admin when a disk reports errors (and only then)', async () => {
  const smtp = await smtpServer();
  const { url } = await collector({
    smtp: smtpConfig(smtp),
    pollInterval: 0.05,
    statusUrl: 'http://status.lab.example/',
    eventHandlers: [
      { type: 'disk.*', match: { status: 'error' }, to: ['station-admin@lab.example'], subject: 'Disk errors on {{labels.host}}: {{data.device}}' },
    ],
  });
  const time = T0 * 1000;
  const post = (events: object[]) => api(url, '/api/v1/events', { method: 'POST', body: JSON.stringify(events) });
  const r = await post([
    { type: 'disk.smart', source: 'smartd@fnpc7', time, labels: { host: 'fnpc7' }, data: { status: 'error', device: 'sda', errors: 3 } },
    { type: 'disk.smart', source: 'smartd@fnpc8', time, labels: { host: 'fnpc8' }, data: { status: 'ok', device: 'sdb' } },
    { type: 'job.held', source: 'schedd', time, data: { status: 'error' } },
  ]);
  assert.equal(r.status, 202);
  await waitFor('the mail', async () => smtp.mails.length === 1);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(smtp.mails.length, 1);
  const m = smtp.mails[0] as ReceivedMail;
  assert.equal(m.subject, 'Disk errors on fnpc7: sda');
  assert.deepEqual(m.to, ['station-admin@lab.example']);
  assert.equal(
    m.body,
    [
      'disk.smart from smartd@fnpc7 at 2026-12-01 12:00:00 UTC',
      '  labels: host=fnpc7',
      '  status: error',
      '  device: sda',
      '  errors: 3',
      '',
      'Status page: http://status.lab.example/',
      '',
    ].join('\n'),
  );
});

test('event data cannot add headers or recipients: a newline in a templated subject stays in the one line', async () => {
  const smtp = await smtpServer();
  const { url } = await collector({
    smtp: smtpConfig(smtp),
    pollInterval: 0.05,
    eventHandlers: [{ type: 'disk.error', to: ['station-admin@lab.example'], subject: 'Disk {{data.device}}' }],
  });
  const device = 'sda\r\nBcc: thief@evil.example\r\n\r\nforged body';
  const r = await api(url, '/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'disk.error', source: 'smartd', data: { device } }) });
  assert.equal(r.status, 202);
  await waitFor('the mail', async () => smtp.mails.length === 1);
  const m = smtp.mails[0];
  assert.equal(m.subject, 'Disk sda Bcc: thief@evil.example forged body');
  assert.equal(m.headers.bcc, undefined);
  assert.deepEqual(m.envelope.to, ['station-admin@lab.example']);
  assert.match(m.body, /^disk\.error from smartd at .* UTC\n {2}device: sda Bcc: thief@evil\.example forged body\n/);
});

test('downtime notices: started, window closed, ended early, cancelled — once each, also across a restart', async () => {
  const smtp = await smtpServer();
  const dir = (await tempDir()).dir;
  const notify = { smtp: smtpConfig(smtp), downtimeNotices: ['ops@lab.example'], downtimeCheckInterval: 0.1, pollInterval: 0.05 };
  let a = await collector(notify, dir);
  const dt = downtimeApi(() => a.url);
  const subjects = () => smtp.mails.map((m) => m.subject);
  const now = Math.floor(Date.now() / 1000);
  const closing = await dt.post({ match: '{host="fnpc1"}', start: now - 60, end: now + 2, reason: 'disk swap' });
  const early = await dt.post({ match: '{host="fnpc2"}', start: now - 60, end: now + 3600 });
  const cancelled = await dt.post({ match: '{rack="r7"}', start: now - 60, end: now + 3600, kind: 'unplanned' });
  await waitFor('3 start notices', async () => smtp.mails.length >= 3);
  assert.deepEqual(
    subjects().sort(),
    [
      `[rexmon] Downtime #${closing.id} started: {host="fnpc1"} (planned)`,
      `[rexmon] Downtime #${early.id} started: {host="fnpc2"} (planned)`,
      `[rexmon] Downtime #${cancelled.id} started: {rack="r7"} (unplanned)`,
    ].sort(),
  );
  const start = smtp.mails.find((m) => m.subject.includes(`#${closing.id} `))!;
  assert.equal(
    start.body,
    [
      `Planned downtime #${closing.id} started at ${new Date(closing.createdAt * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')}.`,
      '',
      '  scope:  {host="fnpc1"}',
      '  reason: disk swap',
      '  author: alice',
      `  window: ${new Date((now - 60) * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')} to ${new Date((now + 2) * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')}`,
      '',
      'Alarms of the series in scope are muted until it ends.',
      '',
      `Status page: ${a.url}/`,
      '',
    ].join('\n'),
  );
  // A restart while they run tells nothing again.
  await a.stop();
  a = await collector(notify, dir);
  const ended = await dt.call('POST', `/downtimes/${early.id}/end`);
  await dt.call('DELETE', `/downtimes/${cancelled.id}`);
  await waitFor('3 end notices', async () => smtp.mails.length >= 6, 15000);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(smtp.mails.length, 6);
  const endOf = (id: number) => smtp.mails.find((m) => m.subject.startsWith(`[rexmon] Downtime #${id} ended`))!;
  assert.match(endOf(closing.id).body, new RegExp(`^Planned downtime #${closing.id} ended at .* UTC: its window closed\\.\\n`));
  assert.match(endOf(early.id).body, new RegExp(`^Planned downtime #${early.id} ended at .* UTC: it was ended early by ${ended.endedBy}\\.\\n`));
  assert.match(endOf(cancelled.id).body, new RegExp(`^Unplanned downtime #${cancelled.id} ended at .* UTC: it was cancelled by anonymous\\.\\n`));
  assert.match(endOf(early.id).body, /Alarms of the series in scope notify again; those still bad are told now\./);
  await a.stop();
  a = await collector(notify, dir);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(smtp.mails.length, 6);
});

test('notify config errors name the key', () => {
  const bad = (yaml: string) => {
    try {
      parseConfigText(yaml, 'rexmon.yaml');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems.join('\n');
    }
    assert.fail('accepted');
  };
  assert.match(
    bad('notify:\n  smtp:\n    host: mail\n    password: hunter2\n'),
    /notify\.smtp\.password \(line 4\): passwords are not written in the config: use auth\.passwordFile or auth\.passwordEnv/,
  );
  assert.ok(!bad('notify:\n  smtp:\n    host: mail\n    password: hunter2\n').includes('hunter2'));
  assert.match(bad('notify:\n  smtp:\n    host: mail\n    auth: { user: u }\n'), /notify\.smtp\.auth .*needs exactly one of passwordFile or passwordEnv/);
  assert.match(bad('notify:\n  to: [ops]\n'), /notify\.to\.0 .*expected an e-mail address/);
  assert.match(bad('notify:\n  routes: [{ match: "{host=~\\"((\\"}", to: [a@b.c] }]\n'), /notify\.routes\.0\.match .*invalid regular expression/);
  assert.match(bad('notify:\n  groupWait: soon\n'), /notify\.groupWait .*not a duration/);
  assert.match(bad('notify:\n  retry: { initial: 60, max: 10 }\n'), /notify\.retry\.max .*must not be less than retry\.initial/);
  assert.match(bad('notify:\n  eventHandlers: [{ type: disk.error }]\n'), /notify\.eventHandlers\.0\.to/);
  assert.match(bad('notify:\n  smtp: { host: mail, port: 70000 }\n'), /notify\.smtp\.port/);
});

test('GET /notify/outbox: a bad status or id is a 400 naming it', async () => {
  const smtp = await smtpServer();
  const { url } = await collector({ smtp: smtpConfig(smtp) });
  const r = await api(url, '/api/v1/notify/outbox?status=lost');
  assert.equal(r.status, 400);
  assert.equal(r.body.error?.path, 'status');
  assert.equal((await api(url, '/api/v1/notify/outbox/abc')).body.error?.path, 'id');
  assert.equal((await api(url, '/api/v1/notify/outbox/99')).status, 404);
  assert.equal((await api(url, '/api/v1/notify/outbox?limit=0')).body.error?.path, 'limit');
});
