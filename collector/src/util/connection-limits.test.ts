// What holding many slurper connections needs, checked on the real process and the real kernel: the listen
// backlog the listeners ask for (as `ss` reports it), the warning when Graphite and syslog TCP together exceed
// the open-file limit, and many Graphite and syslog connections open at once, each sample in its file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { seriesFile } from '../rrd/naming.js';
import { freePort, rrdFetch, run, startCollector, tempDir, waitFor } from '../testing/harness.js';
import { listenBacklogCap } from './fdlimit.js';
import { LISTEN_BACKLOG } from './tcp-listener.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));

/** The backlog of a listening socket: `ss` shows it as Send-Q. */
async function backlogOf(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-ltnH', `sport = :${port}`]);
  const m = /^LISTEN\s+\d+\s+(\d+)/m.exec(stdout);
  assert.ok(m, `ss shows the listener on ${port}: ${stdout}`);
  return Number(m[1]);
}

test('listen backlog asked of the kernel; Graphite + syslog TCP beyond the open-file limit together is warned about', { timeout: 60000 }, async () => {
  const t = await tempDir();
  const [httpPort, gPort, sPort] = [await freePort(), await freePort(), await freePort()];
  const cfg = path.join(t.dir, 'rexmon.yaml');
  // Each alone fits 4096 (2000 + 512 kept), both together do not.
  await writeFile(
    cfg,
    [
      `graphite: {tcp: "127.0.0.1:${gPort}", udp: false, maxConnections: 2000}`,
      `syslog: {tcp: "127.0.0.1:${sPort}", maxConnections: 2000}`,
      `rrd: {cached: {mode: "off"}}`,
      `slurpers: []`,
      `log: {level: warn}`,
    ].join('\n'),
  );
  const child = spawn('prlimit', ['--nofile=4096:4096', 'node', BIN, 'start', '--config', cfg, '--data-dir', t.dir, '--listen', `127.0.0.1:${httpPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor('the collector', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok, 20000);
    assert.match(
      out,
      /open-file limit \(4096, hard 4096\) is below Graphite and syslog TCP together: 2000 \+ 2000 connections \+ 512 kept .*raise the hard limit/,
    );
    assert.doesNotMatch(out, /below graphite\.maxConnections|below syslog\.maxConnections/, 'each alone fits');
    const want = Math.min(LISTEN_BACKLOG, listenBacklogCap() ?? LISTEN_BACKLOG);
    assert.equal(await backlogOf(gPort), want, 'Graphite TCP backlog');
    assert.equal(await backlogOf(sPort), want, 'syslog TCP backlog');
    if (want < LISTEN_BACKLOG) assert.match(out, new RegExp(`net\\.core\\.somaxconn is ${want}`));
    else assert.doesNotMatch(out, /somaxconn/);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    await t.cleanup();
  }
});

test('400 Graphite and 400 syslog TCP connections open at once, each sending 3 lines: none refused, every value in its file', { timeout: 120000 }, async () => {
  const c = await startCollector({
    graphite: { tcp: '127.0.0.1:0', udp: false, mappings: [{ match: 'conn.*.load', name: 'conn_load', labels: { conn: '$1' } }] },
    syslog: {
      tcp: '127.0.0.1:0',
      mappings: [{ match: { app: 'conn' }, sd: 'm@1', values: ['load'], name: 'conn_load', labels: { conn: '${hostname}' } }],
    },
    rrd: { cached: { mode: 'off' }, templates: { small: { step: 60, rras: [{ cf: ['AVERAGE'], steps: 1, rows: 100 }] } }, defaultTemplate: 'small' },
  });
  const N = 400;
  const base = Math.floor(Date.now() / 1000 / 60) * 60 - 30 * 60;
  const value = (i: number, k: number) => i + k / 10;
  const iso = (s: number) => new Date(s * 1000).toISOString();
  const syslogAddr = c.collector.addresses.syslogTcp!;
  const sPort = Number(syslogAddr.slice(syslogAddr.lastIndexOf(':') + 1));
  try {
    const open = (port: number) =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.createConnection({ host: '127.0.0.1', port }, () => resolve(s));
        s.once('error', reject);
      });
    const socks = await Promise.all(Array.from({ length: 2 * N }, (_, i) => open(i < N ? c.graphiteTcp!.port : sPort)));
    // All held open together before any line is sent.
    for (let k = 0; k < 3; k++) {
      socks.forEach((s, i) => {
        const t = base + k * 60;
        if (i < N) s.write(`conn.g${i}.load ${value(i, k)} ${t}\n`);
        else {
          const m = `<14>1 ${iso(t)} s${i} conn - - [m@1 load="${value(i, k)}"] reading`;
          s.write(`${Buffer.byteLength(m)} ${m}`);
        }
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(socks.map((s) => new Promise((r) => (s.once('close', r), s.end()))));
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /^rexmon_connections_refused_total\{[^}]*\} [1-9]/m);
    await waitFor('every value received', async () => {
      const m = /^rexmon_samples_received_total\{[^}]*\} (\d+)/gm;
      let n = 0;
      for (const x of (await (await fetch(`${c.url}/metrics`)).text()).matchAll(m)) n += Number(x[1]);
      return n >= 2 * N * 3;
    });
    await c.collector.pipeline.flush();
    const root = path.join(c.dataDir, 'rrd');
    let bad = 0;
    for (let i = 0; i < 2 * N; i++) {
      const got = await rrdFetch(path.join(root, seriesFile('conn_load', { conn: i < N ? `g${i}` : `s${i}` })), 'AVERAGE', base - 60, base + 180);
      for (let k = 0; k < 3; k++) if (Math.abs((got.get(base + k * 60) ?? NaN) - value(i, k)) > 1e-9) bad++;
    }
    assert.equal(bad, 0, 'values missing or wrong');
  } finally {
    await c.stop();
  }
});
