#!/usr/bin/env node
// Many slurpers, one collector: --connections TCP connections, Graphite plaintext and RFC 5424 syslog mixed
// (even ids Graphite, odd ids syslog), held open for --duration seconds, each sending one line every --interval
// seconds (own random phase). The load comes from --workers child processes (so no process of the generator
// needs more than its share of descriptors). Reported: connections held (the collector's open descriptors),
// refused or cut, the collector's RSS and CPU; afterwards every value is read back from its RRD file. The
// baseline, in the same run: a bare node net server that only counts lines, under the same load for
// --baseline-duration seconds.
// Usage: node bench/connections.mjs [--connections 2000] [--duration 120] [--interval 5] [--workers 4] [--baseline-duration 30]
import { fork, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { cpuSeconds, freePort, rss, sleep, startCollector, stopAtExit, tmp, verify } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);
const iso = (t) => new Date(t * 1000).toISOString();
const value = (id, k) => id + k / 1000;
const line = (id, k, t) => {
  if (id % 2 === 0) return `slurp.c${id}.load ${value(id, k)} ${t}\n`;
  const m = `<14>1 ${iso(t)} c${id} slurp - - [m@1 load="${value(id, k)}"] reading`;
  return `${Buffer.byteLength(m)} ${m}`;
};

// ---- a worker: its share of the connections, opened with a bounded number of connects in flight
async function worker({ from, to, graphitePort, syslogPort, duration, interval, base }) {
  const failed = {};
  let cut = 0;
  let lines = 0;
  const socks = [];
  let ending = false;
  const openOne = (id) =>
    new Promise((resolve) => {
      const s = net.createConnection({ host: '127.0.0.1', port: id % 2 === 0 ? graphitePort : syslogPort });
      s.setNoDelay(true);
      s.once('connect', () => ((s.rexOpen = true), resolve(s)));
      s.on('error', (e) => {
        failed[e.code ?? e.message] = (failed[e.code ?? e.message] ?? 0) + 1;
        resolve(undefined);
      });
      s.on('close', () => {
        // Closed by the server while we still meant to send: a cut connection.
        if (!ending && s.rexOpen) cut++;
      });
    });
  const ids = Array.from({ length: to - from }, (_, i) => from + i);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 250 }, async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const s = await openOne(id);
        if (s) socks.push(Object.assign(s, { rexId: id }));
      }
    }),
  );
  process.send({ opened: socks.length, connectSeconds: (performance.now() - t0) / 1000 });
  const rounds = Math.max(1, Math.floor(duration / interval));
  const start = Date.now();
  await Promise.all(
    socks.map(async (s) => {
      const phase = Math.random() * interval * 1000;
      for (let k = 0; k < rounds; k++) {
        const at = start + phase + k * interval * 1000;
        const wait = at - Date.now();
        if (wait > 0) await sleep(wait);
        if (s.destroyed) return;
        s.write(line(s.rexId, k, base + k * 60));
        lines++;
      }
    }),
  );
  ending = true;
  await Promise.all(socks.map((s) => (s.destroyed ? undefined : new Promise((r) => (s.once('close', r), s.end())))));
  process.send({ done: true, lines, failed, cut, rounds }, () => process.exit(0));
}

// ---- the baseline: a bare server that reads and counts newline- or length-framed input, nothing else
function bareServer(ports) {
  let bytes = 0;
  for (const port of ports)
    net
      .createServer((s) => {
        s.on('data', (d) => (bytes += d.length));
        s.on('error', () => {});
      })
      .listen({ port, host: '127.0.0.1', backlog: 4096 });
  process.on('SIGTERM', () => {
    console.log(`bare server: ${bytes} bytes`);
    process.exit(0);
  });
}

/** Runs the workers against two ports; samples the server's RSS, CPU and open descriptors meanwhile. */
async function load(pid, ports, { connections, duration, interval, workers, base }) {
  const per = Math.ceil(connections / workers);
  const cpu0 = cpuSeconds(pid);
  const rss0 = rss(pid).rss;
  let fdsPeak = 0;
  let steadyCpu0, steadyT0;
  let opened = 0;
  let connectSeconds = 0;
  const results = [];
  const sampler = setInterval(() => {
    try {
      fdsPeak = Math.max(fdsPeak, readdirSync(`/proc/${pid}/fd`).length);
    } catch {
      /* gone */
    }
  }, 1000);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const from = w * per;
      const to = Math.min(connections, from + per);
      if (from >= to) return undefined;
      return new Promise((resolve, reject) => {
        const child = fork(SELF, ['--worker'], { env: { ...process.env, BENCH_WORKER: JSON.stringify({ from, to, graphitePort: ports[0], syslogPort: ports[1], duration, interval, base }) } });
        child.on('message', (m) => {
          if (m.opened !== undefined) {
            opened += m.opened;
            connectSeconds = Math.max(connectSeconds, m.connectSeconds);
            if (opened === connections && steadyT0 === undefined) {
              steadyT0 = performance.now();
              steadyCpu0 = cpuSeconds(pid);
            }
          } else if (m.done) results.push(m);
        });
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${w} exited ${code}`))));
      });
    }),
  );
  clearInterval(sampler);
  const steadyS = steadyT0 === undefined ? NaN : (performance.now() - steadyT0) / 1000;
  const failed = {};
  for (const r of results) for (const [k, v] of Object.entries(r.failed)) failed[k] = (failed[k] ?? 0) + v;
  return {
    opened,
    connectSeconds,
    fdsPeak,
    failed,
    cut: results.reduce((a, r) => a + r.cut, 0),
    lines: results.reduce((a, r) => a + r.lines, 0),
    rounds: results[0]?.rounds ?? 0,
    rss0,
    rssPeak: rss(pid).peak,
    cpu: cpuSeconds(pid) - cpu0,
    steadyCpuPct: steadyT0 === undefined ? NaN : (100 * (cpuSeconds(pid) - steadyCpu0)) / steadyS,
  };
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      connections: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '120' },
      interval: { type: 'string', default: '5' },
      workers: { type: 'string', default: '4' },
      'baseline-duration': { type: 'string', default: '30' },
    },
  });
  const connections = Number(opt.connections);
  const duration = Number(opt.duration);
  const interval = Number(opt.interval);
  const workers = Number(opt.workers);
  const rounds = Math.max(1, Math.floor(duration / interval));
  const base = Math.floor(Date.now() / 1000 / 60) * 60 - (rounds + 5) * 60;
  console.log(
    `connections: ${connections.toLocaleString('en')} TCP connections (half Graphite plaintext, half RFC 5424 syslog), one line every ${interval} s each for ${duration} s, from ${workers} worker processes; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at start, open-file limit ${readLimit()}`,
  );

  // The baseline: same load on a bare node server.
  const bare = [await freePort(), await freePort()];
  const bareChild = stopAtExit(spawn('node', [SELF, '--bare', String(bare[0]), String(bare[1])], { stdio: ['ignore', 'inherit', 'inherit'] }));
  await sleep(500);
  const b = await load(bareChild.pid, bare, { connections, duration: Number(opt['baseline-duration']), interval, workers, base });
  await new Promise((r) => (bareChild.once('exit', r), bareChild.kill('SIGTERM')));

  // The collector: one series per connection (small RRAs: 8 KB files).
  const t = tmp('rexmon-bench-conn-');
  const syslogPort = await freePort();
  const share = Math.ceil(connections / 2) + 100;
  const c = await startCollector(t.dir, {
    graphiteMappings: `    - {match: "slurp.*.load", name: slurp_load, labels: {conn: $1}}\n  maxConnections: ${share}\n`,
    extraConfig:
      `syslog:\n  tcp: 127.0.0.1:${syslogPort}\n  maxConnections: ${share}\n  mappings:\n` +
      `    - {match: {app: slurp}, sd: m@1, values: [load], name: slurp_load, labels: {conn: '\${hostname}'}}\n` +
      `rrd:\n  templates: {bench: {step: 60, rras: [{cf: [AVERAGE], steps: 1, rows: ${rounds + 100}}]}}\n  defaultTemplate: bench\n`,
  });
  const r = await load(c.pid, [c.graphitePort, syslogPort], { connections, duration, interval, workers, base });
  const metrics = await (await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${c.token}` } })).text();
  const sum = (name) => [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  // Lines read are in the queues: wait until all are counted in, then write them out.
  for (let i = 0; i < 600; i++) {
    const m = await (await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${c.token}` } })).text();
    if ([...m.matchAll(/^rexmon_samples_received_total\{[^}]*\} (\S+)$/gm)].reduce((a, x) => a + Number(x[1]), 0) >= r.lines) break;
    await sleep(100);
  }
  await c.flush();
  const refused = sum('rexmon_connections_refused_total');
  const inputErrors = sum('rexmon_input_errors_total');
  await c.stop();
  const exp = new Map();
  const root = path.join(t.dir, 'rrd');
  for (let id = 0; id < connections; id++)
    exp.set(
      path.join(root, seriesFile('slurp_load', { conn: `c${id}` })),
      Array.from({ length: r.rounds }, (_, k) => [base + k * 60, value(id, k)]),
    );
  const lost = await verify(exp, base - 60, base + r.rounds * 60);
  t.cleanup();

  const row = (name, x, stored) =>
    `| ${name} | ${x.opened.toLocaleString('en')} of ${connections.toLocaleString('en')} | ${x.connectSeconds.toFixed(1)} | ${x.fdsPeak.toLocaleString('en')} | ${Object.entries(x.failed).map(([k, v]) => `${k} ${v}`).join(', ') || 0} | ${x.cut} | ${x.lines.toLocaleString('en')} | ${stored} | ${Math.round(x.rss0)} → ${Math.round(x.rssPeak)} | ${x.steadyCpuPct.toFixed(1)} % | ${x.cpu.toFixed(1)} |`;
  console.log('');
  console.log('| server | connections held | connect s | open fds (peak) | failed | cut | lines sent | values in the files | RSS MB (idle → peak) | CPU, all open (% of a core) | CPU s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  console.log(row(`bare node net server (baseline, ${opt['baseline-duration']} s)`, b, '–'));
  console.log(row(`rexmon collector (${duration} s)`, r, `${(connections * r.rounds - lost).toLocaleString('en')} of ${(connections * r.rounds).toLocaleString('en')}`));
  console.log('');
  console.log(`collector counters: rexmon_connections_refused_total ${refused}, rexmon_input_errors_total ${inputErrors}; values missing or wrong: ${lost}`);
  const ok = r.opened === connections && Object.keys(r.failed).length === 0 && r.cut === 0 && refused === 0 && lost === 0 && r.lines === connections * r.rounds;
  process.exitCode = ok ? 0 : 1;
}

function readLimit() {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSyncSafe('/proc/self/limits'));
  return m ? `${m[1]}/${m[2]}` : 'unknown';
}
function readFileSyncSafe(f) {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

if (process.argv[2] === '--worker') await worker(JSON.parse(process.env.BENCH_WORKER));
else if (process.argv[2] === '--bare') bareServer([Number(process.argv[3]), Number(process.argv[4])]);
else await main();
