// No secret leaks: a collector configured with an API token, users' passwords, an SMTP password and Grafana
// and Alertmanager tokens is used (logins right and wrong, mail sent, unreachable Grafana), then its log (at
// trace level), every error it answered, /metrics, the status page, the audit log and every GET of the API
// are searched for each secret.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { Collector } from '../app.js';
import { configSchema } from '../config/schema.js';
import { freePort, run, tempDir, waitFor } from '../testing/harness.js';
import { startSmtp } from '../testing/smtp.js';
import { createToken } from './tokens.js';

test('no token, password, hash, SMTP or Grafana credential appears in logs, errors, /metrics, the status page or the API', async () => {
  const t = await tempDir();
  const secrets: Record<string, string> = {
    userPassword: 'Hunter2-user-password-91',
    smtpPassword: 'smtp-Secret-passw0rd-77',
    grafanaToken: 'glsa_grafanaSecretToken_0123456789',
    amToken: 'alertmanager-Secret-token-55',
    wrongPasswordTried: 'Not-the-password-4711',
    wrongTokenTried: 'rxm_wrongButSecretLookingToken_abc',
  };
  const users = path.join(t.dir, 'users');
  const line = (await run('htpasswd', ['-nbB', '-C', '4', 'carol', secrets.userPassword])).stdout.trim();
  writeFileSync(users, `${line}:admin\n`);
  secrets.passwordHash = line.split(':')[1];
  const smtp = await startSmtp({ auth: { user: 'rexmon', password: secrets.smtpPassword } });
  process.env.REXMON_TEST_SMTP_PASSWORD = secrets.smtpPassword;
  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logged += chunk;
      cb();
    },
  });
  const closed = await freePort(); // nothing listens: Grafana and the Alertmanager are "down"
  const config = configSchema.parse({
    dataDir: path.join(t.dir, 'data'),
    http: { listen: '127.0.0.1:0' },
    graphite: { tcp: false, udp: false },
    slurpers: [],
    auth: { anonymousRead: false, users: { file: users } },
    notify: {
      smtp: { host: smtp.host, port: smtp.port, starttls: 'off', timeout: 2, auth: { user: 'rexmon', passwordEnv: 'REXMON_TEST_SMTP_PASSWORD' } },
      downtimeNotices: ['ops@lab.example'],
      downtimeCheckInterval: 0.1,
      pollInterval: 0.05,
    },
    downtimes: {
      reconcileInterval: 1,
      probeInterval: 0.2,
      grafana: { url: `http://127.0.0.1:${closed}`, token: secrets.grafanaToken },
      alertmanagers: [{ url: `http://127.0.0.1:${closed}/am`, token: secrets.amToken }],
    },
  });
  const c = new Collector(config, pino({ level: 'trace' }, sink));
  await c.start();
  const answers: string[] = [];
  const call = async (p: string, init: RequestInit = {}) => {
    const res = await fetch(`${c.addresses.http}${p}`, init);
    const text = await res.text();
    answers.push(`${res.status} ${p} ${JSON.stringify([...res.headers])} ${text}`);
    return { status: res.status, text };
  };
  const basic = (u: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${pw}`).toString('base64')}` });
  try {
    secrets.apiToken = await createToken(c.db, 'ops', 'admin');
    const admin = { authorization: `Bearer ${secrets.apiToken}` };
    // Wrong logins, a wrong token, and a good login; a downtime that mails its start, a token made by the API.
    for (const h of [basic('carol', secrets.wrongPasswordTried), basic('nobody', secrets.userPassword), { authorization: `Bearer ${secrets.wrongTokenTried}` }])
      assert.equal((await call('/api/v1/series', { headers: h })).status, 401);
    assert.equal((await call('/api/v1/auth/whoami', { headers: basic('carol', secrets.userPassword) })).status, 200);
    const now = Math.floor(Date.now() / 1000);
    const dt = await call('/api/v1/downtimes', {
      method: 'POST',
      headers: { ...basic('carol', secrets.userPassword), 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'planned', match: '{host="a"}', start: now - 10, end: now + 3600, author: 'carol', reason: 'r' }),
    });
    assert.equal(dt.status, 201, dt.text);
    const made = await call('/api/v1/tokens', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'g', role: 'viewer' }),
    });
    secrets.madeToken = JSON.parse(made.text).data.token;
    await waitFor('the mail', async () => smtp.mails.length > 0);
    assert.equal(smtp.logins[0]?.password, secrets.smtpPassword, 'the SMTP password was used');
    await waitFor('the reconciler to fail against Grafana', async () =>
      /ECONNREFUSED|refused|fetch failed/i.test((await call('/api/v1/downtimes/sync', { headers: admin })).text),
    );

    // Everything a reader can get: the status page, /metrics, the audit log, every GET of the document.
    await call('/', { headers: admin });
    await call('/metrics', { headers: admin });
    const doc = JSON.parse((await call('/api/v1/openapi.json', { headers: admin })).text) as { paths: Record<string, object> };
    for (const [p, item] of Object.entries(doc.paths))
      if ('get' in item) await call(`/api/v1${p.replace(/\{name\}/g, 'host').replace(/\{\w+\}/g, '1')}`, { headers: admin });
    await call('/api/v1/audit', { headers: admin });
    await call('/api/v1/notify/outbox', { headers: admin });
  } finally {
    await c.stop();
    await smtp.stop();
    delete process.env.REXMON_TEST_SMTP_PASSWORD;
    await t.cleanup();
  }
  assert.ok(logged.length > 1000, `log captured: ${logged.slice(0, 300)}`);
  assert.ok(answers.length > 30, `answers: ${answers.length}`);
  const places = { log: logged, answers: answers.join('\n') };
  const leaks: string[] = [];
  for (const [where, text] of Object.entries(places))
    for (const [name, secret] of Object.entries(secrets)) {
      if (text.includes(secret)) leaks.push(`${name} in ${where}`);
      // Base64 too (a Basic header echoed back would carry it so).
      if (text.includes(Buffer.from(secret).toString('base64').replace(/=+$/, ''))) leaks.push(`${name} (base64) in ${where}`);
    }
  // The one place a secret must appear: the answer to POST /tokens, once.
  assert.deepEqual(
    leaks.filter((l) => l !== 'madeToken in answers'),
    [],
  );
  assert.equal(answers.filter((a) => a.includes(secrets.madeToken)).length, 1, 'the new token is shown once, in the answer that made it');
});
