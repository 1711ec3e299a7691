// A collector whose start fails (here: its Graphite port is taken) stops what it had started: no rrdcached
// left running, no open handle that would keep the process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Collector } from './app.js';
import { configSchema } from './config/schema.js';
import { tempDir } from './testing/harness.js';
import { readdir, readFile } from 'node:fs/promises';

/** PIDs whose command line names `dir` (rrdcached is started with its socket and journal there). */
async function processesUsing(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir)) out.push(Number(e));
  }
  return out;
}

async function takenPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
}

test('a failed start stops rrdcached and closes what it opened', async () => {
  const busy = await takenPort();
  const tmp = await tempDir();
  try {
    const config = configSchema.parse({
      dataDir: tmp.dir,
      http: { listen: '127.0.0.1:0' },
      graphite: { tcp: `127.0.0.1:${busy.port}`, udp: false },
      slurpers: [],
      log: { level: 'silent' },
    });
    const c = new Collector(config);
    await assert.rejects(c.start(), /cannot listen on 127\.0\.0\.1:\d+ for Graphite TCP/);
    assert.ok(c.cachedProc, 'the default config spawns rrdcached');
    assert.deepEqual(await processesUsing(tmp.dir), [], 'no rrdcached (or anything else) left running on its data dir');
  } finally {
    await busy.close();
    await tmp.cleanup();
  }
});

test('a process whose collector failed to start exits on its own', async () => {
  const busy = await takenPort();
  const tmp = await tempDir();
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = `
    import { Collector } from ${JSON.stringify(path.join(here, 'app.js'))};
    import { configSchema } from ${JSON.stringify(path.join(here, 'config/schema.js'))};
    const c = new Collector(configSchema.parse({ dataDir: ${JSON.stringify(tmp.dir)}, http: { listen: '127.0.0.1:0' },
      graphite: { tcp: '127.0.0.1:${busy.port}', udp: false }, slurpers: [], log: { level: 'silent' } }));
    c.start().then(() => process.exit(3), () => console.log('start failed'));`;
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    // Nothing keeps it alive after the failure: it exits by itself (a leftover handle would keep it running until killed).
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 30000);
      child.once('exit', (c) => (clearTimeout(t), resolve(c)));
    });
    assert.equal(out.trim(), 'start failed');
    assert.equal(code, 0, 'the process exited by itself');
  } finally {
    await busy.close();
    await tmp.cleanup();
  }
});
