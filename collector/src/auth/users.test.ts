// People's logins: files made by the real Apache `htpasswd -B` verify; `rexmon user` writes the same format
// (atomically, mode 0600) and the collector picks up changes (polling and SIGHUP-style reload), auditing them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { api, run, startCollector, tempDir, waitFor } from '../testing/harness.js';
import { parseHtpasswd, UserStore } from './htpasswd.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, '../../bin/rexmon.js');

function cli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

test('hashes written by the real htpasswd -B ($2y$, costs 5 and 12) verify; wrong passwords and other hash kinds do not', async () => {
  const t = await tempDir();
  try {
    const file = path.join(t.dir, 'users');
    await run('htpasswd', ['-cbB', file, 'alice', 'alice-pass-1']);
    await run('htpasswd', ['-bB', '-C', '12', file, 'bob', 'bob-pass-2']);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^alice:\$2y\$05\$/m);
    assert.match(text, /^bob:\$2y\$12\$/m);
    const store = new UserStore(file, { defaultRole: 'viewer', cacheSeconds: 60, pollSeconds: 1 });
    assert.deepEqual(await store.verify('alice', 'alice-pass-1'), { name: 'alice', role: 'viewer' });
    assert.deepEqual(await store.verify('bob', 'bob-pass-2'), { name: 'bob', role: 'viewer' });
    assert.equal(await store.verify('alice', 'bob-pass-2'), undefined);
    assert.equal(await store.verify('alice', 'alice-pass-1 '), undefined);
    assert.equal(await store.verify('carol', 'alice-pass-1'), undefined);
    // A cached success must not let a wrong password through afterwards.
    assert.equal(await store.verify('alice', 'alice-pass-'), undefined);

    // MD5 (htpasswd -m) and SHA-1 (-s) lines are refused by name, with the line.
    await run('htpasswd', ['-bm', file, 'md5user', 'x']);
    assert.throws(
      () => new UserStore(file, { defaultRole: 'viewer', cacheSeconds: 60, pollSeconds: 1 }),
      /users:3: user "md5user" has a MD5 \(apr1\) hash; only bcrypt/,
    );
    assert.throws(() => parseHtpasswd('x:{SHA}abc\n', 'f'), /f:1: user "x" has a SHA-1 hash/);
    assert.throws(() => parseHtpasswd(`x:${'$2y$05$' + 'a'.repeat(53)}:root\n`, 'f'), /f:1: role "root" is not one of viewer, editor, admin/);
    assert.throws(() => parseHtpasswd('just-a-name\n', 'f'), /f:1: expected user:hash/);
  } finally {
    await t.cleanup();
  }
});

test('rexmon user add|passwd|remove|list: htpasswd format, mode 0600, real htpasswd reads it; bad input exits 2 naming it', async () => {
  const t = await tempDir();
  try {
    const file = path.join(t.dir, 'users');
    let r = await cli(['user', 'add', 'alice', '--role', 'admin', '--password-stdin', '-f', file], 'correct horse\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /^alice:\$2b\$10\$[./A-Za-z0-9]{53}:admin\n$/);
    // The real htpasswd adds a line beside ours and verifies its own; we verify both.
    await run('htpasswd', ['-bB', file, 'bob', 'bobs-password']);
    r = await cli(['user', 'add', 'carol', '--role', 'editor', '--password-stdin', '-f', file], 'carols-password');
    assert.equal(r.code, 0, r.stderr);
    await run('htpasswd', ['-vb', file, 'bob', 'bobs-password']);
    const store = new UserStore(file, { defaultRole: 'viewer', cacheSeconds: 60, pollSeconds: 1 });
    assert.deepEqual(await store.verify('alice', 'correct horse'), { name: 'alice', role: 'admin' });
    assert.deepEqual(await store.verify('bob', 'bobs-password'), { name: 'bob', role: 'viewer' });
    assert.deepEqual(await store.verify('carol', 'carols-password'), { name: 'carol', role: 'editor' });
    r = await cli(['user', 'list', '-f', file]);
    assert.equal(r.stdout, 'alice\tadmin\nbob\tviewer (default)\ncarol\teditor\n');
    assert.doesNotMatch(r.stdout, /\$2/);

    r = await cli(['user', 'passwd', 'alice', '--password-stdin', '-f', file], 'new horse battery');
    assert.equal(r.code, 0, r.stderr);
    const after = new UserStore(file, { defaultRole: 'viewer', cacheSeconds: 60, pollSeconds: 1 });
    assert.equal(await after.verify('alice', 'correct horse'), undefined);
    assert.deepEqual(await after.verify('alice', 'new horse battery'), { name: 'alice', role: 'admin' }, 'passwd keeps the role');
    r = await cli(['user', 'remove', 'bob', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /^bob:/m);

    const bad: [string[], string | undefined, RegExp][] = [
      [['user', 'add', 'alice', '--role', 'viewer', '--password-stdin', '-f', file], 'whatever-long', /user "alice" exists/],
      [['user', 'add', 'dave', '--role', 'viewer', '--password-stdin', '-f', file], 'short', /at least 8 characters/],
      [['user', 'add', 'da:ve', '--role', 'viewer', '--password-stdin', '-f', file], 'long-enough', /user name "da:ve": .*no colon/],
      [['user', 'add', 'dave', '--role', 'root', '--password-stdin', '-f', file], 'long-enough', /Allowed choices are viewer, editor, admin/],
      [['user', 'remove', 'nobody', '-f', file], undefined, /no user "nobody"/],
      [['user', 'passwd', 'nobody', '--password-stdin', '-f', file], 'long-enough', /no user "nobody"/],
    ];
    for (const [args, stdin, re] of bad) {
      const b = await cli(args, stdin);
      assert.equal(b.code, 2, `${args.join(' ')}: ${b.stderr}`);
      assert.match(b.stderr, re);
    }
  } finally {
    await t.cleanup();
  }
});

test('the collector takes Basic logins from the users file, sees the file change, and audits what changed; a broken file keeps the old users', async () => {
  const t = await tempDir();
  const file = path.join(t.dir, 'users');
  await run('htpasswd', ['-cbB', file, 'alice', 'alice-pass-1']);
  const c = await startCollector({ auth: { anonymousRead: false, users: { file, pollInterval: 0.2 } } }, path.join(t.dir, 'data'));
  try {
    const who = await api<{ data: { name: string; role: string; via: string } }>(c.url, '/api/v1/auth/whoami', { headers: basic('alice', 'alice-pass-1') });
    assert.equal(who.status, 200);
    assert.deepEqual(who.body.data, { name: 'alice', role: 'viewer', via: 'user' });
    const wrong = await api(c.url, '/api/v1/auth/whoami', { headers: basic('alice', 'nope') });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error!.message, /wrong user name or password/);

    // rexmon user add with the collector running: the new user can log in once the poll sees the file.
    const r = await cli(['user', 'add', 'root2', '--role', 'admin', '--password-stdin', '-f', file], 'admin-pass-2');
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the new user', async () => (await api(c.url, '/api/v1/auth/whoami', { headers: basic('root2', 'admin-pass-2') })).status === 200);
    const audit = await api<{ data: { who: string; action: string; target: string; details: Record<string, unknown> }[] }>(
      c.url,
      '/api/v1/audit?action=user.',
      {
        headers: basic('root2', 'admin-pass-2'),
      },
    );
    assert.equal(audit.status, 200);
    assert.deepEqual(
      audit.body.data.map((a) => [a.action, a.target, a.details.role]),
      [['user.add', 'user root2', 'admin']],
    );
    assert.equal(await api(c.url, '/api/v1/audit', { headers: basic('alice', 'alice-pass-1') }).then((x) => x.status), 403, 'the audit log is for admins');

    // A file that does not parse: logged, the users loaded before stay.
    writeFileSync(file, 'garbage line\n');
    c.collector.auth.users!.reload();
    assert.equal((await api(c.url, '/api/v1/auth/whoami', { headers: basic('alice', 'alice-pass-1') })).status, 200);

    // Removing alice (an atomic rewrite by the CLI) logs her out at the next poll.
    await run('htpasswd', ['-cbB', file, 'root2', 'admin-pass-2']);
    await waitFor('alice removed', async () => (await api(c.url, '/api/v1/auth/whoami', { headers: basic('alice', 'alice-pass-1') })).status === 401);
  } finally {
    await c.stop();
    await t.cleanup();
  }
});
