#!/usr/bin/env node
// Sustained ingest: many slurpers (TCP connections speaking Graphite plaintext) feeding one collector at a fixed
// rate over many distinct series for a while, then every value checked in its RRD file. Printed beside the raw
// ceiling measured in the same run: the same files fed straight to rrdcached with BATCH (no collector).
// Each series gets one value per round (timestamps one second apart, a 1 s step template, so every value has its
// own row and can be checked); rounds are paced to --rate. Sampled every second: the collector's RSS and its
// queue depth. Usage (short default; the run is --series 100000 --rate 100000 --seconds 300):
//   node bench/sustained.mjs [--series 10000] [--rate 100000] [--seconds 20] [--connections 8]
import net from 'node:net';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { cpuSeconds, flushFiles, positiveIntegers, RrdPipe, rss, sleep, startCollector, startRrdcached, tmp } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '8' },
    'raw-rounds': { type: 'string', default: '10' },
  },
});
const {
  series: SERIES,
  rate: RATE,
  seconds: SECONDS,
  connections: CONNS,
  'raw-rounds': RAW_ROUNDS,
} = positiveIntegers(opt, ['series', 'rate', 'seconds', 'connections', 'raw-rounds']);
const ROUNDS = Math.max(1, Math.round((RATE * SECONDS) / SERIES));

// Round k carries time T0 + k (k = 0 is the warm-up that creates the files). All times lie in the past when sent.
const T0 = Math.floor(Date.now() / 1000) - ROUNDS - RAW_ROUNDS - 2;
// Rows enough that the oldest value is still inside the file at the end of a slow run (the writer refuses older).
const ROWS = 2 * (ROUNDS + RAW_ROUNDS) + 4 * SECONDS + 1200;
const TEMPLATE = { step: 1, type: 'GAUGE', heartbeat: 5, rras: [{ cf: ['AVERAGE'], steps: 1, rows: ROWS }] };
const id = (s) => `s${String(s).padStart(6, '0')}`;
const value = (s, k) => s + k / 1000;
const file = (root, s) => path.join(root, seriesFile('sus_value', { id: id(s) }));

/** One round's lines for the series of connection c (series s with s % CONNS === c). */
function lines(c, k) {
  let out = '';
  const t = T0 + k;
  for (let s = c; s < SERIES; s += CONNS) out += `sus.${id(s)}.value ${value(s, k)} ${t}\n`;
  return out;
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes, waiting for 'drain' when the socket buffer is full (the collector pushes back by pausing its reads). */
function write(sock, text) {
  return sock.write(text) ? Promise.resolve() : new Promise((r) => sock.once('drain', r));
}

async function collectorRun(t) {
  const c = await startCollector(t.dir, {
    graphiteMappings: '    - {match: "sus.*.value", name: sus_value, labels: {id: $1}}\n',
    // The senders create every series in the warm-up: the per-sender and per-minute new-series limits (10,000 and
    // 50,000 by default) would refuse most of 100,000 at once.
    extraConfig:
      `rrd:\n  templates:\n    sus: ${JSON.stringify(TEMPLATE)}\n  defaultTemplate: sus\n` +
      `seriesLimits: {newPerSourcePerMinute: ${Math.max(10000, SERIES)}, newPerMinute: ${Math.max(50000, SERIES)}, perName: ${Math.max(100000, SERIES)}}\n`,
  });
  const socks = await Promise.all(Array.from({ length: CONNS }, () => connect(c.graphitePort)));
  // Warm-up: round 0 makes every series known and its file created; then flushed.
  const w0 = performance.now();
  await Promise.all(socks.map((s, i) => write(s, lines(i, 0))));
  await c.flush();
  const warmup = (performance.now() - w0) / 1000;

  const samples = [];
  let stopSampling = false;
  const status = async () => {
    const r = await fetch(`${c.url}/api/v1/status`, { headers: { authorization: `Bearer ${c.token}` } });
    return (await r.json()).data;
  };
  const sampler = (async () => {
    const s0 = performance.now();
    while (!stopSampling) {
      const q = await status().catch(() => undefined);
      samples.push({ at: (performance.now() - s0) / 1000, ...rss(c.pid), depth: q ? Math.max(0, ...Object.values(q.queues)) : NaN });
      await sleep(1000);
    }
  })();

  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  const interval = (SERIES / RATE) * 1000; // ms per round
  await Promise.all(
    socks.map(async (sock, i) => {
      for (let k = 1; k <= ROUNDS; k++) {
        const due = t0 + (k - 1) * interval;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        await write(sock, lines(i, k));
      }
    }),
  );
  const sent = (performance.now() - t0) / 1000;
  await Promise.all(socks.map((s) => new Promise((r) => s.end(r))));
  await c.flush();
  const durable = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c.pid) - cpu0;
  stopSampling = true;
  await sampler;
  const metrics = await (await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${c.token}` } })).text();
  const refusals = metrics.split('\n').filter((l) => /^rexmon_(samples_dropped|samples_rejected)[a-z_]*\{/.test(l));
  const dropped = refusals.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  if (dropped) console.log(refusals.join('\n'));
  await c.stop();
  // How late the senders finished against their schedule (the last round was due at (ROUNDS - 1) × interval).
  const behind = Math.max(0, sent - ((ROUNDS - 1) * interval) / 1000);
  return { warmup, sent, durable, cpu, samples, dropped, behind };
}

/** Every value of rounds [from, to] in every file; returns the number missing or wrong. */
async function verify(root, from, to) {
  const pipes = Array.from({ length: 4 }, () => new RrdPipe());
  let bad = 0;
  let next = 0;
  await Promise.all(
    pipes.map(async (pipe) => {
      while (next < SERIES) {
        const s = next++;
        const out = await pipe.run(`fetch ${file(root, s)} AVERAGE --start ${T0 + from - 1} --end ${T0 + to}`);
        const got = new Map();
        for (const l of out) {
          const colon = l.indexOf(':');
          if (colon > 0) got.set(Number(l.slice(0, colon)), Number(l.slice(colon + 1)));
        }
        for (let k = from; k <= to; k++) if (!(Math.abs((got.get(T0 + k) ?? NaN) - value(s, k)) < 1e-6)) bad++;
      }
    }),
  );
  pipes.forEach((p) => p.close());
  return bad;
}

/** The ceiling: RAW_ROUNDS more rounds for every series straight to rrdcached (BATCH), until flushed to the files. */
async function rawRun(root) {
  const cached = await startRrdcached(root);
  const rels = Array.from({ length: SERIES }, (_, s) => path.relative(root, file(root, s)));
  const cmds = [];
  for (let k = ROUNDS + 1; k <= ROUNDS + RAW_ROUNDS; k++) for (let s = 0; s < SERIES; s++) cmds.push(`UPDATE ${rels[s]} ${T0 + k}:${value(s, k)}`);
  const open = () =>
    new Promise((resolve) => {
      const sock = net.createConnection({ path: cached.sock }, () => resolve({ sock, send }));
      sock.setEncoding('utf8');
      let buf = '';
      let waiting;
      sock.on('data', (d) => {
        buf += d;
        const n = buf.split('\n').length - 1;
        if (waiting && n >= waiting.n) {
          const w = waiting;
          waiting = undefined;
          const l = buf.split('\n').slice(0, -1);
          buf = '';
          w.resolve(l);
        }
      });
      function send(text, n) {
        return new Promise((res) => {
          waiting = { n, resolve: res };
          sock.write(text);
        });
      }
    });
  const cpu0 = cpuSeconds(cached.pid);
  const t0 = performance.now();
  const b = await open();
  // One BATCH per round, as a collector would send them as they come.
  for (let k = 0; k < RAW_ROUNDS; k++) {
    const reply = await b.send('BATCH\n' + cmds.slice(k * SERIES, (k + 1) * SERIES).join('\n') + '\n.\n', 2);
    if (!/^0 errors/.test(reply[1])) throw new Error(`BATCH: ${reply[1]}`);
  }
  const enqueued = (performance.now() - t0) / 1000;
  const flushers = await Promise.all(Array.from({ length: 8 }, open));
  await flushFiles(flushers, rels);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cached.pid) - cpu0;
  for (const f of [b, ...flushers]) f.sock.end();
  const mem = rss(cached.pid).peak;
  await cached.stop();
  return { seconds, enqueued, cpu, mem };
}

const total = SERIES * ROUNDS;
console.log(
  `sustained: ${CONNS} Graphite TCP connections, ${SERIES.toLocaleString('en')} series, ${ROUNDS} rounds paced to ${RATE.toLocaleString('en')} samples/s ` +
    `(${total.toLocaleString('en')} samples, ${SECONDS} s at that rate); template step 1 s × ${ROWS} rows; then every value checked with rrdtool fetch`,
);
const t = tmp('rexmon-bench-sustained-');
mkdirSync(t.dir, { recursive: true });
const r = await collectorRun(t);
const root = path.join(t.dir, 'rrd');
const lost = await verify(root, 0, ROUNDS);
const raw = await rawRun(root);
const rawLost = await verify(root, ROUNDS + 1, ROUNDS + RAW_ROUNDS);
t.cleanup();

const rawRate = (SERIES * RAW_ROUNDS) / raw.seconds;
const rate = total / r.durable;
console.log('');
console.log(`warm-up (round 0: ${SERIES.toLocaleString('en')} new series, files created, flushed): ${r.warmup.toFixed(1)} s`);
console.log('');
console.log('| run | samples | time to durable | samples/s durable | × raw BATCH rate | CPU s (server) | peak RSS MB | values lost |');
console.log('|---|---|---|---|---|---|---|---|');
console.log(
  `| raw rrdcached BATCH, same files, ${RAW_ROUNDS} rounds (ceiling) | ${(SERIES * RAW_ROUNDS).toLocaleString('en')} | ${raw.seconds.toFixed(2)} s (enqueued in ${raw.enqueued.toFixed(2)} s) | ${Math.round(rawRate).toLocaleString('en')} | 1.00 | ${raw.cpu.toFixed(1)} | ${Math.round(raw.mem)} | ${rawLost} |`,
);
console.log(
  `| rexmon collector, ${CONNS} connections | ${total.toLocaleString('en')} | ${r.durable.toFixed(1)} s (sent in ${r.sent.toFixed(1)} s) | ${Math.round(rate).toLocaleString('en')} | ${(rawRate / rate).toFixed(2)} | ${r.cpu.toFixed(1)} | ${Math.round(Math.max(...r.samples.map((s) => s.peak)))} | ${lost} |`,
);
// Memory and queue over time: flat means the second half stays where the first half ended.
const steps = Math.min(10, r.samples.length);
const picks = Array.from({ length: steps }, (_, i) => r.samples[Math.floor(((i + 1) * r.samples.length) / steps) - 1]);
console.log('');
console.log(`| at s | ${picks.map((p) => Math.round(p.at)).join(' | ')} |`);
console.log(`|---|${picks.map(() => '---').join('|')}|`);
console.log(`| RSS MB | ${picks.map((p) => Math.round(p.rss)).join(' | ')} |`);
console.log(`| queue depth (max over processors) | ${picks.map((p) => p.depth).join(' | ')} |`);
console.log('');
console.log(
  `max queue depth ${Math.max(...r.samples.map((s) => s.depth || 0)).toLocaleString('en')}; sender at most ${r.behind.toFixed(1)} s behind its schedule; ` +
    `dropped or rejected (collector /metrics) ${r.dropped}; values lost ${lost}`,
);
process.exitCode = lost || rawLost || r.dropped ? 1 : 0;
