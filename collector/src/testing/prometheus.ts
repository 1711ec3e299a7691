// A real Prometheus (Debian `prometheus`) for tests, with its remote_write receiver on, on a free loopback port,
// its own config and TSDB in a temp dir, stopped by the PID started here. `down()` then `up()` keeps the TSDB
// (what it accepted survives, as in production).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testDaemon } from './daemon.js';
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
  const { up, down } = testDaemon({
    name: 'prometheus',
    binary: binary(),
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--log.level=warn',
    ],
    readyUrl: `${url}/-/ready`,
    readyMs,
    graceMs: 10000,
  });
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
