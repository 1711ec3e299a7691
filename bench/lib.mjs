// Shared pieces of the benchmarks: temp dirs, free ports, a collector started as a real process
// (stopped by its PID), rrdcached, and verification through one `rrdtool -` pipe.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'collector/bin/rexmon.js');
/** What scripts/start.sh and deploy/collector-entrypoint.sh put first in NODE_OPTIONS. */
const COLLECTOR_NODE_OPTIONS = '--max-semi-space-size=4';
/** The environment of a collector the benches start: node's flags as the launchers set them (flags on the command line win). */
export const collectorEnv = () => ({ ...process.env, NODE_OPTIONS: `${COLLECTOR_NODE_OPTIONS} ${process.env.NODE_OPTIONS ?? ''}`.trim() });

export function tmp(prefix) {
  const dir = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * FLUSHes every file, spread over the rrdcached connections (it serves each in order, and a FLUSH answers once
 * its file is on disk). A connection is `{ send(text, lines) }`, resolving once that many reply lines came.
 */
export function flushFiles(connections, names) {
  const n = connections.length;
  return Promise.all(
    connections.map((c, k) =>
      c.send(
        names
          .filter((_, i) => i % n === k)
          .map((r) => `FLUSH ${r}\n`)
          .join(''),
        Math.ceil((names.length - k) / n),
      ),
    ),
  );
}

/** The named parseArgs options as numbers; throws naming the option when one is not a positive integer. */
export function positiveIntegers(opt, names) {
  const out = {};
  for (const k of names) {
    const v = Number(opt[k]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${JSON.stringify(opt[k])}`);
    out[k] = v;
  }
  return out;
}

/** Peak and current RSS of a process, in MB, from /proc. */
export function rss(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** CPU seconds (user+system) of a process and its waited-for children, from /proc. */
export function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tck = 100;
  return (Number(f[11]) + Number(f[12])) / tck;
}

/** `graphiteMappings`: YAML list items for graphite.mappings; `extraConfig`: more top-level YAML. */
export async function startCollector(dataDir, { graphiteMappings = '', extraConfig = '', logLevel = 'warn' } = {}) {
  const [http, graphite] = [await freePort(), await freePort()];
  const cfg = path.join(dataDir, 'bench.yaml');
  const mappings = graphiteMappings ? `  mappings:\n${graphiteMappings}` : '';
  writeFileSync(cfg, `graphite:\n  tcp: 127.0.0.1:${graphite}\n  udp: false\n${mappings}slurpers: []\nlog: {level: ${logLevel}}\n${extraConfig}`);
  // BENCH_NODE_ARGS: extra node flags for the collector, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = stopAtExit(spawn('node', [...nodeArgs, BIN, 'start', '--config', cfg, '--data-dir', dataDir, '--listen', `127.0.0.1:${http}`], { stdio: ['ignore', 'inherit', 'inherit'], env: collectorEnv() }));
  const url = `http://127.0.0.1:${http}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error('collector exited at start');
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 600) throw new Error('collector not ready after 30 s');
    await sleep(50);
  }
  // With --config: the token goes into the database the collector uses (PostgreSQL when the config says so).
  const token = (await run('node', [BIN, 'token', 'create', '--role', 'admin', '--name', 'bench', '--config', cfg, '--data-dir', dataDir])).trim();
  return {
    url,
    graphitePort: graphite,
    pid: child.pid,
    token,
    /** The text of its /metrics. */
    metrics: async () => (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text(),
    flush: async () => {
      const r = await fetch(`${url}/api/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      if (!r.ok) throw new Error(`flush: HTTP ${r.status}`);
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** A metric's value in /metrics text: the sample with exactly `labels` (e.g. `space="old"`), else its first; 0 when absent. */
export function metricValue(text, name, labels) {
  return Number(text.match(new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} (\\S+)`, 'm'))?.[1] ?? 0);
}

/** The ingest bench's `1d` template: 1 min × 1 day, four CFs (45 KB a file), the retention of carbon's default schema. */
export const TEMPLATE_1D = { step: 60, type: 'GAUGE', rras: [{ cf: ['AVERAGE', 'MIN', 'MAX', 'LAST'], steps: 1, rows: 1440 }] };

/** A fresh collector for the ingest bench's cold workload: the `1d` template, and series limits that let `series` new series in at once. */
export function startColdCollector(dataDir, series) {
  return startCollector(dataDir, {
    graphiteMappings: '    - {match: "bench.*.load", name: bench_load, labels: {host: $1}}\n',
    extraConfig:
      `rrd:\n  templates:\n    bench: ${JSON.stringify(TEMPLATE_1D)}\n  defaultTemplate: bench\n` +
      `seriesLimits: {newPerSourcePerMinute: ${Math.max(10000, series)}, newPerMinute: ${Math.max(50000, series)}}\n`,
  });
}

/** The first minute of the cold workload: `points` minutes ending half an hour ago. */
export const coldBase = (points) => Math.floor(Date.now() / 1000 / 60) * 60 - (points + 30) * 60;

/** The cold workload's Graphite lines: `points` minutes from `base`, each with a point for every one of `series` series. */
export function coldLines(series, points, base = coldBase(points)) {
  let lines = '';
  for (let p = 0; p < points; p++) for (let s = 0; s < series; s++) lines += `bench.h${String(s).padStart(5, '0')}.load ${s + p / 10} ${base + p * 60}\n`;
  return lines;
}

/**
 * Stops a server the bench started, by its PID, if the bench ends without stopping it (a thrown error): one left
 * running kept the bench's output pipe open, so a failed run hung instead of reporting.
 */
export function stopAtExit(child) {
  const stop = () => child.kill('SIGTERM');
  process.once('exit', stop);
  child.once('exit', () => process.off('exit', stop));
  return child;
}

export function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

/** Sends a string over TCP and resolves when the server has it all (we close after writing). */
export function sendTcp(port, data) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port }, () => s.end(data));
    s.on('error', reject);
    s.on('close', resolve);
  });
}

/** One long-lived `rrdtool -`: commands pipelined, each answer ends with OK or ERROR. */
export class RrdPipe {
  constructor() {
    this.child = spawn('rrdtool', ['-'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout.setEncoding('utf8');
    this.queue = [];
    this.buf = '';
    this.out = [];
    this.child.stdout.on('data', (d) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line.startsWith('OK ') || line.startsWith('ERROR:')) {
          const p = this.queue.shift();
          const out = this.out;
          this.out = [];
          if (line.startsWith('OK ')) p.resolve(out);
          else p.reject(new Error(line));
        } else this.out.push(line);
      }
    });
  }
  run(line) {
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.child.stdin.write(line + '\n');
    });
  }
  close() {
    this.child.stdin.end();
  }
}

/** Checks every expected value in its file; returns the number missing or wrong. */
export async function verify(expect, start, end) {
  const pipe = new RrdPipe();
  let bad = 0;
  await Promise.all(
    [...expect].map(async ([file, values]) => {
      const lines = await pipe.run(`fetch ${file} AVERAGE --start ${start} --end ${end}`);
      const got = new Map();
      for (const l of lines) {
        const m = /^(\d+):\s+(\S+)/.exec(l);
        if (m) got.set(Number(m[1]), Number(m[2]));
      }
      for (const [t, v] of values) if (Math.abs((got.get(t) ?? NaN) - v) > 1e-9) bad++;
    }),
  );
  pipe.close();
  return bad;
}

/** rrdcached on a UNIX socket, in the foreground, stopped by its PID. */
export async function startRrdcached(dir) {
  const sock = path.join(dir, 'rrdcached.sock');
  const child = stopAtExit(spawn('rrdcached', ['-g', '-l', `unix:${sock}`, '-p', path.join(dir, 'rrdcached.pid'), '-j', dir, '-b', dir, '-B', '-w', '300', '-z', '60', '-f', '3600', '-t', '2'], { stdio: 'ignore' }));
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.createConnection({ path: sock }, () => (s.end(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) break;
    await sleep(20);
  }
  return { sock, pid: child.pid, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}
