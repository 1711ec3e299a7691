// The `rexmon` CLI as a user runs it: start as a real process, push Graphite, read back with series/query,
// create a token, bad arguments; stopped by the PID we started.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { seriesFile } from '../rrd/naming.js';
import { freePort, rrdFetch, run, sendTcp, tempDir, waitFor } from '../testing/harness.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));

test('rexmon start, Graphite in, series and query out, token create, clean stop on SIGTERM', async () => {
  const t = await tempDir();
  const [httpPort, gPort] = [await freePort(), await freePort()];
  const cfg = path.join(t.dir, 'rexmon.yaml');
  await writeFile(
    cfg,
    [
      `graphite:`,
      `  tcp: 127.0.0.1:${gPort}`,
      `  udp: false`,
      `  mappings:`,
      `    - {match: "lab.*.temp", name: temp, labels: {host: $1}}`,
      `slurpers: []`,
      `log: {level: warn}`,
    ].join('\n'),
  );
  const child = spawn('node', [BIN, 'start', '--config', cfg, '--data-dir', t.dir, '--listen', `127.0.0.1:${httpPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await waitFor('the collector', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok);
    const now = Math.floor(Date.now() / 1000 / 60) * 60 - 600;
    await sendTcp('127.0.0.1', gPort, `lab.host01.temp 21.5 ${now}\nlab.host01.temp 22.5 ${now + 60}\n`);
    const token = (await run('node', [BIN, 'token', 'create', '--role', 'editor', '--name', 'ci', '--data-dir', t.dir])).stdout.trim();
    assert.match(token, /^rxm_[A-Za-z0-9_-]{32}$/);
    await fetch(`${url}/api/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const series = await run('node', [BIN, 'series', 'temp{host=~"host.*"}', '--url', url]);
    assert.equal(series.stdout.trim(), 'temp{host="host01"}');
    const q = await run('node', [BIN, 'query', 'temp', '--url', url, '--from', String(now - 60), '--to', String(now + 120), '--step', '1m']);
    assert.match(q.stdout, /# temp\{host="host01"\}/);
    assert.match(q.stdout, new RegExp(`${new Date(now * 1000).toISOString()}\\t21.5`));
    assert.match(q.stdout, new RegExp(`${new Date((now + 60) * 1000).toISOString()}\\t22.5`));
    const rel = await run('node', [BIN, 'query', 'temp', '--url', url, '--from', 'now-1h', '--json']);
    assert.equal(JSON.parse(rel.stdout).series.length, 1);
    await assert.rejects(
      run('node', [BIN, 'query', 'temp{', '--url', url]),
      (e: { code: number; stderr: string }) => e.code !== 0 && /missing '}'/.test(e.stderr),
    );
    await assert.rejects(run('node', [BIN, 'query', 'temp', '--url', url, '--from', 'yesterday']), /"yesterday" is not a time/);
    await assert.rejects(run('node', [BIN, 'series', '--url', 'http://127.0.0.1:1']), /cannot reach the collector at http:\/\/127.0.0.1:1/);
    await assert.rejects(run('node', [BIN, 'token', 'create', '--role', 'root', '--data-dir', t.dir]), /Allowed choices are viewer, editor, admin/);
    await assert.rejects(run('node', [BIN, 'frobnicate']), /unknown command 'frobnicate'/);
    const help = await run('node', [BIN, '--help']);
    for (const cmd of ['start', 'series', 'query', 'check-config', 'import', 'token']) assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `clean exit; stderr: ${stderr}`);
  await t.cleanup();
});

test('rexmon start reports a port already in use and exits non-zero', async () => {
  const t = await tempDir();
  const port = await freePort();
  const first = spawn('node', [BIN, 'start', '--data-dir', t.dir, '--listen', `127.0.0.1:${port}`], { stdio: 'ignore', env: { ...process.env } });
  try {
    await waitFor('first collector', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok, 15000);
    const cfg = path.join(t.dir, 'other.yaml');
    await writeFile(cfg, 'graphite: {tcp: false, udp: false}\nslurpers: []\n');
    const t2 = await tempDir();
    await assert.rejects(
      run('node', [BIN, 'start', '--config', cfg, '--data-dir', t2.dir, '--listen', `127.0.0.1:${port}`]),
      /cannot listen on 127.0.0.1:\d+ for HTTP: listen EADDRINUSE/,
    );
    await t2.cleanup();
  } finally {
    first.kill('SIGTERM');
    await new Promise((r) => first.on('exit', r));
    await t.cleanup();
  }
});

test(
  'SIGTERM with an idle and a busy Graphite connection open: exit 0 within 10 s, values sent before it are in the files; a low open-file limit is raised and warned about',
  { timeout: 60000 },
  async () => {
    const t = await tempDir();
    const [httpPort, gPort] = [await freePort(), await freePort()];
    const cfg = path.join(t.dir, 'rexmon.yaml');
    await writeFile(cfg, [`graphite:`, `  tcp: 127.0.0.1:${gPort}`, `  udp: false`, `  drainTimeout: 2s`, `slurpers: []`, `log: {level: warn}`].join('\n'));
    // Started with a soft limit of 256: node raises it to the hard limit, still below maxConnections (10000) + reserve.
    const child = spawn('prlimit', ['--nofile=256:4096', 'node', BIN, 'start', '--config', cfg, '--data-dir', t.dir, '--listen', `127.0.0.1:${httpPort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - 4 * 3600;
    let timer: NodeJS.Timeout | undefined;
    try {
      await waitFor('the collector', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok, 15000);
      const limits = await readFile(`/proc/${child.pid}/limits`, 'utf8');
      assert.match(limits, /^Max open files\s+4096\s+4096/m, 'soft limit raised to the hard one');
      assert.match(out, /open-file limit \(4096, hard 4096\) is below graphite\.maxConnections 10000 \+ 512 .*at most 3584 Graphite TCP connections/);

      const open = () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection({ host: '127.0.0.1', port: gPort }, () => resolve(s));
          s.once('error', reject);
        });
      const idle = await open();
      idle.on('error', () => {});
      idle.write(`idle.metric 7 ${base}\n`);
      const busy = await open();
      busy.on('error', () => {});
      let sent = 0;
      timer = setInterval(() => {
        if (!busy.destroyed) busy.write(`busy.metric ${sent} ${base + sent++ * 60}\n`);
      }, 20);
      await new Promise((r) => setTimeout(r, 500));
      const sentBefore = sent;
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      const took = Date.now() - t0;
      clearInterval(timer);
      assert.equal(code, 0, `clean exit; output: ${out}`);
      assert.ok(took < 10000, `exited after ${took} ms`);

      const file = (name: string) => path.join(t.dir, 'rrd', seriesFile(name, {}));
      assert.equal((await rrdFetch(file('idle.metric'), 'AVERAGE', base - 60, base)).get(base), 7);
      const busyValues = await rrdFetch(file('busy.metric'), 'AVERAGE', base - 60, base + sentBefore * 60);
      for (let i = 0; i < sentBefore; i++) assert.equal(busyValues.get(base + i * 60), i, `busy line ${i} written`);
    } finally {
      clearInterval(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      await t.cleanup();
    }
  },
);

/** Runs the real CLI as a process; resolves with its exit code and output (never rejects on a non-zero exit). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('wrong arguments exit 2, as the README says: commander errors, bad values, missing options; help and version exit 0', async () => {
  const url = ['--url', 'http://127.0.0.1:1']; // never reached: each fails before it asks
  const cases: [string, string[], RegExp][] = [
    ['missing argument', ['check-config'], /missing required argument 'file'/],
    ['unknown option', ['series', '--frobnicate', ...url], /unknown option '--frobnicate'/],
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['unknown subcommand', ['downtime', 'frobnicate'], /unknown command 'frobnicate'/],
    ['bad time', ['query', 'temp', '--from', 'yesterday', ...url], /"yesterday" is not a time/],
    ['bad date', ['downtime', 'add', '--planned', '--match', '{host="a"}', '--reason', 'r', '--start', '2026-13-45', ...url], /2026-13-45/],
    ['missing --match', ['downtime', 'add', '--planned', '--reason', 'r', ...url], /required option '--match <selector>' not specified/],
    ['neither --planned nor --unplanned', ['downtime', 'add', '--match', '{host="a"}', '--reason', 'r', ...url], /say --planned or --unplanned/],
    ['--tz without --every', ['downtime', 'add', '--planned', '--match', '{host="a"}', '--reason', 'r', '--tz', 'UTC', ...url], /--tz goes with --every/],
    ['bad choice', ['token', 'create', '--role', 'root'], /Allowed choices are viewer, editor, admin/],
    ['bad selector', ['series', 'temp{', ...url], /missing '}'/],
    ['bad id', ['downtime', 'show', 'abc', ...url], /downtime id must be a number/],
  ];
  for (const [what, args, message] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${what}: exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, message, what);
  }
  assert.equal((await cli(['--help'])).code, 0);
  assert.equal((await cli(['--version'])).code, 0);
  assert.equal((await cli(['query', '--help'])).code, 0);
  const unreachable = await cli(['series', ...url]);
  assert.equal(unreachable.code, 1, 'a collector that cannot be reached is not a usage error');
});
