// SMTP over TLS against a real server on loopback with a certificate made for the test (openssl): STARTTLS
// required and implicit TLS with the lab's CA file deliver; an unknown certificate or a server without
// STARTTLS (when required) delivers nothing and says why in the outbox.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { AlarmNotice } from '../alarms/types.js';
import { api, run, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';
import { startSmtp, TestSmtp } from '../testing/smtp.js';

let dir: string;
let cleanup: () => Promise<void>;
let tls: { key: string; cert: string };
const stops: (() => Promise<void>)[] = [];

before(async () => {
  ({ dir, cleanup } = await tempDir());
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
  ]);
  tls = { key: await readFile(path.join(dir, 'key.pem'), 'utf8'), cert: await readFile(path.join(dir, 'cert.pem'), 'utf8') };
});
after(async () => {
  for (const s of stops.reverse()) await s();
  await cleanup();
});

const n: AlarmNotice = {
  instance: {
    rule: 'r',
    series: 'up{host="a"}',
    name: 'up',
    labels: { host: 'a' },
    state: 'CRITICAL',
    value: 0,
    bound: 1,
    since: 1e9,
    evaluatedAt: 1e9,
    summary: '',
    muted: false,
  },
  from: 'OK',
  to: 'CRITICAL',
  at: 1e9,
  reason: 'change',
};

async function pair(server: Parameters<typeof startSmtp>[0], smtp: Record<string, unknown>): Promise<{ s: TestSmtp; c: TestCollector }> {
  const s = await startSmtp(server);
  stops.push(() => s.stop());
  const c = await startCollector({
    notify: {
      smtp: { host: '127.0.0.1', port: s.port, timeout: 3, ...smtp },
      to: ['ops@lab.example'],
      groupWait: 0,
      pollInterval: 0.05,
      retry: { initial: 5, max: 5 },
    },
  });
  stops.push(() => c.stop());
  await c.collector.notifier!.accept([n]);
  return { s, c };
}

const lastError = async (c: TestCollector) =>
  (await api<{ data: { lastError: string | null }[] }>(c.url, '/api/v1/notify/outbox')).body.data[0]?.lastError ?? undefined;

test('STARTTLS required, certificate checked against caFile: delivered over TLS', async () => {
  const { s } = await pair({ tls }, { starttls: 'required', caFile: path.join(dir, 'cert.pem') });
  await waitFor('the mail', async () => s.mails.length === 1);
  assert.equal(s.mails[0].secure, true);
});

test('implicit TLS (secure) with caFile: delivered over TLS', async () => {
  const { s } = await pair({ tls: { ...tls, implicit: true } }, { secure: true, caFile: path.join(dir, 'cert.pem') });
  await waitFor('the mail', async () => s.mails.length === 1);
  assert.equal(s.mails[0].secure, true);
});

test('a certificate nobody vouches for: nothing sent, the outbox says why', async () => {
  const { s, c } = await pair({ tls }, { starttls: 'required' });
  const e = await waitFor('the error', () => lastError(c));
  assert.match(e, /certificate/i);
  assert.equal(s.mails.length, 0);
});

test('STARTTLS required but not offered: nothing sent in clear text', async () => {
  const { s, c } = await pair({}, { starttls: 'required' });
  const e = await waitFor('the error', () => lastError(c));
  assert.match(e, /STARTTLS/);
  assert.equal(s.mails.length, 0);
});
