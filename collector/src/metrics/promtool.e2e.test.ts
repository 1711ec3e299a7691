// /metrics of a real collector, with the limit and refusal counters populated, passes `promtool check metrics`
// (Debian's prometheus package; scripts/test-all.sh installs it).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { api, startCollector, waitFor } from '../testing/harness.js';
import { metricValue } from '../testing/pki.js';

const promtool = spawnSync('promtool', ['--version']).error ? undefined : 'promtool';

function check(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(promtool!, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
    p.stdin.end(text);
  });
}

test('/metrics passes promtool check metrics', { skip: promtool ? false : 'promtool not installed (apt-get install prometheus)', timeout: 60000 }, async () => {
  const c = await startCollector({
    auth: { anonymousWrite: true },
    graphite: { tcp: '127.0.0.1:0', udp: '127.0.0.1:0', allow: ['10.0.0.0/8'] },
    seriesLimits: { newPerSourcePerMinute: 1 },
    http: { listen: '127.0.0.1:0', limits: { maxQueryPoints: 10 } },
  });
  try {
    // Populate the labelled counters: a refused datagram, a refused new series, a refused query.
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.send('x 1\n', c.graphiteUdp!.port, '127.0.0.1', r));
    s.close();
    const t = Math.floor(Date.now() / 1000) - 120;
    await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify([{ name: 'promtool_a', value: 1, time: t }]) });
    await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify([{ name: 'promtool_b', value: 1, time: t }]) });
    await c.collector.pipeline.flush();
    await api(c.url, `/api/v1/query?match=promtool_a&from=${t - 86400}&to=${t}`);
    const text = await waitFor('the counters populated', async () => {
      const m = await (await fetch(`${c.url}/metrics`)).text();
      return metricValue(m, 'rexmon_ingest_refused_total') >= 1 && metricValue(m, 'rexmon_series_limit_refused_samples_total') >= 1 && m;
    });
    assert.match(text, /rexmon_http_limited_total\{limit="http\.limits\.maxQueryPoints"\} 1/);
    const r = await check(text);
    assert.equal(r.code, 0, `promtool check metrics:\n${r.out}`);
  } finally {
    await c.stop();
  }
});
