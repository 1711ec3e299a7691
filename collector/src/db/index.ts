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
          conn.pragma('busy_timeout = 5000');
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
