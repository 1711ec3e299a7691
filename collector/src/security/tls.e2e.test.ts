// TLS on the Graphite and syslog TCP listeners and the HTTP API, with certificates made by openssl in the test,
// real TLS clients (node tls, openssl s_client, curl), and the certificate re-read on SIGHUP by a real process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../config/schema.js';
import { alive, freePort, run, startCollector, tempDir, TestCollector, waitFor } from '../testing/harness.js';
import { makePki, metricValue, Pki } from '../testing/pki.js';
import { exposureWarnings } from './exposure.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/rexmon.js');
const now = () => Math.floor(Date.now() / 1000);

/** Connects with node's TLS client, sends `data`, ends; resolves with the server certificate's fingerprint or the error. */
function tlsSend(port: number, opts: tls.ConnectionOptions, data = ''): Promise<{ fingerprint?: string; error?: string; authorized?: boolean }> {
  return new Promise((resolve) => {
    let fingerprint: string | undefined;
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...opts }, () => {
      fingerprint = s.getPeerCertificate().fingerprint256;
      s.end(data);
    });
    s.on('data', () => {});
    s.on('error', (e) => resolve({ fingerprint, error: e.message }));
    s.on('close', () => resolve({ fingerprint }));
  });
}

/** GET over HTTPS trusting `ca`. */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

async function fingerprintOf(file: string): Promise<string> {
  return new crypto.X509Certificate(await readFile(file)).fingerprint256;
}

const inCatalog = (c: TestCollector, name: string) => c.collector.catalog.find([{ matchers: [], text: '' }]).some((e) => e.name === name);
const metrics = async (c: TestCollector) => c.collector.metrics.registry.metrics();

let pki: Pki;
test.before(async () => {
  const t = await tempDir('rexmon-pki-');
  pki = await makePki(t.dir);
});

test(
  'Graphite over TLS, client certificates optional: none or a trusted one is taken, an untrusted one and plaintext are refused and counted',
  { timeout: 60000 },
  async () => {
    const c = await startCollector({
      graphite: { tcp: '127.0.0.1:0', udp: false, tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, clientCerts: 'optional' } },
    });
    try {
      const port = c.graphiteTcp!.port;
      const ca = await readFile(pki.ca);
      const ts = now() - 120;
      // Untrusted client certificate first: its line must never arrive, although the trusted ones after it do.
      const rogue = await tlsSend(port, { ca, cert: await readFile(pki.rogue.cert), key: await readFile(pki.rogue.key) }, `tls.rogue 1 ${ts}\n`);
      assert.equal(rogue.fingerprint, await fingerprintOf(pki.server.cert), 'the handshake itself succeeds (the certificate is optional)');
      // Plaintext to the TLS port is a failed handshake.
      await new Promise<void>((resolve) => {
        const s = net.createConnection({ host: '127.0.0.1', port }, () => s.end(`tls.plain 1 ${ts}\n`));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
      const none = await tlsSend(port, { ca }, `tls.nocert 1 ${ts}\n`);
      assert.equal(none.error, undefined);
      const withCert = await tlsSend(port, { ca, cert: await readFile(pki.client.cert), key: await readFile(pki.client.key) }, `tls.withcert 2 ${ts}\n`);
      assert.equal(withCert.error, undefined);
      // openssl s_client, verifying the server against the CA, as a shell slurper would send through it.
      await run('sh', [
        '-c',
        `printf 'tls.openssl 3 ${ts}\\n' | openssl s_client -quiet -no_ign_eof -verify_return_error -CAfile ${pki.ca} -connect 127.0.0.1:${port} -servername localhost`,
      ]);
      await waitFor('the three trusted senders in the catalog', async () => ['tls.nocert', 'tls.withcert', 'tls.openssl'].every((n) => inCatalog(c, n)));
      const m = await metrics(c);
      assert.equal(metricValue(m, 'rexmon_ingest_refused_total', { listener: 'graphite_tcp', reason: 'client_cert' }), 1);
      await waitFor(
        'the plaintext refusal counted',
        async () => metricValue(await metrics(c), 'rexmon_ingest_refused_total', { listener: 'graphite_tcp', reason: 'tls_handshake' }) >= 1,
      );
      assert.equal(inCatalog(c, 'tls.rogue'), false, 'nothing read from the untrusted certificate');
      assert.equal(inCatalog(c, 'tls.plain'), false, 'nothing read from plaintext');
    } finally {
      await c.stop();
    }
  },
);

test(
  'Graphite and syslog over TLS, client certificates required: without one the handshake fails (counted); with one openssl s_client sends',
  { timeout: 60000 },
  async () => {
    const tlsCfg = { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, clientCerts: 'required' };
    const c = await startCollector({
      graphite: { tcp: '127.0.0.1:0', udp: false, tls: tlsCfg },
      syslog: { tcp: '127.0.0.1:0', tls: tlsCfg },
    });
    try {
      const port = c.graphiteTcp!.port;
      const ca = await readFile(pki.ca);
      const ts = now() - 120;
      const refused = await tlsSend(port, { ca }, `tls.required.nocert 1 ${ts}\n`);
      assert.ok(refused.error, 'the client sees the refusal');
      await run('sh', [
        '-c',
        `printf 'tls.required.cert 1 ${ts}\\n' | openssl s_client -quiet -no_ign_eof -verify_return_error -CAfile ${pki.ca} -cert ${pki.client.cert} -key ${pki.client.key} -connect 127.0.0.1:${port}`,
      ]);
      await waitFor('the sender with a certificate in the catalog', async () => inCatalog(c, 'tls.required.cert'));
      assert.equal(inCatalog(c, 'tls.required.nocert'), false);
      assert.ok(metricValue(await metrics(c), 'rexmon_ingest_refused_total', { listener: 'graphite_tcp', reason: 'tls_handshake' }) >= 1);

      // Syslog: an octet-counted RFC 5424 frame through TLS with the client certificate.
      const sysPort = Number(c.collector.addresses.syslogTcp!.split(':').pop());
      const msg = `<14>1 ${new Date().toISOString()} host1 app - - - hello over tls`;
      const sent = await tlsSend(
        sysPort,
        { ca, cert: await readFile(pki.client.cert), key: await readFile(pki.client.key) },
        `${Buffer.byteLength(msg)} ${msg}`,
      );
      assert.equal(sent.error, undefined);
      await waitFor('the syslog message read', async () => metricValue(await metrics(c), 'rexmon_syslog_messages_total', { listener: 'syslog_tcp' }) === 1);
      const none = await tlsSend(sysPort, { ca }, `${Buffer.byteLength(msg)} ${msg}`);
      assert.ok(none.error);
      await waitFor(
        'the syslog refusal counted',
        async () => metricValue(await metrics(c), 'rexmon_ingest_refused_total', { listener: 'syslog_tcp', reason: 'tls_handshake' }) >= 1,
      );
      assert.equal(metricValue(await metrics(c), 'rexmon_syslog_messages_total', { listener: 'syslog_tcp' }), 1);
    } finally {
      await c.stop();
    }
  },
);

test('a TLS listener checks the allow-list before the handshake: refused as not_allowed, never as a failed handshake', { timeout: 30000 }, async () => {
  const c = await startCollector({ graphite: { tcp: '127.0.0.1:0', udp: false, allow: ['10.0.0.0/8'], tls: { cert: pki.server.cert, key: pki.server.key } } });
  try {
    const ca = await readFile(pki.ca);
    for (let i = 0; i < 3; i++) {
      const r = await tlsSend(c.graphiteTcp!.port, { ca }, `tls.notallowed 1 ${now() - 120}\n`);
      assert.equal(r.fingerprint, undefined, 'no certificate is shown to a refused address');
    }
    await waitFor(
      'three refusals',
      async () => metricValue(await metrics(c), 'rexmon_ingest_refused_total', { listener: 'graphite_tcp', reason: 'not_allowed' }) === 3,
    );
    assert.equal(metricValue(await metrics(c), 'rexmon_ingest_refused_total', { listener: 'graphite_tcp', reason: 'tls_handshake' }), 0);
    assert.equal(inCatalog(c, 'tls.notallowed'), false);
  } finally {
    await c.stop();
  }
});

test('HTTPS API: curl with the CA gets answers, curl without it and plain HTTP do not', { timeout: 60000 }, async () => {
  const c = await startCollector({ http: { listen: '127.0.0.1:0', tls: { cert: pki.server.cert, key: pki.server.key } } });
  try {
    assert.match(c.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { stdout } = await run('curl', ['-sS', '--cacert', pki.ca, `${c.url}/healthz`]);
    assert.deepEqual(JSON.parse(stdout), { status: 'ok' });
    const untrusted = await run('curl', ['-sS', `${c.url}/healthz`]).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    assert.equal(untrusted, 60, 'curl: peer certificate cannot be authenticated');
    const plain = await fetch(c.url.replace('https:', 'http:') + '/healthz').then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
    const r = await httpsGet(`${c.url}/api/v1/status`, await readFile(pki.ca));
    assert.equal(r.status, 200);
  } finally {
    await c.stop();
  }
});

test(
  'SIGHUP re-reads the certificates of a running collector: new connections get the new one; an unusable file keeps the old',
  { timeout: 90000 },
  async () => {
    const t = await tempDir();
    try {
      // The collector reads these paths; the test replaces their contents.
      const cert = path.join(t.dir, 'live.pem');
      const key = path.join(t.dir, 'live.key');
      await copyFile(pki.server.cert, cert);
      await copyFile(pki.server.key, key);
      const [httpPort, gPort] = [await freePort(), await freePort()];
      const cfg = path.join(t.dir, 'rexmon.yaml');
      await writeFile(
        cfg,
        [
          `dataDir: ${t.dir}/data`,
          `http: {listen: '127.0.0.1:${httpPort}', tls: {cert: '${cert}', key: '${key}'}}`,
          `graphite: {tcp: '127.0.0.1:${gPort}', udp: false, tls: {cert: '${cert}', key: '${key}'}}`,
          'slurpers: []',
          'log: {level: info, format: json}',
        ].join('\n'),
      );
      const child = spawn('node', [BIN, 'start', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      try {
        const ca = await readFile(pki.ca);
        const first = await fingerprintOf(pki.server.cert);
        const second = await fingerprintOf(pki.server2.cert);
        await waitFor(
          'HTTPS up',
          () =>
            httpsGet(`https://127.0.0.1:${httpPort}/readyz`, ca).then(
              (r) => r.status === 200,
              () => false,
            ),
          30000,
        );
        assert.equal((await tlsSend(gPort, { ca })).fingerprint, first);
        assert.equal((await tlsSend(httpPort, { ca })).fingerprint, first);

        await copyFile(pki.server2.cert, cert);
        await copyFile(pki.server2.key, key);
        assert.equal((await tlsSend(gPort, { ca })).fingerprint, first, 'nothing changes before the signal');
        process.kill(child.pid!, 'SIGHUP');
        await waitFor('the new certificate on the Graphite port', async () => (await tlsSend(gPort, { ca })).fingerprint === second);
        assert.equal((await tlsSend(httpPort, { ca })).fingerprint, second, 'and on the HTTPS port');

        await writeFile(cert, 'not a certificate\n');
        process.kill(child.pid!, 'SIGHUP');
        await waitFor('the failed reload logged', async () => out.includes('the old certificate stays in use'));
        assert.match(out, /http\.tls: the certificate, key or CA is not usable/);
        assert.equal((await tlsSend(gPort, { ca })).fingerprint, second, 'the old certificate still served');
        assert.ok(alive(child.pid!), 'a bad file on reload does not stop the collector');
        assert.equal((await httpsGet(`https://127.0.0.1:${httpPort}/healthz`, ca)).status, 200);
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    } finally {
      await t.cleanup();
    }
  },
);

test('bad TLS config: a missing file names its key at start; clientCerts without a CA is a config error', { timeout: 30000 }, async () => {
  await assert.rejects(
    startCollector({ graphite: { tcp: '127.0.0.1:0', udp: false, tls: { cert: '/nonexistent/cert.pem', key: pki.server.key } } }),
    /graphite\.tls\.cert: cannot read \/nonexistent\/cert\.pem/,
  );
  await assert.rejects(
    startCollector({ http: { listen: '127.0.0.1:0', tls: { cert: pki.server.key, key: pki.server.key } } }),
    /http\.tls: the certificate, key or CA is not usable/,
  );
  const r = configSchema.safeParse({ syslog: { tcp: '127.0.0.1:0', tls: { cert: 'a', key: 'b', clientCerts: 'optional' } } });
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues[0].path, ['syslog', 'tls', 'ca']);
  assert.match(r.error!.issues[0].message, /required when clientCerts is optional/);
});

test('start warnings: HTTP beyond loopback without TLS warns (louder without auth); loopback or TLS does not', () => {
  const cfg = (o: object) => configSchema.parse(o);
  assert.deepEqual(exposureWarnings(cfg({}), true), []);
  const open = exposureWarnings(cfg({ http: { listen: '0.0.0.0:8080' }, auth: { anonymousRead: true } }), true);
  assert.equal(open.length, 1);
  assert.match(open[0], /0\.0\.0\.0:8080 without TLS and without auth/);
  const tokens = exposureWarnings(cfg({ http: { listen: '192.0.2.1:8080' } }), false);
  assert.match(tokens[0], /without TLS: API tokens and data cross the network in clear text/);
  assert.deepEqual(exposureWarnings(cfg({ http: { listen: '0.0.0.0:8080', tls: { cert: 'c', key: 'k' } } }), false), []);
  const g = exposureWarnings(cfg({ graphite: { tcp: '0.0.0.0:2003', udp: false } }), true);
  assert.deepEqual(g, ["graphite listens on 0.0.0.0:2003 but takes senders from loopback only: set graphite.allow to the senders' CIDR ranges"]);
  assert.deepEqual(exposureWarnings(cfg({ graphite: { tcp: '0.0.0.0:2003', allow: ['10.0.0.0/8'] } }), true), []);
});
