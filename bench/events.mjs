#!/usr/bin/env node
// Events into the store: the same rows through a collector's HTTP API (arrays of --batch, one request at a
// time; the TypeScript client library (sendEvent's EventClient, batches of 500); one event per request, with
// --concurrency requests in flight) beside a raw knex insert of the same rows into a fresh database, on SQLite
// and on PostgreSQL (a throw-away server). Time runs until the last event is in the database (counted back
// through the API); afterwards every row is counted and checked for duplicates with knex.
// The lab's earlier server stored 45 events/s; the target is 10,000/s in batches on SQLite, none lost.
// Usage: node bench/events.mjs [--events 100000] [--single 10000] [--batch 500] [--concurrency 8] [--db sqlite,pg]
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EventClient } from '../collector/dist/client/index.js';
import { openDb } from '../collector/dist/db/index.js';
import { startPostgres } from '../collector/dist/testing/postgres.js';
import { cpuSeconds, rss, sleep, startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    single: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '8' },
    db: { type: 'string', default: 'sqlite,pg' },
  },
});
const N = Number(opt.events);
const SINGLE = Number(opt.single);
const BATCH = Number(opt.batch);
const CONC = Number(opt.concurrency);
const base = Date.now() - 3600_000;

/** Event i: what a job wrapper sends (labels for selectors, a few data fields). */
const event = (type, i) => ({
  type,
  source: `wn${String(i % 200).padStart(3, '0')}`,
  time: base + (i % 3_000_000),
  labels: { experiment: ['nova', 'dune', 'mu2e'][i % 3], site: 'fnal' },
  data: { seq: i, job: `${1000000 + i}.0`, bytes: i * 1024, ok: i % 10 !== 0 },
});
const row = (e) => ({ time: e.time, type: e.type, source: e.source, labels: JSON.stringify(e.labels), data: JSON.stringify(e.data), created_at: Date.now() });

async function rawKnex(dbOpts) {
  const db = await openDb(dbOpts);
  const rows = Array.from({ length: N }, (_, i) => row(event('bench.raw', i)));
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += BATCH) await db('events').insert(rows.slice(i, i + BATCH));
  const seconds = (performance.now() - t0) / 1000;
  const [{ n, d }] = await db('events').count({ n: '*' }).countDistinct({ d: 'data' });
  await db.destroy();
  return { name: `raw knex insert, ${BATCH} rows per statement (baseline)`, n: N, seconds, counted: { n: Number(n), distinct: Number(d) }, cpu: NaN, mem: NaN, retries: 0 };
}

async function stored(c, type) {
  const r = await fetch(`${c.url}/api/v1/events?type=${type}&limit=1`, { headers: { authorization: `Bearer ${c.token}` } });
  const doc = await r.json();
  return doc.truncated ? doc.total : doc.data.length;
}

/** Runs `send`, then waits until `n` events of `type` are in the database (202 may answer before they are). */
async function timed(c, name, type, n, send) {
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  const retries = await send();
  let got = 0;
  for (;;) {
    got = await stored(c, type);
    if (got >= n || performance.now() - t0 > 300_000) break;
    await sleep(20);
  }
  return { name, type, n, seconds: (performance.now() - t0) / 1000, stored: got, cpu: cpuSeconds(c.pid) - cpu0, mem: rss(c.pid).rss, retries };
}

/** POST with retry on 503/429 (the queue full, a rate limit); any other non-2xx ends the bench. */
async function post(c, body) {
  for (let retries = 0; ; retries++) {
    const r = await fetch(`${c.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (r.ok) return retries;
    if (r.status !== 503 && r.status !== 429) throw new Error(`POST /api/v1/events: HTTP ${r.status}: ${text.slice(0, 300)}`);
    await sleep(Number(r.headers.get('retry-after') ?? 1) * 1000);
  }
}

async function viaCollector(label, extraConfig) {
  const t = tmp('rexmon-bench-events-');
  const c = await startCollector(t.dir, { extraConfig });
  const out = [];
  try {
    const batches = [];
    for (let i = 0; i < N; i += BATCH) batches.push(Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => event('bench.batch', i + k)));
    out.push(
      await timed(c, `HTTP API, arrays of ${BATCH}, one request at a time`, 'bench.batch', N, async () => {
        let retries = 0;
        for (const b of batches) retries += await post(c, b);
        return retries;
      }),
    );
    out.push(
      await timed(c, 'TypeScript client (EventClient, batches of 500)', 'bench.client', N, async () => {
        const client = new EventClient({ url: c.url, token: c.token, maxBuffer: N, log: (m) => console.error(`client: ${m}`) });
        for (let i = 0; i < N; i++) {
          const e = event('bench.client', i);
          client.send(e.type, e.labels, { source: e.source, time: e.time, data: e.data });
        }
        while (client.stats().buffered > 0) await client.flush(60_000);
        const st = await client.close();
        const dropped = Object.values(st.dropped).reduce((a, b) => a + b, 0);
        if (dropped) console.error(`client dropped ${dropped}: ${JSON.stringify(st.dropped)}`);
        return 0;
      }),
    );
    out.push(
      await timed(c, `HTTP API, one event per request, ${CONC} in flight`, 'bench.single', SINGLE, async () => {
        let next = 0;
        let retries = 0;
        await Promise.all(
          Array.from({ length: CONC }, async () => {
            while (next < SINGLE) retries += await post(c, event('bench.single', next++));
          }),
        );
        return retries;
      }),
    );
  } finally {
    await c.stop();
  }
  return { out, t, label };
}

/** Every row counted by type, and distinct `data` (it holds seq): duplicates would show as fewer distinct. */
async function check(dbOpts) {
  const db = await openDb(dbOpts);
  const rows = await db('events').select('type').count({ n: '*' }).countDistinct({ d: 'data' }).groupBy('type');
  await db.destroy();
  return Object.fromEntries(rows.map((r) => [r.type, { n: Number(r.n), distinct: Number(r.d) }]));
}

console.log(
  `events: ${N.toLocaleString('en')} events per row below (one-by-one: ${SINGLE.toLocaleString('en')}), time until the last is in the database; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at start, Node ${process.version}`,
);
let failed = false;
for (const which of opt.db.split(',')) {
  let pg;
  let rawOpts, collectorOpts, extraConfig;
  const t = tmp('rexmon-bench-events-raw-');
  if (which === 'pg') {
    pg = await startPostgres('rexmon_bench_raw', { tmp: process.env.BENCH_DIR });
    rawOpts = { client: 'pg', connection: pg.url };
    collectorOpts = { client: 'pg', connection: await pg.createDatabase('rexmon_bench_collector') };
    extraConfig = `database: {client: pg, connection: "${collectorOpts.connection}"}\n`;
  } else {
    rawOpts = { client: 'sqlite', filename: path.join(t.dir, 'raw.sqlite') };
    extraConfig = '';
  }
  try {
    const results = [await rawKnex(rawOpts)];
    const run = await viaCollector(which, extraConfig);
    results.push(...run.out);
    if (which === 'sqlite') collectorOpts = { client: 'sqlite', filename: path.join(run.t.dir, 'rexmon.sqlite') };
    const counts = await check(collectorOpts);
    run.t.cleanup();
    const baseline = results[0].n / results[0].seconds;
    console.log('');
    console.log(`### ${which === 'pg' ? 'PostgreSQL 15 (fsync off)' : 'SQLite (WAL, synchronous=NORMAL)'}`);
    console.log('| path | events | seconds | events/s | × raw knex | collector CPU s | collector RSS MB | 503/429 retries | stored (distinct) | lost |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      const cnt = r.counted ?? counts[r.type];
      const lost = r.n - (cnt?.distinct ?? 0);
      if (lost !== 0 || (cnt?.n ?? 0) !== (cnt?.distinct ?? 0)) failed = true;
      const rate = r.n / r.seconds;
      console.log(
        `| ${r.name} | ${r.n.toLocaleString('en')} | ${r.seconds.toFixed(2)} | ${Math.round(rate).toLocaleString('en')} | ${(rate / baseline).toFixed(2)} | ${Number.isNaN(r.cpu) ? '–' : r.cpu.toFixed(2)} | ${Number.isNaN(r.mem) ? '–' : Math.round(r.mem)} | ${r.retries} | ${(cnt?.n ?? 0).toLocaleString('en')} (${(cnt?.distinct ?? 0).toLocaleString('en')}) | ${lost} |`,
      );
    }
  } finally {
    await pg?.stop();
    t.cleanup();
  }
}
console.log('');
console.log("baseline beyond this run: the lab's earlier server, 45 events/s; target 10,000 events/s in batches on SQLite, none lost");
process.exitCode = failed ? 1 : 0;
