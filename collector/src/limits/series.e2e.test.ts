// New-series limits: a real shell sender that puts a timestamp in every Graphite name makes at most its budget
// of RRD files; the refused samples are counted by listener, sender and limit, shown on the status page, and HTTP
// batches get a 429/422 naming the limit with nothing stored.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { api, rrdFetch, run, startCollector, TestCollector, waitFor } from '../testing/harness.js';
import { metricValue } from '../testing/pki.js';

const minute = () => Math.floor(Date.now() / 1000 / 60) * 60;

async function rrdFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith('.rrd')) out.push(path.join(e.parentPath, e.name));
  return out;
}

const refusedSamples = async (c: TestCollector, labels: Record<string, string>) =>
  metricValue(await c.collector.metrics.registry.metrics(), 'rexmon_series_limit_refused_samples_total', labels);

test(
  'a shell slurper putting a timestamp in each name creates at most its budget of files; its good series keeps its values; refusals counted and on the status page',
  { timeout: 60000 },
  async () => {
    const t0 = Date.now();
    const budget = 25;
    const c = await startCollector({ graphite: { tcp: '127.0.0.1:0', udp: false }, seriesLimits: { newPerSourcePerMinute: budget } });
    try {
      const ts = minute() - 600;
      await run('bash', ['-c', `echo "good.load 1 ${ts}" > /dev/tcp/127.0.0.1/${c.graphiteTcp!.port}`]);
      await waitFor('good.load in the catalog', async () => c.collector.catalog.size === 1);
      // 300 lines, each with a new name (the broken slurper), and the good series once more in between.
      const script = `{ for i in $(seq 1 300); do echo "broken.slurper.$((1700000000 + i)).load $i ${ts}"; [ $i = 150 ] && echo "good.load 2 ${ts + 60}"; done; true; } > /dev/tcp/127.0.0.1/${c.graphiteTcp!.port}`;
      await run('bash', ['-c', script]);
      await waitFor('every broken line seen', async () => (await refusedSamples(c, {})) + c.collector.catalog.size - 1 >= 300);
      await c.collector.pipeline.flush();
      // The bucket refills budget/60 a second: allow what the elapsed time could have added.
      const most = budget + Math.ceil(((Date.now() - t0) / 60000) * budget);
      const files = await rrdFiles(path.join(c.dataDir, 'rrd'));
      assert.ok(files.length >= budget && files.length <= most, `${files.length} RRD files, expected ${budget}..${most}`);
      assert.equal(files.length, c.collector.catalog.size);
      const created = c.collector.catalog.size - 1;
      const refused = await refusedSamples(c, { listener: 'graphite_tcp', source: '127.0.0.1', limit: 'seriesLimits.newPerSourcePerMinute' });
      assert.equal(refused, 300 - created, 'every refused line counted, by listener, sender and limit');
      // The known series still gets its values.
      const good = c.collector.catalog.find([{ matchers: [], text: '' }]).find((e) => e.name === 'good.load')!;
      const values = await rrdFetch(good.file, 'AVERAGE', ts, ts + 60);
      assert.equal(values.get(ts + 60), 2);
      const page = await (await fetch(`${c.url}/`)).text();
      assert.match(page, /graphite_tcp 127\.0\.0\.1/);
      assert.match(page, /seriesLimits\.newPerSourcePerMinute/);
      assert.match(page, new RegExp(`>${refused}<`));
    } finally {
      await c.stop();
    }
  },
);

test(
  'HTTP batches: over a per-minute budget 429, over the per-name cap 422, naming the limit; nothing stored and no budget used',
  { timeout: 60000 },
  async () => {
    const c = await startCollector({ auth: { anonymousWrite: true }, seriesLimits: { newPerSourcePerMinute: 10, perName: 12 } });
    try {
      const t = minute() - 600;
      const post = (samples: unknown[]) => api<{ error: { limit: string } }>(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) });
      const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ name: 'jobs', labels: { id: String(from + i) }, value: 1, time: t }));
      const over = await post(batch(0, 11));
      assert.equal(over.status, 429);
      assert.equal(over.body.error.limit, 'seriesLimits.newPerSourcePerMinute');
      assert.match(
        over.body.error.message,
        /this sender created its limit of 10 new series per minute \(seriesLimits\.newPerSourcePerMinute\); nothing was stored/,
      );
      await c.collector.pipeline.flush();
      assert.equal(c.collector.catalog.size, 0, 'the whole batch refused');
      // The refused batch used none of the budget: ten new series fit.
      assert.equal((await post(batch(0, 10))).status, 202);
      await c.collector.pipeline.flush();
      assert.equal(c.collector.catalog.size, 10);
      // Known series are always taken.
      assert.equal((await post(batch(0, 10).map((s) => ({ ...s, time: t + 60 })))).status, 202);
      assert.equal(
        await refusedSamples(c, { listener: 'http', source: '127.0.0.1', limit: 'seriesLimits.newPerSourcePerMinute' }),
        11,
        'anonymous senders are counted by address',
      );
    } finally {
      await c.stop();
    }
    const d = await startCollector({ auth: { anonymousWrite: true }, seriesLimits: { perName: 3 } });
    try {
      const t = minute() - 600;
      const post = (ids: number[]) =>
        api<{ error: { limit: string } }>(d.url, '/api/v1/samples', {
          method: 'POST',
          body: JSON.stringify(ids.map((id) => ({ name: 'jobs', labels: { id: String(id) }, value: 1, time: t }))),
        });
      assert.equal((await post([1, 2, 3])).status, 202);
      const r = await post([4]);
      assert.equal(r.status, 422);
      assert.equal(r.body.error.limit, 'seriesLimits.perName');
      assert.match(r.body.error.message, /"jobs" has the limit of 3 series \(seriesLimits\.perName\)/);
      assert.equal(
        (await api(d.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify([{ name: 'other', value: 1, time: t }]) })).status,
        202,
        'other names are not held',
      );
    } finally {
      await d.stop();
    }
  },
);

test('total and all-senders limits over Graphite UDP and a command slurper; counted per sender', { timeout: 60000 }, async () => {
  const t = minute() - 600;
  const c = await startCollector({ graphite: { tcp: false, udp: '127.0.0.1:0' }, seriesLimits: { total: 4 } });
  try {
    const lines = Array.from({ length: 10 }, (_, i) => `udp.m${i} 1 ${t}`).join('\n');
    await run('bash', ['-c', `printf '${lines}\\n' > /dev/udp/127.0.0.1/${c.graphiteUdp!.port}`]);
    await waitFor('refusals counted', async () => (await refusedSamples(c, { listener: 'graphite_udp', limit: 'seriesLimits.total' })) === 6);
    await c.collector.pipeline.flush();
    assert.equal(c.collector.catalog.size, 4);
    assert.equal((await rrdFiles(path.join(c.dataDir, 'rrd'))).length, 4);
  } finally {
    await c.stop();
  }
  const script = `for i in $(seq 1 20); do echo "slurped.$i 1 ${t}"; done`;
  const d = await startCollector({
    seriesLimits: { newPerSourcePerMinute: 0, newPerMinute: 7 },
    slurpers: [{ type: 'command', name: 'broken', command: ['sh', '-c', script], cron: '0 0 1 1 *' }],
  });
  try {
    await d.collector.slurpers.runOnce(d.collector.config.slurpers[0]);
    await d.collector.pipeline.flush();
    assert.ok(d.collector.catalog.size >= 7 && d.collector.catalog.size <= 8, `${d.collector.catalog.size} series`);
    assert.equal(await refusedSamples(d, { listener: 'slurper', source: 'broken', limit: 'seriesLimits.newPerMinute' }), 20 - d.collector.catalog.size);
  } finally {
    await d.stop();
  }
});
