// "Acknowledged" means durable: a real `rexmon start` process under HTTP and Graphite load is killed with
// SIGKILL again and again — alone, and together with its rrdcached — and restarted on the same data dir.
// Every sample that got a 202 must be in the RRD files right after the next POST /admin/flush.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { alive, api, freePort, rrdFetch, tempDir, waitFor } from '../testing/harness.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/rexmon.js');
const HTTP_SERIES = 100;
const GRAPHITE_SERIES = 20;

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
}

function startProcess(config: string): Running {
  const child = spawn(process.execPath, [BIN, 'start', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

test('SIGKILL of the collector, alone and with its rrdcached, under load loses no acknowledged sample', { timeout: 240_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  const [httpPort, graphitePort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${httpPort}`;
  const config = path.join(dir, 'rexmon.yaml');
  // A 1-second template keeps every value in its own row, so each acknowledged value can be checked exactly.
  writeFileSync(
    config,
    [
      `dataDir: ${JSON.stringify(path.join(dir, 'data'))}`,
      `http: {listen: "127.0.0.1:${httpPort}"}`,
      `graphite: {tcp: "127.0.0.1:${graphitePort}", udp: false}`,
      `auth: {anonymousWrite: true}`,
      `log: {level: warn}`,
      `slurpers: []`,
      `rrd: {templates: {fine: {step: 1, heartbeat: 5, rras: [{cf: [LAST], steps: 1, rows: 4000}]}}, defaultTemplate: fine, minFreeBytes: 0}`,
      `wal: {checkpointInterval: 1}`,
    ].join('\n'),
  );
  const base = Math.floor(Date.now() / 1000) - 3000;
  const acked = new Map<string, number>(); // "series@time" -> value, for every 202
  let round = 0;
  let gRound = 0;
  let proc: Running | undefined;
  const stopLoad = { stop: false };

  async function httpLoad() {
    while (!stopLoad.stop) {
      // The same round is sent until it is acknowledged: times stay one second apart (a longer gap than the
      // heartbeat would make the next row unknown, which is RRD semantics, not loss).
      const t = base + round + 1;
      const samples = Array.from({ length: HTTP_SERIES }, (_, n) => ({ name: 'dur_http', labels: { n: String(n) }, value: n * 10000 + t - base, time: t }));
      try {
        const r = await fetch(`${url}/api/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(samples) });
        await r.text();
        if (r.status === 202) {
          for (const s of samples) acked.set(`${s.labels.n}@${s.time}`, s.value);
          round++;
        }
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // the collector is down: keep trying
      }
    }
  }
  async function graphiteLoad() {
    while (!stopLoad.stop) {
      await new Promise<void>((resolve) => {
        const s = net.createConnection({ host: '127.0.0.1', port: graphitePort }, () => {
          const lines: string[] = [];
          for (let k = 0; k < 20; k++) {
            gRound++;
            for (let n = 0; n < GRAPHITE_SERIES; n++) lines.push(`dur.graphite;n=${n} ${gRound} ${base + gRound}`);
          }
          s.end(lines.join('\n') + '\n');
        });
        s.on('error', () => setTimeout(resolve, 20));
        s.on('close', () => resolve());
      });
    }
  }
  const ready = () => waitFor('collector ready', async () => (await api(url, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30000);

  try {
    proc = startProcess(config);
    await ready();
    const load = Promise.all([httpLoad(), graphiteLoad()]);
    const kills: string[] = [];
    for (let cycle = 0; cycle < 6; cycle++) {
      await new Promise((r) => setTimeout(r, 1200));
      const both = cycle % 2 === 1;
      const cachedPid = Number(readFileSync(path.join(dir, 'data/rrdcached/rrdcached.pid'), 'utf8'));
      proc.child.kill('SIGKILL');
      await proc.exited;
      if (both && alive(cachedPid)) process.kill(cachedPid, 'SIGKILL');
      kills.push(`${both ? 'collector+rrdcached' : 'collector'}@${round}`);
      proc = startProcess(config);
      await ready();
    }
    await new Promise((r) => setTimeout(r, 500));
    stopLoad.stop = true;
    await load;
    assert.ok(acked.size > 10 * HTTP_SERIES, `the load was acknowledged (${acked.size} samples, ${kills.length} kills)`);

    const flushed = await api(url, '/api/v1/admin/flush', { method: 'POST' });
    assert.equal(flushed.status, 200);
    // Right after the flush, straight from the files.
    const series = await api<{ data: { labels: { n: string } }[] }>(url, '/api/v1/series?match=dur_http');
    assert.equal(series.body.data.length, HTTP_SERIES);
    const lost: string[] = [];
    const files = new Map<string, Map<number, number | null>>();
    for (let n = 0; n < HTTP_SERIES; n++) {
      const file = path.join(dir, 'data/rrd/dur_http', `n=${n}.rrd`);
      files.set(String(n), await rrdFetch(file, 'LAST', base, base + round + 1, 1));
    }
    for (const [key, value] of acked) {
      const [n, t] = key.split('@');
      if (files.get(n)!.get(Number(t)) !== value) lost.push(`${key}: ${files.get(n)!.get(Number(t))} != ${value}`);
    }
    console.error(
      'KILLS',
      kills.join(' '),
      'AROUND',
      [...files.get('0')!]
        .filter(([t]) => Math.abs(t - base - Number(lost[0]?.split('@')[1].split(':')[0]) + base) < 4)
        .map(([t, v]) => `${t - base}:${v}`)
        .join(' '),
      'LOST',
      [...new Set(lost.map((l) => Number(l.split('@')[1].split(':')[0]) - base))].join(','),
      'ROUNDS',
      round,
    );
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.size} acknowledged samples lost; kills at rounds ${kills.join(', ')}`);

    // Graphite carries no acknowledgement; what was stored must be what was sent, and the listener kept working.
    const g = await rrdFetch(path.join(dir, 'data/rrd/dur.graphite', 'n=0.rrd'), 'LAST', base, base + gRound, 1);
    const stored = [...g].filter(([, v]) => v !== null);
    assert.ok(stored.length > 0);
    for (const [t, v] of stored) assert.equal(v, t - base);

    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, 'a graceful stop exits 0');
    proc = undefined;
  } finally {
    stopLoad.stop = true;
    if (proc && proc.child.exitCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    try {
      const pid = Number(readFileSync(path.join(dir, 'data/rrdcached/rrdcached.pid'), 'utf8'));
      if (pid > 1 && alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(pid, 'SIGKILL');
    } catch {
      /* none left */
    }
    await cleanup();
  }
});
