// The Graphite TCP listener at its limits: stopping with connections open, and more connections than allowed.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { api, rrdFetch, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';

const base = Math.floor(Date.now() / 1000 / 60) * 60 - 4 * 3600;

function connect(c: TestCollector): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(c.graphiteTcp!, () => resolve(s));
    s.once('error', reject);
  });
}
const closed = (s: net.Socket) => new Promise<number>((r) => s.once('close', () => r(Date.now())));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fileOf(c: TestCollector, name: string): string {
  const e = c.collector.catalog.find([{ matchers: [], text: '' }]).find((x) => x.name === name);
  assert.ok(e, `${name} in the catalog`);
  return e.file;
}

test(
  'stop: idle connections are closed at once, a busy one drains for drainTimeout, then it is cut; what was read is written',
  { timeout: 30000 },
  async () => {
    const t = await tempDir();
    const c = await startCollector({ graphite: { tcp: '127.0.0.1:0', udp: false, drainTimeout: 1.5 } }, t.dir);
    const editor = await createToken(c.collector.db, 'e', 'editor');
    const idle = await connect(c);
    idle.on('error', () => {});
    idle.write(`idle.metric 7 ${base}\n`);
    const busy = await connect(c);
    busy.on('error', () => {});
    let sent = 0;
    const timer = setInterval(() => {
      if (!busy.destroyed) busy.write(`busy.metric ${sent} ${base + sent++ * 60}\n`);
    }, 20);
    await sleep(600);
    const sentBeforeStop = sent;
    await sleep(100); // those lines are read
    const [idleClosed, busyClosed] = [closed(idle), closed(busy)];
    const t0 = Date.now();
    const stopped = c.collector.stop();
    await sleep(300);
    const ready = await fetch(`${c.url}/readyz`);
    assert.equal(ready.status, 503);
    const refused = await api(c.url, '/api/v1/samples', { method: 'POST', token: editor, body: JSON.stringify([{ name: 'late', value: 1 }]) });
    assert.equal(refused.status, 503);
    assert.match(refused.body.error!.message, /shutting down/);
    await stopped;
    clearInterval(timer);
    const elapsed = Date.now() - t0;
    assert.ok((await idleClosed) - t0 < 1000, 'the idle connection was closed at once');
    const busyAt = (await busyClosed) - t0;
    assert.ok(busyAt >= 1400 && busyAt < 3000, `the busy connection was cut after the drain: ${busyAt} ms`);
    assert.ok(elapsed < 5000, `stop took ${elapsed} ms`);

    const idleValues = await rrdFetch(fileOf(c, 'idle.metric'), 'AVERAGE', base - 60, base);
    assert.equal(idleValues.get(base), 7);
    const busyValues = await rrdFetch(fileOf(c, 'busy.metric'), 'AVERAGE', base - 60, base + sentBeforeStop * 60);
    for (let i = 0; i < sentBeforeStop; i++) assert.equal(busyValues.get(base + i * 60), i, `busy line ${i} written`);
    await t.cleanup();
  },
);

test('connections beyond graphite.maxConnections are refused and counted; the others deliver every line', { timeout: 30000 }, async () => {
  const c = await startCollector({ graphite: { tcp: '127.0.0.1:0', udp: false, maxConnections: 5 } });
  try {
    const editor = await createToken(c.collector.db, 'e', 'editor');
    const socks = await Promise.all([0, 1, 2, 3, 4].map(() => connect(c)));
    socks.forEach((s, i) => s.write(`conn.metric;conn=c${i} 1 ${base}\n`));
    const sixth = await connect(c).catch((e: Error) => e);
    if (sixth instanceof net.Socket) {
      sixth.on('error', () => {});
      await waitFor('the sixth connection closed by the server', async () => sixth.destroyed || sixth.readableEnded, 3000);
      sixth.destroy();
    }
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    assert.match(metrics, /^rexmon_connections_refused_total\{listener="graphite_tcp"\} 1$/m);
    await Promise.all(
      socks.map(
        (s, i) =>
          new Promise<void>((r) => {
            s.on('close', () => r());
            s.end(`conn.metric;conn=c${i} 2 ${base + 60}\nconn.metric;conn=c${i} 3 ${base + 120}\n`);
          }),
      ),
    );
    await api(c.url, '/api/v1/admin/flush', { method: 'POST', token: editor });
    const entries = c.collector.catalog.find([{ matchers: [], text: '' }]).filter((e) => e.name === 'conn.metric');
    assert.equal(entries.length, 5);
    for (const e of entries) {
      const v = await rrdFetch(e.file, 'AVERAGE', base - 60, base + 120);
      assert.deepEqual(
        [base, base + 60, base + 120].map((x) => v.get(x)),
        [1, 2, 3],
        e.key,
      );
    }
  } finally {
    await c.stop();
  }
});
