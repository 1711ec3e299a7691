// CIDR allow-lists on the plaintext listeners (Graphite and syslog, TCP and UDP): checked per connection and per
// datagram, refusals counted in rexmon_ingest_refused_total; the default takes loopback only.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import { configSchema } from '../config/schema.js';
import { startCollector, TestCollector, waitFor } from '../testing/harness.js';
import { metricValue } from '../testing/pki.js';
import { AllowList, allowListFor } from './allow.js';

const ts = () => Math.floor(Date.now() / 1000) - 120;
const inCatalog = (c: TestCollector, name: string) => c.collector.catalog.find([{ matchers: [], text: '' }]).some((e) => e.name === name);
const refused = async (c: TestCollector, listener: string) =>
  metricValue(await c.collector.metrics.registry.metrics(), 'rexmon_ingest_refused_total', { listener, reason: 'not_allowed' });

/** Connects, writes, and resolves once the server side is gone (closed or reset). */
function tcpSend(port: number, data: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port }, () => s.end(data));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

function udpSend(port: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.send(data, port, '127.0.0.1', (e) => {
      s.close();
      if (e) reject(e);
      else resolve();
    });
  });
}

const port = (hostPort: string) => Number(hostPort.split(':').pop());

test(
  'allow only 10.0.0.0/8: connections and datagrams from 127.0.0.1 are refused per connection and per datagram, counted, nothing stored',
  { timeout: 30000 },
  async () => {
    const c = await startCollector({
      graphite: { tcp: '127.0.0.1:0', udp: '127.0.0.1:0', allow: ['10.0.0.0/8'] },
      syslog: { tcp: '127.0.0.1:0', udp: '127.0.0.1:0', allow: ['10.0.0.0/8'] },
    });
    try {
      const a = c.collector.addresses;
      for (let i = 0; i < 3; i++) await tcpSend(port(a.graphiteTcp!), `refused.tcp ${i} ${ts()}\n`);
      for (let i = 0; i < 4; i++) await udpSend(port(a.graphiteUdp!), `refused.udp ${i} ${ts()}\n`);
      const msg = `<14>1 ${new Date().toISOString()} host1 app - - - refused`;
      for (let i = 0; i < 2; i++) await tcpSend(port(a.syslogTcp!), `${msg.length} ${msg}`);
      for (let i = 0; i < 5; i++) await udpSend(port(a.syslogUdp!), msg);
      await waitFor(
        'every refusal counted',
        async () =>
          (await refused(c, 'graphite_tcp')) === 3 &&
          (await refused(c, 'graphite_udp')) === 4 &&
          (await refused(c, 'syslog_tcp')) === 2 &&
          (await refused(c, 'syslog_udp')) === 5,
      );
      await c.collector.pipeline.flush();
      assert.equal(c.collector.catalog.size, 0, 'no series from refused senders');
      const m = await c.collector.metrics.registry.metrics();
      assert.equal(metricValue(m, 'rexmon_syslog_messages_total'), 0, 'no syslog message read');
    } finally {
      await c.stop();
    }
  },
);

test('default (loopback) and an explicit list that includes 127.0.0.1 take input; nothing is counted as refused', { timeout: 30000 }, async () => {
  for (const allow of [undefined, ['10.0.0.0/8', '127.0.0.1']]) {
    const c = await startCollector({ graphite: { tcp: '127.0.0.1:0', udp: '127.0.0.1:0', ...(allow ? { allow } : {}) } });
    try {
      await tcpSend(c.graphiteTcp!.port, `allowed.tcp 1 ${ts()}\n`);
      await udpSend(c.graphiteUdp!.port, `allowed.udp 1 ${ts()}\n`);
      await waitFor('both in the catalog', async () => inCatalog(c, 'allowed.tcp') && inCatalog(c, 'allowed.udp'));
      assert.equal((await refused(c, 'graphite_tcp')) + (await refused(c, 'graphite_udp')), 0);
    } finally {
      await c.stop();
    }
  }
});

test('AllowList: ranges, single addresses, IPv6, IPv4 through a dual-stack socket; defaults', () => {
  const l = new AllowList(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
  assert.equal(l.allows('10.1.2.3'), true);
  assert.equal(l.allows('11.0.0.1'), false);
  assert.equal(l.allows('192.0.2.7'), true);
  assert.equal(l.allows('192.0.2.8'), false);
  assert.equal(l.allows('::ffff:10.9.9.9'), true);
  assert.equal(l.allows('2001:db8:1::5'), true);
  assert.equal(l.allows('2001:db9::1'), false);
  assert.equal(l.allows(undefined), false);
  const def = allowListFor({});
  assert.equal(def.allows('127.0.0.1'), true);
  assert.equal(def.allows('::1'), true);
  assert.equal(def.allows('10.0.0.1'), false);
  assert.equal(allowListFor({ tls: { clientCerts: 'required' } }).allows('203.0.113.9'), true, 'the client certificate identifies the sender');
  assert.equal(allowListFor({ tls: { clientCerts: 'optional' } }).allows('203.0.113.9'), false);
});

test('a bad CIDR range in the config is an error naming its path', () => {
  for (const [bad, why] of [
    ['10.0.0.0/33', /prefix length of "10.0.0.0\/33" must be 0 to 32/],
    ['10.0.0/8', /expected an address or CIDR range/],
    ['::1/129', /must be 0 to 128/],
  ] as const) {
    const r = configSchema.safeParse({ graphite: { allow: ['127.0.0.1', bad] } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0].path, ['graphite', 'allow', 1]);
    assert.match(r.error!.issues[0].message, why);
  }
});
