#!/usr/bin/env node
// Load with faults at once: HTTP and Graphite ingest at full rate (fresh series throughout) while, in sequence
// and overlapping, rrdcached is SIGKILLed, an `rrdtool -` child is SIGKILLed, the SQLite database is held by
// another process's BEGIN EXCLUSIVE for 10 s, and the RRD writer stage is stalled (every `rrdtool -` child
// SIGSTOPped for 8 s); events are posted throughout (they need the database). Counted on the sender side:
// every sample acknowledged (HTTP 202; Graphite lines written before a clean close) and every refusal; at the
// end the collector is flushed and every acknowledged value is read back with `rrdtool fetch`. The same run
// without faults is the baseline, in the same invocation. Usage: node bench/faults.mjs [--seconds 60]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { seriesFile } from '../collector/dist/rrd/naming.js';
import { ROOT, RrdPipe, sleep, startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
const SECONDS = Number(opt.seconds);
if (!(SECONDS >= 20)) throw new Error('--seconds must be a number ≥ 20 (the faults need room)');
const HTTP_SERIES = 100; // per HTTP batch, one value each
const GRAPHITE_SERIES = 20; // per Graphite round
const GEN = 100; // rounds per generation of series names: after that, fresh names (new files and catalog rows)
// One row a second, one value a row, so each acknowledged value is checked exactly.
const extraConfig = [
  'rrd: {templates: {fine: {step: 1, heartbeat: 3600, rras: [{cf: [LAST], steps: 1, rows: 1000}]}}, defaultTemplate: fine, minFreeBytes: 0}',
  'wal: {checkpointInterval: 5}',
  '',
].join('\n');

/** Another process holding SQLite's write lock (BEGIN EXCLUSIVE) until release(). */
async function lockSqlite(file) {
  const code = `import Database from 'better-sqlite3'; import { createInterface } from 'node:readline';
    const db = new Database(${JSON.stringify(file)}); db.exec('BEGIN EXCLUSIVE'); console.log('locked');
    createInterface({ input: process.stdin }).once('line', () => { db.exec('COMMIT'); db.close(); console.log('released'); process.exit(0); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: path.join(ROOT, 'collector'), stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const said = (what) =>
    new Promise(
      (resolve, reject) => (lines.on('line', (l) => l === what && resolve()), child.once('exit', (c) => reject(new Error(`lock holder exited ${c}`)))),
    );
  await said('locked');
  return { release: () => (child.stdin.write('go\n'), said('released')) };
}

/** The collector's `rrdtool -` children, found by its PID (never by name). */
function rrdtoolChildren(pid) {
  const kids = readdirSync(`/proc/${pid}/task`).flatMap((t) =>
    readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
  return kids.filter((k) => {
    try {
      const argv = readFileSync(`/proc/${k}/cmdline`, 'utf8').split('\0');
      return path.basename(argv[0]) === 'rrdtool' && argv[1] === '-';
    } catch {
      return false;
    }
  });
}

function kill(pid, sig) {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function scrape(c) {
  const text = await (await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${c.token}` } })).text();
  const out = {};
  for (const l of text.split('\n')) {
    const m = /^(rexmon_samples_(?:dropped|rejected)_total|rexmon_input_errors_total|rexmon_rrdtool_restarts_total)(\{[^}]*\})?\s+(\S+)/.exec(l);
    if (m) out[m[1] + (m[2] ?? '')] = Number(m[3]);
  }
  return out;
}
const sum = (m, prefix) => Object.entries(m).reduce((n, [k, v]) => (k.startsWith(prefix) ? n + v : n), 0);

async function runOnce(faults) {
  const t = tmp('rexmon-bench-faults-');
  const c = await startCollector(t.dir, { extraConfig, logLevel: 'error' });
  const auth = { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' };
  const base = Math.floor(Date.now() / 1000) - 900; // series times run base+0 … base+GEN-1, inside the 1000 rows
  const acked = new Map(); // file -> [[time, value]] for every acknowledged sample
  const s = { httpAcked: 0, httpRefused: 0, httpErrors: 0, graphiteAcked: 0, graphiteCut: 0, eventsAcked: 0, eventsRefused: 0 };
  const ack = (name, labels, time, value) => {
    const f = path.join(t.dir, 'rrd', seriesFile(name, labels));
    if (!acked.has(f)) acked.set(f, []);
    acked.get(f).push([time, value]);
  };
  const before = await scrape(c);
  const log = [];
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  let stop = false;

  async function httpLoad(worker) {
    for (let r = 0; !stop; r++) {
      const gen = Math.floor(r / GEN);
      const time = base + (r % GEN);
      const batch = Array.from({ length: HTTP_SERIES }, (_, n) => ({
        name: 'fault_http',
        labels: { w: String(worker), g: String(gen), n: String(n) },
        value: r * 1000 + n,
        time,
      }));
      try {
        const res = await fetch(`${c.url}/api/v1/samples`, { method: 'POST', headers: auth, body: JSON.stringify(batch) });
        await res.text();
        if (res.status === 202) {
          s.httpAcked += batch.length;
          for (const b of batch) ack(b.name, b.labels, b.time, b.value);
        } else {
          s.httpRefused += batch.length;
          await sleep(50); // 503 carries Retry-After; a short pause keeps the rate full without spinning
        }
      } catch {
        s.httpErrors += batch.length;
        await sleep(50);
      }
    }
  }

  async function graphiteLoad() {
    for (let r = 0; !stop;) {
      const lines = [];
      const sent = [];
      for (let k = 0; k < 10; k++, r++) {
        const gen = Math.floor(r / GEN);
        const time = base + (r % GEN);
        for (let n = 0; n < GRAPHITE_SERIES; n++) {
          const value = r * 1000 + n;
          lines.push(`fault.graphite;g=${gen};n=${n} ${value} ${time}`);
          sent.push([{ g: String(gen), n: String(n) }, time, value]);
        }
      }
      const clean = await new Promise((resolve) => {
        const sock = net.createConnection({ host: '127.0.0.1', port: c.graphitePort }, () => sock.end(lines.join('\n') + '\n'));
        sock.on('error', () => resolve(false));
        sock.on('close', (hadError) => resolve(!hadError));
      });
      if (clean) {
        s.graphiteAcked += sent.length;
        for (const [labels, time, value] of sent) ack('fault.graphite', labels, time, value);
      } else s.graphiteCut += sent.length;
    }
  }

  let eventsN = 0;
  async function eventLoad() {
    while (!stop) {
      const ev = { type: 'bench.fault', source: 'faults', labels: { n: String(eventsN++) } };
      try {
        const res = await fetch(`${c.url}/api/v1/events`, { method: 'POST', headers: auth, body: JSON.stringify(ev) });
        await res.text();
        if (res.status === 202 || res.status === 201 || res.status === 200) s.eventsAcked++;
        else s.eventsRefused++;
      } catch {
        s.eventsRefused++;
      }
      await sleep(100);
    }
  }

  async function injector() {
    const at = async (frac) => {
      const wait = frac * SECONDS - elapsed();
      if (wait > 0) await sleep(wait * 1000);
    };
    const note = (what) => log.push(`${elapsed().toFixed(1)} s: ${what}`);
    const killCached = () => {
      const pid = Number(readFileSync(path.join(t.dir, 'rrdcached', 'rrdcached.pid'), 'utf8').trim());
      note(`SIGKILL rrdcached ${pid}: ${kill(pid, 'SIGKILL') ? 'done' : 'not running'}`);
    };
    const killRrdtool = () => {
      const [pid] = rrdtoolChildren(c.pid);
      note(`SIGKILL rrdtool - child ${pid}: ${pid && kill(pid, 'SIGKILL') ? 'done' : 'none found'}`);
    };
    await at(0.1);
    killCached();
    await at(0.25);
    killRrdtool();
    await at(0.35);
    const lock = await lockSqlite(path.join(t.dir, 'rexmon.sqlite'));
    note('SQLite BEGIN EXCLUSIVE held by another process (10 s)');
    const released = sleep(10_000).then(async () => (await lock.release(), note('SQLite lock released')));
    await at(0.4);
    const stalled = rrdtoolChildren(c.pid);
    for (const p of stalled) kill(p, 'SIGSTOP');
    note(`RRD writer stage stalled: SIGSTOP ${stalled.join(', ')} (8 s)`);
    const resumed = sleep(8000).then(() => {
      for (const p of stalled) kill(p, 'SIGCONT');
      note('SIGCONT the stalled rrdtool children');
    });
    await at(0.45);
    killCached();
    await Promise.all([released, resumed]);
    await at(0.6);
    killRrdtool();
    await at(0.7);
    killCached();
  }

  const loads = [httpLoad(0), httpLoad(1), graphiteLoad(), eventLoad()];
  const inj = faults ? injector() : Promise.resolve();
  await sleep(SECONDS * 1000);
  stop = true;
  await Promise.all([...loads, inj]);
  const sendSeconds = elapsed();
  // The flush may be refused while a restarted rrdcached is still coming up: retry until it answers.
  for (let i = 0; ; i++) {
    try {
      await c.flush();
      break;
    } catch (e) {
      if (i > 120) throw e;
      await sleep(500);
    }
  }
  const after = await scrape(c);
  const evs = await (await fetch(`${c.url}/api/v1/events?type=bench.fault&from=0&limit=1`, { headers: auth })).json();
  await c.stop();

  // Read back every acknowledged value; wrong or missing values are listed by series and time.
  const pipe = new RrdPipe();
  let stored = 0;
  const missing = [];
  await Promise.all(
    [...acked].map(async ([file, values]) => {
      let lines = [];
      try {
        lines = await pipe.run(`fetch ${file} LAST --start ${base - 1} --end ${base + GEN}`);
      } catch (e) {
        missing.push(`${path.relative(t.dir, file)}: ${e.message}`);
      }
      const got = new Map();
      for (const l of lines) {
        const m = /^(\d+):\s+(\S+)/.exec(l);
        if (m) got.set(Number(m[1]), Number(m[2]));
      }
      for (const [time, v] of values) {
        if (got.get(time) === v) stored++;
        else if (lines.length) missing.push(`${path.relative(t.dir, file)} @${time}: want ${v}, got ${got.get(time)}`);
      }
    }),
  );
  pipe.close();
  const delta = (p) => sum(after, p) - sum(before, p);
  // HTTP samples answered 503 are counted as dropped too (refused_503, wal_error), but they were never
  // accepted: they are in `refused` on the sender's side, not here.
  const refusedHttp =
    delta('rexmon_samples_dropped_total{source="http",reason="refused_503"}') + delta('rexmon_samples_dropped_total{source="http",reason="wal_error"}');
  const dropped = delta('rexmon_samples_dropped_total') - refusedHttp + delta('rexmon_samples_rejected_total');
  const reasons = Object.keys(after)
    .filter((k) => /^rexmon_samples_(dropped|rejected)_total/.test(k) && after[k] - (before[k] ?? 0) > 0)
    .map((k) => `${k.replace('rexmon_samples_', '')} ${after[k] - (before[k] ?? 0)}`);
  const accepted = s.httpAcked + s.graphiteAcked;
  t.cleanup();
  return {
    name: faults ? 'with faults' : 'baseline (no faults)',
    accepted,
    refused: s.httpRefused + s.httpErrors + s.graphiteCut,
    stored,
    dropped,
    lost: accepted - stored - dropped,
    rate: accepted / sendSeconds,
    series: acked.size,
    eventsAcked: s.eventsAcked,
    eventsRefused: s.eventsRefused,
    eventsStored: evs.total ?? evs.data?.length,
    restarts: delta('rexmon_rrdtool_restarts_total'),
    log,
    missing,
    reasons,
  };
}

console.log(
  `faults: node bench/faults.mjs --seconds ${SECONDS}; HTTP (2 senders, ${HTTP_SERIES} samples a batch) and Graphite (1 sender, ${GRAPHITE_SERIES * 10} lines a connection) at full rate, fresh series every ${GEN} rounds, 1 event per 100 ms; every acknowledged value read back with rrdtool fetch`,
);
const results = [await runOnce(false), await runOnce(true)];
for (const r of results) {
  console.log(`\n${r.name}:`);
  for (const l of r.log) console.log(`  ${l}`);
  console.log(`  counters: ${r.reasons.join('; ') || 'none'}`);
  for (const m of r.missing.slice(0, 20)) console.log(`  LOST ${m}`);
  if (r.missing.length > 20) console.log(`  … ${r.missing.length - 20} more`);
}
console.log('');
console.log(
  '| run | samples accepted | refused (not accepted) | stored | dropped with count | lost = accepted − stored − dropped | accepted/s | series | events accepted / refused / stored | rrdtool restarts |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
const f = (n) => Math.round(n).toLocaleString('en');
for (const r of results)
  console.log(
    `| ${r.name} | ${f(r.accepted)} | ${f(r.refused)} | ${f(r.stored)} | ${f(r.dropped)} | ${f(r.lost)} | ${f(r.rate)} | ${f(r.series)} | ${r.eventsAcked} / ${r.eventsRefused} / ${r.eventsStored} | ${r.restarts} |`,
  );
process.exitCode = results.some((r) => r.lost !== 0 || r.eventsStored !== r.eventsAcked) ? 1 : 0;
