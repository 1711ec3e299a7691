// The SQL database (knex): SQLite file by default, PostgreSQL when several collectors share it.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { Knex } from 'knex';
import { migrations } from './migrations.js';

export type Db = Knex;

export interface DbOptions {
  client: 'sqlite' | 'pg';
  /** SQLite file path (absolute) */
  filename?: string;
  connection?: string;
}

class ListMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations() {
    return Object.keys(migrations);
  }
  getMigrationName(name: string) {
    return name;
  }
  async getMigration(name: string) {
    return migrations[name];
  }
}

/** How long one SQLite statement waits for another process's lock before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_MS = 250;

/**
 * Why the database cannot be used right now — locked by another process, PostgreSQL down or restarting —
 * or undefined for any other error (a bug, a constraint). Callers retry these, or answer 503.
 */
export function databaseUnavailable(err: unknown): string | undefined {
  const e = err as { code?: string; message?: string } | undefined;
  const code = e?.code ?? '';
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_BUSY_'))
    return `the SQLite database is locked by another process (${code})`;
  // PostgreSQL: refused or cut connections, the server shutting down or starting (57P01-57P03), no pool slot.
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08006', '08001', '08003'].includes(code))
    return `PostgreSQL is unavailable (${code}${e?.message ? `: ${e.message}` : ''})`;
  if (/Connection terminated|Knex: Timeout acquiring a connection|the database system is (starting up|shutting down)/.test(e?.message ?? ''))
    return `PostgreSQL is unavailable (${e!.message})`;
  return undefined;
}

export async function openDb(opts: DbOptions): Promise<Db> {
  let db: Knex;
  if (opts.client === 'sqlite') {
    const file = opts.filename!;
    mkdirSync(path.dirname(file), { recursive: true });
    db = knexFactory({
      client: 'better-sqlite3',
      connection: { filename: file },
      useNullAsDefault: true,
      pool: {
        // WAL lets readers (CLI, other processes) work while the collector writes.
        afterCreate: (conn: { pragma: (s: string) => void }, done: (err: Error | null, conn: unknown) => void) => {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          // better-sqlite3 waits for a lock synchronously, holding the whole process: wait briefly (a CLI's
          // write takes milliseconds) and let callers retry (the pipeline) or answer 503 (the API) instead.
          conn.pragma(`busy_timeout = ${SQLITE_BUSY_MS}`);
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        },
      },
    });
  } else {
    db = knexFactory({ client: 'pg', connection: opts.connection, pool: { min: 0, max: 10 } });
  }
  await db.migrate.latest({ migrationSource: new ListMigrationSource() });
  return db;
}
