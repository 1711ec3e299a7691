// A real `rexmon start` as a child process on loopback, for tests that kill (SIGKILL by its PID) and restart
// collectors. Its stderr is kept so a test can read the log; its rrdcached is stopped by the PID in its pid file.
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive, api, freePort, waitFor } from './harness.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/rexmon.js');

export class ChildCollector {
  readonly url: string;
  readonly config: string;
  private child?: ChildProcess;
  private exited?: Promise<number | null>;
  /** Everything the collector wrote to stdout and stderr, across restarts. */
  output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    yaml: string[],
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.config = path.join(dir, 'rexmon.yaml');
    writeFileSync(
      this.config,
      [
        `dataDir: ${JSON.stringify(path.join(dir, 'data'))}`,
        `http: {listen: "127.0.0.1:${port}"}`,
        'graphite: {tcp: false, udp: false}',
        'log: {level: info, format: json}',
        'slurpers: []',
        ...yaml,
      ].join('\n'),
    );
  }

  /** `yaml`: more top-level config lines (no dataDir, http, graphite, log, slurpers). */
  static async create(dir: string, yaml: string[]): Promise<ChildCollector> {
    return new ChildCollector(dir, await freePort(), yaml);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'start', '-c', this.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    await waitFor(
      `collector on ${this.url} ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`collector exited with ${child.exitCode}:\n${this.output.slice(-2000)}`);
        return (await api(this.url, '/healthz').catch(() => ({ status: 0 }))).status === 200;
      },
      60000,
    );
  }

  /** SIGKILL by PID, and its rrdcached too when `withCached` (else that one keeps running, as after a real crash of the daemon only). */
  async kill(withCached = false): Promise<void> {
    const cachedPid = this.cachedPid();
    if (this.child && this.child.exitCode === null) {
      process.kill(this.child.pid!, 'SIGKILL');
      await this.exited;
    }
    if (withCached && cachedPid && alive(cachedPid)) process.kill(cachedPid, 'SIGKILL');
  }

  /** SIGTERM and wait: a graceful stop; returns the exit code. */
  async stop(): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? null;
    process.kill(this.child.pid!, 'SIGTERM');
    return this.exited!;
  }

  private cachedPid(): number | undefined {
    try {
      const pid = Number(readFileSync(path.join(this.dir, 'data/rrdcached/rrdcached.pid'), 'utf8'));
      // Only ours: its command line names our data dir.
      return pid > 1 && alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.dir) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whatever is left: the collector and its rrdcached, by PID. */
  async cleanup(): Promise<void> {
    await this.kill(true);
  }
}
