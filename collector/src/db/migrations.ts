// Schema migrations, in order. Add new ones at the end; never edit one that has shipped.
import type { Knex } from 'knex';

type Migration = { up: (db: Knex) => Promise<void>; down: (db: Knex) => Promise<void> };

export const migrations: Record<string, Migration> = {
  '0001_series_catalog': {
    async up(db) {
      await db.schema.createTable('series', (t) => {
        t.increments('id').primary();
        t.string('key', 2048).notNullable().unique();
        t.string('name', 200).notNullable().index();
        t.text('labels').notNullable(); // JSON object
        t.string('file', 4096).notNullable(); // relative to the archive root, or absolute for imported trees
        t.string('ds', 19).notNullable();
        t.string('template', 64).notNullable();
        t.integer('step').notNullable();
        t.string('origin', 16).notNullable().defaultTo('native'); // native | imported
        t.bigInteger('created_at').notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTable('series');
    },
  },
  '0002_api_tokens': {
    async up(db) {
      await db.schema.createTable('api_tokens', (t) => {
        t.increments('id').primary();
        t.string('name', 200).notNullable();
        t.string('role', 16).notNullable();
        t.string('sha256', 64).notNullable().unique();
        t.bigInteger('created_at').notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTable('api_tokens');
    },
  },
};
