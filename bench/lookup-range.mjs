#!/usr/bin/env node
// Look-ups by time range: p50/p99 of GET /api/v1/label/host/values over N imported files (collectd layout,
// half of them stale for three days) and N native series (half stale), without a range (the baseline: the
// catalog only) and with from=now-1h (imported: one `rrdtool last` per file every time; native: the catalog's
// last update, read from the file once after a start).
// Usage: node bench/lookup-range.mjs [--files 2000] [--runs 50]
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, RrdPipe, run, startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { files: { type: 'string', default: '2000' }, runs: { type: 'string', default: '50' } } });
const N = Number(opt.files);
const RUNS = Number(opt.runs);
const now = Math.floor(Date.now() / 1000 / 60) * 60;
const host = (i) => `node${String(i).padStart(5, '0')}`;

const t = tmp('rexmon-bench-lookup-');
const tree = path.join(t.dir, 'tree');
const pipe = new RrdPipe();
for (let i = 0; i < N; i++) {
  const dir = path.join(tree, host(i), 'load');
  mkdirSync(dir, { recursive: true });
  const last = i % 2 ? now - 3 * 86400 : now - 60;
  const file = path.join(dir, 'load.rrd');
  await pipe.run(`create ${file} --start ${last - 120} --step 60 DS:shortterm:GAUGE:120:U:U RRA:AVERAGE:0.5:1:100`);
  await pipe.run(`update ${file} ${last - 60}:1 ${last}:2`);
}
pipe.child.stdin.end();
await run('node', [BIN, 'import', tree, '--preset', 'collectd', '--data-dir', path.join(t.dir, 'data')]);

const c = await startCollector(path.join(t.dir, 'data'));
try {
  for (let i = 0; i < N; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      const last = j % 2 ? now - 3 * 86400 : now - 60;
      batch.push({ name: 'bench_native', labels: { host: host(j) }, value: 1, time: last - 60 }, { name: 'bench_native', labels: { host: host(j) }, value: 2, time: last });
    }
    const r = await fetch(`${c.url}/api/v1/samples`, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    if (r.status !== 202) throw new Error(`ingest: HTTP ${r.status} ${await r.text()}`);
  }
  await c.flush();

  async function measure(match, range, expect) {
    const url = `${c.url}/api/v1/label/host/values?match=${encodeURIComponent(match)}${range}`;
    const once = async () => {
      const body = await (await fetch(url)).json();
      if (body.data?.length !== expect) throw new Error(`${url}: ${body.data?.length} values, expected ${expect}: ${JSON.stringify(body).slice(0, 200)}`);
    };
    for (let i = 0; i < 3; i++) await once(); // warm-up (native: learns last updates once)
    const ms = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await once();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return { p50: ms[Math.floor(ms.length * 0.5)], p99: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))] };
  }

  const fmt = (r) => `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`;
  const hour = `&from=${now - 3600}`;
  console.log(`label values of ${N} series, half stale for 3 days; ${RUNS} runs each`);
  for (const [what, match] of [
    ['imported (collectd tree)', 'collectd_load_load'],
    ['native', 'bench_native'],
  ]) {
    const base = await measure(match, '', N);
    const ranged = await measure(match, hour, Math.ceil(N / 2));
    console.log(`${what.padEnd(26)} no range (baseline): ${fmt(base)}   from=now-1h: ${fmt(ranged)}   (${(ranged.p50 / base.p50).toFixed(1)}× at p50)`);
  }
} finally {
  await c.stop();
  t.cleanup();
}
