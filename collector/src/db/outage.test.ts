// The SQL database unavailable under a running collector: SQLite locked by another process (an operator's
// `sqlite3` session, a backup tool) and PostgreSQL shut down and started again. The collector keeps
// answering, says what is wrong in /readyz and the API (503 with Retry-After, nothing half-changed),
// keeps every sample it acknowledged (new series wait in the pipeline until they can be registered), and
// recovers by itself.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { api, startCollector, TestCollector, waitFor } from '../testing/harness.js';
import { postgresAvailable, startPostgres } from '../testing/postgres.js';

const collectorDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const minute = () => Math.floor(Date.now() / 1000 / 60) * 60;
const downtime = { kind: 'planned', match: '{host="fnpc3001"}', author: 'alice', reason: 'disk swap', start: 'now', end: '+1h' };

/** Another process holding SQLite's write lock on `file` until release() (then it commits and exits). */
async function lockSqlite(file: string): Promise<{ release: () => Promise<void>; child: ChildProcess }> {
  const code = `
    import Database from 'better-sqlite3';
    import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
    const db = new Database(${JSON.stringify(file)});
    db.exec('BEGIN EXCLUSIVE');
    console.log('locked');
    createInterface({ input: process.stdin }).once('line', () => { db.exec('COMMIT'); db.close(); console.log('released'); process.exit(0); });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: collectorDir, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const said = (what: string) =>
    new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => l === what && resolve());
      child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before "${what}"`)));
    });
  await said('locked');
  return {
    child,
    release: async () => {
      const done = said('released');
      child.stdin!.write('go\n');
      await done;
    },
  };
}

async function samples(c: TestCollector, names: string[], t: number, value: number) {
  const r = await api(c.url, '/api/v1/samples', {
    method: 'POST',
    body: JSON.stringify(names.map((n) => ({ name: n, labels: { host: 'a' }, value, time: t }))),
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

async function valueAt(c: TestCollector, name: string, t: number): Promise<number | null | undefined> {
  const r = await api<{ data: { series: { timestamps: number[]; values: (number | null)[] }[] } }>(
    c.url,
    `/api/v1/query?match=${name}&from=${t - 120}&to=${t + 120}&step=60&cf=LAST`,
  );
  const s = r.body.data?.series[0];
  return s ? s.values[s.timestamps.indexOf(t)] : undefined;
}

test('SQLite locked by another process: the collector answers, says why, loses no sample, and recovers on its own', { timeout: 120_000 }, async () => {
  const c = await startCollector({ auth: { anonymousWrite: true } });
  try {
    const t = minute() - 600;
    await samples(c, ['old_a', 'old_b'], t, 1);
    await api(c.url, '/api/v1/admin/flush', { method: 'POST' });

    const lock = await lockSqlite(path.join(c.dataDir, 'rexmon.sqlite'));
    // The collector runs in this process: how long its event loop is ever held while the lock is on.
    const stall = monitorEventLoopDelay({ resolution: 10 });
    stall.enable();
    // New series need the catalog (SQL); known ones do not. Both are acknowledged.
    const fresh = Array.from({ length: 20 }, (_, i) => `fresh_${i}`);
    await samples(c, [...fresh, 'old_a'], t + 60, 2);
    const dt = await api(c.url, '/api/v1/downtimes', { method: 'POST', body: JSON.stringify(downtime) });
    assert.equal(dt.status, 503, JSON.stringify(dt.body));
    assert.match(
      (dt.body as { error: { message: string } }).error.message,
      /SQLite database is locked by another process \(SQLITE_BUSY\); nothing was changed, retry later/,
    );
    const again = await fetch(`${c.url}/api/v1/downtimes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(downtime) });
    assert.equal(again.status, 503);
    assert.equal(again.headers.get('retry-after'), '2');
    const ready = await waitFor(
      '/readyz to name the lock',
      async () => {
        const r = await api<{ error?: { message: string } }>(c.url, '/readyz');
        return r.status === 503 && /locked/.test(r.body.error?.message ?? '') && r.body.error!.message;
      },
      30_000,
    );
    assert.match(ready, /cannot register new series/);
    assert.equal((await api(c.url, '/healthz')).status, 200, 'alive while locked');
    assert.equal(lock.child.exitCode, null, 'the lock was still held while all of the above answered');
    stall.disable();
    // better-sqlite3 waits for a lock synchronously: with SQLite's busy_timeout at 5 s each registration
    // attempt held the whole process 5 s. Now one wait is SQLITE_BUSY_MS; the bound leaves room for a slow machine.
    assert.ok(stall.max / 1e6 < 2000, `the event loop was held ${Math.round(stall.max / 1e6)} ms while the database was locked`);
    await lock.release();

    // Recovered without help: the waiting samples go in, and the same downtime can be made.
    await waitFor('/readyz ready again', async () => (await api(c.url, '/readyz')).status === 200, 30_000);
    await api(c.url, '/api/v1/admin/flush', { method: 'POST' });
    for (const n of [...fresh, 'old_a']) assert.equal(await valueAt(c, n, t + 60), 2, n);
    assert.equal((await api(c.url, '/api/v1/downtimes', { method: 'POST', body: JSON.stringify(downtime) })).status, 201);
    assert.equal((await api<{ data: unknown[] }>(c.url, '/api/v1/downtimes')).body.data.length, 1, 'the refused attempt left nothing behind');
  } finally {
    await c.stop();
  }
});

test(
  'PostgreSQL shut down and started again: 503 while down, every acknowledged sample stored after',
  { timeout: 180_000, skip: !postgresAvailable() && 'PostgreSQL binaries missing (Debian package postgresql)' },
  async () => {
    const pg = await startPostgres('rexmon_outage');
    const c = await startCollector({ auth: { anonymousWrite: true }, database: { client: 'pg', connection: pg.url } });
    try {
      const t = minute() - 600;
      await samples(c, ['pg_old'], t, 1);
      await api(c.url, '/api/v1/admin/flush', { method: 'POST' });
      await pg.halt();
      const fresh = Array.from({ length: 10 }, (_, i) => `pg_fresh_${i}`);
      await samples(c, [...fresh, 'pg_old'], t + 60, 3);
      const dt = await api<{ error: { message: string } }>(c.url, '/api/v1/downtimes', { method: 'POST', body: JSON.stringify(downtime) });
      assert.equal(dt.status, 503, JSON.stringify(dt.body));
      assert.match(dt.body.error.message, /PostgreSQL is unavailable .*nothing was changed, retry later/);
      await waitFor(
        '/readyz to say new series wait',
        async () => {
          const r = await api<{ error?: { message: string } }>(c.url, '/readyz');
          return r.status === 503 && /cannot register new series/.test(r.body.error?.message ?? '');
        },
        30_000,
      );
      await pg.resume();
      await waitFor('/readyz ready again', async () => (await api(c.url, '/readyz')).status === 200, 60_000);
      await api(c.url, '/api/v1/admin/flush', { method: 'POST' });
      for (const n of [...fresh, 'pg_old']) assert.equal(await valueAt(c, n, t + 60), 3, n);
      assert.equal((await api(c.url, '/api/v1/downtimes', { method: 'POST', body: JSON.stringify(downtime) })).status, 201);
    } finally {
      await c.stop();
      await pg.stop();
    }
  },
);
