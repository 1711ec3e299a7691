// Events in the SQL database (SQLite or PostgreSQL through knex): batches stored in one transaction,
// read newest first with filters, pruned by age and by count.
import type { Knex } from 'knex';
import { matchesLabels, Selector } from '../matchers/selector.js';
import { EventInput, StoredEvent } from './model.js';

export interface EventQuery {
  /** Unix ms, inclusive; absent: unbounded. */
  from?: number;
  to?: number;
  types?: string[];
  sources?: string[];
  /** Union: an event is kept when any selector matches (labels; `__name__` is the type). */
  selectors?: Selector[];
  limit: number;
}

type Row = { id: number | string; time: number | string; type: string; source: string; labels: string; data: string };

/** How long a stored batch part's key is kept (see insert). */
const BATCH_KEY_RETENTION_MS = 24 * 3600 * 1000;

/** Rows per INSERT, so SQLite's and PostgreSQL's bound-parameter limits are never reached. */
const INSERT_CHUNK = 500;
/** Rows read per round while selectors filter in memory. */
const SCAN_CHUNK = 2000;

/** Runs inside an insert's transaction: what it writes commits, or not, with the events (the notifier's handlers). */
/** Runs in the store's transaction; `key` is the batch part's key when the events came with one (see insert). */
export type InsertHook = (trx: Knex.Transaction, events: EventInput[], nowMs: number, key?: string) => Promise<void>;

export class EventStore {
  private readonly hooks: InsertHook[] = [];

  // A locked SQLite fails after the connection's short busy_timeout (db/index.ts); the event queue retries.
  constructor(private readonly db: Knex) {}

  onInsert(fn: InsertHook): void {
    this.hooks.push(fn);
  }

  /** Stores every event or none; returns how many. `within` writes more in the same transaction (a forwarded batch's id). */
  async insert(events: EventInput[], nowMs = Date.now(), within?: (trx: Knex.Transaction) => Promise<unknown>, key?: string): Promise<number> {
    const rows = events.map((e) => ({
      time: e.time,
      type: e.type,
      source: e.source,
      labels: JSON.stringify(e.labels),
      data: JSON.stringify(e.data),
      created_at: nowMs,
    }));
    let stored = rows.length;
    await this.db.transaction(async (trx) => {
      // A batch part stored before (offered again after a crash): nothing, and no hook, a second time.
      if (key !== undefined) {
        if (await trx('event_batches').where({ key }).first()) return void (stored = 0);
        await trx('event_batches').insert({ key, at: nowMs });
      }
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx('events').insert(rows.slice(i, i + INSERT_CHUNK));
      for (const h of this.hooks) await h(trx, events, nowMs, key);
      await within?.(trx);
    });
    return stored;
  }

  /** Events matching q, newest first (ties: newest id first). */
  async query(q: EventQuery): Promise<StoredEvent[]> {
    const sels = q.selectors?.length ? q.selectors : undefined;
    const out: StoredEvent[] = [];
    let after: { time: number; id: number } | undefined;
    for (;;) {
      const chunk = sels ? SCAN_CHUNK : q.limit - out.length;
      const b = this.filtered(q).select('id', 'time', 'type', 'source', 'labels', 'data');
      if (after) {
        const a = after;
        b.where((w) => w.where('time', '<', a.time).orWhere((x) => x.where('time', '=', a.time).andWhere('id', '<', a.id)));
      }
      const rows = (await b
        .orderBy([
          { column: 'time', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(chunk)) as Row[];
      for (const r of rows) {
        const e = toEvent(r);
        if (sels && !sels.some((s) => matchesLabels(s, e.type, e.labels))) continue;
        out.push(e);
        if (out.length >= q.limit) return out;
      }
      if (rows.length < chunk) return out;
      const last = rows[rows.length - 1];
      after = { time: Number(last.time), id: Number(last.id) };
    }
  }

  /** The events table narrowed by q's range, types and sources (not its selectors). */
  private filtered(q: Omit<EventQuery, 'limit'>): Knex.QueryBuilder {
    const b = this.db('events');
    if (q.from !== undefined) b.where('time', '>=', q.from);
    if (q.to !== undefined) b.where('time', '<=', q.to);
    if (q.types?.length) b.whereIn('type', q.types);
    if (q.sources?.length) b.whereIn('source', q.sources);
    return b;
  }

  /** How many events match q, whatever its limit: a COUNT, or with selectors a scan of the labels. */
  async total(q: Omit<EventQuery, 'limit'>): Promise<number> {
    const sels = q.selectors?.length ? q.selectors : undefined;
    if (!sels) {
      const r = (await this.filtered(q).count({ n: '*' }).first()) as { n: number | string } | undefined;
      return Number(r?.n ?? 0);
    }
    let n = 0;
    let afterId: number | undefined;
    for (;;) {
      const b = this.filtered(q).select('id', 'type', 'labels');
      if (afterId !== undefined) b.where('id', '>', afterId);
      const rows = (await b.orderBy('id').limit(SCAN_CHUNK)) as Pick<Row, 'id' | 'type' | 'labels'>[];
      for (const r of rows) if (sels.some((s) => matchesLabels(s, r.type, JSON.parse(r.labels)))) n++;
      if (rows.length < SCAN_CHUNK) return n;
      afterId = Number(rows[rows.length - 1].id);
    }
  }

  async count(): Promise<number> {
    const r = (await this.db('events').count({ n: '*' }).first()) as { n: number | string } | undefined;
    return Number(r?.n ?? 0);
  }

  /** Deletes events older than `retentionMs` before `nowMs`, then the oldest beyond `maxEvents`; returns how many went. */
  async prune(retentionMs: number, maxEvents: number, nowMs = Date.now()): Promise<{ expired: number; overflow: number }> {
    // Batch keys matter only while the journal may offer their batch again: a day is plenty.
    await this.db('event_batches')
      .where('at', '<', nowMs - BATCH_KEY_RETENTION_MS)
      .delete();
    const expired = await this.db('events')
      .where('time', '<', nowMs - retentionMs)
      .delete();
    let overflow = 0;
    // The newest event that must go: the (maxEvents+1)-th newest; it and everything older is deleted.
    const edge = (await this.db('events')
      .select('id', 'time')
      .orderBy([
        { column: 'time', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .offset(maxEvents)
      .limit(1)
      .first()) as Pick<Row, 'id' | 'time'> | undefined;
    if (edge) {
      const t = Number(edge.time);
      const id = Number(edge.id);
      overflow = await this.db('events')
        .where('time', '<', t)
        .orWhere((w) => w.where('time', '=', t).andWhere('id', '<=', id))
        .delete();
    }
    return { expired, overflow };
  }
}

function toEvent(r: Row): StoredEvent {
  return { id: Number(r.id), time: Number(r.time), type: r.type, source: r.source, labels: JSON.parse(r.labels), data: JSON.parse(r.data) };
}
