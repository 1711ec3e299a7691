// A real Prometheus (Debian `prometheus`) for tests, with its remote_write receiver on, on a free loopback port,
// its own config and TSDB in a temp dir, stopped by the PID started here. `down()` then `up()` keeps the TSDB
// (what it accepted survives, as in production).
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './harness.js';

const binary = () => process.env.REXMON_PROMETHEUS ?? '/usr/bin/prometheus';

export function prometheusAvailable(): boolean {
  return existsSync(binary());
}

export interface TestPrometheus {
  url: string;
  /** Where collectors send: `${url}/api/v1/write`. */
  writeUrl: string;
  down: () => Promise<void>;
  /** Starts it again (same port, same TSDB); nothing when it runs. */
  up: () => Promise<void>;
  stop: () => Promise<void>;
  /** GET /api/v1/query; the result vector or matrix. */
  query: (expr: string, time?: number) => Promise<{ metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]>;
}

export async function startPrometheus(o: { readyTimeoutMs?: number } = {}): Promise<TestPrometheus> {
  const readyMs = o.readyTimeoutMs ?? 30000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rexmon-prom-'));
  const config = path.join(dir, 'prometheus.yml');
  // Nothing to scrape: samples come only through remote_write.
  await writeFile(config, 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let log = '';

  const down = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
  };
  const up = async () => {
    // Already running: a second one could not bind the port, and would hide the first from down().
    if (child && child.exitCode === null && child.signalCode === null) return;
    const c = spawn(
      binary(),
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-remote-write-receiver',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    c.stderr!.on('data', (b) => (log = (log + b).slice(-4000)));
    c.on('error', (e) => (log += `\n${e.message}`));
    const deadline = Date.now() + readyMs;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      const ok = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) {
        await down();
        throw new Error(`prometheus not ready within ${readyMs / 1000} s: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await up();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    up,
    down,
    stop: async () => {
      await down();
      await rm(dir, { recursive: true, force: true });
    },
    query: async (expr, time) => {
      const q = new URLSearchParams({ query: expr });
      if (time !== undefined) q.set('time', String(time));
      const res = await fetch(`${url}/api/v1/query?${q}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: never[] } };
      if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
      return body.data.result;
    },
  };
}
