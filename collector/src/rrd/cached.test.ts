// The rrdcached client's replay log keeps acknowledged values as numbers, not lines: after rrdcached dies
// with them still in its write buffer, every one comes back into its file, unknowns as unknown, in order.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { rrdFetch, run, tempDir, waitFor } from '../testing/harness.js';
import { RrdcachedClient, UpdateBatch } from './cached.js';
import { RrdError } from './errors.js';

/**
 * rrdcached without a journal and with an hour's write interval: what it acknowledged lives only in its memory,
 * so after a SIGKILL nothing of it is in the files unless the client sends it again.
 */
async function rrdcached(dir: string): Promise<ChildProcess> {
  const sock = path.join(dir, 'cached.sock');
  if (existsSync(sock)) rmSync(sock);
  rmSync(path.join(dir, 'cached.pid'), { force: true });
  const child = spawn('rrdcached', ['-g', '-l', `unix:${sock}`, '-p', path.join(dir, 'cached.pid'), '-b', dir, '-B', '-w', '3600', '-z', '1'], {
    stdio: 'ignore',
  });
  await waitFor('rrdcached listening', async () => existsSync(sock));
  return child;
}

test('UpdateBatch builds UPDATE lines (NaN as U) and refuses a time that is not whole seconds', () => {
  const b = new UpdateBatch((f) => path.basename(f));
  b.add('/root/a.rrd', [10, 11, 12], [1.5, NaN, -0.25], 0, 3);
  b.add('/root/a.rrd', [10, 11, 12], [1.5, NaN, -0.25], 2, 3);
  assert.deepEqual(b.commands(), ['UPDATE a.rrd 10:1.5 11:U 12:-0.25', 'UPDATE a.rrd 12:-0.25']);
  assert.equal(b.valueCount, 4);
  assert.throws(() => b.add('/root/b.rrd', [1.5], [1], 0, 1), /update time 1.5 is not whole seconds/);
  assert.throws(() => b.add('/root/b.rrd', [2 ** 32], [1], 0, 1), /not whole seconds/);
  assert.throws(() => b.add('/root/b.rrd', [20, 21, 21.5], [1, 2, 3], 0, 3), /update time 21.5 is not whole seconds/);
  const many = Array.from({ length: 256 }, (_, i) => 10 + i);
  assert.throws(() => b.add('/root/c.rrd', many, many, 0, 256), /256 values in one UPDATE line: at most 255/);
  assert.equal(b.valueCount, 4, 'nothing of a refused line is kept');
  assert.deepEqual(b.commands(), ['UPDATE a.rrd 10:1.5 11:U 12:-0.25', 'UPDATE a.rrd 12:-0.25'], 'the text is made again from the numbers');
});

test('a BATCH written from the numbers is the text of its lines, for any value', () => {
  const text = (b: UpdateBatch) =>
    `BATCH\n${b
      .commands()
      .map((c) => c + '\n')
      .join('')}.\n`;
  const b = new UpdateBatch((f) => path.basename(f), { lines: 1, values: 1 });
  const odd = [0, -0, 1, 9, 10, 99, 100, 12345, 999999999999999, 1e15, 1e21, -3, 0.1, -2.5e-7, 5e-324, Number.MAX_VALUE, Infinity, -Infinity, NaN];
  b.add(
    '/root/a.rrd',
    odd.map((_, i) => 10 + i),
    odd,
    0,
    odd.length,
  );
  b.add('/root/b.rrd', [0, 4294967295], [7, 8], 0, 2);
  assert.equal(b.bytes().toString('latin1'), text(b));
  const bad = new UpdateBatch(() => 'a\nb.rrd');
  bad.add('a.rrd', [10], [1], 0, 1);
  assert.throws(
    () => bad.bytes(),
    (e: RrdError) => /line break/.test(e.message) && e.command === 'UPDATE a\nb.rrd 10:1',
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom('a.rrd', 'x/h=fnpc%2E1.rrd'),
          fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.oneof(fc.double(), fc.integer(), fc.nat())), { minLength: 1, maxLength: 70 }),
        ),
      ),
      (lines) => {
        const u = new UpdateBatch((f) => f);
        for (const [file, points] of lines)
          u.add(
            file,
            points.map((p) => p[0]),
            points.map((p) => p[1]),
            0,
            points.length,
          );
        assert.equal(u.bytes().toString('latin1'), text(u));
      },
    ),
  );
});

test('values rrdcached acknowledged and lost to a SIGKILL are replayed from the packed log', async () => {
  const t = await tempDir('rexmon-cached-');
  let daemon = await rrdcached(t.dir);
  const client = new RrdcachedClient(`unix:${path.join(t.dir, 'cached.sock')}`, { maxAttempts: 20 });
  try {
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;
    const files = ['a.rrd', 'b.rrd'].map((f) => path.join(t.dir, f));
    for (const f of files) await run('rrdtool', ['create', f, '--start', String(base), '--step', '60', 'DS:value:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:100']);
    // Two batches, several lines per file, an unknown in the middle.
    const times = Array.from({ length: 20 }, (_, i) => base + 60 * (i + 1));
    const values = (k: number) => times.map((_, i) => (i === 7 ? NaN : k * 100 + i + 0.5));
    for (const [from, to] of [
      [0, 10],
      [10, 20],
    ]) {
      const b = new UpdateBatch((f) => path.basename(f));
      files.forEach((f, k) => {
        b.add(f, times, values(k), from, from + 3);
        b.add(f, times, values(k), from + 3, to);
      });
      const { errors } = await client.batch(b);
      assert.equal(errors.size, 0);
    }
    assert.equal(client.unconfirmedValues, 40);
    await new Promise((r) => (daemon.once('exit', r), daemon.kill('SIGKILL')));
    daemon = await rrdcached(t.dir);
    // The client notices the lost connection and sends its replay log before anything else.
    await client.sync();
    for (const f of files) assert.equal((await client.commandWithRetry(`FLUSH ${path.basename(f)}`)).status, 0);
    for (const [k, f] of files.entries()) {
      const got = await rrdFetch(f, 'AVERAGE', base, times[times.length - 1]);
      const want = values(k);
      times.forEach((time, i) => assert.equal(got.get(time) ?? null, Number.isNaN(want[i]) ? null : want[i], `${path.basename(f)} at ${time}`));
    }
  } finally {
    await client.close();
    await new Promise((r) => (daemon.exitCode !== null ? r(null) : (daemon.once('exit', r), daemon.kill('SIGTERM'))));
    await t.cleanup();
  }
});

test('a BATCH with a line break or NUL inside a command is refused before anything is sent', async () => {
  const t = await tempDir('rexmon-cached-');
  const daemon = await rrdcached(t.dir);
  const client = new RrdcachedClient(`unix:${path.join(t.dir, 'cached.sock')}`, { maxAttempts: 1 });
  try {
    for (const name of ['a.rrd\nFLUSHALL', 'a.rrd\rb', 'a\0.rrd']) {
      const b = new UpdateBatch((f) => f);
      b.add('ok.rrd', [10], [1], 0, 1);
      b.add(name, [10], [1], 0, 1);
      await assert.rejects(client.batch(b), (e: RrdError) => /line break or NUL/.test(e.message) && e.command === `UPDATE ${name} 10:1`);
    }
    assert.equal(client.unconfirmedValues, 0);
  } finally {
    await client.close();
    await new Promise((r) => (daemon.exitCode !== null ? r(null) : (daemon.once('exit', r), daemon.kill('SIGTERM'))));
    await t.cleanup();
  }
});

test('FLUSHes in one BATCH each wait for their file: the values are in the files when it answers; an unknown file is named by its place', async () => {
  const t = await tempDir('rexmon-cached-');
  const daemon = await rrdcached(t.dir); // writes back only on FLUSH (an hour's write interval)
  const client = new RrdcachedClient(`unix:${path.join(t.dir, 'cached.sock')}`, { maxAttempts: 1 });
  const flusher = new RrdcachedClient(`unix:${path.join(t.dir, 'cached.sock')}`, { maxAttempts: 1 });
  try {
    const base = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;
    const names = ['a.rrd', 'b.rrd', 'c.rrd'];
    for (const f of names)
      await run('rrdtool', ['create', path.join(t.dir, f), '--start', String(base), '--step', '60', 'DS:value:GAUGE:120:U:U', 'RRA:AVERAGE:0.5:1:100']);
    const times = Array.from({ length: 5 }, (_, i) => base + 60 * (i + 1));
    const b = new UpdateBatch((f) => f);
    names.forEach((f, k) =>
      b.add(
        f,
        times,
        times.map((_, i) => k * 10 + i),
        0,
        times.length,
      ),
    );
    assert.equal((await client.batch(b)).errors.size, 0);
    // Not on disk yet: rrdcached holds the values.
    assert.equal((await rrdFetch(path.join(t.dir, 'a.rrd'), 'AVERAGE', base, times[4])).get(times[0]) ?? null, null);
    const errors = await flusher.batchWithRetry(['FLUSH a.rrd', 'FLUSH b.rrd', 'FLUSH missing.rrd', 'FLUSH c.rrd']);
    assert.deepEqual([...errors.keys()], [2]);
    assert.match(errors.get(2)!, /no such file|not found/i);
    for (const [k, f] of names.entries()) {
      const got = await rrdFetch(path.join(t.dir, f), 'AVERAGE', base, times[4]);
      times.forEach((time, i) => assert.equal(got.get(time), k * 10 + i, `${f} at ${time}`));
    }
  } finally {
    await client.close();
    await flusher.close();
    await new Promise((r) => (daemon.exitCode !== null ? r(null) : (daemon.once('exit', r), daemon.kill('SIGTERM'))));
    await t.cleanup();
  }
});
