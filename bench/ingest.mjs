#!/usr/bin/env node
// Ingest: time until durable (every value in its RRD file, then verified) for 100,000 Graphite points over
// 10,000 series (10 points each, 60 s apart), through the collector warm (series known) and cold (files
// created on first sight), beside the raw ceiling: the same values sent straight to rrdcached with BATCH
// into pre-created files, and carbon-cache (Graphite's daemon, whisper files with the same 1-day retention at 60 s)
// taking the same lines, until every point is readable from whisper.
// Usage: node bench/ingest.mjs [--series 10000] [--points 10] [--template gauge|1d|1d-avg] [--no-carbon] [--carbon-first]
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configSchema } from '../collector/dist/config/schema.js';
import { createArgs } from '../collector/dist/rrd/archive.js';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { cpuSeconds, flushFiles, freePort, ROOT, RrdPipe, rss, sendTcp, sleep, startCollector, startRrdcached, stopAtExit, TEMPLATE_1D, tmp, verify } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    points: { type: 'string', default: '10' },
    template: { type: 'string', default: 'gauge' },
    'no-carbon': { type: 'boolean', default: false },
    'carbon-first': { type: 'boolean', default: false },
  },
});
const SERIES = Number(opt.series);
const POINTS = Number(opt.points);
// `gauge` is rexmon's default (1 min × 1 day, 5 min × 1 week, 1 h × 1 year); `1d` keeps 1 min × 1 day only,
// the retention of carbon's default storage schema (60s:1d), for a like-for-like comparison with carbon.
// `1d-avg` keeps AVERAGE only: the same bytes per point as whisper's single archive (11 KB against its 17 KB).
const TEMPLATES = {
  '1d': TEMPLATE_1D,
  '1d-avg': { step: 60, type: 'GAUGE', rras: [{ cf: ['AVERAGE'], steps: 1, rows: 1440 }] },
};
const templateYaml = TEMPLATES[opt.template] ? `rrd:\n  templates:\n    bench: ${JSON.stringify(TEMPLATES[opt.template])}\n  defaultTemplate: bench\n` : '';
const template = TEMPLATES[opt.template]
  ? configSchema.parse({ rrd: { templates: { bench: TEMPLATES[opt.template] } } }).rrd.templates.bench
  : configSchema.parse({}).rrd.templates[opt.template];
if (!template) throw new Error(`unknown --template ${opt.template}: use gauge, 1d or 1d-avg`);
const base = Math.floor(Date.now() / 1000 / 60) * 60 - (POINTS + 30) * 60;
const host = (s) => `fnpc${String(s).padStart(5, '0')}`;
const value = (s, i) => s + i / 100;
// Directories are removed at the end, not between runs: ext4 skips inodes freed in the last minutes when it
// allocates new ones (recently_deleted), so deleting one run's 10,000 files made the next run's creates up to 5×
// costlier in kernel time (measured with perf on this machine) — a cost no collector in service pays.
const cleanups = [];

// Time-major, as many slurpers report: every series' point for one minute, then the next minute.
const lines = [];
for (let i = 0; i < POINTS; i++) for (let s = 0; s < SERIES; s++) lines.push(`bench.${host(s)}.load ${value(s, i)} ${base + i * 60}`);
const payload = lines.join('\n') + '\n';
const total = SERIES * POINTS;
const mapping = `    - {match: "bench.*.load", name: bench_load, labels: {host: $1}}\n`;

/** A raw rrdcached connection: send text, wait for n reply lines. */
function connect(sockPath) {
  return new Promise((resolve) => {
    const sock = net.createConnection({ path: sockPath }, () => resolve({ send, close: () => sock.end() }));
    sock.setEncoding('utf8');
    let buf = '';
    let waiting;
    sock.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      if (waiting && lines.length - 1 >= waiting.n) {
        buf = '';
        const w = waiting;
        waiting = undefined;
        w.resolve(lines.slice(0, -1));
      }
    });
    function send(text, n) {
      return new Promise((res) => {
        waiting = { n, resolve: res };
        sock.write(text);
      });
    }
  });
}

function expected(root) {
  const m = new Map();
  for (let s = 0; s < SERIES; s++)
    m.set(
      path.join(root, seriesFile('bench_load', { host: host(s) })),
      Array.from({ length: POINTS }, (_, i) => [base + i * 60, value(s, i)]),
    );
  return m;
}

async function raw() {
  const t = tmp('rexmon-bench-raw-');
  const cached = await startRrdcached(t.dir);
  const exp = expected(t.dir);
  const pipe = new RrdPipe();
  const dirs = new Set([...exp.keys()].map((f) => path.dirname(f)));
  for (const d of dirs) await import('node:fs').then((fs) => fs.mkdirSync(d, { recursive: true }));
  await Promise.all([...exp.keys()].map((f) => pipe.run(`create ${f} ${createArgs(template, base - 60).join(' ')}`)));
  pipe.close();
  const rels = [...exp.keys()].map((f) => path.relative(t.dir, f));
  const cmds = [];
  for (let i = 0; i < POINTS; i++) for (let s = 0; s < SERIES; s++) cmds.push(`UPDATE ${rels[s]} ${base + i * 60}:${value(s, i)}`);
  const cpu0 = cpuSeconds(cached.pid);
  const t0 = performance.now();
  const batch = await connect(cached.sock);
  const reply = await batch.send('BATCH\n' + cmds.join('\n') + '\n.\n', 2);
  if (!/^0 errors/.test(reply[1])) throw new Error(`BATCH: ${reply[1]}`);
  // FLUSH answers once its file is on disk; rrdcached serves a connection in order, so use several.
  const flushers = await Promise.all(Array.from({ length: 8 }, () => connect(cached.sock)));
  await flushFiles(flushers, rels);
  for (const f of [batch, ...flushers]) f.close();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cached.pid) - cpu0;
  const mem = rss(cached.pid).peak;
  await cached.stop();
  const lost = await verify(exp, base - 60, base + POINTS * 60);
  cleanups.push(t.cleanup);
  return { name: 'raw rrdcached BATCH, files pre-created (ceiling)', seconds, cpu, mem, lost };
}

async function collector(warm) {
  const t = tmp('rexmon-bench-collector-');
  const c = await startCollector(t.dir, { graphiteMappings: mapping, extraConfig: templateYaml });
  if (warm) {
    // Make every series known (catalog row + file) with one earlier point, written and flushed.
    const first = [];
    for (let s = 0; s < SERIES; s++) first.push(`bench.${host(s)}.load 0 ${base - 60}`);
    await sendTcp(c.graphitePort, first.join('\n') + '\n');
    await c.flush();
  }
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  await sendTcp(c.graphitePort, payload);
  await c.flush(); // returns once every accepted value is in its file
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c.pid) - cpu0;
  const mem = rss(c.pid).peak;
  await c.stop();
  const lost = await verify(expected(path.join(t.dir, 'rrd')), base - 60, base + POINTS * 60);
  cleanups.push(t.cleanup);
  return { name: `rexmon collector, ${warm ? 'warm (series known)' : 'cold (files created on first sight)'}`, seconds, cpu, mem, lost };
}

/**
 * carbon-cache 1.1.7 (Debian graphite-carbon) on free loopback ports with its own config, storage and pid file,
 * stopped by its PID: the same lines over one TCP connection, timed until every point reads back from whisper
 * (bench/whisper-wait.py polls the files), values checked. Rate limits off, as a tuned carbon runs them.
 */
async function carbon() {
  const t = tmp('rexmon-bench-carbon-');
  const [line, pickle, query] = [await freePort(), await freePort(), await freePort()];
  const conf = path.join(t.dir, 'carbon.conf');
  const storage = path.join(t.dir, 'storage');
  writeFileSync(
    conf,
    `[cache]\nSTORAGE_DIR = ${storage}/\nLOCAL_DATA_DIR = ${storage}/whisper/\nLOG_DIR = ${storage}/log/\nPID_DIR = ${storage}/\n` +
      `DATABASE = whisper\nENABLE_LOGROTATION = False\nMAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = inf\nMAX_CREATES_PER_MINUTE = inf\n` +
      `LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = ${line}\nENABLE_UDP_LISTENER = False\n` +
      `PICKLE_RECEIVER_INTERFACE = 127.0.0.1\nPICKLE_RECEIVER_PORT = ${pickle}\nCACHE_QUERY_INTERFACE = 127.0.0.1\nCACHE_QUERY_PORT = ${query}\n` +
      `USE_FLOW_CONTROL = True\nLOG_UPDATES = False\nLOG_CREATES = False\nLOG_CACHE_HITS = False\nLOG_LISTENER_CONNECTIONS = False\n` +
      `CACHE_WRITE_STRATEGY = sorted\nWHISPER_AUTOFLUSH = False\nWHISPER_FALLOCATE_CREATE = True\nCARBON_METRIC_INTERVAL = 0\n`,
  );
  writeFileSync(path.join(t.dir, 'storage-schemas.conf'), '[default]\npattern = .*\nretentions = 60s:1d\n');
  writeFileSync(path.join(t.dir, 'storage-aggregation.conf'), '[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n');
  mkdirSync(path.join(storage, 'log'), { recursive: true });
  const pidFile = path.join(storage, 'carbon-cache.pid');
  const child = stopAtExit(
    spawn('carbon-cache', ['--nodaemon', '--config', conf, '--pidfile', pidFile, 'start'], {
      env: { ...process.env, GRAPHITE_ROOT: t.dir, GRAPHITE_CONF_DIR: t.dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`carbon-cache exited at start (${child.exitCode}); see ${storage}/log`);
    const up = await new Promise((r) => {
      const s = net.createConnection({ host: '127.0.0.1', port: line }, () => (s.end(), r(true)));
      s.on('error', () => r(false));
    });
    if (up) break;
    if (i > 300) throw new Error('carbon-cache not listening after 30 s');
    await sleep(100);
  }
  const exp = {};
  for (let s = 0; s < SERIES; s++)
    exp[path.join(storage, 'whisper', 'bench', host(s), 'load.wsp')] = Array.from({ length: POINTS }, (_, i) => [base + i * 60, value(s, i)]);
  writeFileSync(path.join(t.dir, 'expect.json'), JSON.stringify(exp));
  const waiter = stopAtExit(
    spawn('/usr/bin/python3', [path.join(ROOT, 'bench/whisper-wait.py'), path.join(t.dir, 'expect.json'), '300'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  waiter.stdout.setEncoding('utf8');
  const out = [];
  let notify;
  waiter.stdout.on('data', (d) => {
    out.push(...d.split('\n').filter(Boolean));
    notify?.();
  });
  let exited;
  waiter.on('exit', (code) => {
    exited = code;
    notify?.();
  });
  const nextLine = async () => {
    while (out.length === 0) {
      if (exited !== undefined) throw new Error(`whisper-wait.py exited (${exited}) without an answer`);
      await new Promise((r) => (notify = r));
    }
    return out.shift();
  };
  if ((await nextLine()) !== 'ready') throw new Error('whisper-wait.py did not start');
  // The python reader polls beside carbon; its CPU is not carbon's (only carbon-cache's own is counted).
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  waiter.stdin.write('go\n');
  // Not waiting for carbon to close its side: it sometimes keeps the connection open after our end (seen once,
  // the bench then hung); the points are timed from whisper, not from the socket.
  const sock = net.createConnection({ host: '127.0.0.1', port: line }, () => sock.end(payload));
  sock.on('error', (e) => console.error(`carbon-cache connection: ${e.message}`));
  const result = JSON.parse(await nextLine());
  sock.destroy();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(child.pid) - cpu0;
  const mem = rss(child.pid).peak;
  await new Promise((r) => (child.once('exit', r), child.kill('SIGTERM')));
  cleanups.push(t.cleanup);
  return { name: 'carbon-cache 1.1.7, whisper 60s:1d, files created on first sight', seconds, cpu, mem, lost: result.lost };
}

const kb = Math.round((template.rras.reduce((n, r) => n + r.rows * r.cf.length, 0) * 8) / 1024);
console.log(
  `ingest: ${total.toLocaleString('en')} Graphite points, ${SERIES.toLocaleString('en')} series × ${POINTS}, 60 s apart; template ${opt.template} (~${kb} KB per file); time until durable, then every value verified with rrdtool fetch`,
);
// Each run creates 10,000 files; ext4 allocates inodes slowly for a minute or more after files were deleted near
// them (recently_deleted), and a run after others has fresher inode groups to itself: --carbon-first runs carbon
// before the collector, to see the order's share in the difference.
const results = [await raw()];
if (opt['carbon-first'] && !opt['no-carbon']) results.push(await carbon());
results.push(await collector(true), await collector(false));
if (!opt['carbon-first'] && !opt['no-carbon']) results.push(await carbon());
const ceiling = results[0].seconds;
console.log('');
console.log('| run | time to durable | samples/s | × raw ceiling | CPU s (server) | peak RSS MB | values lost |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results)
  console.log(
    `| ${r.name} | ${r.seconds.toFixed(2)} s | ${Math.round(total / r.seconds).toLocaleString('en')} | ${(r.seconds / ceiling).toFixed(2)} | ${r.cpu.toFixed(2)} | ${Math.round(r.mem)} | ${r.lost} |`,
  );
for (const c of cleanups) c();
const lostAny = results.some((r) => r.lost > 0);
process.exitCode = lostAny ? 1 : 0;
