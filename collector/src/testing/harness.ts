// Test helpers: temp dirs, an in-process collector on free loopback ports, and direct rrdtool reads
// to compare with what the API says. Everything started here is stopped by the handle that started it.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AlarmSink } from '../alarms/types.js';
import { Collector } from '../app.js';
import { configSchema } from '../config/schema.js';
import { splitHostPort } from '../util/net.js';

export const run = promisify(execFile);

export async function tempDir(prefix = 'rexmon-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestCollector {
  collector: Collector;
  url: string;
  dataDir: string;
  graphiteTcp?: { host: string; port: number };
  graphiteUdp?: { host: string; port: number };
  stop: () => Promise<void>;
}

const split = (a?: string) => (a ? splitHostPort(a) : undefined);

/** Starts a collector in this process with test defaults (free ports, no slurpers, silent log) merged with `overrides`. */
export async function startCollector(overrides: Record<string, unknown> = {}, dataDir?: string, opts: { alarmSink?: AlarmSink } = {}): Promise<TestCollector> {
  const tmp = dataDir ? undefined : await tempDir();
  const dir = dataDir ?? tmp!.dir;
  const config = configSchema.parse({
    dataDir: dir,
    http: { listen: '127.0.0.1:0' },
    graphite: { tcp: '127.0.0.1:0', udp: '127.0.0.1:0' },
    slurpers: [],
    log: { level: process.env.REXMON_TEST_LOG ?? 'silent' },
    ...overrides,
  });
  const collector = new Collector(config, undefined, opts);
  await collector.start();
  return {
    collector,
    url: collector.addresses.http!,
    dataDir: dir,
    graphiteTcp: split(collector.addresses.graphiteTcp),
    graphiteUdp: split(collector.addresses.graphiteUdp),
    stop: async () => {
      await collector.stop();
      await tmp?.cleanup();
    },
  };
}

/** `rrdtool fetch` run directly: time → value (null for unknown). */
export async function rrdFetch(file: string, cf: string, start: number, end: number, resolution?: number): Promise<Map<number, number | null>> {
  const args = ['fetch', file, cf, '--start', String(start), '--end', String(end)];
  if (resolution) args.push('--resolution', String(resolution));
  const { stdout } = await run('rrdtool', args);
  const out = new Map<number, number | null>();
  for (const line of stdout.split('\n')) {
    const m = /^(\d+):\s+(\S+)/.exec(line);
    if (m) out.set(Number(m[1]), /nan/i.test(m[2]) ? null : Number(m[2]));
  }
  return out;
}

export async function api<T = unknown>(
  base: string,
  pathAndQuery: string,
  init: RequestInit & { token?: string } = {},
): Promise<{ status: number; body: T & { error?: { message: string; path?: string } } }> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(base + pathAndQuery, { ...init, headers });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body: body as T & { error?: { message: string; path?: string } } };
}

/** Sends lines over TCP and waits for the server to have read them (connection closed by us after writing). */
export function sendTcp(host: string, port: number, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host, port }, () => s.end(data));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Whether a process of ours still exists (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
