// Restarting after kill -9 of the collector and its rrdcached: a stale rrdcached.pid (dead PID, zombie,
// someone else's process) never blocks the start nor gets anyone signalled; an orphan rrdcached of ours is
// replaced; a start that fails exits non-zero with no rrdcached left and no restart behind it.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startCollector, tempDir, waitFor } from '../testing/harness.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));

/** The process state letter from /proc (Z: zombie), undefined when there is no such process. */
function state(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** PIDs of processes whose command line mentions `dir` (our rrdcached children are found by their socket). */
async function processesUnder(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if ((await readFile(`/proc/${p}/cmdline`, 'utf8')).includes(dir) && state(Number(p)) !== 'Z') out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function startWithPidFile(pid: number) {
  const t = await tempDir();
  await mkdir(path.join(t.dir, 'rrdcached'), { recursive: true });
  await writeFile(path.join(t.dir, 'rrdcached', 'rrdcached.pid'), `${pid}\n`);
  const c = await startCollector({}, t.dir);
  assert.ok(c.collector.cachedProc!.pid, 'our rrdcached runs');
  assert.notEqual(c.collector.cachedProc!.pid, pid);
  await c.stop();
}

test('a pid file naming an unrelated live process: start succeeds and that process is left alone', async () => {
  const other = spawn('sleep', ['300'], { stdio: 'ignore' });
  try {
    await startWithPidFile(other.pid!);
    assert.equal(state(other.pid!) !== undefined && other.exitCode === null && other.signalCode === null, true, 'sleep still alive');
  } finally {
    other.kill('SIGKILL');
    await exited(other);
  }
});

test('a pid file naming a dead PID: start succeeds', async () => {
  const gone = spawn('true', [], { stdio: 'ignore' });
  await exited(gone);
  await startWithPidFile(gone.pid!);
});

test('a pid file naming a zombie: start succeeds', async () => {
  // `sleep 0` exits at once; its parent, exec'd into `sleep 300`, never reaps it: a zombie.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 300'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = await new Promise<number>((r) => parent.stdout!.once('data', (d) => r(Number(String(d).trim()))));
    await waitFor('the zombie', async () => state(zombie) === 'Z');
    await startWithPidFile(zombie);
  } finally {
    parent.kill('SIGKILL');
    await exited(parent);
  }
});

test('an orphan rrdcached of an earlier run on our socket is stopped and replaced', async () => {
  const t = await tempDir();
  const st = path.join(t.dir, 'rrdcached');
  const root = path.join(t.dir, 'rrd');
  await mkdir(path.join(st, 'journal'), { recursive: true });
  await mkdir(root, { recursive: true });
  const sock = path.join(st, 'rrdcached.sock');
  // As the killed collector had started it (its arguments, detached: nobody waits for it).
  const orphan = spawn(
    'rrdcached',
    ['-g', '-F', '-l', `unix:${sock}`, '-p', path.join(st, 'rrdcached.pid'), '-j', path.join(st, 'journal'), '-b', root, '-B', '-w', '300', '-z', '60'],
    { stdio: 'ignore' },
  );
  try {
    await waitFor(
      'the orphan listening',
      async () =>
        new Promise<boolean>((r) =>
          net
            .createConnection(sock)
            .once('connect', r.bind(null, true))
            .once('error', () => r(false)),
        ),
    );
    const c = await startCollector({}, t.dir);
    try {
      await exited(orphan);
      assert.notEqual(c.collector.cachedProc!.pid, orphan.pid);
      assert.ok(state(c.collector.cachedProc!.pid!), 'a new rrdcached runs');
    } finally {
      await c.stop();
    }
  } finally {
    if (orphan.exitCode === null && orphan.signalCode === null) orphan.kill('SIGKILL');
    await t.cleanup();
  }
});

async function failedCliStart(dir: string, extraConfig: string[], listen: string): Promise<{ code: number | null; ms: number; stderr: string }> {
  const cfg = path.join(dir, 'rexmon.yaml');
  await writeFile(cfg, ['graphite: {tcp: false, udp: false}', 'slurpers: []', ...extraConfig].join('\n'));
  const t0 = Date.now();
  const child = spawn('node', [BIN, 'start', '--config', cfg, '--data-dir', dir, '--listen', listen], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
  await exited(child);
  clearTimeout(timer);
  return { code: child.exitCode, ms: Date.now() - t0, stderr };
}

test('rexmon start with its HTTP port taken exits non-zero within seconds, leaving no rrdcached', async () => {
  const t = await tempDir();
  const port = await freePort();
  const blocker = net.createServer().listen(port, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const r = await failedCliStart(t.dir, [], `127.0.0.1:${port}`);
    assert.notEqual(r.code, 0, r.stderr);
    assert.ok(r.ms < 10000, `took ${r.ms} ms`);
    assert.match(r.stderr, /EADDRINUSE/);
    await new Promise((res) => setTimeout(res, 1000)); // a restart timer would have fired by now
    assert.deepEqual(await processesUnder(t.dir), [], 'no rrdcached left running');
  } finally {
    blocker.close();
    await t.cleanup();
  }
});

test('rexmon start whose rrdcached fails to start exits non-zero within seconds and starts no other', async () => {
  const t = await tempDir();
  const fake = path.join(t.dir, 'failing-rrdcached');
  await writeFile(fake, '#!/bin/sh\necho "refusing on purpose" >&2\nexit 1\n');
  await chmod(fake, 0o755);
  try {
    const r = await failedCliStart(t.dir, ['rrd: {cached: {mode: spawn, binary: ' + JSON.stringify(fake) + '}}'], `127.0.0.1:${await freePort()}`);
    assert.notEqual(r.code, 0, r.stderr);
    assert.ok(r.ms < 10000, `took ${r.ms} ms`);
    assert.match(r.stderr, /rrdcached exited at start: refusing on purpose/);
    assert.deepEqual(await processesUnder(t.dir), []);
  } finally {
    await t.cleanup();
  }
});
