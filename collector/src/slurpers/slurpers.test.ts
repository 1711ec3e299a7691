// Slurpers with real processes and a real HTTP server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SlurperConfig } from '../config/schema.js';
import { api, freePort, run, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';

let c: TestCollector;
let scripts: { dir: string; cleanup: () => Promise<void> };
const now = Math.floor(Date.now() / 1000 / 60) * 60 - 600;

async function script(name: string, body: string): Promise<string> {
  const f = path.join(scripts.dir, name);
  await writeFile(f, `#!/bin/sh\n${body}\n`);
  await chmod(f, 0o755);
  return f;
}

async function metric(re: RegExp): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

async function names(): Promise<string[]> {
  return (await api<{ data: string[] }>(c.url, '/api/v1/label/__name__/values')).body.data;
}

async function runSlurper(cfg: Record<string, unknown>) {
  const full = { timeout: 30, env: {}, labels: {}, format: 'auto', headers: {}, ...cfg } as unknown as SlurperConfig;
  const r = await c.collector.slurpers.runOnce(full);
  await c.collector.pipeline.flush();
  return r;
}

before(async () => {
  scripts = await tempDir('rexmon-scripts-');
  c = await startCollector();
});
after(async () => {
  await c.stop();
  await scripts.cleanup();
});

test('command slurper: good Graphite lines kept, a bad line logged and counted', async () => {
  const f = await script('good.sh', `echo "slurp.good 1 ${now}"\necho "this is not graphite"\necho "slurp.good2;site=fnal 2 ${now}"`);
  const r = await runSlurper({ type: 'command', name: 'goodbad', command: [f], labels: { slurper: 'goodbad' } });
  assert.deepEqual(r, { samples: 2, errors: 1 });
  assert.ok((await names()).includes('slurp.good2'));
  const s = (await api<{ data: { labels: Record<string, string> }[] }>(c.url, '/api/v1/series?match=slurp.good2')).body.data;
  assert.deepEqual(s[0].labels, { site: 'fnal', slurper: 'goodbad' }, 'config labels are added');
  assert.equal(await metric(/rexmon_slurper_errors_total\{slurper="goodbad",kind="bad_line"\} (\d+)/), 1);
  assert.equal(await metric(/rexmon_slurper_runs_total\{slurper="goodbad",result="ok"\} (\d+)/), 1);
});

test('command slurper: a non-zero exit is an error, the lines printed before it are kept', async () => {
  const f = await script('fail.sh', `echo "slurp.beforefail 5 ${now}"\necho oops >&2\nexit 3`);
  const r = await runSlurper({ type: 'command', name: 'failing', command: [f] });
  assert.deepEqual(r, { samples: 1, errors: 1 });
  assert.ok((await names()).includes('slurp.beforefail'));
  assert.equal(await metric(/rexmon_slurper_errors_total\{slurper="failing",kind="exit"\} (\d+)/), 1);
  assert.equal(await metric(/rexmon_slurper_runs_total\{slurper="failing",result="error"\} (\d+)/), 1);
});

test('command slurper: a timeout kills it, complete lines before the kill are kept', async () => {
  const f = await script('slow.sh', `echo "slurp.beforetimeout 7 ${now}"\nsleep 30\necho "slurp.never 1 ${now}"`);
  const t0 = Date.now();
  const r = await runSlurper({ type: 'command', name: 'slow', command: [f], timeout: 0.5 });
  assert.ok(Date.now() - t0 < 5000, 'killed, not waited for');
  assert.deepEqual(r, { samples: 1, errors: 1 });
  const n = await names();
  assert.ok(n.includes('slurp.beforetimeout') && !n.includes('slurp.never'));
  assert.equal(await metric(/rexmon_slurper_errors_total\{slurper="slow",kind="timeout"\} (\d+)/), 1);
});

test('command slurper: JSON array output, with one bad record', async () => {
  const f = await script('json.sh', `echo '[{"name":"slurp.json","labels":{"a":"1"},"value":3,"time":${now}},{"name":"bad name","value":1}]'`);
  const r = await runSlurper({ type: 'command', name: 'json', command: [f] });
  assert.deepEqual(r, { samples: 1, errors: 1 });
  assert.ok((await names()).includes('slurp.json'));
});

test('command slurper: a missing executable is reported with the slurper name', async () => {
  const r = await runSlurper({ type: 'command', name: 'missing', command: [path.join(scripts.dir, 'nope')] });
  assert.deepEqual(r, { samples: 0, errors: 1 });
  assert.equal(await metric(/rexmon_slurper_errors_total\{slurper="missing",kind="spawn"\} (\d+)/), 1);
});

test('http slurper: scrapes the Prometheus text format and JSON from a real server', async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(`# HELP up x\n# TYPE up gauge\nup{job="dcache",instance="a:1"} 1\nqueue_len{q="x\\"y"} 42 ${now * 1000}\nbroken{ 1\nnan_metric NaN\n`);
    } else if (req.url === '/json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ name: 'scraped_json', value: 5, time: now }]));
    } else {
      res.statusCode = 500;
      res.end('boom');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r1 = await runSlurper({ type: 'http', name: 'prom', url: `http://127.0.0.1:${port}/metrics` });
    assert.deepEqual(r1, { samples: 3, errors: 1 }, 'NaN is kept as unknown; the broken line is the one error');
    const s = (await api<{ data: { labels: Record<string, string> }[] }>(c.url, '/api/v1/series?match=queue_len')).body.data;
    assert.deepEqual(s[0].labels, { q: 'x"y' });
    const r2 = await runSlurper({ type: 'http', name: 'json', url: `http://127.0.0.1:${port}/json` });
    assert.deepEqual(r2, { samples: 1, errors: 0 });
    const r3 = await runSlurper({ type: 'http', name: 'err', url: `http://127.0.0.1:${port}/500` });
    assert.equal(r3.samples, 0);
    assert.equal(await metric(/rexmon_slurper_runs_total\{slurper="err",result="error"\} (\d+)/), 1);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('scheduler: an interval slurper runs on its own after start', async () => {
  const f = await script('tick.sh', `echo "slurp.tick 1"`);
  const d = await startCollector({ slurpers: [{ type: 'command', name: 'tick', command: [f], interval: '1s' }] });
  try {
    const deadline = Date.now() + 5000;
    let runs = 0;
    while (Date.now() < deadline && runs < 2) {
      const text = await (await fetch(`${d.url}/metrics`)).text();
      runs = Number(/rexmon_slurper_runs_total\{slurper="tick",result="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(runs >= 2, `ran ${runs} times`);
  } finally {
    await d.stop();
  }
});

test('http slurper on a real prometheus-node-exporter: `# TYPE … counter` series get the counter template (a rate), gauges the default', async () => {
  const port = await freePort();
  const exporter = spawn(
    'prometheus-node-exporter',
    [`--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.cpu', '--collector.loadavg'],
    {
      stdio: 'ignore',
    },
  );
  try {
    await waitFor('node exporter', async () => (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.ok);
    const r = await runSlurper({ type: 'http', name: 'node', url: `http://127.0.0.1:${port}/metrics` });
    assert.ok(r.samples > 5, `scraped ${r.samples} samples`);
    const entries = c.collector.catalog.find([{ matchers: [], text: '' }]);
    const templateOf = (name: string) => [...new Set(entries.filter((e) => e.name === name).map((e) => e.template))];
    assert.deepEqual(templateOf('node_cpu_seconds_total'), ['counter'], 'a cumulative counter is stored as a per-second rate');
    assert.deepEqual(templateOf('node_load1'), ['gauge']);
    // Seconds counters are fractional ("12.34"): rrdtool's COUNTER/DERIVE refuse them, the counter template's DDERIVE takes them.
    const cpu = entries.find((e) => e.name === 'node_cpu_seconds_total')!;
    const { stdout } = await run('rrdtool', ['lastupdate', cpu.file]);
    const last = Number(stdout.trim().split('\n').pop()!.split(':')[1]);
    assert.ok(Number.isFinite(last) && last > 0, `the fractional counter was stored: rrdtool lastupdate says ${JSON.stringify(stdout)}`);
  } finally {
    exporter.kill('SIGTERM');
    await new Promise((r) => exporter.once('exit', r));
  }
});
