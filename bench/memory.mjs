#!/usr/bin/env node
// Memory: the collector's RSS with 100,000 series in its catalog (rows made through the catalog itself, into
// the SQLite file a collector then loads at start), beside the same collector with an empty catalog.
// Usage: node bench/memory.mjs [--series 100000]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Catalog } from '../collector/dist/catalog/catalog.js';
import { openDb } from '../collector/dist/db/index.js';
import { rss, sleep, startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { series: { type: 'string', default: '100000' } } });
const N = Number(opt.series);

async function measure(n) {
  const t = tmp('rexmon-bench-mem-');
  if (n) {
    const db = await openDb({ client: 'sqlite', filename: path.join(t.dir, 'rexmon.sqlite') });
    const catalog = new Catalog(db, path.join(t.dir, 'rrd'));
    const experiments = ['nova', 'dune', 'mu2e', 'uboone', 'icarus'];
    for (let i = 0; i < n; i += 5000) {
      const batch = [];
      for (let k = i; k < Math.min(n, i + 5000); k++)
        batch.push({ name: `condor_jobs`, labels: { experiment: experiments[k % 5], schedd: `schedd${String(k % 40).padStart(2, '0')}.fnal.gov`, host: `fnpc${String(Math.floor(k / 4)).padStart(5, '0')}`, state: ['idle', 'running', 'held', 'done'][k % 4] }, template: 'gauge', step: 60, ds: 'value' });
      await catalog.register(batch);
    }
    await db.destroy();
  }
  const c = await startCollector(t.dir);
  // Exercise the catalog the way users do: a matcher search and label values.
  await (await fetch(`${c.url}/api/v1/series?match=${encodeURIComponent('condor_jobs{experiment="nova",state="idle"}')}&limit=10`)).text();
  await (await fetch(`${c.url}/api/v1/label/host/values?match=condor_jobs`)).text();
  await sleep(500);
  const m = rss(c.pid);
  const status = await (await fetch(`${c.url}/api/v1/status`)).json();
  await c.stop();
  t.cleanup();
  return { series: status.data.series, ...m };
}

const rows = [await measure(0), await measure(N)];
console.log(`memory: collector RSS after start, a matcher search and a label-values call`);
console.log('');
console.log('| series in catalog | RSS MB | peak RSS MB |');
console.log('|---|---|---|');
for (const r of rows) console.log(`| ${r.series.toLocaleString('en')} | ${Math.round(r.rss)} | ${Math.round(r.peak)} |`);
