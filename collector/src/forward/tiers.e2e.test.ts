// Site collectors → central collector, each a real `rexmon start` child process on loopback with its own
// rrdcached and SQLite file. Under HTTP load (samples and events) the central collector is killed (SIGKILL
// by its PID, alone and with its rrdcached) and restarted, and a site is killed and restarted too. Afterwards
// every value a site holds is in the central archive (rrdtool fetch on its files), and every event exactly once.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hashToken } from '../auth/tokens.js';
import { seriesFile } from '../rrd/naming.js';
import { ChildCollector } from '../testing/child.js';
import { api, rrdFetch, tempDir, waitFor } from '../testing/harness.js';

const TOKEN = 'forward-secret-7f3a9c1e';
const SERIES = 20;
// 1-second rows: each value sits in its own row and can be checked exactly.
const FINE = 'rrd: {templates: {fine: {step: 1, heartbeat: 5, rras: [{cf: [LAST], steps: 1, rows: 4000}]}}, defaultTemplate: fine, minFreeBytes: 0}';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function central(dir: string): Promise<ChildCollector> {
  mkdirSync(dir, { recursive: true });
  return ChildCollector.create(dir, [`auth: {tokens: [{name: sites, role: editor, sha256: ${hashToken(TOKEN)}}]}`, FINE, 'wal: {checkpointInterval: 1}']);
}

async function site(dir: string, name: string, to: ChildCollector): Promise<ChildCollector> {
  mkdirSync(dir, { recursive: true });
  const tokenFile = path.join(dir, 'forward.token');
  writeFileSync(tokenFile, TOKEN + '\n');
  return ChildCollector.create(dir, [
    'auth: {anonymousWrite: true}',
    FINE,
    'wal: {checkpointInterval: 1}',
    `forward: {url: "${to.url}", tokenFile: ${JSON.stringify(tokenFile)}, name: ${name}, labels: {site: ${name}}, backoff: {min: 0.1, max: 1}}`,
  ]);
}

/** HTTP load on one site: a round of SERIES samples one second apart (resent until acknowledged), and events numbered k. */
class Load {
  round = 0;
  k = 0;
  readonly ackedEvents = new Set<number>();
  private stopped = false;
  private done?: Promise<unknown>;
  constructor(
    private readonly c: ChildCollector,
    readonly name: string,
    readonly base: number,
  ) {}

  start() {
    this.done = Promise.all([this.samples(), this.events()]);
  }

  private async samples() {
    while (!this.stopped) {
      const t = this.base + this.round + 1;
      const body = Array.from({ length: SERIES }, (_, n) => ({ name: 'fwd_tier', labels: { n: String(n) }, value: n * 10000 + this.round + 1, time: t }));
      try {
        const r = await fetch(`${this.c.url}/api/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        await r.text();
        if (r.status === 202) this.round++;
        else await sleep(20);
      } catch {
        await sleep(20); // the site is down: keep trying
      }
    }
  }

  private async events() {
    while (!this.stopped) {
      // A new k each time, acknowledged or not: a resent event would be a second event at the site itself.
      const k = ++this.k;
      try {
        const r = await fetch(`${this.c.url}/api/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'fwd_tier', source: this.name, data: { k } }),
        });
        await r.text();
        if (r.status === 202) this.ackedEvents.add(k);
      } catch {
        /* down */
      }
      await sleep(15);
    }
  }

  async stop() {
    this.stopped = true;
    await this.done;
  }
}

/** Waits until the site has handed everything it accepted to the central collector. */
async function drained(s: ChildCollector) {
  assert.equal((await api(s.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
  let last: unknown;
  try {
    await waitFor(
      `${s.url} forwarded everything`,
      async () => {
        const r = await api<{ forward?: { pendingBatches: number } }>(s.url, '/readyz');
        last = r.body;
        return r.status === 200 && r.body.forward?.pendingBatches === 0;
      },
      120000,
    );
  } catch (e) {
    const log = s.output.split('\n').filter((l) => /forward|write-ahead|error/i.test(l));
    throw new Error(`${(e as Error).message}; /readyz: ${JSON.stringify(last)}; log: ${log.slice(-15).join('\n')}`);
  }
}

/** Every value the site stored is in the central archive under the site's label, and no other. */
async function verifySamples(s: ChildCollector, c: ChildCollector, load: Load) {
  assert.ok(load.round > 50, `the load went on (${load.round} rounds at ${load.name})`);
  const wrong: string[] = [];
  for (let n = 0; n < SERIES; n++) {
    const mine = await rrdFetch(path.join(s.dir, 'data/rrd', seriesFile('fwd_tier', { n: String(n) })), 'LAST', load.base, load.base + load.round, 1);
    const theirs = await rrdFetch(
      path.join(c.dir, 'data/rrd', seriesFile('fwd_tier', { n: String(n), site: load.name })),
      'LAST',
      load.base,
      load.base + load.round,
      1,
    );
    for (let i = 1; i <= load.round; i++) {
      const t = load.base + i;
      // Every acknowledged round is at the site (the write-ahead log's promise), and so at the centre.
      if (mine.get(t) !== n * 10000 + i) wrong.push(`site ${load.name} n=${n} round ${i}: ${mine.get(t)}`);
      if (theirs.get(t) !== n * 10000 + i) wrong.push(`central n=${n} site=${load.name} round ${i}: ${theirs.get(t)}`);
    }
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} values missing or wrong`);
}

/** The central collector holds exactly the site's events, each once, with the site label. */
async function verifyEvents(s: ChildCollector, c: ChildCollector, load: Load) {
  const at = await api<{ data: { data: { k: number } }[] }>(s.url, `/api/v1/events?type=fwd_tier&source=${load.name}&limit=10000`);
  const central = await api<{ data: { labels: { site?: string }; data: { k: number } }[] }>(
    c.url,
    `/api/v1/events?type=fwd_tier&source=${load.name}&limit=10000`,
  );
  const ks = central.body.data.map((e) => e.data.k).sort((a, b) => a - b);
  const dup = ks.filter((k, i) => ks[i - 1] === k);
  assert.deepEqual(dup, [], 'no event twice at the centre');
  // What the site holds is at the centre, and nothing else: a site killed after an event went into its forward
  // buffer but before its own commit stores it from its journal and sends it again, under the same key.
  const site = new Set(at.body.data.map((e) => e.data.k));
  assert.deepEqual(
    [...site].filter((k) => !ks.includes(k)),
    [],
    'the centre holds what the site holds',
  );
  assert.deepEqual(
    ks.filter((k) => !site.has(k)),
    [],
    'the centre holds nothing the site does not',
  );
  const missing = [...load.ackedEvents].filter((k) => !ks.includes(k));
  assert.deepEqual(missing, [], 'every acknowledged event arrived');
  assert.ok(load.ackedEvents.size > 50, `events were sent (${load.ackedEvents.size})`);
  assert.ok(
    central.body.data.every((e) => e.labels.site === load.name),
    'events carry the site label',
  );
}

async function metric(url: string, re: RegExp): Promise<number> {
  const m = re.exec(await (await fetch(`${url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

test(
  'site → central: central SIGKILLed (alone, then with its rrdcached) and restarted, the site SIGKILLed and restarted, mid-stream: every value and event arrives once',
  { timeout: 300_000 },
  async () => {
    const { dir, cleanup } = await tempDir('rexmon-fwd2-');
    const c = await central(path.join(dir, 'central'));
    const s = await site(path.join(dir, 'site'), 's1', c);
    try {
      await c.start();
      await s.start();
      const load = new Load(s, 's1', Math.floor(Date.now() / 1000) - 3000);
      load.start();
      await sleep(1500);
      await c.kill();
      await sleep(1500); // the site buffers and retries meanwhile
      await c.start();
      await sleep(1500);
      await s.kill(); // the sender, mid-request or between
      await s.start();
      await sleep(1500);
      await c.kill(true);
      await c.start();
      await sleep(1000);
      assert.equal(await s.stop(), 0, 'a graceful stop of the site exits 0');
      await s.start();
      await sleep(1000);
      await load.stop();

      await drained(s);
      assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: TOKEN })).status, 200);
      await verifySamples(s, c, load);
      await verifyEvents(s, c, load);
      assert.ok((await metric(s.url, /^rexmon_forward_batches_sent_total (\d+)/m)) > 0);
      const dups = await metric(c.url, /^rexmon_forward_received_batches_total\{result="duplicate"\} (\d+)/m);
      console.error(`forward e2e: ${load.round} rounds, ${load.ackedEvents.size} events; central saw ${dups} repeated batch(es) since its last start`);
      assert.doesNotMatch(s.output + c.output, new RegExp(TOKEN), 'the token is never logged');
      assert.match(s.output, /cannot be reached/, 'the outage was logged at the site');
    } finally {
      await s.cleanup();
      await c.cleanup();
      await cleanup();
    }
  },
);

test('two sites → central, central SIGKILLed twice mid-stream: each site arrives complete under its own label', { timeout: 300_000 }, async () => {
  const { dir, cleanup } = await tempDir('rexmon-fwd3-');
  const c = await central(path.join(dir, 'central'));
  const s1 = await site(path.join(dir, 'site1'), 's1', c);
  const s2 = await site(path.join(dir, 'site2'), 's2', c);
  try {
    await c.start();
    await Promise.all([s1.start(), s2.start()]);
    const base = Math.floor(Date.now() / 1000) - 3000;
    const loads = [new Load(s1, 's1', base), new Load(s2, 's2', base)];
    loads.forEach((l) => l.start());
    await sleep(1500);
    await c.kill();
    await sleep(1000);
    await c.start();
    await sleep(1500);
    await c.kill(true);
    await sleep(500);
    await c.start();
    await sleep(1500);
    await Promise.all(loads.map((l) => l.stop()));

    await Promise.all([drained(s1), drained(s2)]);
    assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: TOKEN })).status, 200);
    for (const [s, l] of [
      [s1, loads[0]],
      [s2, loads[1]],
    ] as const) {
      await verifySamples(s, c, l);
      await verifyEvents(s, c, l);
    }
    const series = await api<{ data: { labels: { site: string } }[] }>(c.url, '/api/v1/series?match=fwd_tier');
    assert.equal(series.body.data.length, 2 * SERIES, 'one series per site and n at the centre');
  } finally {
    await Promise.all([s1.cleanup(), s2.cleanup()]);
    await c.cleanup();
    await cleanup();
  }
});
