// A throw-away PostgreSQL server for tests: Debian's postgresql binaries (the newest installed) in a temp dir, on a free
// loopback port. PostgreSQL refuses to run as root, so as root the processes run as user `postgres`
// (spawned with its uid/gid, so the PID kept here is the postmaster itself, stopped by that PID).
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before } from 'node:test';
import { Db, openDb } from '../db/index.js';
import { freePort, tempDir } from './harness.js';

const exec = promisify(execFile);

/**
 * The directory of the PostgreSQL server binaries: $REXMON_PG_BIN, else the newest Debian
 * /usr/lib/postgresql/<version>/bin (versions compared as numbers: 16 after 9.6), else `pg_config --bindir`.
 */
export function postgresBin(env: NodeJS.ProcessEnv = process.env, root = '/usr/lib/postgresql'): string | undefined {
  if (env.REXMON_PG_BIN) return env.REXMON_PG_BIN;
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)*$/.test(v) && existsSync(path.join(root, v, 'bin', 'postgres')));
  } catch {
    // no Debian layout
  }
  const num = (v: string) => v.split('.').map(Number);
  versions.sort((a, b) => {
    const [x, y] = [num(a), num(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  });
  if (versions.length) return path.join(root, versions[versions.length - 1], 'bin');
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface TestPostgres {
  /** Connection string of the database created at start. */
  url: string;
  port: number;
  /** Creates another empty database and returns its connection string. */
  createDatabase: (name: string) => Promise<string>;
  /** Shuts the server down, keeping its data; `resume` starts it again on the same port. */
  halt: () => Promise<void>;
  resume: () => Promise<void>;
  stop: () => Promise<void>;
}

export function postgresAvailable(bin = postgresBin()): boolean {
  return bin !== undefined && existsSync(path.join(bin, 'postgres')) && existsSync(path.join(bin, 'initdb'));
}

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await exec('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await exec('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

/** `bin`: the binaries' directory (default postgresBin()); `tmp`: where the temp dir goes (default the OS's). */
export async function startPostgres(database = 'rexmon_test', o: { bin?: string; tmp?: string } = {}): Promise<TestPostgres> {
  const BIN = o.bin ?? postgresBin();
  if (!BIN) throw new Error('PostgreSQL binaries not found (Debian package postgresql, or set REXMON_PG_BIN)');
  const user = await postgresUser();
  const dir = await mkdtemp(path.join(o.tmp ?? os.tmpdir(), 'rexmon-pg-'));
  const as = { ...(user ?? {}), env: { ...process.env, LC_ALL: 'C.UTF-8', HOME: dir } };
  const data = path.join(dir, 'data');
  try {
    if (user) await chown(dir, user.uid, user.gid);
    await exec(path.join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], as);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const port = await freePort();
  let child!: ChildProcess;
  let log = '';
  let exited!: Promise<void>;
  const launch = () => {
    child = spawn(
      path.join(BIN, 'postgres'),
      ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
      {
        ...as,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr!.on('data', (b) => (log = (log + b).slice(-4000)));
    const c = child;
    exited = new Promise<void>((r) => c.once('exit', () => r()));
  };
  launch();
  /** Stops the server (fast shutdown, SIGKILL after 10 s), keeping its data. */
  const halt = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    }
  };
  const stop = async () => {
    await halt();
    await rm(dir, { recursive: true, force: true });
  };
  const pgArgs = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
  const ready = async () => {
    const deadline = Date.now() + 30000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited: ${log}`);
      try {
        await exec(path.join(BIN, 'pg_isready'), pgArgs);
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 30 s: ${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  try {
    await ready();
    const createDatabase = async (name: string) => {
      await exec(path.join(BIN, 'createdb'), [...pgArgs, name]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    };
    return { url: await createDatabase(database), port, createDatabase, halt, resume: async () => (launch(), await ready()), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface SqlBackend {
  name: 'SQLite' | 'PostgreSQL';
  /** Opens (and migrates) the database: a SQLite file in a temp dir, or a database on the throw-away server. */
  open: () => Promise<Db>;
}

/**
 * For store tests that run on both databases: registers node:test hooks that make a temp dir and start
 * PostgreSQL before the file's tests, and stop and remove them after. Without the PostgreSQL binaries the
 * PostgreSQL backend's open() fails with a message saying what to install.
 */
export function sqlBackends(): SqlBackend[] {
  let pg: TestPostgres | undefined;
  let tmp: { dir: string; cleanup: () => Promise<void> } | undefined;
  before(async () => {
    tmp = await tempDir();
    if (postgresAvailable()) pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
    await tmp?.cleanup();
  });
  return [
    { name: 'SQLite', open: () => openDb({ client: 'sqlite', filename: path.join(tmp!.dir, 'rexmon.sqlite') }) },
    {
      name: 'PostgreSQL',
      open: async () => {
        if (!pg) throw new Error('PostgreSQL binaries not found (Debian package postgresql) — install them to run this test');
        return openDb({ client: 'pg', connection: pg.url });
      },
    },
  ];
}
