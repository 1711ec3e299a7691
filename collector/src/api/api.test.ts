// The HTTP API: roles, JSON errors for every 4xx, the OpenAPI document against the real routes, queries.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createToken, hashToken } from '../auth/tokens.js';
import { api, startCollector, TestCollector } from '../testing/harness.js';
import { openapi } from './openapi.js';

let c: TestCollector;
const tokens: Record<string, string> = {};
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;

before(async () => {
  c = await startCollector({
    auth: { tokens: [{ name: 'from-config', role: 'viewer', sha256: hashToken('config-secret') }] },
    pipeline: { queueCapacity: 1000 },
  });
  for (const role of ['viewer', 'editor', 'admin'] as const) tokens[role] = await createToken(c.collector.db, role, role);
  const samples = [];
  for (const host of ['a', 'b', 'c'])
    for (const state of ['idle', 'running'])
      for (let i = 0; i < 5; i++)
        samples.push({
          name: 'condor_jobs',
          labels: { host, state, experiment: host === 'c' ? 'dune' : 'nova' },
          value: (host.charCodeAt(0) - 96) * (state === 'idle' ? 1 : 10),
          time: base + i * 60,
        });
  const r = await api(c.url, '/api/v1/samples', { method: 'POST', token: tokens.editor, body: JSON.stringify(samples) });
  assert.equal(r.status, 202);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: tokens.editor });
});
after(() => c.stop());

type Series = { name: string; labels: Record<string, string>; timestamps: number[]; values: (number | null)[] };
const q = (params: string) => api<{ data: { series: Series[]; step: number } }>(c.url, `/api/v1/query?from=${base - 60}&to=${base + 300}&step=60&${params}`);

test('roles: anonymous reads on loopback, writes need editor, token creation needs admin, bad tokens are 401', async () => {
  assert.equal((await api(c.url, '/api/v1/series')).status, 200);
  const who = await api<{ data: { name: string; role: string } }>(c.url, '/api/v1/auth/whoami', { token: 'config-secret' });
  assert.deepEqual(who.body.data, { name: 'from-config', role: 'viewer', via: 'token' });
  const bad = await api(c.url, '/api/v1/series', { token: 'wrong' });
  assert.equal(bad.status, 401);
  assert.match(bad.body.error!.message, /unknown or revoked API token/);
  const malformed = await api(c.url, '/api/v1/series', { headers: { authorization: 'Basic abc' } });
  assert.equal(malformed.status, 401);
  const viewerWrite = await api(c.url, '/api/v1/samples', { method: 'POST', token: tokens.viewer, body: '[]' });
  assert.equal(viewerWrite.status, 403);
  assert.match(viewerWrite.body.error!.message, /has role viewer; this needs editor/);
  const editorToken = await api(c.url, '/api/v1/tokens', { method: 'POST', token: tokens.editor, body: JSON.stringify({ name: 'x', role: 'viewer' }) });
  assert.equal(editorToken.status, 403);
  const made = await api<{ data: { token: string } }>(c.url, '/api/v1/tokens', {
    method: 'POST',
    token: tokens.admin,
    body: JSON.stringify({ name: 'grafana', role: 'viewer' }),
  });
  assert.equal(made.status, 201);
  assert.equal((await api<{ data: { name: string } }>(c.url, '/api/v1/auth/whoami', { token: made.body.data.token })).body.data.name, 'grafana');
  const badRole = await api(c.url, '/api/v1/tokens', { method: 'POST', token: tokens.admin, body: JSON.stringify({ name: 'x', role: 'root' }) });
  assert.equal(badRole.status, 400);
  assert.equal(badRole.body.error!.path, 'role');
});

test('anonymous read is refused when configured off', async () => {
  const d = await startCollector({ auth: { anonymousRead: false } });
  try {
    const r = await api(d.url, '/api/v1/series');
    assert.equal(r.status, 401);
    assert.match(r.body.error!.message, /needs an API token with role viewer/);
    assert.equal((await fetch(`${d.url}/healthz`)).status, 200, 'health stays open for probes');
  } finally {
    await d.stop();
  }
});

test('series, labels and label values with matchers', async () => {
  const s = await api<{ data: { labels: Record<string, string> }[] }>(
    c.url,
    `/api/v1/series?match=${encodeURIComponent('condor_jobs{host=~"a|b",state!="idle"}')}`,
  );
  assert.deepEqual(
    s.body.data.map((x) => x.labels.host),
    ['a', 'b'],
  );
  const union = await api<{ data: unknown[] }>(
    c.url,
    `/api/v1/series?match=${encodeURIComponent('condor_jobs{host="a"}')}&match=${encodeURIComponent('condor_jobs{host="c"}')}`,
  );
  assert.equal(union.body.data.length, 4);
  assert.deepEqual((await api<{ data: string[] }>(c.url, '/api/v1/labels?match=condor_jobs')).body.data, ['__name__', 'experiment', 'host', 'state']);
  assert.deepEqual(
    (await api<{ data: string[] }>(c.url, `/api/v1/label/host/values?match=${encodeURIComponent('condor_jobs{experiment="nova"}')}`)).body.data,
    ['a', 'b'],
  );
  const badLabel = await api(c.url, '/api/v1/label/bad-name/values');
  assert.equal(badLabel.status, 400);
});

test('query: consolidation, aggregation by labels, values equal what was sent', async () => {
  const one = await q(`match=${encodeURIComponent('condor_jobs{host="b",state="running"}')}`);
  assert.equal(one.status, 200, JSON.stringify(one.body));
  const s = one.body.data.series[0];
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => s.values[s.timestamps.indexOf(base + i * 60)]),
    [20, 20, 20, 20, 20],
  );
  const sum = await q(`match=condor_jobs&agg=sum&by=experiment`);
  assert.deepEqual(
    sum.body.data.series.map((x) => [x.labels.experiment, x.values[x.timestamps.indexOf(base + 60)]]),
    [
      ['dune', 33],
      ['nova', 33],
    ],
  );
  const count = await q(`match=condor_jobs&agg=count`);
  assert.equal(count.body.data.series[0].values[count.body.data.series[0].timestamps.indexOf(base + 60)], 6);
  const max = await q(`match=condor_jobs&agg=max&by=state`);
  assert.deepEqual(
    max.body.data.series.map((x) => [x.labels.state, x.values[x.timestamps.indexOf(base + 120)]]),
    [
      ['idle', 3],
      ['running', 30],
    ],
  );
  const ms = await api<{ data: { series: Series[] } }>(
    c.url,
    `/api/v1/query?match=condor_jobs&from=${(base - 60) * 1000}&to=${(base + 300) * 1000}&maxDataPoints=100`,
  );
  assert.equal(ms.status, 200, 'millisecond times as Grafana sends them');
  assert.equal(ms.body.data.series.length, 6);
});

test('query: fn=rate gives the per-second rate between rows (a counter reset gives null), fn=delta the change', async () => {
  const raw = [0, 60, 180, 30, 90];
  const samples = raw.map((value, i) => ({ name: 'jobs_done_total', labels: { host: 'a' }, value, time: base + i * 60 }));
  samples.push(...raw.map((value, i) => ({ name: 'jobs_done_total', labels: { host: 'b' }, value: value * 2, time: base + i * 60 })));
  assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', token: tokens.editor, body: JSON.stringify(samples) })).status, 202);
  await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: tokens.editor });
  const at = (s: Series) => [0, 1, 2, 3, 4].map((i) => s.values[s.timestamps.indexOf(base + i * 60)]);
  const match = encodeURIComponent('jobs_done_total{host="a"}');
  const plain = await q(`match=${match}`);
  assert.deepEqual(at(plain.body.data.series[0]), raw, 'the raw counter, as stored');
  const rate = await q(`match=${match}&fn=rate`);
  assert.equal(rate.status, 200, JSON.stringify(rate.body));
  // The row before base is unknown, so the first known row has no rate either.
  assert.deepEqual(at(rate.body.data.series[0]), [null, 1, 2, null, 1]);
  const delta = await q(`match=${match}&fn=DELTA`);
  assert.deepEqual(at(delta.body.data.series[0]), [null, 60, 120, -150, 60]);
  // Per series first, then across series: the sum of the two rates.
  const sum = await q(`match=jobs_done_total&fn=rate&agg=sum`);
  assert.deepEqual(at(sum.body.data.series[0]), [null, 3, 6, null, 3]);
  // By POST, as a form and as JSON, like every other parameter.
  const params = { match: 'jobs_done_total{host="b"}', from: String(base - 60), to: String(base + 300), step: '60', fn: 'rate' };
  const form = await api<{ data: { series: Series[] } }>(c.url, '/api/v1/query', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  assert.equal(form.status, 200, JSON.stringify(form.body));
  assert.deepEqual(at(form.body.data.series[0]), [null, 2, 4, null, 2]);
  const json = await api<{ data: { series: Series[] } }>(c.url, '/api/v1/query', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...params, fn: 'delta' }),
  });
  assert.deepEqual(at(json.body.data.series[0]), [null, 120, 240, -300, 120]);
});

test('query: bad parameters are 400 naming the parameter', async () => {
  const cases: [string, string, RegExp][] = [
    ['match=cpu{host=', 'match', /expected a quoted label value/],
    ['from=yesterday&match=x', 'from', /"yesterday" is not a time/],
    [`match=x&from=${base}&to=${base - 10}`, 'to', /after/],
    ['match=x&cf=MEDIAN', 'cf', /one of AVERAGE, MIN, MAX, LAST/],
    ['match=x&maxDataPoints=1', 'maxDataPoints', /integer from 2 to 100000/],
    ['match=x&agg=median', 'agg', /one of sum/],
    ['match=x&by=host', 'by', /needs `agg`/],
    ['match=x&step=soon', 'step', /not a duration/],
    ['match=x&fn=bogus', 'fn', /one of rate, delta, got "bogus"/],
    ['match=x&fn=rate&fn=delta', 'fn', /given 2 times/],
    ['', 'match', /required/],
  ];
  for (const [params, path, re] of cases) {
    const r = await api(c.url, `/api/v1/query?${params}`);
    assert.equal(r.status, 400, params);
    assert.equal(r.body.error!.path, path, params);
    assert.match(r.body.error!.message, re, params);
  }
});

test('ingest: malformed JSON, wrong shape and a full queue get clear errors', async () => {
  const notJson = await api(c.url, '/api/v1/samples', { method: 'POST', token: tokens.editor, body: '[{"name":' });
  assert.equal(notJson.status, 400);
  assert.match(notJson.body.error!.message, /not valid JSON/);
  const shape = await api(c.url, '/api/v1/samples', { method: 'POST', token: tokens.editor, body: '{"name":"x"}' });
  assert.equal(shape.status, 400);
  assert.match(shape.body.error!.message, /JSON array of samples/);
  const big = Array.from({ length: 1001 }, (_, i) => ({ name: 'flood', labels: { i: String(i) }, value: i }));
  const full = await api(c.url, '/api/v1/samples', { method: 'POST', token: tokens.editor, body: JSON.stringify(big) });
  assert.equal(full.status, 503, 'larger than the queue: refused whole, nothing stored');
  assert.match(full.body.error!.message, /queue is full; nothing was stored/);
  assert.equal((await api<{ data: unknown[] }>(c.url, '/api/v1/series?match=flood')).body.data.length, 0);
});

test('every 4xx is JSON, unknown paths included; health, readiness and metrics', async () => {
  const r = await api(c.url, '/api/v1/nope');
  assert.equal(r.status, 404);
  assert.match(r.body.error!.message, /no such endpoint: GET \/api\/v1\/nope/);
  assert.equal((await api(c.url, '/nope')).status, 404);
  assert.equal((await fetch(`${c.url}/readyz`)).status, 200);
  const m = await (await fetch(`${c.url}/metrics`)).text();
  for (const name of [
    'rexmon_queue_depth',
    'rexmon_samples_received_total',
    'rexmon_samples_written_total',
    'rexmon_rrdtool_command_seconds',
    'rexmon_series',
    'rexmon_process_resident_memory_bytes',
  ])
    assert.match(m, new RegExp(`^${name}`, 'm'), name);
  const page = await (await fetch(`${c.url}/`)).text();
  assert.match(page, /condor_jobs/);
});

test('a path asked with a method it does not take is 405 naming the allowed methods; OPTIONS answers them', async () => {
  const r = await fetch(`${c.url}/api/v1/samples`, { method: 'DELETE' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST, OPTIONS');
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /DELETE is not allowed on \/api\/v1\/samples \(allowed: POST, OPTIONS\)/);
  // A literal path wins over a template that also matches it.
  const o = await fetch(`${c.url}/api/v1/downtimes/active`, { method: 'OPTIONS' });
  assert.equal(o.status, 204);
  assert.equal(o.headers.get('allow'), 'GET, HEAD, OPTIONS');
  assert.equal((await fetch(`${c.url}/api/v1/downtimes/7`, { method: 'OPTIONS' })).headers.get('allow'), 'GET, PATCH, DELETE, HEAD, OPTIONS');
  assert.equal((await fetch(`${c.url}/api/v1/nope`, { method: 'DELETE' })).status, 404, 'not a path of the API: 404');
});

test('the OpenAPI document lists exactly the routes the server has', async () => {
  const doc = (await api<ReturnType<typeof openapi>>(c.url, '/api/v1/openapi.json')).body;
  const documented = new Set<string>();
  for (const [p, ops] of Object.entries(doc.paths))
    for (const m of Object.keys(ops as object)) documented.add(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`);
  const served = new Set<string>();
  type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] }; matchers?: unknown };
  const walk = (stack: Layer[]) => {
    for (const l of stack) {
      if (l.route) for (const m of Object.keys(l.route.methods)) served.add(`${m.toUpperCase()} ${l.route.path}`);
      else if (l.handle?.stack) walk(l.handle.stack);
    }
  };
  const app = (c.collector as unknown as { app: { router: { stack: Layer[] } } }).app;
  walk(app.router.stack);
  const apiRoutes = [...served].filter((r) => !/ \/(healthz|readyz|metrics)?$/.test(r));
  assert.ok(apiRoutes.length >= 10, `found routes: ${[...served].join(', ')}`);
  assert.deepEqual(apiRoutes.filter((r) => !documented.has(r)).sort(), [], 'served but not documented');
  assert.deepEqual([...documented].filter((r) => !served.has(r)).sort(), [], 'documented but not served');
});

/** Writes raw bytes and reads the whole answer until the server closes. */
function rawHttp(request: string): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(c.url);
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: hostname, port: Number(port) }, () => s.write(request));
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('error', reject);
    s.on('close', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), headers: head, body: rest.join('\r\n\r\n') });
    });
  });
}

test("the HTTP server's own refusals are JSON errors too: 431 naming the limit, 400 for a malformed request", async () => {
  const long = await rawHttp(`GET /api/v1/series?match=${'a'.repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(long.status, 431);
  assert.match(long.headers, /content-type: application\/json/i);
  assert.match(long.headers, /connection: close/i);
  assert.deepEqual(JSON.parse(long.body), { error: { status: 431, message: 'request line and headers are larger than 65536 bytes' } });
  const viaFetch = await api(c.url, `/api/v1/series?match=${'a'.repeat(100 * 1024)}`);
  assert.equal(viaFetch.status, 431);
  assert.match(viaFetch.body.error!.message, /larger than 65536 bytes/);

  const garbage = await rawHttp('HELLO WORLD\r\n\r\n');
  assert.equal(garbage.status, 400);
  const body = JSON.parse(garbage.body) as { error: { status: number; message: string } };
  assert.equal(body.error.status, 400);
  assert.match(body.error.message, /^malformed HTTP request/);

  // A 40 KB selector still fits.
  const fits = await api(c.url, `/api/v1/series?match=${encodeURIComponent(`condor_jobs{host=~"${Array(8000).fill('zzzz').join('|')}"}`)}`);
  assert.equal(fits.status, 200, JSON.stringify(fits.body).slice(0, 200));
});

test('one token rule on every route: a bad token is 401 everywhere; only /healthz and /readyz are open without one', async () => {
  const d = await startCollector({ auth: { anonymousRead: false } });
  try {
    const offViewer = await createToken(d.collector.db, 'v', 'viewer');
    const routes = ['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json', '/', '/api/v1/series', '/api/v1/downtimes', '/api/v1/events'];
    const probes = new Set(['/healthz', '/readyz']);
    for (const [url, anonymousRead, viewer] of [
      [c.url, true, tokens.viewer],
      [d.url, false, offViewer],
    ] as const)
      for (const route of routes) {
        const at = `${route} (anonymous read ${anonymousRead ? 'on' : 'off'})`;
        const none = await api(url, route);
        assert.equal(none.status, probes.has(route) || anonymousRead ? 200 : 401, `no token: ${at}`);
        for (const headers of [{ authorization: 'Bearer wrong' }, { authorization: 'Basic abc' }, { authorization: 'Bearer' }]) {
          const bad = await api(url, route, { headers });
          assert.equal(bad.status, 401, `${headers.authorization}: ${at}`);
          assert.match(bad.body.error?.message ?? '', /token/, `JSON error: ${at}`);
        }
        assert.equal((await api(url, route, { token: viewer })).status, 200, `viewer: ${at}`);
      }
  } finally {
    await d.stop();
  }
});

test('reads by POST: a 1 MB selector in a form or JSON body answers 200; a body over the limit is 413 naming it', async () => {
  const hosts = Array.from({ length: 117000 }, (_, i) => `h${String(i).padStart(7, '0')}`).concat('a', 'b');
  const sel = `condor_jobs{host=~"(${hosts.join('|')})",state="idle"}`;
  assert.ok(sel.length > 1024 * 1024, `${sel.length}`);
  const range = { from: String(base - 60), to: String(base + 300), step: '60' };
  const form = new URLSearchParams({ match: sel, ...range });
  form.append('match', 'condor_jobs{host="c",state="idle"}'); // repeated match keys: a union
  for (const [how, init] of [
    ['form', { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ['JSON', { body: JSON.stringify({ match: [sel, 'condor_jobs{host="c",state="idle"}'], ...range, step: 60 }) }],
  ] as const) {
    const r = await api<{ data: { series: Series[] } }>(c.url, '/api/v1/query', { method: 'POST', ...init });
    assert.equal(r.status, 200, `${how}: ${JSON.stringify(r.body).slice(0, 300)}`);
    assert.deepEqual(r.body.data.series.map((s) => s.labels.host).sort(), ['a', 'b', 'c'], how);
    assert.deepEqual(
      r.body.data.series
        .find((s) => s.labels.host === 'b')!
        .values.filter((v) => v !== null)
        .slice(0, 4),
      [2, 2, 2, 2],
      how,
    );
    const found = await api<{ data: { labels: Record<string, string> }[] }>(c.url, '/api/v1/series', { method: 'POST', ...init });
    assert.equal(found.status, 200, how);
    assert.equal(found.body.data.length, 3, how);
    const names = await api<{ data: string[] }>(c.url, '/api/v1/labels', { method: 'POST', ...init });
    assert.deepEqual(names.body.data, ['__name__', 'experiment', 'host', 'state'], how);
    const values = await api<{ data: string[] }>(c.url, '/api/v1/label/host/values', { method: 'POST', ...init });
    assert.deepEqual(values.body.data, ['a', 'b', 'c'], how);
  }
  // The query string and the body together are one set of parameters.
  const both = await api(c.url, `/api/v1/query?step=60`, { method: 'POST', body: JSON.stringify({ step: 120, match: 'condor_jobs' }) });
  assert.equal(both.status, 400);
  assert.match(both.body.error!.message, /step given 2 times/);
  const notObject = await api(c.url, '/api/v1/series', { method: 'POST', body: '["condor_jobs"]' });
  assert.equal(notObject.status, 400);

  const huge = `match=${'a'.repeat(33 * 1024 * 1024)}`;
  const tooBig = await api(c.url, '/api/v1/query', { method: 'POST', body: huge, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(tooBig.status, 413);
  assert.match(tooBig.body.error!.message, /larger than the limit of 33554432 bytes/);
});

test('an explicit step is honoured up to 100,000 rows, refused with 400 beyond; maxDataPoints, when given, raises it', async () => {
  const to = base + 300;
  const from = to - 20 * 3600; // 1,201 rows at 60 s: more than the default 1,000
  const honoured = await api<{ data: { series: Series[]; step: number } }>(c.url, `/api/v1/query?match=condor_jobs&from=${from}&to=${to}&step=60`);
  assert.equal(honoured.status, 200, JSON.stringify(honoured.body));
  assert.equal(honoured.body.data.step, 60);
  assert.ok(honoured.body.data.series[0].timestamps.length >= 1200, `${honoured.body.data.series[0].timestamps.length} rows`);
  const capped = await api<{ data: { step: number } }>(c.url, `/api/v1/query?match=condor_jobs&from=${from}&to=${to}&step=60&maxDataPoints=100`);
  assert.equal(capped.status, 200);
  assert.ok(capped.body.data.step >= 720, `step ${capped.body.data.step}`);
  const tooFine = await api(c.url, `/api/v1/query?match=condor_jobs&from=${to - 2 * 86400}&to=${to}&step=1`);
  assert.equal(tooFine.status, 400);
  assert.equal(tooFine.body.error!.path, 'step');
  assert.match(tooFine.body.error!.message, /makes 172801 rows, more than the limit of 100000: use a step of at least 2 s/);
});

test('query: downtimes=true marks the series a downtime runs over now (planned before unplanned); without it, no mark; bad value is a 400', async () => {
  const post = (body: Record<string, unknown>) =>
    api<{ data: { id: number } }>(c.url, '/api/v1/downtimes', {
      method: 'POST',
      token: tokens.editor,
      body: JSON.stringify({ author: 'alice', reason: 'disk swap', start: 'now-1m', end: '+1h', ...body }),
    });
  const unplanned = await post({ kind: 'unplanned', match: '{host="a"}', reason: 'power cut', end: null });
  assert.equal(unplanned.status, 201, JSON.stringify(unplanned.body));
  const planned = await post({ kind: 'planned', match: '{host="a",state="idle"}' });
  assert.equal(planned.status, 201, JSON.stringify(planned.body));
  const later = await post({ kind: 'planned', match: '{host="b"}', start: '+2h', end: '+3h' });
  assert.equal(later.status, 201, JSON.stringify(later.body));
  type Marked = Series & { downtime?: { id: number; kind: string; author: string; reason: string; end: number | null } };
  const r = await api<{ data: { series: Marked[] } }>(c.url, `/api/v1/query?match=condor_jobs&from=${base}&to=${base + 300}&downtimes=true`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const mark = (host: string, state: string) => r.body.data.series.find((s) => s.labels.host === host && s.labels.state === state)!.downtime;
  assert.equal(mark('a', 'idle')?.id, planned.body.data.id, 'planned wins over unplanned');
  assert.equal(mark('a', 'idle')?.kind, 'planned');
  assert.ok(mark('a', 'idle')!.end! > Date.now() / 1000);
  assert.deepEqual(mark('a', 'running'), { id: unplanned.body.data.id, kind: 'unplanned', author: 'alice', reason: 'power cut', end: null });
  assert.equal(mark('b', 'idle'), undefined, 'a downtime that has not begun marks nothing');
  assert.equal(mark('c', 'idle'), undefined);
  const plain = await api<{ data: { series: Marked[] } }>(c.url, `/api/v1/query?match=condor_jobs&from=${base}&to=${base + 300}`);
  assert.ok(plain.body.data.series.every((s) => !('downtime' in s)));
  const bad = await api<{ error: { path: string } }>(c.url, `/api/v1/query?match=condor_jobs&downtimes=yes`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.path, 'downtimes');
  for (const id of [unplanned.body.data.id, planned.body.data.id, later.body.data.id])
    await api(c.url, `/api/v1/downtimes/${id}/cancel`, { method: 'POST', token: tokens.editor });
});
