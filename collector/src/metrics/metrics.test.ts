// /metrics of a real collector, after some ingest and API use, passes Debian's `promtool check metrics`
// (no lint warnings either: a gauge named *_total fails it with exit 3).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { api, sendTcp, startCollector, waitFor } from '../testing/harness.js';

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

test('/metrics passes promtool check metrics, labelled counters included', async () => {
  const c = await startCollector({
    graphite: { mappings: [{ match: 'lab.*.temp', name: 'temp', labels: { host: '$1' } }] },
    alarms: { interval: 3600, rules: [{ name: 'hot', match: 'temp', warning: 1.5 }] },
  });
  try {
    const now = Math.floor(Date.now() / 1000);
    await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `lab.h1.temp 1 ${now - 120}\nlab.h1.temp 2 ${now - 60}\nnot a line\n`);
    await waitFor('samples counted', async () => (await api<{ raw: string }>(c.url, '/metrics')).body.raw.includes('rexmon_samples_received_total{source='));
    await api(c.url, '/api/v1/series?match=temp');
    await c.collector.pipeline.flush();
    await c.collector.alarms.evaluate();
    const text = (await api<{ raw: string }>(c.url, '/metrics')).body.raw;
    for (const name of [
      'rexmon_samples_received_total{',
      'rexmon_input_errors_total{',
      'rexmon_http_requests_total{',
      'rexmon_queue_depth{',
      'rexmon_alarm_instances{rule="hot",state="WARNING"} 1',
      'rexmon_alarm_evaluation_seconds_bucket{',
    ]) {
      assert.ok(text.includes(name), `${name} in /metrics`);
    }
    const r = await promtoolCheck(text);
    assert.equal(r.code, 0, `promtool check metrics:\n${r.output}`);
    assert.equal(r.output.trim(), '', 'no lint findings');
  } finally {
    await c.stop();
  }
});
