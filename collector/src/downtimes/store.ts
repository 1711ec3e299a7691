// Downtimes in the SQL database (SQLite or PostgreSQL through knex), every change with a history row.
import type { Knex } from 'knex';
import { HttpError } from '../api/http-error.js';
import { auditRow, AuditEntry } from '../audit/index.js';
import { checkFields, Downtime, DowntimeFields, EDITABLE, Kind, stateAt } from './model.js';
import { iso } from './tz.js';

export interface Actor {
  /** Who did it: the author given, else the API token's name. */
  actor: string;
  /** The API token (or "anonymous", "reconciler", "grafana") the change came through. */
  principal: string;
  /** For the audit log: how the principal was established and the peer address (default: system, local). */
  via?: AuditEntry['via'];
  from?: string;
}

export interface HistoryEntry {
  id: number;
  downtimeId: number;
  at: number;
  actor: string;
  principal: string;
  action: 'create' | 'update' | 'end' | 'cancel' | 'trigger' | 'import';
  changes: Record<string, { from: unknown; to: unknown }>;
}

export interface ListQuery {
  /** Only downtimes that may have an occurrence overlapping [from, to). */
  from?: number;
  to?: number;
  kinds?: Kind[];
  includeCancelled?: boolean;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
// A recurring occurrence may end up to its duration plus a DST hour after the series end.
const MARGIN = 7200;

function fromRow(r: Row): Downtime {
  return {
    id: Number(r.id),
    kind: r.kind as Kind,
    match: String(r.match),
    flexible: Boolean(r.flexible),
    start: Number(r.start_at),
    end: num(r.end_at),
    duration: num(r.duration),
    recurrence: r.rule ? { rule: String(r.rule), timezone: String(r.timezone) } : null,
    author: String(r.author),
    reason: String(r.reason),
    tags: JSON.parse(String(r.tags ?? '[]')),
    triggeredAt: num(r.triggered_at),
    endedAt: num(r.ended_at),
    endedBy: (r.ended_by as string) ?? null,
    cancelledAt: num(r.cancelled_at),
    cancelledBy: (r.cancelled_by as string) ?? null,
    source: String(r.source),
    externalId: (r.external_id as string) ?? null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    version: Number(r.version),
  };
}

function toRow(f: DowntimeFields): Row {
  return {
    kind: f.kind,
    match: f.match,
    flexible: f.flexible,
    start_at: f.start,
    end_at: f.end,
    duration: f.duration,
    rule: f.recurrence?.rule ?? null,
    timezone: f.recurrence?.timezone ?? null,
    author: f.author,
    reason: f.reason,
    tags: JSON.stringify(f.tags),
  };
}

function diff(before: Partial<DowntimeFields>, after: DowntimeFields): HistoryEntry['changes'] {
  const out: HistoryEntry['changes'] = {};
  for (const k of EDITABLE) {
    const a = before[k] ?? null;
    const b = after[k] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b)) out[k] = { from: a, to: b };
  }
  return out;
}

export class DowntimeStore {
  private readonly listeners = new Set<(id: number) => void>();

  constructor(readonly db: Knex) {}

  /** Called after every committed change (the reconciler listens). */
  onChange(fn: (id: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(id: number) {
    for (const fn of this.listeners) fn(id);
  }

  async create(body: unknown, who: Actor, now: number, origin: { source?: string; externalId?: string } = {}): Promise<Downtime> {
    const fields = checkFields(body, now);
    const t = Math.floor(now);
    const id = await this.db.transaction(async (trx) => {
      const [ret] = await trx('downtimes')
        .insert({ ...toRow(fields), source: origin.source ?? 'api', external_id: origin.externalId ?? null, created_at: t, updated_at: t, version: 1 })
        .returning('id');
      const id = Number(typeof ret === 'object' ? (ret as Row).id : ret);
      await this.addHistory(trx, id, t, who, origin.externalId ? 'import' : 'create', diff({}, fields));
      return id;
    });
    this.changed(id);
    return (await this.get(id))!;
  }

  async get(id: number | string): Promise<Downtime | undefined> {
    const n = Number(id);
    if (!Number.isSafeInteger(n) || n <= 0) return undefined;
    const r = await this.db('downtimes').where({ id: n }).first();
    return r ? fromRow(r) : undefined;
  }

  async mustGet(id: number | string): Promise<Downtime> {
    const d = await this.get(id);
    if (!d) throw new HttpError(404, `no downtime with id ${JSON.stringify(String(id))}`, 'id');
    return d;
  }

  async findByExternalId(externalId: string): Promise<Downtime | undefined> {
    const r = await this.db('downtimes').where({ external_id: externalId }).first();
    return r ? fromRow(r) : undefined;
  }

  /** Downtimes that may overlap the range (coarse, in SQL); callers compute exact occurrences. */
  async list(q: ListQuery = {}): Promise<Downtime[]> {
    const query = this.db('downtimes').orderBy('start_at').orderBy('id');
    if (!q.includeCancelled) query.whereNull('cancelled_at');
    if (q.kinds?.length) query.whereIn('kind', q.kinds);
    if (q.to !== undefined) query.where('start_at', '<', Math.ceil(q.to));
    if (q.from !== undefined) {
      const from = Math.floor(q.from);
      query.where((w) => w.whereNull('end_at').orWhereRaw('end_at + coalesce(duration, 0) + ? > ?', [MARGIN, from]));
      query.where((w) => w.whereNull('ended_at').orWhere('ended_at', '>', from));
    }
    return (await query).map(fromRow);
  }

  /** Applies a PATCH body; refuses edits to cancelled or ended downtimes and stale versions. */
  async update(id: number | string, body: unknown, who: Actor, now: number): Promise<Downtime> {
    const d = await this.mustGet(id);
    const state = stateAt(d, now);
    if (state === 'cancelled' || state === 'ended') throw new HttpError(409, `downtime ${d.id} is ${state}; it can no longer be edited`, 'id');
    const b = body as Record<string, unknown>;
    if (b && typeof b === 'object' && b.version !== undefined && b.version !== d.version)
      throw new HttpError(
        409,
        `downtime ${d.id} is at version ${d.version}, not ${JSON.stringify(b.version)}: it was changed meanwhile; fetch it again`,
        'version',
      );
    const fields = checkFields(body, now, d);
    const changes = diff(d, fields);
    if (Object.keys(changes).length === 0) return d;
    const extra: Row = {};
    // A flexible downtime that became fixed or recurring no longer has a trigger; the history says so.
    if (!fields.flexible && d.triggeredAt !== null) {
      extra.triggered_at = null;
      changes.triggeredAt = { from: d.triggeredAt, to: null };
    }
    await this.write(d, { ...toRow(fields), ...extra }, who, now, 'update', changes);
    return (await this.get(d.id))!;
  }

  /** Ends a running downtime now (a recurring one: the running occurrence, and no more after it). */
  async end(id: number | string, who: Actor, now: number): Promise<Downtime> {
    const d = await this.mustGet(id);
    const state = stateAt(d, now);
    if (state === 'cancelled' || state === 'ended') throw new HttpError(409, `downtime ${d.id} is already ${state}`, 'id');
    if (now < d.start) throw new HttpError(409, `downtime ${d.id} has not started yet (it starts ${iso(d.start)}); cancel it instead`, 'id');
    const t = Math.floor(now);
    await this.write(d, { ended_at: t, ended_by: who.actor }, who, now, 'end', { endedAt: { from: null, to: t } });
    return (await this.get(d.id))!;
  }

  /** Withdraws a downtime: it no longer counts, is no longer drawn, and its silences are expired. */
  async cancel(id: number | string, who: Actor, now: number): Promise<Downtime> {
    const d = await this.mustGet(id);
    if (d.cancelledAt !== null) throw new HttpError(409, `downtime ${d.id} is already cancelled`, 'id');
    const t = Math.floor(now);
    await this.write(d, { cancelled_at: t, cancelled_by: who.actor }, who, now, 'cancel', { cancelledAt: { from: null, to: t } });
    return (await this.get(d.id))!;
  }

  /**
   * Starts a flexible downtime at `at` (when the alert fired); `now` (when this is recorded) stamps the
   * change and its history entry. False when it was triggered already (by this or another collector).
   */
  async trigger(id: number, at: number, who: Actor, detail: Record<string, unknown>, now: number): Promise<boolean> {
    const t = Math.floor(at);
    const stamp = Math.floor(now);
    const changes = { triggeredAt: { from: null, to: t }, ...Object.fromEntries(Object.entries(detail).map(([k, v]) => [k, { from: null, to: v }])) };
    const gate = (q: Knex) =>
      q('downtimes')
        .where({ id, flexible: true })
        .whereNull('triggered_at')
        .whereNull('cancelled_at')
        .whereNull('ended_at')
        .update({ triggered_at: t, updated_at: stamp, version: q.raw('version + 1') });
    let ok: boolean;
    if (this.db.client.config.client === 'better-sqlite3') {
      ok = await this.sqliteAtomic(gate(this.db), [
        this.db('downtime_history').insert(this.historyRow(id, stamp, who, 'trigger', changes)),
        this.db('audit_log').insert(this.auditRow(id, stamp, who, 'trigger', changes)),
      ]);
    } else {
      ok = await this.db.transaction(async (trx) => {
        if ((await gate(trx)) !== 1) return false;
        await this.addHistory(trx, id, stamp, who, 'trigger', changes);
        return true;
      });
    }
    if (ok) this.changed(id);
    return ok;
  }

  /**
   * SQLite: runs `gate` and, if it changed exactly one row, `then`, as one BEGIN IMMEDIATE transaction
   * done synchronously on one connection. A knex transaction awaits between statements while holding
   * the write lock, and another connection of the same process then busy-waits for it synchronously,
   * stalling the event loop until SQLITE_BUSY; two collectors sharing a file in one process (or a race
   * between pools) would fail instead of one of them getting "already triggered".
   */
  private async sqliteAtomic(gate: Knex.QueryBuilder, then: Knex.QueryBuilder[]): Promise<boolean> {
    type Stmt = { run: (...b: unknown[]) => { changes: number } };
    type Conn = { prepare: (sql: string) => Stmt; transaction: (fn: () => boolean) => { immediate: () => boolean } };
    const conn = (await this.db.client.acquireConnection()) as Conn;
    try {
      const run = (q: Knex.QueryBuilder) => {
        const { sql, bindings } = q.toSQL().toNative();
        return conn.prepare(sql).run(...bindings.map((b) => (typeof b === 'boolean' ? Number(b) : b)));
      };
      return conn
        .transaction(() => {
          if (run(gate).changes !== 1) return false;
          then.forEach(run);
          return true;
        })
        .immediate();
    } finally {
      await this.db.client.releaseConnection(conn);
    }
  }

  async history(id: number | string): Promise<HistoryEntry[]> {
    const d = await this.mustGet(id);
    const rows = await this.db('downtime_history').where({ downtime_id: d.id }).orderBy('id');
    return rows.map((r: Row) => ({
      id: Number(r.id),
      downtimeId: Number(r.downtime_id),
      at: Number(r.at),
      actor: String(r.actor),
      principal: String(r.principal),
      action: r.action as HistoryEntry['action'],
      changes: JSON.parse(String(r.changes)),
    }));
  }

  private async write(d: Downtime, set: Row, who: Actor, now: number, action: HistoryEntry['action'], changes: HistoryEntry['changes']) {
    const t = Math.floor(now);
    await this.db.transaction(async (trx) => {
      const n = await trx('downtimes')
        .where({ id: d.id, version: d.version })
        .update({ ...set, updated_at: t, version: d.version + 1 });
      if (n !== 1) throw new HttpError(409, `downtime ${d.id} was changed by someone else meanwhile; fetch it and try again`, 'version');
      await this.addHistory(trx, d.id, t, who, action, changes);
    });
    this.changed(d.id);
  }

  private historyRow(id: number, at: number, who: Actor, action: HistoryEntry['action'], changes: HistoryEntry['changes']): Row {
    return { downtime_id: id, at, actor: who.actor, principal: who.principal, action, changes: JSON.stringify(changes) };
  }

  /** Every history entry is an audit entry too, in the same transaction. */
  private auditRow(id: number, at: number, who: Actor, action: HistoryEntry['action'], changes: HistoryEntry['changes']): Row {
    return auditRow(
      {
        who: who.principal,
        via: who.via ?? 'system',
        from: who.from ?? 'local',
        action: `downtime.${action}`,
        target: `downtime ${id}`,
        details: { actor: who.actor, changes },
      },
      at * 1000,
    );
  }

  private async addHistory(trx: Knex.Transaction, id: number, at: number, who: Actor, action: HistoryEntry['action'], changes: HistoryEntry['changes']) {
    await trx('downtime_history').insert(this.historyRow(id, at, who, action, changes));
    await trx('audit_log').insert(this.auditRow(id, at, who, action, changes));
  }
}
