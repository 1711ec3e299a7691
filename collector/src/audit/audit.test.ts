// The audit log: downtime, token, user and config changes, each with who, via what, from where, when, what —
// through the API (tokens, Basic users, proxy identities), the CLI, and a config reload by SIGHUP.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createToken } from '../auth/tokens.js';
import { api, freePort, run, startCollector, tempDir, waitFor } from '../testing/harness.js';
import type { AuditRecord } from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, '../../bin/rexmon.js');
const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

test('downtime and token changes are audited with who, via, from and what; the list filters and refuses bad parameters', async () => {
  const t = await tempDir();
  const users = path.join(t.dir, 'users');
  await run('htpasswd', ['-cbB', '-C', '4', users, 'bob', 'bob-password']);
  writeFileSync(users, (await run('htpasswd', ['-nbB', '-C', '4', 'root', 'root-password'])).stdout.trim() + ':admin\n', { flag: 'a' });
  const c = await startCollector({
    auth: { users: { file: users, defaultRole: 'editor' }, proxy: { header: 'X-Remote-User', trustedProxies: ['127.0.0.1'], defaultRole: 'editor' } },
  });
  try {
    const admin = basic('root', 'root-password');
    const list = async (q = '') => {
      const r = await api<{ data: AuditRecord[] }>(c.url, `/api/v1/audit${q}`, { headers: admin });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.data;
    };
    const t0 = Date.now();
    const body = {
      kind: 'planned',
      match: '{host="fnpc1"}',
      start: Math.floor(t0 / 1000) + 3600,
      end: Math.floor(t0 / 1000) + 7200,
      author: 'Bob B.',
      reason: 'disk swap',
    };
    const made = await api<{ data: { id: number } }>(c.url, '/api/v1/downtimes', {
      method: 'POST',
      headers: basic('bob', 'bob-password'),
      body: JSON.stringify(body),
    });
    assert.equal(made.status, 201);
    const id = made.body.data.id;
    assert.equal(
      (
        await api(c.url, `/api/v1/downtimes/${id}`, {
          method: 'PATCH',
          headers: { 'x-remote-user': 'sso-erin' },
          body: JSON.stringify({ reason: 'disk swap, two disks' }),
        })
      ).status,
      200,
    );
    const editor = await createToken(c.collector.db, 'ci-editor', 'editor');
    assert.equal((await api(c.url, `/api/v1/downtimes/${id}`, { method: 'DELETE', token: editor })).status, 200);
    const tok = await api<{ data: { token: string } }>(c.url, '/api/v1/tokens', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'grafana', role: 'viewer' }),
    });
    assert.equal(tok.status, 201);

    const rows = await list();
    const mine = rows.filter((r) => r.action !== 'config.start').reverse();
    assert.deepEqual(
      mine.map((r) => [r.action, r.target, r.who, r.via, r.from]),
      [
        ['downtime.create', `downtime ${id}`, 'bob', 'user', '127.0.0.1'],
        ['downtime.update', `downtime ${id}`, 'sso-erin', 'proxy', '127.0.0.1'],
        ['downtime.cancel', `downtime ${id}`, 'ci-editor', 'token', '127.0.0.1'],
        ['token.create', 'token grafana', 'root', 'user', '127.0.0.1'],
      ],
    );
    assert.equal(mine[0].details.actor, 'Bob B.');
    assert.deepEqual((mine[1].details.changes as Record<string, unknown>).reason, { from: 'disk swap', to: 'disk swap, two disks' });
    assert.deepEqual(mine[3].details, { role: 'viewer' }, 'the token itself is not in the log');
    assert.doesNotMatch(JSON.stringify(rows), new RegExp(tok.body.data.token));
    for (const r of mine) assert.ok(r.at >= t0 - 1000 && r.at <= Date.now(), `at is Unix ms: ${r.at}`);

    // Filters: a family, a person, a target, a time range, a limit.
    assert.equal((await list('?action=downtime.')).length, 3);
    assert.deepEqual(
      (await list('?who=bob')).map((r) => r.action),
      ['downtime.create'],
    );
    assert.equal((await list(`?target=downtime%20${id}&limit=1`))[0].action, 'downtime.cancel');
    assert.equal((await list(`?from=${Math.floor(Date.now() / 1000) + 60}`)).length, 0);
    for (const [q, param] of [
      ['?limit=0', 'limit'],
      ['?from=yesterday', 'from'],
      ['?from=2000&to=1000', 'to'],
    ]) {
      const r = await api(c.url, `/api/v1/audit${q}`, { headers: admin });
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error!.path, param, q);
    }
    assert.equal((await api(c.url, '/api/v1/audit', { headers: basic('bob', 'bob-password') })).status, 403);
  } finally {
    await c.stop();
    await t.cleanup();
  }
});

test('rexmon token create and rexmon user add (with a config) are audited as cli:<user>; SIGHUP reloads the config and says what changed', async () => {
  const t = await tempDir();
  const port = await freePort();
  const cfg = path.join(t.dir, 'rexmon.yaml');
  const users = path.join(t.dir, 'users');
  writeFileSync(users, `${(await run('htpasswd', ['-nbB', '-C', '4', 'root', 'root-password'])).stdout.trim()}:admin\n`);
  const config = (anonymousRead: boolean, writers: number) =>
    [
      `dataDir: ${t.dir}`,
      `http: {listen: "127.0.0.1:${port}"}`,
      'graphite: {tcp: false, udp: false}',
      'slurpers: []',
      'log: {level: warn}',
      `rrd: {writers: ${writers}}`,
      `auth: {anonymousRead: ${anonymousRead}, users: {file: ${users}}}`,
    ].join('\n');
  writeFileSync(cfg, config(true, 2));
  const child = spawn('node', [BIN, 'start', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const admin = basic('root', 'root-password');
  const list = async (q = '') => (await api<{ data: AuditRecord[] }>(url, `/api/v1/audit${q}`, { headers: admin })).body.data;
  try {
    await waitFor('the collector', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok);
    assert.deepEqual(
      (await list('?action=config.')).map((r) => [r.action, r.details.changed]),
      [['config.start', 'first start']],
    );
    await run('node', [BIN, 'token', 'create', '--role', 'viewer', '--name', 'nightly', '--config', cfg]);
    const add = spawn('node', [BIN, 'user', 'add', 'dana', '--role', 'editor', '--password-stdin', '--config', cfg], { stdio: ['pipe', 'ignore', 'pipe'] });
    add.stdin.end('dana-password\n');
    assert.equal(await new Promise((r) => add.on('close', r)), 0);
    const me = (await run('id', ['-un'])).stdout.trim();
    await waitFor('the collector to see dana', async () => (await list('?target=user%20dana')).length === 2);
    assert.deepEqual(
      (await list('?action=token.')).map((r) => [r.who, r.via, r.target, r.details.role]),
      [[`cli:${me}`, 'cli', 'token nightly', 'viewer']],
    );
    assert.deepEqual((await list('?target=user%20dana')).map((r) => [r.action, r.who, r.via]).sort(), [
      ['user.add', `cli:${me}`, 'cli'],
      ['user.add', 'users file', 'system'],
    ]);

    // SIGHUP: anonymous read off at once; the writer count waits for a restart and the log says so.
    assert.equal((await api(url, '/api/v1/series')).status, 200);
    writeFileSync(cfg, config(false, 3));
    child.kill('SIGHUP');
    await waitFor('the reload', async () => (await api(url, '/api/v1/series')).status === 401);
    const reload = (await list('?action=config.reload'))[0];
    assert.deepEqual(reload.details.changed, ['auth.anonymousRead', 'rrd.writers']);
    assert.equal(reload.who, 'collector');
    await waitFor('the log line', async () =>
      /config reloaded; applied: auth.anonymousRead; changed, takes effect at the next start: rrd.writers/.test(stderr),
    ).catch((e) => assert.fail(`${e.message}: ${stderr}`));

    // A config that does not validate is refused whole, and that is audited too.
    writeFileSync(cfg, `${config(true, 3)}\nfrobnicate: 1`);
    child.kill('SIGHUP');
    await waitFor('the refusal', async () => (await list('?action=config.reload-refused')).length === 1);
    assert.match(String((await list('?action=config.reload-refused'))[0].details.error), /frobnicate/);
    assert.equal((await api(url, '/api/v1/series')).status, 401, 'nothing of the refused config applied');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  await t.cleanup();
});
