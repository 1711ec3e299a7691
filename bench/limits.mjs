#!/usr/bin/env node
// TLS and limits: what they cost. (1) Graphite through a real collector process, plaintext beside TLS: 100,000
// lines over 1,000 known series on one connection (time until all are accepted, rexmon_samples_received_total),
// and 200 connections one after another (one line each: connect, handshake, close). (2) The new-series check
// on every sample (SeriesLimiter.admit over a real SQLite catalog of 10,000 series), beside computing the
// series keys alone. Certificates are made with openssl. Usage: node bench/limits.mjs [--lines 100000] [--conns 200]
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Catalog } from '../collector/dist/catalog/catalog.js';
import { configSchema } from '../collector/dist/config/schema.js';
import { openDb } from '../collector/dist/db/index.js';
import { SeriesLimiter } from '../collector/dist/limits/series.js';
import { seriesKey } from '../collector/dist/model/series.js';
import { BIN, collectorEnv, freePort, sleep, stopAtExit, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { lines: { type: 'string', default: '100000' }, conns: { type: 'string', default: '200' } } });
const LINES = Number(opt.lines);
const CONNS = Number(opt.conns);
const SERIES = 1000;

const t = tmp('rexmon-bench-limits-');
const ossl = (...a) => execFileSync('openssl', a, { stdio: 'ignore' });
const pem = (n) => path.join(t.dir, n);
ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', pem('ca.key'), '-out', pem('ca.pem'), '-days', '2', '-subj', '/CN=bench-ca');
ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', pem('srv.key'), '-out', pem('srv.csr'), '-subj', '/CN=localhost');
writeFileSync(pem('srv.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
ossl('x509', '-req', '-in', pem('srv.csr'), '-CA', pem('ca.pem'), '-CAkey', pem('ca.key'), '-CAcreateserial', '-out', pem('srv.pem'), '-days', '2', '-extfile', pem('srv.ext'));
const ca = readFileSync(pem('ca.pem'));

async function collector(dir, useTls) {
  const [http, graphite] = [await freePort(), await freePort()];
  const cfg = path.join(dir, 'bench.yaml');
  const tlsYaml = useTls ? `\n  tls: {cert: ${pem('srv.pem')}, key: ${pem('srv.key')}}` : '';
  writeFileSync(cfg, `graphite:\n  tcp: 127.0.0.1:${graphite}\n  udp: false${tlsYaml}\nslurpers: []\nlog: {level: warn}\n`);
  const child = stopAtExit(spawn('node', [BIN, 'start', '--config', cfg, '--data-dir', dir, '--listen', `127.0.0.1:${http}`], { stdio: ['ignore', 'inherit', 'inherit'], env: collectorEnv() }));
  const url = `http://127.0.0.1:${http}`;
  for (let i = 0; !(await fetch(`${url}/readyz`).then((r) => r.ok, () => false)); i++) {
    if (i > 600) throw new Error('collector not ready after 30 s');
    await sleep(50);
  }
  const received = async () => {
    const m = /^rexmon_samples_received_total\{source="graphite_tcp"\} (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text());
    return m ? Number(m[1]) : 0;
  };
  return { port: graphite, received, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

function send(port, useTls, data) {
  return new Promise((resolve, reject) => {
    const s = useTls ? tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => s.end(data)) : net.createConnection({ host: '127.0.0.1', port }, () => s.end(data));
    s.on('error', reject);
    s.on('close', resolve);
  });
}

async function waitReceived(c, n) {
  while ((await c.received()) < n) await sleep(10);
}

async function measure(useTls) {
  const d = tmp('rexmon-bench-limits-c-');
  const c = await collector(d.dir, useTls);
  const base = Math.floor(Date.now() / 1000 / 60) * 60 - 86000;
  const batch = (round) => {
    const out = [];
    for (let i = 0; i < LINES; i++) out.push(`bench.h${i % SERIES}.load ${i} ${base + round * 3600 + Math.floor(i / SERIES) * 10}`);
    return out.join('\n') + '\n';
  };
  await send(c.port, useTls, batch(0)); // creates the files
  await waitReceived(c, LINES);
  const payload = batch(1);
  let t0 = performance.now();
  await send(c.port, useTls, payload);
  await waitReceived(c, 2 * LINES);
  const bulk = (performance.now() - t0) / 1000;
  t0 = performance.now();
  for (let i = 0; i < CONNS; i++) await send(c.port, useTls, `bench.h${i % SERIES}.load 1 ${base + 7200 + i}\n`);
  await waitReceived(c, 2 * LINES + CONNS);
  const conns = (performance.now() - t0) / 1000;
  await c.stop();
  d.cleanup();
  return { bulk, conns };
}

const plain = await measure(false);
const secure = await measure(true);
console.log(`Graphite TCP into a real collector: ${LINES.toLocaleString('en')} lines over ${SERIES} known series on one connection; ${CONNS} connections of one line each`);
console.log('');
console.log('| listener | lines/s (one connection) | connections/s (one line each) |');
console.log('|---|---|---|');
for (const [name, r] of [['plaintext (baseline)', plain], ['TLS (RSA 2048, TLS 1.3)', secure]])
  console.log(`| ${name} | ${Math.round(LINES / r.bulk).toLocaleString('en')} | ${Math.round(CONNS / r.conns).toLocaleString('en')} |`);

// The new-series check on a real catalog.
const db = await openDb({ client: 'sqlite', filename: path.join(t.dir, 'cat.sqlite') });
const catalog = new Catalog(db, path.join(t.dir, 'rrd'));
const N = 10000;
await catalog.register(Array.from({ length: N }, (_, i) => ({ name: 'condor_jobs', labels: { host: `fnpc${i}`, state: 'idle' }, template: 'gauge', step: 60, ds: 'value' })));
const samples = Array.from({ length: N }, (_, i) => ({ name: 'condor_jobs', labels: { host: `fnpc${i}`, state: 'idle' }, value: 1, time: 1 }));
const limiter = new SeriesLimiter(configSchema.parse({}).seriesLimits, catalog, pino({ level: 'silent' }), new Registry());
const ROUNDS = 100;
const time = (fn) => {
  fn();
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) fn();
  return ((performance.now() - t0) * 1e6) / (ROUNDS * N); // ns per sample
};
let sink = 0;
const keysOnly = time(() => {
  for (const s of samples) sink += seriesKey(s.name, s.labels).length;
});
const admit = time(() => {
  sink += limiter.admit(samples, 'bench', '127.0.0.1').admitted.length;
});
await db.destroy();
t.cleanup();
console.log('');
console.log(`New-series check per sample, ${N.toLocaleString('en')} known series with 2 labels (${ROUNDS} rounds; ${sink > 0 ? 'checked' : ''})`);
console.log('');
console.log('| step | ns per sample |');
console.log('|---|---|');
console.log(`| series key only (baseline: what the RRD writer computes anyway) | ${keysOnly.toFixed(0)} |`);
console.log(`| SeriesLimiter.admit (key + catalog look-up) | ${admit.toFixed(0)} |`);
