// HTTP API limits on a real collector: requests per minute per address and per token, concurrent queries, and
// the work per query (series × rows); each refusal names its limit and is counted in rexmon_http_limited_total.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { api, startCollector, TestCollector } from '../testing/harness.js';
import { metricValue } from '../testing/pki.js';

type Err = { error: { message: string; limit?: string; path?: string } };
const limited = async (c: TestCollector, limit: string) => metricValue(await c.collector.metrics.registry.metrics(), 'rexmon_http_limited_total', { limit });

test('requests per minute per address: the one over is 429 naming the limit; probes are not limited', { timeout: 30000 }, async () => {
  const c = await startCollector({ http: { listen: '127.0.0.1:0', limits: { requestsPerMinutePerAddress: 5 } } });
  try {
    for (let i = 0; i < 5; i++) assert.equal((await api(c.url, '/api/v1/status')).status, 200);
    const r = await api<Err>(c.url, '/api/v1/status');
    assert.equal(r.status, 429);
    assert.equal(r.body.error.limit, 'http.limits.requestsPerMinutePerAddress');
    assert.match(r.body.error.message, /more than 5 requests in a minute from 127\.0\.0\.1 \(http\.limits\.requestsPerMinutePerAddress\)/);
    assert.equal((await api(c.url, '/healthz')).status, 200);
    assert.equal((await api(c.url, '/readyz')).status, 200);
    assert.equal(await limited(c, 'http.limits.requestsPerMinutePerAddress'), 1);
  } finally {
    await c.stop();
  }
});

test('requests per minute per token: one token over its budget is refused, another token and anonymous reads are not', { timeout: 30000 }, async () => {
  const c = await startCollector({ http: { listen: '127.0.0.1:0', limits: { requestsPerMinutePerAddress: 0, requestsPerMinutePerToken: 3 } } });
  try {
    const a = await createToken(c.collector.db, 'grafana-a', 'viewer');
    const b = await createToken(c.collector.db, 'grafana-b', 'viewer');
    for (let i = 0; i < 3; i++) assert.equal((await api(c.url, '/api/v1/series', { token: a })).status, 200);
    const r = await api<Err>(c.url, '/api/v1/series', { token: a });
    assert.equal(r.status, 429);
    assert.equal(r.body.error.limit, 'http.limits.requestsPerMinutePerToken');
    assert.match(r.body.error.message, /more than 3 requests in a minute with token "grafana-a"/);
    assert.equal((await api(c.url, '/api/v1/series', { token: b })).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await api(c.url, '/api/v1/series')).status, 200, 'anonymous (loopback) reads are held by the address limit only');
    assert.equal(await limited(c, 'http.limits.requestsPerMinutePerToken'), 1);
  } finally {
    await c.stop();
  }
});

test('concurrent queries: while one query is in flight, the next is 429 naming the limit; once it ends, queries run again', { timeout: 30000 }, async () => {
  const c = await startCollector({ http: { listen: '127.0.0.1:0', limits: { maxConcurrentQueries: 1 } } });
  try {
    const { port } = new URL(c.url);
    // A POST /query whose body has not all arrived holds the one slot.
    const body = 'match=nothing_here';
    const sock = net.createConnection({ host: '127.0.0.1', port: Number(port) });
    let answer = '';
    sock.on('data', (d) => (answer += d));
    const ended = new Promise((r) => sock.on('close', r));
    sock.write(
      `POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
    );
    let r = await api<Err>(c.url, '/api/v1/query?match=nothing_here');
    for (let i = 0; r.status !== 429 && i < 100; i++) {
      // The slot is taken once the server has read the headers of the held request.
      await new Promise((res) => setTimeout(res, 20));
      r = await api<Err>(c.url, '/api/v1/query?match=nothing_here');
    }
    assert.equal(r.status, 429);
    assert.equal(r.body.error.limit, 'http.limits.maxConcurrentQueries');
    assert.match(r.body.error.message, /1 queries are running, the limit \(http\.limits\.maxConcurrentQueries 1\)/);
    assert.equal((await api(c.url, '/api/v1/series')).status, 200, 'other routes are not held');
    sock.end(body.slice(5));
    await ended;
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.equal((await api(c.url, '/api/v1/query?match=nothing_here')).status, 200);
    assert.ok((await limited(c, 'http.limits.maxConcurrentQueries')) >= 1);
  } finally {
    await c.stop();
  }
});

test('work per query: series × rows over http.limits.maxQueryPoints is 400 naming the limit; a smaller query runs', { timeout: 30000 }, async () => {
  const c = await startCollector({ auth: { anonymousWrite: true }, http: { listen: '127.0.0.1:0', limits: { maxQueryPoints: 1000 } } });
  try {
    const t = Math.floor(Date.now() / 1000 / 60) * 60 - 600;
    const samples = ['a', 'b'].map((h) => ({ name: 'load', labels: { host: h }, value: 1, time: t }));
    assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) })).status, 202);
    await c.collector.pipeline.flush();
    const q = (points: number) =>
      api<Err & { data: { series: unknown[] } }>(c.url, `/api/v1/query?match=load&from=${t - 86400}&to=${t}&maxDataPoints=${points}`);
    const over = await q(600);
    assert.equal(over.status, 400);
    assert.equal(over.body.error.limit, 'http.limits.maxQueryPoints');
    assert.equal(over.body.error.path, 'match');
    assert.match(over.body.error.message, /would read 2 series × 600 rows = 1200 points, more than the limit of 1000 \(http\.limits\.maxQueryPoints\)/);
    const ok = await q(400);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.data.series.length, 2);
    assert.equal(await limited(c, 'http.limits.maxQueryPoints'), 1);
  } finally {
    await c.stop();
  }
});

test('the fixed size limits are counted too: a body over 32 MiB and more than 100,000 samples are 413', { timeout: 60000 }, async () => {
  const c = await startCollector({ auth: { anonymousWrite: true } });
  try {
    const big = await api<Err>(c.url, '/api/v1/samples', { method: 'POST', body: '[' + ' '.repeat(33 * 1024 * 1024) + ']' });
    assert.equal(big.status, 413);
    assert.match(big.body.error.message, /larger than the limit of 33554432 bytes/);
    const many = JSON.stringify(Array.from({ length: 100001 }, () => ({ name: 'x', value: 1 })));
    const r = await api<Err>(c.url, '/api/v1/samples', { method: 'POST', body: many });
    assert.equal(r.status, 413);
    assert.match(r.body.error.message, /at most 100000 samples per request; got 100001/);
    assert.equal(await limited(c, 'body_size'), 1);
    assert.equal(await limited(c, 'samples_per_request'), 1);
  } finally {
    await c.stop();
  }
});
