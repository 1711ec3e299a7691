// The test helpers this stage's tests stand on: finding the PostgreSQL binaries, cleaning up after a
// failed initdb, and not leaving an Alertmanager running when it never became ready.
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startAlertmanager } from '../testing/alertmanager.js';
import { tempDir } from '../testing/harness.js';
import { postgresBin, startPostgres } from '../testing/postgres.js';

async function fakeBin(dir: string, name: string, script: string) {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

test('postgresBin: REXMON_PG_BIN wins, else the newest /usr/lib/postgresql/<version>/bin by number', async () => {
  const tmp = await tempDir();
  try {
    for (const v of ['9.6', '12', '16', '15']) await fakeBin(path.join(tmp.dir, v, 'bin'), 'postgres', 'exit 0');
    await mkdir(path.join(tmp.dir, '17', 'bin'), { recursive: true }); // no server binary: skipped
    await mkdir(path.join(tmp.dir, 'common'), { recursive: true });
    assert.equal(postgresBin({}, tmp.dir), path.join(tmp.dir, '16', 'bin'));
    assert.equal(postgresBin({ REXMON_PG_BIN: '/opt/pg/bin' }, tmp.dir), '/opt/pg/bin');
  } finally {
    await tmp.cleanup();
  }
});

test('startPostgres: a failing initdb leaves no temp dir behind', async () => {
  const tmp = await tempDir();
  try {
    const bin = path.join(tmp.dir, 'bin');
    await fakeBin(bin, 'initdb', 'echo "initdb: broken on purpose" >&2; exit 1');
    await fakeBin(bin, 'postgres', 'exit 1');
    const root = path.join(tmp.dir, 'tmp');
    await mkdir(root);
    await assert.rejects(startPostgres('x', { bin, tmp: root }), /broken on purpose|initdb/);
    assert.deepEqual(await readdir(root), []);
  } finally {
    await tmp.cleanup();
  }
});

test('startAlertmanager: a process that never gets ready is stopped before the error', async () => {
  const tmp = await tempDir();
  try {
    const pidFile = path.join(tmp.dir, 'pid');
    // Never answers /-/ready; exec keeps the PID, so the PID written is the process the helper started.
    const binary = await fakeBin(tmp.dir, 'alertmanager', `echo $$ > ${pidFile}; exec sleep 300`);
    await assert.rejects(startAlertmanager({ binary, readyTimeoutMs: 800 }), /not ready within 0.8 s/);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(pid > 0);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 5000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(), false, `process ${pid} still running`);
  } finally {
    await tmp.cleanup();
  }
});
