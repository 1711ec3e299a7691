// "Acknowledged means kept" for events: a real `rexmon start` process takes batches (202) while its SQLite
// store is locked by another connection, so none is stored yet; it is killed with SIGKILL, and the next start
// stores every acknowledged event from the journal, once. A further kill and start offers nothing again.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { api, freePort, tempDir, waitFor } from '../testing/harness.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/rexmon.js');

function startProcess(config: string): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [BIN, 'start', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, exited: new Promise((r) => child.once('exit', r)) };
}

test('SIGKILL after 202 while the store is locked loses no event; the restart stores each once', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = path.join(dir, 'rexmon.yaml');
  writeFileSync(
    config,
    [
      `dataDir: ${JSON.stringify(path.join(dir, 'data'))}`,
      `http: {listen: "127.0.0.1:${port}"}`,
      `graphite: {tcp: false, udp: false}`,
      `auth: {anonymousWrite: true}`,
      `log: {level: error}`,
      `slurpers: []`,
      `rrd: {cached: {mode: "off"}}`,
    ].join('\n'),
  );
  let proc = startProcess(config);
  const kill = async () => {
    proc.child.kill('SIGKILL');
    await proc.exited;
  };
  let lock: Database.Database | undefined;
  try {
    await waitFor('the collector', async () => (await api(`${url}`, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30000);
    lock = new Database(path.join(dir, 'data', 'rexmon.sqlite'), { fileMustExist: true });
    lock.exec('BEGIN EXCLUSIVE');
    const sent: number[] = [];
    for (let b = 0; b < 20; b++) {
      const batch = Array.from({ length: 50 }, (_, k) => ({ type: 'file.delivered', source: 'door1', data: { n: b * 50 + k } }));
      const r = await api(url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch) });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      sent.push(...batch.map((e) => e.data.n));
    }
    assert.equal((lock.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 0, 'none stored before the kill');
    await kill();
    lock.exec('ROLLBACK');
    lock.close();
    lock = undefined;

    proc = startProcess(config);
    await waitFor('the collector again', async () => (await api(`${url}`, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30000);
    type E = { data: { n: number } };
    const stored = async () => (await api<{ data: E[] }>(url, '/api/v1/events?limit=10000')).body.data.map((e) => e.data.n).sort((a, b) => a - b);
    await waitFor('every acknowledged event stored', async () => (await stored()).length >= sent.length, 30000);
    assert.deepEqual(await stored(), sent, 'each acknowledged event exactly once');
    // The journal's done point is written every 2 s: after it, a crash offers nothing again.
    await new Promise((r) => setTimeout(r, 3000));
    await kill();
    proc = startProcess(config);
    await waitFor('the collector a third time', async () => (await api(`${url}`, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await stored(), sent, 'no finished batch replayed');
  } finally {
    if (lock) {
      lock.exec('ROLLBACK');
      lock.close();
    }
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    await cleanup();
  }
});
