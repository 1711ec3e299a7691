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
  '0003_downtimes': {
    async up(db) {
      await db.schema.createTable('downtimes', (t) => {
        t.increments('id').primary();
        t.string('kind', 16).notNullable();
        t.text('match').notNullable(); // series selector, the scope
        t.boolean('flexible').notNullable().defaultTo(false);
        t.bigInteger('start_at').notNullable().index(); // Unix seconds
        t.bigInteger('end_at').nullable();
        t.integer('duration').nullable(); // seconds
        t.string('rule', 200).nullable(); // cron rule of a recurring downtime
        t.string('timezone', 64).nullable();
        t.bigInteger('triggered_at').nullable();
        t.string('author', 200).notNullable();
        t.text('reason').notNullable();
        t.text('tags').notNullable(); // JSON array
        t.string('source', 32).notNullable().defaultTo('api');
        t.string('external_id', 200).nullable().unique(); // e.g. grafana-annotation:17
        t.bigInteger('ended_at').nullable();
        t.string('ended_by', 200).nullable();
        t.bigInteger('cancelled_at').nullable().index();
        t.string('cancelled_by', 200).nullable();
        t.bigInteger('created_at').notNullable();
        t.bigInteger('updated_at').notNullable();
        t.integer('version').notNullable().defaultTo(1);
      });
      await db.schema.createTable('downtime_history', (t) => {
        t.increments('id').primary();
        t.integer('downtime_id').notNullable().references('id').inTable('downtimes').index();
        t.bigInteger('at').notNullable();
        t.string('actor', 200).notNullable();
        t.string('principal', 200).notNullable();
        t.string('action', 16).notNullable();
        t.text('changes').notNullable(); // JSON {field: {from, to}}
      });
    },
    async down(db) {
      await db.schema.dropTable('downtime_history');
      await db.schema.dropTable('downtimes');
    },
  },
  '0004_events': {
    async up(db) {
      await db.schema.createTable('events', (t) => {
        t.bigIncrements('id').primary();
        t.bigInteger('time').notNullable().index(); // Unix milliseconds
        t.string('type', 100).notNullable().index();
        t.string('source', 200).notNullable();
        t.text('labels').notNullable(); // JSON object
        t.text('data').notNullable(); // JSON object, flat
        t.bigInteger('created_at').notNullable(); // Unix milliseconds
      });
    },
    async down(db) {
      await db.schema.dropTable('events');
    },
  },
  '0005_alarms': {
    async up(db) {
      // One row per (rule, series): the current state, what carries over between evaluations, and what was told.
      await db.schema.createTable('alarm_states', (t) => {
        t.string('rule', 100).notNullable();
        t.string('series', 2048).notNullable();
        t.string('name', 200).notNullable();
        t.text('labels').notNullable(); // JSON: the series' labels
        t.string('state', 8).notNullable();
        t.double('value').nullable();
        t.double('bound').nullable();
        t.bigInteger('since').notNullable();
        t.bigInteger('evaluated_at').notNullable();
        t.bigInteger('warn_since').nullable();
        t.bigInteger('crit_since').nullable();
        t.bigInteger('missing_since').nullable();
        t.boolean('muted').notNullable().defaultTo(false);
        t.text('downtime').nullable(); // JSON DowntimeRef
        t.string('told_state', 8).notNullable(); // what the sink was last handed
        t.boolean('told_muted').notNullable().defaultTo(false);
        t.bigInteger('notified_at').nullable();
        t.primary(['rule', 'series']);
      });
      await db.schema.createTable('alarm_history', (t) => {
        t.bigIncrements('id').primary();
        t.bigInteger('at').notNullable().index(); // Unix seconds
        t.string('rule', 100).notNullable().index();
        t.string('series', 2048).notNullable();
        t.string('from_state', 8).notNullable();
        t.string('to_state', 8).notNullable();
        t.double('value').nullable();
        t.double('bound').nullable();
        t.boolean('muted').notNullable().defaultTo(false);
        t.integer('downtime_id').nullable();
      });
    },
    async down(db) {
      await db.schema.dropTable('alarm_history');
      await db.schema.dropTable('alarm_states');
    },
  },
  '0006_notifications': {
    async up(db) {
      // What the notifier was told (alarm, downtime and event notices), each kept until a mail carries it.
      await db.schema.createTable('notify_notices', (t) => {
        t.bigIncrements('id').primary();
        t.string('kind', 16).notNullable(); // alarm | downtime | event
        t.string('group_key', 64).notNullable().index(); // sha256 of kind, recipients and grouping labels
        t.text('group_label').notNullable(); // the group as people read it, e.g. disk_full {host="fnpc1"}
        t.text('recipients').notNullable(); // JSON array
        t.text('payload').notNullable(); // JSON: the notice
        t.bigInteger('due_at').notNullable(); // Unix ms: the group's mail may go from then (group wait)
        t.string('dedup_key', 200).nullable().unique(); // once-only notices (downtime start/end)
        t.bigInteger('message_id').nullable().index(); // the mail that carries it; null while waiting
        t.bigInteger('created_at').notNullable(); // Unix ms
      });
      // The outbox: one row per mail, rendered once, so a retry sends the very same message.
      await db.schema.createTable('notify_messages', (t) => {
        t.bigIncrements('id').primary();
        t.string('group_key', 64).notNullable();
        t.string('kind', 16).notNullable();
        t.text('recipients').notNullable(); // JSON array
        t.text('subject').notNullable();
        t.text('body').notNullable();
        t.string('message_id', 200).notNullable().unique(); // RFC 5322 Message-ID, the same on every attempt
        t.integer('notices').notNullable();
        t.string('status', 16).notNullable().index(); // pending | sending | sent | failed
        t.integer('attempts').notNullable().defaultTo(0);
        t.bigInteger('next_attempt_at').notNullable().index(); // Unix ms; while sending: the lease's end
        t.text('last_error').nullable();
        t.bigInteger('created_at').notNullable();
        t.bigInteger('sent_at').nullable();
      });
      // Downtime occurrences told as started; ended_at set once the end was told.
      await db.schema.createTable('notify_downtimes', (t) => {
        t.string('occurrence', 64).primary(); // "<id>" or "<id>@<start>" for a recurring downtime
        t.integer('downtime_id').notNullable();
        t.bigInteger('started_at').notNullable();
        t.bigInteger('ended_at').nullable().index();
      });
    },
    async down(db) {
      await db.schema.dropTable('notify_downtimes');
      await db.schema.dropTable('notify_messages');
      await db.schema.dropTable('notify_notices');
    },
  },
  '0007_jobs': {
    async up(db) {
      // The current state of each job, folded from its lifecycle events.
      await db.schema.createTable('jobs', (t) => {
        t.string('id', 200).primary();
        t.string('state', 40).notNullable().index();
        t.string('experiment', 1024).notNullable().index();
        t.string('site', 1024).notNullable();
        t.text('labels').notNullable(); // JSON: the labels of its events, the latest value of each
        t.text('data').notNullable(); // JSON: the free keys of its events, the latest value of each
        t.bigInteger('first_at').notNullable(); // Unix ms: its first event's time
        t.bigInteger('state_since').notNullable(); // Unix ms: the event that put it in this state
        t.bigInteger('last_at').notNullable().index(); // Unix ms: its latest event's time
        t.bigInteger('silent_at').nullable(); // Unix ms: when it was flagged silent
        t.bigInteger('finished_at').nullable().index(); // Unix ms: when it entered a terminal state
        t.integer('events').notNullable().defaultTo(0);
      });
      // Each job's events, kept as long as the job (events.retention does not cut a job's history short).
      await db.schema.createTable('job_events', (t) => {
        t.bigIncrements('id').primary();
        t.string('job', 200).notNullable().index();
        t.bigInteger('time').notNullable(); // Unix ms
        t.string('type', 100).notNullable();
        t.string('source', 200).notNullable();
        t.string('from_state', 40).nullable();
        t.string('to_state', 40).nullable();
        t.text('labels').notNullable();
        t.text('data').notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTable('job_events');
      await db.schema.dropTable('jobs');
    },
  },
  '0008_forward_batches': {
    async up(db) {
      // Batch ids received from other collectors (sender + sequence): a repeat is answered without storing twice.
      await db.schema.createTable('forward_batches', (t) => {
        t.string('sender', 100).notNullable();
        t.bigInteger('seq').notNullable();
        t.bigInteger('received_at').notNullable().index(); // Unix s; pruned past forward.idRetention
        t.primary(['sender', 'seq']);
      });
    },
    async down(db) {
      await db.schema.dropTable('forward_batches');
    },
  },
  '0009_audit': {
    async up(db) {
      // Who changed what (downtimes, tokens, users, config), when and from where; never secrets.
      await db.schema.createTable('audit_log', (t) => {
        t.bigIncrements('id').primary();
        t.bigInteger('at').notNullable().index(); // Unix ms
        t.string('who', 200).notNullable().index(); // token name, user, proxy identity, "cli:<os user>", "collector"
        t.string('via', 16).notNullable(); // token | user | proxy | anonymous | cli | system
        t.string('from', 200).notNullable(); // peer address, or "cli@<host>", "local"
        t.string('action', 64).notNullable().index(); // e.g. downtime.create, token.create, user.add, config.reload
        t.string('target', 300).notNullable(); // e.g. downtime 12, token grafana, user alice
        t.text('details').notNullable(); // JSON object
      });
    },
    async down(db) {
      await db.schema.dropTable('audit_log');
    },
  },
  '0010_event_batches': {
    async up(db) {
      // Keys of event batch parts the store took (journal batch id, processor, part): one replayed after a
      // crash is skipped, so the store and what runs in its transaction (forwarding) see each event once.
      await db.schema.createTable('event_batches', (t) => {
        t.string('key', 200).primary();
        t.bigInteger('at').notNullable().index(); // Unix ms
      });
    },
    async down(db) {
      await db.schema.dropTable('event_batches');
    },
  },
};
