// remote_write against a real Prometheus (Debian's, --web.enable-remote-write-receiver, on loopback): values sent
// to the collector over HTTP and Graphite arrive and Prometheus' query API returns them; Prometheus stopped
// mid-stream and started again loses nothing within the buffer; an overflow, a 4xx and a stop while it is down
// are counted. 5xx and 429 come from a fault-injecting proxy in front of the same Prometheus.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, IncomingMessage, Server } from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { api, run, sendTcp, startCollector, TestCollector, waitFor } from '../testing/harness.js';
import { prometheusAvailable, startPrometheus, TestPrometheus } from '../testing/prometheus.js';
import { decodeWriteRequest } from './prompb.js';

const skip = prometheusAvailable() ? false : 'needs /usr/bin/prometheus (apt-get install prometheus)';
let prom: TestPrometheus;

before(async () => {
  if (!skip) prom = await startPrometheus();
});
after(() => prom?.stop());

const now = () => Math.floor(Date.now() / 1000);

function collector(remote: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestCollector> {
  return startCollector({
    auth: { anonymousWrite: true },
    wal: { enabled: false },
    ...extra,
    export: {
      remoteWrite: [
        { url: prom.writeUrl, name: 'prom', ...remote, queue: { flushInterval: 0.05, minBackoff: 0.05, maxBackoff: 0.5, ...(remote.queue as object) } },
      ],
    },
  });
}

async function post(c: TestCollector, samples: { name: string; labels?: Record<string, string>; value: number | null; time: number }[]) {
  const r = await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) });
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

/** Values of every series matching `selector` in the last hour, by their labels. */
async function values(selector: string): Promise<Map<string, [number, number][]>> {
  const out = new Map<string, [number, number][]>();
  for (const r of await prom.query(`${selector}[1h]`, now() + 1))
    out.set(
      JSON.stringify(r.metric),
      r.values!.map(([t, v]) => [t, Number(v)]),
    );
  return out;
}

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: output.trim() }));
    child.stdin.end(text);
  });
}

/** Everything accepted so far has reached the exporter and was sent or dropped. */
async function exported(c: TestCollector) {
  await c.collector.pipeline.flush();
  await c.collector.exporter!.drain();
}

/** One figure from the collector's /metrics. */
async function metric(c: TestCollector, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && m[1] === name && want.every((w) => (m[2] ?? '').split(',').includes(w))) return Number(m[3]);
  }
  return 0;
}

test(
  'values sent over HTTP and Graphite arrive in Prometheus: names mapped, labels kept, extra labels added, raw counter values',
  { skip, timeout: 60000 },
  async () => {
    const c = await collector({ labels: { site: 'fnal', host: 'default' } });
    try {
      const t = now() - 300;
      await post(c, [
        { name: 'cpu_usage', labels: { host: 'fnpc3001', dc: 'fcc' }, value: 0.93, time: t },
        { name: 'cpu_usage', labels: { host: 'fnpc3001', dc: 'fcc' }, value: 0.5, time: t + 60 },
        { name: 'cpu_usage', labels: { host: 'fnpc3001', dc: 'fcc' }, value: 0.25, time: t + 120 },
        // A counter goes as received (cumulative), for rate() on the Prometheus side.
        { name: 'jobs_done_total', labels: { host: 'fnpc3001' }, value: 10, time: t },
        { name: 'jobs_done_total', labels: { host: 'fnpc3001' }, value: 20, time: t + 60 },
        { name: 'jobs_done_total', labels: { host: 'fnpc3001' }, value: 35, time: t + 120 },
        // Unknown: a gap in Prometheus too (nothing sent), counted.
        { name: 'cpu_usage', labels: { host: 'fnpc3001', dc: 'fcc' }, value: null, time: t + 180 },
      ]);
      await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, `lab.host01.temp 21.5 ${t}\nlab.host01.temp 22 ${t + 60}\n`);
      await waitFor('the Graphite lines in the pipeline', async () => (await metric(c, 'rexmon_samples_received_total', { source: 'graphite_tcp' })) >= 2);
      await exported(c);

      assert.deepEqual(
        await values('cpu_usage'),
        new Map([
          [
            JSON.stringify({ __name__: 'cpu_usage', dc: 'fcc', host: 'fnpc3001', site: 'fnal' }),
            [
              [t, 0.93],
              [t + 60, 0.5],
              [t + 120, 0.25],
            ],
          ],
        ]),
      );
      assert.deepEqual(
        [...(await values('jobs_done_total')).values()],
        [
          [
            [t, 10],
            [t + 60, 20],
            [t + 120, 35],
          ],
        ],
      );
      // '.' is not allowed in Prometheus names: lab.host01.temp → lab_host01_temp; the extra host label fills in.
      assert.deepEqual(
        await values('lab_host01_temp'),
        new Map([
          [
            JSON.stringify({ __name__: 'lab_host01_temp', host: 'default', site: 'fnal' }),
            [
              [t, 21.5],
              [t + 60, 22],
            ],
          ],
        ]),
      );
      // promtool (Prometheus' own client) reads the same: the newest value within its 5 min lookback.
      const { stdout } = await run('promtool', ['query', 'instant', prom.url, 'lab_host01_temp']);
      assert.match(stdout, /^lab_host01_temp\{host="default", site="fnal"\} => 22 @\[/);
      assert.equal(await metric(c, 'rexmon_remote_write_samples_sent_total', { remote: 'prom' }), 8);
      assert.equal(await metric(c, 'rexmon_remote_write_samples_dropped_total', { remote: 'prom', reason: 'unknown_value' }), 1);
      assert.equal(await metric(c, 'rexmon_remote_write_buffer_samples', { remote: 'prom' }), 0);
      assert.ok((await metric(c, 'rexmon_remote_write_requests_total', { remote: 'prom', status: '2xx' })) >= 1);
      // The exporter's own figures pass Prometheus' linter (names, types, help).
      const lint = await promtoolCheck(await (await fetch(`${c.url}/metrics`)).text());
      assert.deepEqual(lint, { code: 0, output: '' });
    } finally {
      await c.stop();
    }
  },
);

test('Prometheus stopped mid-stream and started again: retried with backoff, nothing lost within the buffer', { skip, timeout: 60000 }, async () => {
  const c = await collector({});
  try {
    const t = now() - 600;
    const sent: [number, number][] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10) {
        await exported(c);
        await prom.down();
      }
      if (i === 20) {
        // Several failed attempts while it is down, then it comes back.
        await waitFor('retries', async () => (await metric(c, 'rexmon_remote_write_retries_total', { remote: 'prom', reason: 'network' })) >= 3);
        await prom.up();
      }
      sent.push([t + i * 15, i * 1.5]);
      await post(c, [{ name: 'stream_value', labels: { run: 'restart' }, value: i * 1.5, time: t + i * 15 }]);
      await new Promise((r) => setTimeout(r, 20));
    }
    await exported(c);
    assert.deepEqual([...(await values('stream_value{run="restart"}')).values()], [sent]);
    for (const reason of ['buffer_full', 'rejected', 'shutdown', 'out_of_order'])
      assert.equal(await metric(c, 'rexmon_remote_write_samples_dropped_total', { remote: 'prom', reason }), 0, reason);
    assert.equal(await metric(c, 'rexmon_remote_write_samples_sent_total', { remote: 'prom' }), 30);
    assert.ok((await metric(c, 'rexmon_remote_write_requests_total', { remote: 'prom', status: 'network' })) >= 3);
  } finally {
    await c.stop();
    await prom.up().catch(() => undefined);
  }
});

test('a full buffer drops the oldest samples, counted; the rest arrives once Prometheus is back', { skip, timeout: 60000 }, async () => {
  const c = await collector({ queue: { capacity: 10, maxSamplesPerSend: 5 } });
  try {
    await prom.down();
    const t = now() - 900;
    await post(c, [{ name: 'overflow_value', value: 0, time: t }]);
    // That one is in flight (being retried); the buffer holds 10 of the next 24, the newest.
    await waitFor('a failed attempt', async () => (await metric(c, 'rexmon_remote_write_requests_total', { remote: 'prom', status: 'network' })) >= 1);
    await post(
      c,
      Array.from({ length: 24 }, (_, i) => ({ name: 'overflow_value', value: i + 1, time: t + (i + 1) * 10 })),
    );
    await c.collector.pipeline.flush(); // handed to the exporter
    assert.equal(await metric(c, 'rexmon_remote_write_buffer_samples', { remote: 'prom' }), 11);
    assert.equal(await metric(c, 'rexmon_remote_write_samples_dropped_total', { remote: 'prom', reason: 'buffer_full' }), 14);
    await prom.up();
    await exported(c);
    const got = [...(await values('overflow_value')).values()][0].map(([, v]) => v);
    assert.deepEqual(got, [0, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    assert.equal(await metric(c, 'rexmon_remote_write_samples_sent_total', { remote: 'prom' }), 11);
  } finally {
    await c.stop();
    await prom.up().catch(() => undefined);
  }
});

test(
  'a 4xx is not retried: Prometheus refuses an out-of-bounds sample, only its series is dropped (the request split), counted',
  { skip, timeout: 60000 },
  async () => {
    const c = await collector({});
    try {
      const t = now() - 60;
      // Three hours behind the newest data Prometheus holds: outside its head block, "out of bounds" (HTTP 400) —
      // and the whole request with it, so the exporter sends its halves apart.
      await post(c, [
        { name: 'too_old_value', value: 1, time: now() - 3 * 3600 },
        { name: 'beside_old_value', value: 5, time: t },
      ]);
      await exported(c);
      assert.deepEqual([...(await values('beside_old_value')).values()], [[[t, 5]]]);
      assert.deepEqual(await values('too_old_value'), new Map());
      assert.equal(await metric(c, 'rexmon_remote_write_samples_dropped_total', { remote: 'prom', reason: 'rejected' }), 1);
      assert.equal(await metric(c, 'rexmon_remote_write_requests_total', { remote: 'prom', status: '4xx' }), 2);
      assert.equal(await metric(c, 'rexmon_remote_write_requests_total', { remote: 'prom', status: '2xx' }), 1);
      assert.equal(await metric(c, 'rexmon_remote_write_retries_total', { remote: 'prom', reason: '5xx' }), 0);
      await post(c, [{ name: 'after_reject_value', value: 7, time: t }]);
      await exported(c);
      assert.deepEqual([...(await values('after_reject_value')).values()], [[[t, 7]]]);
    } finally {
      await c.stop();
    }
  },
);

test(
  'values not newer than one already sent are skipped before sending (Prometheus would refuse the whole request), counted',
  { skip, timeout: 60000 },
  async () => {
    const c = await collector({});
    try {
      const t = now() - 120;
      await post(c, [{ name: 'order_value', value: 2, time: t }]);
      await exported(c);
      await post(c, [
        { name: 'order_value', value: 1, time: t - 60 },
        { name: 'order_value', value: 3, time: t + 60 },
      ]);
      await exported(c);
      assert.deepEqual(
        [...(await values('order_value')).values()],
        [
          [
            [t, 2],
            [t + 60, 3],
          ],
        ],
      );
      assert.equal(await metric(c, 'rexmon_remote_write_samples_dropped_total', { remote: 'prom', reason: 'out_of_order' }), 1);
      assert.equal(await metric(c, 'rexmon_remote_write_requests_total', { remote: 'prom', status: '4xx' }), 0);
    } finally {
      await c.stop();
    }
  },
);

/** A proxy to the real Prometheus that answers the first requests with the given statuses instead, and records what it saw. */
async function faultyProxy(statuses: { status: number; headers?: Record<string, string> }[]) {
  const seen: { headers: IncomingMessage['headers']; body: Buffer; answered: number }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const fault = statuses.shift();
      if (fault) {
        seen.push({ headers: req.headers, body, answered: fault.status });
        res.writeHead(fault.status, fault.headers).end('injected');
        return;
      }
      const up = await fetch(prom.writeUrl, { method: 'POST', headers: req.headers as Record<string, string>, body });
      seen.push({ headers: req.headers, body, answered: up.status });
      res.writeHead(up.status).end(await up.text());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/api/v1/write`, seen, close: () => new Promise((r) => server.close(r)) };
}

test(
  '5xx and 429 are retried (429 after its Retry-After), with the protocol headers, extra headers and bearer token on every attempt',
  { skip, timeout: 60000 },
  async () => {
    const proxy = await faultyProxy([{ status: 503 }, { status: 500 }, { status: 429, headers: { 'Retry-After': '1' } }]);
    const c = await collector({ url: proxy.url, headers: { 'X-Scope-OrgID': 'lab' }, bearerToken: 's3cret' });
    try {
      const t = now() - 60;
      await post(c, [{ name: 'faulty_value', labels: { via: 'proxy' }, value: 42, time: t }]);
      await exported(c);
      assert.deepEqual([...(await values('faulty_value')).values()], [[[t, 42]]]);
      assert.deepEqual(
        proxy.seen.map((s) => s.answered),
        [503, 500, 429, 204],
      );
      for (const s of proxy.seen) {
        assert.equal(s.headers['content-encoding'], 'snappy');
        assert.equal(s.headers['content-type'], 'application/x-protobuf');
        assert.equal(s.headers['x-prometheus-remote-write-version'], '0.1.0');
        assert.equal(s.headers['x-scope-orgid'], 'lab');
        assert.equal(s.headers.authorization, 'Bearer s3cret');
        // The same body each time; labels sorted, __name__ first here.
        assert.deepEqual((await decodeWriteRequest(s.body)).timeseries, [
          {
            labels: [
              { name: '__name__', value: 'faulty_value' },
              { name: 'via', value: 'proxy' },
            ],
            samples: [{ value: 42, timestamp: t * 1000 }],
          },
        ]);
      }
      assert.equal(await metric(c, 'rexmon_remote_write_retries_total', { remote: 'prom', reason: '5xx' }), 2);
      assert.equal(await metric(c, 'rexmon_remote_write_retries_total', { remote: 'prom', reason: '429' }), 1);
      assert.equal(await metric(c, 'rexmon_remote_write_samples_sent_total', { remote: 'prom' }), 1);
    } finally {
      await c.stop();
      await proxy.close();
    }
  },
);

test('stopping while Prometheus is down gives up after queue.stopTimeout and counts what was left', { skip, timeout: 60000 }, async () => {
  const c = await collector({ queue: { stopTimeout: 0.5 } });
  let stopped = false;
  try {
    await prom.down();
    const t = now() - 60;
    await post(
      c,
      Array.from({ length: 5 }, (_, i) => ({ name: 'left_value', value: i, time: t + i })),
    );
    await waitFor('a failed attempt', async () => (await metric(c, 'rexmon_remote_write_requests_total', { remote: 'prom', status: 'network' })) >= 1);
    await c.stop();
    stopped = true;
    const text = await c.collector.metrics.registry.getSingleMetricAsString('rexmon_remote_write_samples_dropped_total');
    assert.match(text, /reason="shutdown"\} 5$/m);
  } finally {
    if (!stopped) await c.stop();
    await prom.up();
  }
});
