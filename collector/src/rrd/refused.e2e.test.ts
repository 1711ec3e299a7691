// A file rrdcached refuses is counted and logged; it never blocks flushes, queries or shutdown for the rest.
// Metric names such as `x..` (valid, but "x../" is refused by rrdcached) get a file it takes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { alive, api, run, sendTcp, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';
import { createArgs } from './archive.js';

const OPTS = { auth: { anonymousWrite: true } };
const T = Math.floor(Date.now() / 1000 / 60) * 60 - 600;

async function flushOk(c: TestCollector) {
  const r = await api(c.url, '/api/v1/admin/flush', { method: 'POST' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function queryOk(c: TestCollector, match: string): Promise<(number | null)[]> {
  const r = await api<{ data: { series: { values: (number | null)[] }[] } }>(
    c.url,
    `/api/v1/query?match=${encodeURIComponent(match)}&from=${T - 120}&to=${T + 120}&step=60`,
  );
  assert.equal(r.status, 200, `${match}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.data.series.length, 1, match);
  return r.body.data.series[0].values;
}

async function stopBounded(c: TestCollector) {
  const pid = c.collector.cachedProc!.pid!;
  const t0 = Date.now();
  await Promise.race([c.collector.stop(), new Promise((_, reject) => setTimeout(() => reject(new Error('stop() did not complete in 15 s')), 15000).unref())]);
  assert.ok(Date.now() - t0 < 15000);
  assert.equal(alive(pid), false, `rrdcached ${pid} still running after stop`);
}

test('a file rrdcached refuses to flush: flush and queries answer 200, the error is counted, stop completes', async () => {
  const tmp = await tempDir();
  const c = await startCollector(OPTS, tmp.dir);
  try {
    // A series recorded under a path rrdcached refuses whatever our naming does ("../" inside, see NOTES).
    const cfg = c.collector.config.rrd;
    const tpl = cfg.templates[cfg.defaultTemplate];
    const rel = 'refused../series.rrd';
    await mkdir(path.join(c.collector.archive.root, 'refused..'), { recursive: true });
    await run('rrdtool', ['create', path.join(c.collector.archive.root, rel), ...createArgs(tpl, T - 3600)]);
    await c.collector.db('series').insert({
      key: 'refused',
      name: 'refused',
      labels: '{}',
      file: rel,
      ds: 'value',
      template: cfg.defaultTemplate,
      step: tpl.step,
      origin: 'native',
      created_at: T,
    });
    await c.collector.catalog.refresh();
    await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `refused 5 ${T}\nfine 7 ${T}\n`);
    await waitFor(
      'both series handled',
      async () => ((await c.collector.metrics.written.get()).values[0]?.value ?? 0) >= 1 && c.collector.catalog.get('fine')?.ready,
    );
    await flushOk(c);
    await flushOk(c); // and again: the refused file does not stay in the way
    assert.ok((await queryOk(c, 'fine')).includes(7));
    await queryOk(c, 'refused');
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    assert.match(metrics, /^rexmon_rrd_flush_errors_total [1-9]/m);
  } finally {
    await stopBounded(c);
    await tmp.cleanup();
  }
});

test('a metric name ending in ".." is written, flushed and queried; a file recorded under its old name is moved', async () => {
  const tmp = await tempDir();
  let c = await startCollector(OPTS, tmp.dir);
  try {
    await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `x.. 3 ${T}\n`);
    await waitFor('x.. handled', async () => c.collector.catalog.get('x..')?.ready);
    await flushOk(c);
    assert.ok((await queryOk(c, '{__name__="x.."}')).includes(3));
    const root = c.collector.archive.root;
    assert.equal(c.collector.catalog.get('x..')!.file, path.join(root, 'x%2E%2E/series.rrd'));
    await stopBounded(c);
    // As an earlier version left it: the file and the catalog row under "x../".
    await mkdir(path.join(root, 'x..'));
    await rename(path.join(root, 'x%2E%2E/series.rrd'), path.join(root, 'x../series.rrd'));
    c = await startCollector(OPTS, tmp.dir);
    const db = c.collector.db;
    await db('series').where('key', 'x..').update({ file: 'x../series.rrd' });
    await stopBounded(c);
    c = await startCollector(OPTS, tmp.dir);
    assert.equal(c.collector.catalog.get('x..')!.file, path.join(root, 'x%2E%2E/series.rrd'));
    assert.ok(existsSync(path.join(root, 'x%2E%2E/series.rrd')), 'file moved');
    assert.equal((await c.collector.db('series').where('key', 'x..').first()).file, 'x%2E%2E/series.rrd');
    await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `x.. 4 ${T + 60}\n`);
    await waitFor('x.. written', async () => ((await c.collector.metrics.written.get()).values[0]?.value ?? 0) >= 1);
    await flushOk(c);
    const values = await queryOk(c, '{__name__="x.."}');
    assert.ok(values.includes(3) && values.includes(4), JSON.stringify(values));
  } finally {
    await stopBounded(c);
    await tmp.cleanup();
  }
});
