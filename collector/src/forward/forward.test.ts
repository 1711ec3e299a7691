// Forwarding between two real collectors in this process (real rrdcached, SQLite, HTTP on loopback): the
// receive endpoint's idempotence and its checks, a full buffer refusing input and draining once the receiver
// is up, events sent twice by a site whose store was undone, and a receiver that refuses the token.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hashToken } from '../auth/tokens.js';
import { seriesFile } from '../rrd/naming.js';
import { api, freePort, rrdFetch, startCollector, TestCollector, waitFor } from '../testing/harness.js';

const EDITOR = 'fwd-editor-token';
const VIEWER = 'fwd-viewer-token';
const tokens = [
  { name: 'site', role: 'editor', sha256: hashToken(EDITOR) },
  { name: 'reader', role: 'viewer', sha256: hashToken(VIEWER) },
];
const fine = { templates: { fine: { step: 1, heartbeat: 5, rras: [{ cf: ['LAST'], steps: 1, rows: 4000 }] } }, defaultTemplate: 'fine', minFreeBytes: 0 };

async function metric(url: string, re: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

test('POST /api/v1/forward stores a batch once, answers a repeat without storing twice, and names what is wrong in a bad body', async () => {
  const c = await startCollector({ auth: { tokens }, rrd: fine, pipeline: { flushInterval: 0 } });
  try {
    const t = Math.floor(Date.now() / 1000) - 100;
    const body = {
      sender: 'site-a.1234',
      batches: [
        {
          q: 1,
          s: [
            ['fwd_once', { n: '1' }, 41, t],
            ['fwd_once', { n: '1' }, null, t + 1],
          ],
          e: [{ time: t * 1000, type: 'fwd_once', source: 'site-a', labels: { site: 'a' }, data: { k: 1 } }],
        },
        { q: 2, s: [['fwd_once', { n: '1' }, 43, t + 2]] },
      ],
    };
    const post = (b: unknown, token?: string) =>
      api<{ data: { stored: number; duplicates: number } }>(c.url, '/api/v1/forward', { method: 'POST', body: JSON.stringify(b), token });

    assert.equal((await post(body)).status, 401, 'a token is needed');
    const viewer = await post(body, VIEWER);
    assert.equal(viewer.status, 403);
    assert.match(viewer.body.error!.message, /needs editor/);

    const first = await post(body, EDITOR);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body.data, { stored: 2, duplicates: 0 });
    const again = await post(body, EDITOR);
    assert.deepEqual(again.body.data, { stored: 0, duplicates: 2 });
    // A request overlapping what was stored: only the new batch goes in.
    const more = await post({ sender: body.sender, batches: [body.batches[1], { q: 3, s: [['fwd_once', { n: '1' }, 44, t + 3]] }] }, EDITOR);
    assert.deepEqual(more.body.data, { stored: 1, duplicates: 1 });
    // The same sequence from another sender is another batch.
    const other = await post(
      { sender: 'site-b.5678', batches: [{ q: 1, e: [{ time: t * 1000, type: 'fwd_once', source: 'site-b', data: { k: 2 } }] }] },
      EDITOR,
    );
    assert.deepEqual(other.body.data, { stored: 1, duplicates: 0 });
    // Events a sender stored once but forwarded twice (killed between its forward buffer and its commit, then
    // replayed from its journal) come under a new seq with the same key: stored once.
    const keyed = (q: number) => ({ q, k: 'j0a1b2:store:0', e: [{ time: t * 1000, type: 'fwd_once', source: 'site-c', data: { k: 3 } }] });
    assert.deepEqual((await post({ sender: 'site-c', batches: [keyed(1)] }, EDITOR)).body.data, { stored: 1, duplicates: 0 });
    assert.deepEqual((await post({ sender: 'site-c', batches: [keyed(2)] }, EDITOR)).body.data, { stored: 1, duplicates: 0 });
    // The same key from another sender is other events.
    assert.deepEqual((await post({ sender: 'site-d', batches: [{ ...keyed(1), e: [{ ...keyed(1).e[0], source: 'site-d' }] }] }, EDITOR)).body.data, {
      stored: 1,
      duplicates: 0,
    });

    const events = await api<{ data: { source: string; labels: object; data: { k: number } }[] }>(c.url, '/api/v1/events?type=fwd_once', { token: VIEWER });
    assert.deepEqual(events.body.data.map((e) => [e.source, e.data.k]).sort(), [
      ['site-a', 1],
      ['site-b', 2],
      ['site-c', 3],
      ['site-d', 3],
    ]);
    await c.collector.pipeline.flush();
    const got = await rrdFetch(path.join(c.dataDir, 'rrd', seriesFile('fwd_once', { n: '1' })), 'LAST', t - 1, t + 3, 1);
    assert.deepEqual([got.get(t), got.get(t + 1), got.get(t + 2), got.get(t + 3)], [41, null, 43, 44]);
    assert.equal(await metric(c.url, /^rexmon_samples_received_total\{source="forward"\} (\d+)/m), 4, 'each sample taken once');
    assert.equal(await metric(c.url, /^rexmon_forward_received_batches_total\{result="duplicate"\} (\d+)/m), 3);

    const bad: [unknown, RegExp, string][] = [
      [{ batches: [] }, /sender must be/, 'sender'],
      [{ sender: '../x', batches: [{ q: 1 }] }, /sender must be/, 'sender'],
      [{ sender: 's', batches: [] }, /non-empty array/, 'batches'],
      [{ sender: 's', batches: [{ q: 0 }] }, /positive integer/, 'batches[0].q'],
      [{ sender: 's', batches: [{ q: 1, x: 1 }] }, /unknown field "x"/, 'batches[0].x'],
      [{ sender: 's', batches: [{ q: 1, k: 'a b', e: [] }] }, /k \(the events' key\)/, 'batches[0].k'],
      [{ sender: 's', batches: [{ q: 1, k: 'x'.repeat(201) }] }, /k \(the events' key\)/, 'batches[0].k'],
      [{ sender: 's', batches: [{ q: 1, s: [['ok', { 'bad-label': 'v' }, 1, t]] }] }, /label name "bad-label" is invalid/, 'batches[0].s[0].labels.bad-label'],
      [{ sender: 's', batches: [{ q: 1, s: [['ok', { a: 'x\ny' }, 1, t]] }] }, /newline|control/, 'batches[0].s[0].labels.a'],
      [{ sender: 's', batches: [{ q: 1, s: [['ok', {}, 'NaN', t]] }] }, /value must be/, 'batches[0].s[0].value'],
      [{ sender: 's', batches: [{ q: 1, s: [['ok', {}, 1]] }] }, /\[name, labels, value, time/, 'batches[0].s[0]'],
      [{ sender: 's', batches: [{ q: 1, s: [['ok', {}, 1, t, 9]] }] }, /flags/, 'batches[0].s[0][4]'],
      [{ sender: 's', batches: [{ q: 1, e: [{ type: 'a b', source: 'x' }] }] }, /type/, 'batches[0].e[0].type'],
    ];
    for (const [b, re, where] of bad) {
      const r = await post(b, EDITOR);
      assert.equal(r.status, 400, JSON.stringify(b));
      assert.match(r.body.error!.message, re, JSON.stringify(b));
      assert.equal(r.body.error!.path, where, JSON.stringify(b));
    }
    assert.equal(await metric(c.url, /^rexmon_samples_received_total\{source="forward"\} (\d+)/m), 4, 'a refused body stores nothing');

    // Ids are remembered for forward.idRetention, then pruned.
    assert.equal(await c.collector.receiver!.prune(Math.floor(Date.now() / 1000)), 0);
    // site-a 1–3, site-b 1, site-c 1 (its 2 was known by its key, not stored), site-d 1.
    assert.equal(await c.collector.receiver!.prune(Math.floor(Date.now() / 1000) + 7 * 86400 + 1), 6);
  } finally {
    await c.stop();
  }
});

test('a full forward buffer refuses input with a clear 503 (counted, in /readyz) and drains, exactly once, when the receiver comes up', async () => {
  const port = await freePort();
  const site = await startCollector({
    auth: { anonymousWrite: true },
    rrd: fine,
    pipeline: { queueCapacity: 3000, batchSize: 1000, flushInterval: 0 },
    forward: {
      url: `http://127.0.0.1:${port}`,
      labels: { site: 'full' },
      maxBufferBytes: 1024 * 1024,
      segmentBytes: 64 * 1024,
      maxRequestBytes: 64 * 1024,
      backoff: { min: 0.05, max: 0.2 },
    },
  });
  let central: TestCollector | undefined;
  try {
    const base = Math.floor(Date.now() / 1000) - 3500;
    let accepted = 0;
    let refusal: { status: number; body: { error?: { message: string } } } | undefined;
    for (let round = 0; round < 200 && !refusal; round++) {
      const samples = Array.from({ length: 1000 }, (_, n) => ({ name: 'fwd_full', labels: { n: String(n) }, value: round, time: base + round }));
      const r = await api(site.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) });
      if (r.status === 202) accepted = round + 1;
      else refusal = r;
      // Let the lanes take each batch, so the refusal comes from the buffer, not a busy queue.
      await waitFor(
        'lanes idle',
        async () => {
          const d = site.collector.pipeline.depth();
          return d.rrd === 0 && (d.forward === 0 || site.collector.pipeline.problems().length > 0);
        },
        30000,
      );
    }
    assert.ok(refusal, 'input was refused once the buffer was full');
    assert.equal(refusal.status, 503);
    assert.match(refusal.body.error!.message, /forward: the forward buffer is full \(\d+ of 1048576 bytes used/);
    assert.ok(accepted > 5, `some batches went into the buffer first (${accepted})`);

    // A 503 carries the details inside `error`, as every error does.
    const ready = await api<{ error: { problems: string[]; forward: { full: boolean; state: string; pendingBatches: number } } }>(site.url, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body.error.problems.join('\n'), /forward: the forward buffer is full/);
    assert.equal(ready.body.error.forward.full, true);
    assert.equal(ready.body.error.forward.state, 'retrying');
    assert.ok((await metric(site.url, /^rexmon_forward_buffer_full_total\{kind="samples"\} (\d+)/m)) > 0);
    assert.ok((await metric(site.url, /^rexmon_forward_retries_total (\d+)/m)) > 0);
    assert.ok((await metric(site.url, /^rexmon_forward_buffer_bytes (\d+)/m)) > 900 * 1024);

    const ev = await api(site.url, '/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'fwd_full', source: 'test', data: { k: 1 } }) });
    // Events are journalled and queued (202); their store, in whose transaction forwarding runs, waits and
    // retries while the buffer is full: not stored locally yet, and not lost.
    assert.equal(ev.status, 202);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await api<{ data: unknown[] }>(site.url, '/api/v1/events?type=fwd_full')).body.data.length, 0, 'not stored while the forward buffer is full');

    // The receiver comes up where the site looks for it: the buffer drains and input is taken again.
    central = await startCollector({ http: { listen: `127.0.0.1:${port}` }, auth: { anonymousWrite: true }, rrd: fine, pipeline: { flushInterval: 0 } });
    await waitFor(
      'the buffer drained',
      async () => {
        const r = await api<{ forward: { pendingBatches: number } }>(site.url, '/readyz');
        return r.status === 200 && r.body.forward.pendingBatches === 0;
      },
      60000,
    );
    const late = await api(site.url, '/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'fwd_full', source: 'test', data: { k: 2 } }) });
    assert.equal(late.status, 202);
    await site.collector.events.drain(30_000);
    await site.collector.pipeline.flush();
    await waitFor('the last batches forwarded', async () => site.collector.forwarder!.status().pendingBatches === 0, 30000);
    await central.collector.pipeline.flush();

    // Everything the site acknowledged is in the central archive, once.
    assert.equal(await metric(central.url, /^rexmon_samples_received_total\{source="forward"\} (\d+)/m), accepted * 1000);
    for (const n of [0, 499, 999]) {
      const got = await rrdFetch(
        path.join(central.dataDir, 'rrd', seriesFile('fwd_full', { n: String(n), site: 'full' })),
        'LAST',
        base - 1,
        base + accepted,
        1,
      );
      for (let round = 0; round < accepted; round++) assert.equal(got.get(base + round), round, `n=${n} round ${round}`);
    }
    const events = await api<{ data: { labels: { site: string }; data: { k: number } }[] }>(central.url, '/api/v1/events?type=fwd_full');
    assert.deepEqual(
      events.body.data.map((e) => [e.data.k, e.labels.site]),
      [
        [2, 'full'],
        [1, 'full'],
      ],
    );
  } finally {
    await site.stop();
    await central?.stop();
  }
});

test('events forwarded and then undone at the site (its store rolled back and retried) are stored once at the centre', async () => {
  // What a site killed between its forward buffer and its commit does after its journal replay, made to happen
  // here on purpose: a hook after forwarding fails the store's first transaction, the queue retries it.
  const port = await freePort();
  const central = await startCollector({ http: { listen: `127.0.0.1:${port}` }, auth: { anonymousWrite: true }, rrd: fine });
  const site = await startCollector({
    auth: { anonymousWrite: true },
    rrd: fine,
    forward: { url: `http://127.0.0.1:${port}`, labels: { site: 'undo' }, backoff: { min: 0.05, max: 0.2 } },
  });
  try {
    let failures = 0;
    site.collector.events.store.onInsert(async (_trx, events) => {
      if (events.some((e) => e.type === 'fwd_undo') && failures++ === 0) throw new Error('injected failure after forwarding');
    });
    const r = await api(site.url, '/api/v1/events', { method: 'POST', body: JSON.stringify([{ type: 'fwd_undo', source: 'test', data: { k: 1 } }]) });
    assert.equal(r.status, 202);
    await site.collector.events.drain(30_000);
    await waitFor('forwarded', async () => site.collector.forwarder!.status().pendingBatches === 0, 30000);
    assert.ok(failures >= 2, `the store was tried again (${failures})`);
    assert.equal((await api<{ data: unknown[] }>(site.url, '/api/v1/events?type=fwd_undo')).body.data.length, 1, 'once at the site');
    assert.equal(await metric(site.url, /^rexmon_forward_batches_sent_total (\d+)/m), 2, 'sent twice (the first append was not undone)');
    assert.equal((await api<{ data: unknown[] }>(central.url, '/api/v1/events?type=fwd_undo')).body.data.length, 1, 'once at the centre');
  } finally {
    await site.stop();
    await central.stop();
  }
});

test('a receiver that refuses the token: counted as refused, state "refused" in /readyz, nothing dropped', async () => {
  const central = await startCollector({ auth: { tokens } });
  const { dir } = { dir: central.dataDir };
  const tokenFile = path.join(dir, 'wrong.token');
  writeFileSync(tokenFile, 'not-the-right-token\n');
  const site = await startCollector({ auth: { anonymousWrite: true }, forward: { url: central.url, tokenFile, backoff: { min: 0.05, max: 0.1 } } });
  try {
    const r = await api(site.url, '/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'fwd_tok', source: 'test' }) });
    assert.equal(r.status, 202);
    await site.collector.events.drain(30_000);
    const st = await waitFor('refused', async () => {
      const s = site.collector.forwarder!.status();
      return s.state === 'refused' && s;
    });
    assert.match(st.lastError!, /answered 401: unknown or revoked API token/);
    assert.doesNotMatch(st.lastError!, /not-the-right-token/);
    assert.equal(st.pendingBatches, 1, 'the batch stays');
    assert.ok((await metric(site.url, /^rexmon_forward_refused_total\{status="401"\} (\d+)/m)) >= 1);
    const ready = await api<{ status: string; forward: { state: string } }>(site.url, '/readyz');
    assert.equal(ready.body.status, 'ready', 'the site still stores its own input');
    assert.equal(ready.body.forward.state, 'refused');
  } finally {
    await site.stop();
    await central.stop();
  }
});

test('three tiers, site → region → central: the middle collector passes forwarded samples and events on, each tier adding its label', async () => {
  const central = await startCollector({ auth: { anonymousWrite: true }, rrd: fine, pipeline: { flushInterval: 0 } });
  const region = await startCollector({
    auth: { anonymousWrite: true },
    rrd: fine,
    pipeline: { flushInterval: 0 },
    forward: { url: central.url, labels: { region: 'r1', site: 'not-this' }, backoff: { min: 0.05, max: 0.2 } },
  });
  const site = await startCollector({
    auth: { anonymousWrite: true },
    rrd: fine,
    pipeline: { flushInterval: 0 },
    forward: { url: region.url, labels: { site: 'a' }, backoff: { min: 0.05, max: 0.2 } },
  });
  try {
    const t = Math.floor(Date.now() / 1000) - 100;
    const samples = Array.from({ length: 10 }, (_, i) => ({ name: 'fwd_chain', labels: { n: '1' }, value: i * 2, time: t + i }));
    assert.equal((await api(site.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) })).status, 202);
    assert.equal(
      (await api(site.url, '/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'fwd_chain', source: 'a', data: { k: 7 } }) })).status,
      202,
    );
    for (const c of [site, region]) {
      await c.collector.events.drain(30_000);
      await c.collector.pipeline.flush();
      await waitFor('forwarded', async () => c.collector.forwarder!.status().pendingBatches === 0 && c.collector.pipeline.depth().forward === 0, 30000);
      await c.collector.pipeline.flush();
      await waitFor('forwarded', async () => c.collector.forwarder!.status().pendingBatches === 0, 30000);
    }
    await central.collector.pipeline.flush();
    const labels = { n: '1', region: 'r1', site: 'a' };
    const got = await rrdFetch(path.join(central.dataDir, 'rrd', seriesFile('fwd_chain', labels)), 'LAST', t - 1, t + 9, 1);
    assert.deepEqual(
      Array.from({ length: 10 }, (_, i) => got.get(t + i)),
      samples.map((s) => s.value),
    );
    const series = await api<{ data: { labels: object }[] }>(central.url, '/api/v1/series?match=fwd_chain');
    assert.deepEqual(
      series.body.data.map((s) => s.labels),
      [labels],
      'the site label from the first tier is kept, the region label added by the second',
    );
    const events = await api<{ data: { labels: object; data: { k: number } }[] }>(central.url, '/api/v1/events?type=fwd_chain');
    assert.deepEqual(
      events.body.data.map((e) => [e.data.k, e.labels]),
      [[7, { region: 'r1', site: 'a' }]],
    );
  } finally {
    await site.stop();
    await region.stop();
    await central.stop();
  }
});
