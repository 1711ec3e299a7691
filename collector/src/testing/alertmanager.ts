// A real Prometheus Alertmanager (Debian `prometheus-alertmanager`) for tests, on a free loopback port,
// stopped by the PID started here. `up()` after `down()` keeps the data dir, so silences survive as in
// production; `kill()` is a crash (SIGKILL: what was not yet snapshotted is lost) and `up({ empty: true })`
// starts it on an empty storage directory, as after a lost volume.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testDaemon } from './daemon.js';
import { freePort } from './harness.js';

const binary = () => process.env.REXMON_ALERTMANAGER ?? '/usr/bin/prometheus-alertmanager';

export function alertmanagerAvailable(): boolean {
  return existsSync(binary());
}

export interface TestAlertmanager {
  url: string;
  /** Stops the process (data dir kept). */
  down: () => Promise<void>;
  /** Kills the process with SIGKILL (data dir kept, but silences not yet snapshotted are lost). */
  kill: () => Promise<void>;
  /** Starts it again on the same port, with the same data or (`empty`) an empty storage directory. */
  up: (o?: { empty?: boolean }) => Promise<void>;
  stop: () => Promise<void>;
  silences: () => Promise<
    {
      id: string;
      createdBy: string;
      comment: string;
      startsAt: string;
      endsAt: string;
      status: { state: string };
      matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
    }[]
  >;
  postAlerts: (alerts: { labels: Record<string, string>; startsAt?: string; endsAt?: string }[]) => Promise<void>;
}

/** `binary` (default $REXMON_ALERTMANAGER or Debian's), `readyTimeoutMs` (default 15 s) for tests of this helper. */
export async function startAlertmanager(o: { binary?: string; readyTimeoutMs?: number } = {}): Promise<TestAlertmanager> {
  const BINARY = o.binary ?? binary();
  const readyMs = o.readyTimeoutMs ?? 15000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rexmon-am-'));
  const config = path.join(dir, 'alertmanager.yml');
  await writeFile(config, 'route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const daemon = testDaemon({
    name: 'alertmanager',
    binary: BINARY,
    args: [
      `--config.file=${config}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    readyUrl: `${url}/-/ready`,
    readyMs,
    graceMs: 5000,
  });
  const up = async (o: { empty?: boolean } = {}) => {
    if (o.empty) await rm(path.join(dir, 'data'), { recursive: true, force: true });
    await daemon.up();
  };
  const down = daemon.down;
  try {
    await up();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    up,
    down: () => down(),
    kill: () => down('SIGKILL'),
    stop: async () => {
      await down();
      await rm(dir, { recursive: true, force: true });
    },
    silences: async () => (await fetch(`${url}/api/v2/silences`)).json(),
    postAlerts: async (alerts) => {
      const res = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
      if (!res.ok) throw new Error(`POST alerts: HTTP ${res.status} ${await res.text()}`);
    },
  };
}
