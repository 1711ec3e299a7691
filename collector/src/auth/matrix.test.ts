// The auth matrix: every operation of the served OpenAPI document (so a new route cannot skip it) plus the
// root routes, × every kind of caller, on loopback and on a non-loopback address. The non-loopback run
// happens inside a network namespace this test makes (root only: `ip netns add`, 10.254.0.1 and .2 on the
// namespace's lo), by running this same file there; another 127.x address would still count as loopback.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createToken, hashToken, Role, ROLE_RANK } from './tokens.js';
import { startCollector, tempDir } from '../testing/harness.js';

const run = promisify(execFile);
const here = fileURLToPath(import.meta.url);
const CHILD = process.env.REXMON_MATRIX_CHILD === '1';

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string };

/** One request from a chosen local address (the trusted-proxy cases need one). */
function send(base: URL, method: string, p: string, headers: Record<string, string>, localAddress?: string): Promise<Answer> {
  const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path: p,
        localAddress,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

interface Caller {
  name: string;
  headers: Record<string, string>;
  /** The role it has; undefined: none; 'bad': credentials that must be refused (401) everywhere. */
  role?: Role | 'bad';
  /** Sent from the trusted proxy's address. */
  viaProxy?: boolean;
}

async function matrix(listenHost: string, proxyHost: string, loopback: boolean): Promise<void> {
  const t = await tempDir();
  const users = path.join(t.dir, 'users');
  // Cost 4 (htpasswd's least) keeps the wrong-password cases (which are not cached) quick.
  for (const [u, role] of [
    ['alice', 'viewer'],
    ['bob', 'editor'],
    ['carol', 'admin'],
  ]) {
    const { stdout } = await run('htpasswd', ['-nbB', '-C', '4', u, `${u}-password`]);
    writeFileSync(users, `${stdout.trim()}:${role}\n`, { flag: 'a', mode: 0o600 });
  }
  const c = await startCollector(
    {
      http: { listen: `${listenHost}:0` },
      graphite: { tcp: false, udp: false },
      auth: {
        tokens: [{ name: 'cfg-viewer', role: 'viewer', sha256: hashToken('config-viewer-token') }],
        users: { file: users },
        proxy: { header: 'X-Remote-User', roleHeader: 'X-Remote-Role', trustedProxies: [`${proxyHost}/32`] },
      },
    },
    path.join(t.dir, 'data'),
  );
  try {
    const base = new URL(c.url);
    const tok: Record<string, string> = {};
    for (const r of ['viewer', 'editor', 'admin'] as const) tok[r] = await createToken(c.collector.db, `t-${r}`, r);
    const callers: Caller[] = [
      { name: 'no credentials', headers: {} },
      { name: 'malformed: Bearer without a token', headers: { authorization: 'Bearer' }, role: 'bad' },
      { name: 'malformed: Basic not base64 user:password', headers: { authorization: 'Basic abc' }, role: 'bad' },
      { name: 'malformed: unknown scheme', headers: { authorization: 'Token abc' }, role: 'bad' },
      { name: 'wrong token', headers: { authorization: 'Bearer rxm_not-a-token' }, role: 'bad' },
      { name: 'wrong password', headers: { authorization: basic('carol', 'alice-password') }, role: 'bad' },
      { name: 'unknown user', headers: { authorization: basic('mallory', 'carol-password') }, role: 'bad' },
      { name: 'proxy header from an untrusted address', headers: { 'x-remote-user': 'mallory', 'x-remote-role': 'admin' }, role: 'bad' },
      { name: 'proxy header with a bad role', headers: { 'x-remote-user': 'dan', 'x-remote-role': 'root' }, role: 'bad', viaProxy: true },
      { name: 'token viewer (config)', headers: { authorization: 'Bearer config-viewer-token' }, role: 'viewer' },
      ...(['viewer', 'editor', 'admin'] as const).map((r) => ({ name: `token ${r}`, headers: { authorization: `Bearer ${tok[r]}` }, role: r })),
      { name: 'token as the Basic password', headers: { authorization: basic('grafana', tok.editor) }, role: 'editor' as const },
      ...(
        [
          ['alice', 'viewer'],
          ['bob', 'editor'],
          ['carol', 'admin'],
        ] as const
      ).map(([u, r]) => ({ name: `Basic ${r} (${u})`, headers: { authorization: basic(u, `${u}-password`) }, role: r })),
      { name: 'proxy viewer (default role)', headers: { 'x-remote-user': 'erin' }, role: 'viewer', viaProxy: true },
      { name: 'proxy admin', headers: { 'x-remote-user': 'frank', 'x-remote-role': 'admin' }, role: 'admin', viaProxy: true },
    ];

    const docRes = await send(base, 'GET', '/api/v1/openapi.json', { authorization: `Bearer ${tok.admin}` });
    assert.equal(docRes.status, 200);
    const doc = JSON.parse(docRes.body) as { paths: Record<string, Record<string, { 'x-rexmon-role'?: string }>> };
    const ops: { method: string; path: string; role: Role | 'open' }[] = [];
    for (const [p, item] of Object.entries(doc.paths))
      for (const [m, op] of Object.entries(item)) {
        const role = op['x-rexmon-role'];
        assert.ok(role && role in ROLE_RANK, `${m.toUpperCase()} ${p}: x-rexmon-role ${JSON.stringify(role)} is not a role`);
        const filled = p.replace(/\{name\}/g, 'host').replace(/\{\w+\}/g, '1');
        ops.push({ method: m.toUpperCase(), path: `/api/v1${filled}`, role: role as Role });
      }
    // Every route the server has under /api/v1 is in the document, so none escapes the matrix.
    type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
    const served: string[] = [];
    const walk = (stack: Layer[]) => {
      for (const l of stack) {
        if (l.route) for (const m of Object.keys(l.route.methods)) served.push(`${m.toUpperCase()} ${l.route.path}`);
        else if (l.handle?.stack) walk(l.handle.stack);
      }
    };
    walk((c.collector.app as unknown as { router: { stack: Layer[] } }).router.stack);
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`)),
    );
    const root = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /']);
    assert.deepEqual(
      served.filter((r) => !root.has(r) && !documented.has(r)),
      [],
      'served but not in the OpenAPI document',
    );
    assert.ok(ops.length >= 30, `operations: ${ops.length}`);
    ops.push(
      { method: 'GET', path: '/healthz', role: 'open' },
      { method: 'GET', path: '/readyz', role: 'open' },
      { method: 'GET', path: '/metrics', role: 'viewer' },
      { method: 'GET', path: '/', role: 'viewer' },
    );

    const anonymousRead = loopback;
    const failures: string[] = [];
    for (const op of ops)
      for (const caller of callers) {
        const r = await send(base, op.method, op.path, caller.headers, caller.viaProxy ? proxyHost : undefined);
        const at = `${op.method} ${op.path} (needs ${op.role}) × ${caller.name} on ${listenHost}: ${r.status} ${r.body.slice(0, 160)}`;
        let want: 'allowed' | 401 | 403;
        if (caller.role === 'bad') want = 401;
        else if (op.role === 'open') want = 'allowed';
        else if (caller.role === undefined) want = op.role === 'viewer' && anonymousRead ? 'allowed' : 401;
        else want = ROLE_RANK[caller.role] >= ROLE_RANK[op.role] ? 'allowed' : 403;
        if (want === 'allowed' ? r.status === 401 || r.status === 403 || r.status >= 500 : r.status !== want) failures.push(`want ${want}: ${at}`);
        if (r.status === 401 || r.status === 403) {
          const e = JSON.parse(r.body) as { error?: { status: number; message: string } };
          if (e.error?.status !== r.status || !e.error.message) failures.push(`not a JSON error: ${at}`);
        }
        // The page asks a browser for a login.
        if (op.path === '/' && r.status === 401 && caller.role === undefined && !/^Basic realm="rexmon"/.test(String(r.headers['www-authenticate'])))
          failures.push(`no Basic challenge: ${at}`);
      }
    assert.deepEqual(failures, [], `${failures.length} of ${ops.length * callers.length} cases`);
    // Who a proxy user is, as the collector sees it.
    const who = await send(base, 'GET', '/api/v1/auth/whoami', { 'x-remote-user': 'frank', 'x-remote-role': 'admin' }, proxyHost);
    assert.deepEqual(JSON.parse(who.body).data, { name: 'frank', role: 'admin', via: 'proxy' });
  } finally {
    await c.stop();
    await t.cleanup();
  }
}

if (CHILD) {
  test(`auth matrix on ${process.env.REXMON_MATRIX_LISTEN} (not loopback, inside a network namespace)`, () =>
    matrix(process.env.REXMON_MATRIX_LISTEN!, process.env.REXMON_MATRIX_PROXY!, false));
} else {
  test('auth matrix on loopback: every documented route × every kind of caller', () => matrix('127.0.0.1', '127.0.0.2', true));

  test('auth matrix on a non-loopback address (10.254.0.1 inside a network namespace)', async (t) => {
    const ns = `rexmon-authm-${process.pid}`;
    const canNs =
      process.getuid?.() === 0 &&
      (await run('ip', ['netns', 'list']).then(
        () => true,
        () => false,
      ));
    if (!canNs) return t.skip('needs root and iproute2 (ip netns) to make a network namespace; the non-loopback matrix did NOT run');
    const ip = (...args: string[]) => run('ip', ['netns', 'exec', ns, 'ip', ...args]);
    await run('ip', ['netns', 'add', ns]);
    try {
      // The namespace's own lo carries two non-127 addresses: nothing outside it changes, and no kernel module
      // is needed (the dummy one is missing on some kernels, this one included).
      await ip('link', 'set', 'lo', 'up');
      await ip('addr', 'add', '10.254.0.1/32', 'dev', 'lo');
      await ip('addr', 'add', '10.254.0.2/32', 'dev', 'lo');
      // A test run of its own (without the parent runner's context), reporting in TAP.
      const env: NodeJS.ProcessEnv = { ...process.env, REXMON_MATRIX_CHILD: '1', REXMON_MATRIX_LISTEN: '10.254.0.1', REXMON_MATRIX_PROXY: '10.254.0.2' };
      delete env.NODE_TEST_CONTEXT;
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--test', '--test-reporter=tap', here], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, out);
      assert.match(out, /^# pass 1$/m, out);
    } finally {
      // Whatever the run left in the namespace (it started it all) goes before the namespace does.
      const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
      for (const pid of stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await run('ip', ['netns', 'del', ns]);
    }
  });
}
