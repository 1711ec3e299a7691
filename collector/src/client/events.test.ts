// The event client against a real collector (in-process, SQLite file): batches delivered whole, the collector
// away (bounded buffer, drops counted, said once, delivered when it is back), busy answers (503/429 from a
// proxy in front of the real collector) kept and retried, refusals dropped; the shared sendEvent flushing at
// the exit of a real node process, and `rexmon event send`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { hashToken } from '../auth/tokens.js';
import { api, freePort, startCollector, TestCollector, tempDir, waitFor } from '../testing/harness.js';
import { EventClient } from './index.js';

const EDITOR = 'rxm_client_editor';
const VIEWER = 'rxm_client_viewer';
const tokens = [
  { name: 'feeder', role: 'editor', sha256: hashToken(EDITOR) },
  { name: 'wall', role: 'viewer', sha256: hashToken(VIEWER) },
];
const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));
const MODULE = fileURLToPath(new URL('./index.js', import.meta.url));

type E = { time: number; type: string; source: string; labels: Record<string, string>; data: Record<string, unknown> };
let c: TestCollector;

before(async () => {
  c = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { tokens } });
});
after(async () => {
  await c?.stop();
});

async function events(base: string, query: string): Promise<E[]> {
  const r = await api<{ data: E[] }>(base, `/api/v1/events?limit=10000&${query}`, { token: VIEWER });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}

function runNode(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile('node', args, { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: Date.now() - t0 }),
    );
  });
}

test('2,500 events in batches of 500 all arrive, with their labels, data, source and send time', async () => {
  const logs: string[] = [];
  const client = new EventClient({ url: c.url, token: EDITOR, source: 'wrapper01', batchSize: 500, log: (m) => logs.push(m) });
  const t0 = Date.now() - 60000;
  for (let i = 0; i < 2500; i++) assert.equal(client.send('client.bulk', { job: `j${i % 10}` }, { time: t0 + i, data: { seq: i, ok: i % 2 === 0 } }), true);
  await client.flush(20000);
  const st = await client.close();
  assert.deepEqual(st, { sent: 2500, buffered: 0, dropped: { invalid: 0, rejected: 0, buffer_full: 0, shutdown: 0 }, reachable: true });
  const got = await events(c.url, 'type=client.bulk');
  assert.equal(got.length, 2500);
  const bySeq = new Map(got.map((e) => [e.data.seq as number, e]));
  for (let i = 0; i < 2500; i++) {
    const e = bySeq.get(i);
    assert.ok(e, `event ${i} stored`);
    assert.equal(e.time, t0 + i);
    assert.equal(e.source, 'wrapper01');
    assert.deepEqual(e.labels, { job: `j${i % 10}` });
    assert.equal(e.data.ok, i % 2 === 0);
  }
  assert.deepEqual(logs, []);
});

test('a bad event is dropped at send, counted and explained once; the caller gets false, never an exception', async () => {
  const logs: string[] = [];
  const client = new EventClient({ url: c.url, token: EDITOR, source: 's', log: (m) => logs.push(m) });
  assert.equal(client.send('bad type!', {}), false);
  assert.equal(client.send('ok.type', { 'bad-label': 'x' }), false);
  assert.equal(client.send('ok.type', {}, { data: { nested: { a: 1 } as never } }), false);
  assert.equal(client.send('client.good', { a: '1' }), true);
  await client.flush();
  const st = await client.close();
  assert.equal(st.dropped.invalid, 3);
  assert.equal(st.sent, 1);
  assert.equal(logs.length, 1, logs.join('\n'));
  assert.match(logs[0], /event "bad type!" is invalid and was dropped: type: type "bad type!" must be 1 to 100 of letters/);
  assert.match(logs[0], /stats\(\)\.dropped\.invalid/);
  assert.equal((await events(c.url, 'type=client.good')).length, 1);
});

test('collector away: sends return at once, the buffer holds maxBuffer, the rest dropped and counted; all held arrive once it is up', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const client = new EventClient({
    url,
    token: EDITOR,
    source: 'away',
    maxBuffer: 100,
    batchSize: 40,
    flushInterval: 100,
    maxBackoff: 300,
    log: (m) => logs.push(m),
  });
  const t0 = Date.now();
  const results = Array.from({ length: 150 }, (_, i) => client.send('client.away', {}, { data: { seq: i } }));
  assert.ok(Date.now() - t0 < 1000, 'send never waits for the network');
  assert.equal(results.filter(Boolean).length, 100);
  assert.deepEqual(results.slice(100), Array(50).fill(false), 'the newest are dropped, the first 100 kept');
  await waitFor('the first failed attempt', async () => !client.stats().reachable);
  await client.flush(2000); // returns at once while away; resolves, never rejects
  assert.equal(client.stats().buffered, 100);
  assert.equal(client.stats().dropped.buffer_full, 50);
  assert.equal(logs.filter((l) => /is away \(connect ECONNREFUSED/.test(l)).length, 1, logs.join('\n'));
  assert.equal(logs.filter((l) => /buffer full \(100 events/.test(l)).length, 1, logs.join('\n'));

  const { dir, cleanup } = await tempDir();
  const late = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { tokens }, http: { listen: `127.0.0.1:${port}` } }, dir);
  try {
    await waitFor('the buffer to drain', async () => client.stats().buffered === 0, 15000);
    const st = await client.close();
    assert.equal(st.sent, 100);
    assert.equal(st.reachable, true);
    const seqs = (await events(url, 'type=client.away')).map((e) => e.data.seq as number).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 100 }, (_, i) => i),
      'every held event once, none of the dropped',
    );
    assert.ok(
      logs.some((l) => /is back; .* 50 dropped meanwhile/.test(l)),
      logs.join('\n'),
    );
  } finally {
    await late.stop();
    await cleanup();
  }
});

test('503 and 429 (with Retry-After) keep the events and retry; 401/403 drop them, counted and said once', async () => {
  // A proxy in front of the real collector answers the first requests as a full queue and a rate limit would.
  const answers = [503, 429, 503];
  const seen: number[] = [];
  const proxy = http.createServer((req, res) => {
    const status = answers.shift();
    seen.push(status ?? 0);
    if (status) {
      req.resume();
      res.writeHead(status, { 'retry-after': '1', 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { status, message: status === 503 ? 'event queue full' : 'rate limited' } }));
    }
    const up = http.request(new URL(req.url!, c.url), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  try {
    const logs: string[] = [];
    const client = new EventClient({ url, token: EDITOR, source: 'busy', batchSize: 10, flushInterval: 50, log: (m) => logs.push(m) });
    const t0 = Date.now();
    for (let i = 0; i < 25; i++) client.send('client.busy', {}, { data: { seq: i } });
    await waitFor('delivery after the busy answers', async () => client.stats().sent === 25, 15000);
    assert.ok(Date.now() - t0 >= 2500, 'Retry-After: 1 was waited out three times');
    assert.deepEqual(seen.slice(0, 3), [503, 429, 503]);
    assert.deepEqual((await client.close()).dropped, { invalid: 0, rejected: 0, buffer_full: 0, shutdown: 0 });
    assert.equal((await events(c.url, 'type=client.busy')).length, 25);
    assert.equal(logs.filter((l) => /HTTP 503 \(event queue full\); events are kept/.test(l)).length, 1, logs.join('\n'));
    assert.equal(logs.filter((l) => /HTTP 429 \(rate limited\)/.test(l)).length, 1, logs.join('\n'));
  } finally {
    await new Promise((r) => proxy.close(r));
  }

  for (const [token, status] of [
    [VIEWER, 403],
    ['rxm_not_a_token', 401],
  ] as const) {
    const logs: string[] = [];
    const client = new EventClient({ url: c.url, token, source: 'ro', batchSize: 5, log: (m) => logs.push(m) });
    for (let i = 0; i < 12; i++) client.send('client.refused', {});
    await client.flush();
    const st = await client.close();
    assert.equal(st.dropped.rejected, 12, `HTTP ${status}`);
    assert.equal(st.buffered, 0);
    assert.equal(logs.length, 1, logs.join('\n'));
    assert.match(logs[0], new RegExp(`refused 5 events with HTTP ${status}`));
  }
  assert.equal((await events(c.url, 'type=client.refused')).length, 0);
});

test('sendEvent from a real node program: one line, flushed when the program ends; away, it still exits promptly', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const script = path.join(dir, 'job.mjs');
    await writeFile(
      script,
      [
        `import { sendEvent } from ${JSON.stringify(MODULE)};`,
        `sendEvent('client.exit', { step: 'start' }, { source: 'job42' });`,
        `await new Promise((r) => setTimeout(r, 50));`,
        `for (let i = 0; i < 3; i++) sendEvent('client.exit', { step: 'work' }, { source: 'job42', data: { i } });`,
        `console.log('done');`,
      ].join('\n'),
    );
    const r = await runNode([script], { REXMON_URL: c.url, REXMON_TOKEN: EDITOR });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'done\n');
    assert.equal(r.stderr, '');
    const got = await events(c.url, 'type=client.exit');
    assert.equal(got.length, 4);
    assert.deepEqual(got.map((e) => e.labels.step).sort(), ['start', 'work', 'work', 'work']);
    assert.ok(got.every((e) => e.source === 'job42'));

    const away = await runNode([script], { REXMON_URL: `http://127.0.0.1:${await freePort()}`, REXMON_TOKEN: EDITOR });
    assert.equal(away.code, 0, 'the program is not failed by the client');
    assert.equal(away.stdout, 'done\n');
    assert.match(away.stderr, /rexmon client: collector at http:\/\/127\.0\.0\.1:\d+\/api\/v1\/events is away/);
    assert.match(away.stderr, /exiting with 4 event\(s\) not delivered/);
    assert.ok(away.ms < 10000, `exited after ${away.ms} ms`);
  } finally {
    await cleanup();
  }
});

test('rexmon event send: labels, --data, --source, --time stored; bad input exit 2 naming it; away or refused exit 1', async () => {
  const env = { REXMON_URL: c.url, REXMON_TOKEN: EDITOR };
  const ok = await runNode(
    [
      BIN,
      'event',
      'send',
      'job.state',
      'experiment=nova',
      'schedd=s01',
      '--data',
      'job=123.0',
      '--data',
      'bytes=1048576',
      '--data',
      'held=true',
      '--source',
      'wrap',
      '--time',
      '2026-11-30T12:00:00Z',
    ],
    env,
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^sent event job\.state to http/);
  const [e] = await events(c.url, 'type=job.state&source=wrap');
  assert.deepEqual(e, {
    id: (e as { id?: number }).id,
    time: Date.parse('2026-11-30T12:00:00Z'),
    type: 'job.state',
    source: 'wrap',
    labels: { experiment: 'nova', schedd: 's01' },
    data: { job: '123.0', bytes: 1048576, held: true },
  });

  const bad: [string[], RegExp][] = [
    [['bad/type'], /type "bad\/type" must be 1 to 100 of letters/],
    [['t', 'novalue'], /label "novalue" must be key=value/],
    [['t', '1x=y'], /labels\.1x/],
    [['t', '--time', 'yesterday'], /"yesterday" is not a time/],
    [['t', '--timeout', '0'], /--timeout "0" must be a positive number/],
    [['t', '--source', 'a\nb'], /source .* contains a control character/],
  ];
  for (const [args, re] of bad) {
    const r = await runNode([BIN, 'event', 'send', ...args], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }

  const away = await runNode([BIN, 'event', 'send', 'job.state', '--timeout', '1'], { REXMON_URL: `http://127.0.0.1:${await freePort()}` });
  assert.equal(away.code, 1);
  assert.match(away.stderr, /event not delivered within 1 s: collector at .* is away .*is `rexmon start` running\?/);
  assert.ok(away.ms < 8000, `gave up after ${away.ms} ms`);

  const ro = await runNode([BIN, 'event', 'send', 'job.state'], { ...env, REXMON_TOKEN: VIEWER });
  assert.equal(ro.code, 1);
  assert.match(ro.stderr, /the collector refused the event: .*HTTP 403/);
});
