// Bad syslog frames sent to a real collector, over one TCP connection that stays open and in UDP datagrams:
// each class is refused alone and counted by reason, and the messages around it are stored (read back
// through the API). Also the connection limit and the drain at stop.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import { api, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';

type Ev = { labels: Record<string, string>; data: Record<string, string | number> };

const addr = (c: TestCollector, which: 'syslogTcp' | 'syslogUdp') => {
  const a = c.collector.addresses[which]!;
  return { host: '127.0.0.1', port: Number(a.slice(a.lastIndexOf(':') + 1)) };
};
function connect(c: TestCollector): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(addr(c, 'syslogTcp'), () => resolve(s));
    s.once('error', reject);
  });
}
async function messages(c: TestCollector, app: string): Promise<string[]> {
  const r = await api<{ data: Ev[] }>(c.url, `/api/v1/events?type=syslog&from=2020-01-01T00:00:00Z&limit=10000&match=${encodeURIComponent(`{app="${app}"}`)}`);
  assert.equal(r.status, 200);
  return r.body.data.map((e) => String(e.data.message)).reverse();
}
async function counters(c: TestCollector, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^rexmon_syslog_${name}_total\\{([^}]*)\\} (\\d+)$`, 'gm'))) out[m[1]] = Number(m[2]);
  return out;
}
const oc = (m: string | Buffer) => Buffer.concat([Buffer.from(`${Buffer.byteLength(m)} `), Buffer.from(m)]);
const ok = (i: number) => `<14>1 - h good - - - message ${i}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('TCP: every bad-frame class refused alone on one connection that stays open; the frames between are stored', { timeout: 30000 }, async () => {
  const c = await startCollector({ graphite: { tcp: false, udp: false }, syslog: { tcp: '127.0.0.1:0', maxMessageSize: 1024 } });
  try {
    const s = await connect(c);
    const bad: Buffer[] = [
      Buffer.from(`${Buffer.byteLength(ok(0)) + 7} ${ok(0)}`.replace('message 0', 'too long')), // octet count too long
      Buffer.from(`30 ${ok(0).replace('message 0', 'count too short')}`), // octet count too short
      oc('<14>1 - h good - - - ' + 'x'.repeat(2000)), // oversize, octet-counted
      Buffer.from('<14>1 - h good - - - ' + 'y'.repeat(2000) + '\n'), // oversize, LF-framed
      oc(Buffer.concat([Buffer.from('<14>1 - h good - - - bad '), Buffer.from([0xc3, 0x28]), Buffer.from(' utf8')])), // invalid UTF-8
      oc('<14>1 - h good'), // missing fields (octet-counted)
      Buffer.from('just some text without a header\n'), // missing fields (LF-framed)
      oc('<14>1 2026-99-99T00:00:00Z h good - - - bad time'), // malformed
    ];
    // good, bad, good, bad, … good — both framings for the good ones (LF-framed at even places). Text right after
    // an octet-counted frame that starts no frame means a count that was too short, so the LF-framed line without
    // a header follows a LF-framed frame.
    const parts: Buffer[] = [];
    bad.forEach((b, i) => parts.push(i % 2 ? oc(ok(i)) : Buffer.from(ok(i) + '\n'), b));
    parts.push(oc(ok(bad.length)));
    for (const p of parts) {
      s.write(p);
      await sleep(5);
    }
    const want = bad.map((_, i) => `message ${i}`).concat(`message ${bad.length}`);
    await waitFor('the good messages', async () => (await messages(c, 'good')).length >= want.length);
    assert.deepEqual(await messages(c, 'good'), want);
    assert.deepEqual(await counters(c, 'refused'), {
      'listener="syslog_tcp",reason="octet_count"': 2,
      'listener="syslog_tcp",reason="oversize"': 2,
      'listener="syslog_tcp",reason="invalid_utf8"': 1,
      'listener="syslog_tcp",reason="missing_fields"': 2,
      'listener="syslog_tcp",reason="malformed"': 1,
    });
    assert.equal(s.destroyed, false, 'the connection is still open');
    // …and still carries messages.
    s.write(oc(ok(99)));
    await waitFor('one more', async () => (await messages(c, 'good')).includes('message 99'));
    s.destroy();
  } finally {
    await c.stop();
  }
});

test('UDP: a bad datagram is refused alone, the others are stored', { timeout: 30000 }, async () => {
  const c = await startCollector({ graphite: { tcp: false, udp: false }, syslog: { udp: '127.0.0.1:0', maxMessageSize: 1024 } });
  const sock = dgram.createSocket('udp4');
  try {
    const { host, port } = addr(c, 'syslogUdp');
    const send = (b: Buffer | string) => new Promise<void>((r, j) => sock.send(b, port, host, (e) => (e ? j(e) : r())));
    await send(ok(0));
    await send('<14>1 - h good - - - ' + 'x'.repeat(2000));
    await send(ok(1) + '\n');
    await send(Buffer.concat([Buffer.from('<14>1 - h good - - - '), Buffer.from([0xff, 0xfe])]));
    await send('<14>Dec  1 10:00:00');
    await send('<14>Dec  1 10:00:00 h good: message 2');
    await waitFor('3 messages', async () => (await messages(c, 'good')).length >= 3);
    assert.deepEqual((await messages(c, 'good')).sort(), ['message 0', 'message 1', 'message 2']);
    assert.deepEqual(await counters(c, 'refused'), {
      'listener="syslog_udp",reason="oversize"': 1,
      'listener="syslog_udp",reason="invalid_utf8"': 1,
      'listener="syslog_udp",reason="malformed"': 1,
    });
  } finally {
    sock.close();
    await c.stop();
  }
});

test('connections beyond syslog.maxConnections are refused and counted; at stop, what was read is stored', { timeout: 30000 }, async () => {
  const t = await tempDir();
  const c = await startCollector({ graphite: { tcp: false, udp: false }, syslog: { tcp: '127.0.0.1:0', maxConnections: 2, drainTimeout: 1 } }, t.dir);
  const a = await connect(c);
  const b = await connect(c);
  const third = await connect(c);
  const refused = await new Promise<boolean>((r) => {
    third.once('close', () => r(true));
    setTimeout(() => r(false), 3000);
  });
  assert.ok(refused, 'the third connection is closed by the collector');
  const text = await (await fetch(`${c.url}/metrics`)).text();
  assert.match(text, /rexmon_connections_refused_total\{listener="syslog_tcp"\} 1/);
  // A busy sender at stop: every frame read before the cut is stored (checked in the database after stop).
  let i = 0;
  a.on('error', () => {});
  const timer = setInterval(() => a.writable && a.write(oc(`<14>1 - h busy - - - m${i++}`)), 10);
  b.end(oc('<14>1 - h idle - - - last words'));
  await sleep(300);
  await c.collector.stop();
  clearInterval(timer);
  // Read back by a fresh collector on the same data directory: the events were in the database before stop returned.
  const again = await startCollector({ graphite: { tcp: false, udp: false } }, c.dataDir);
  try {
    const busy = await messages(again, 'busy');
    assert.ok(busy.length > 10, `busy messages stored: ${busy.length}`);
    assert.deepEqual(
      busy,
      busy.map((_, k) => `m${k}`),
      'a prefix of what was sent, none lost in the middle',
    );
    assert.deepEqual(await messages(again, 'idle'), ['last words']);
  } finally {
    await again.stop();
    await t.cleanup();
  }
});
