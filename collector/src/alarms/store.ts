// Alarm states and state changes in the SQL database: read once at start, written in bulk per evaluation
// (only the instances whose stored fields changed).
import type { Knex } from 'knex';
import type { AlarmInstance, AlarmState, DowntimeRef } from './types.js';

/** What is kept of one instance across restarts: the instance (its summary is rendered again) and the bookkeeping. */
export interface StoredInstance extends Omit<AlarmInstance, 'summary' | 'downtime'> {
  warnSince: number | null;
  critSince: number | null;
  missingSince: number | null;
  downtime: DowntimeRef | null;
  toldState: AlarmState;
  toldMuted: boolean;
  notifiedAt: number | null;
}

export interface HistoryEntry {
  id: number;
  at: number;
  rule: string;
  series: string;
  from: AlarmState;
  to: AlarmState;
  value: number | null;
  bound: number | null;
  muted: boolean;
  downtimeId: number | null;
}

export interface HistoryQuery {
  from?: number;
  to?: number;
  rule?: string;
  series?: string;
  limit: number;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
/** Rows per INSERT: 17 columns × 200 stays far below SQLite's bound-variable limit. */
const CHUNK = 200;
const TRANSACTION = 5000;

function toRow(i: StoredInstance): Row {
  return {
    rule: i.rule,
    series: i.series,
    name: i.name,
    labels: JSON.stringify(i.labels),
    state: i.state,
    value: i.value,
    bound: i.bound,
    since: Math.floor(i.since),
    evaluated_at: Math.floor(i.evaluatedAt),
    warn_since: i.warnSince === null ? null : Math.floor(i.warnSince),
    crit_since: i.critSince === null ? null : Math.floor(i.critSince),
    missing_since: i.missingSince === null ? null : Math.floor(i.missingSince),
    muted: i.muted,
    downtime: i.downtime ? JSON.stringify(i.downtime) : null,
    told_state: i.toldState,
    told_muted: i.toldMuted,
    notified_at: i.notifiedAt === null ? null : Math.floor(i.notifiedAt),
  };
}

function fromRow(r: Row): StoredInstance {
  return {
    rule: String(r.rule),
    series: String(r.series),
    name: String(r.name),
    labels: JSON.parse(String(r.labels)),
    state: r.state as AlarmState,
    value: num(r.value),
    bound: num(r.bound),
    since: Number(r.since),
    evaluatedAt: Number(r.evaluated_at),
    warnSince: num(r.warn_since),
    critSince: num(r.crit_since),
    missingSince: num(r.missing_since),
    muted: Boolean(r.muted),
    downtime: r.downtime ? JSON.parse(String(r.downtime)) : null,
    toldState: r.told_state as AlarmState,
    toldMuted: Boolean(r.told_muted),
    notifiedAt: num(r.notified_at),
  };
}

export class AlarmStore {
  constructor(readonly db: Knex) {}

  async load(): Promise<StoredInstance[]> {
    const out: StoredInstance[] = [];
    // Paged, so 50,000 rows do not come back as one result set.
    for (let offset = 0; ; offset += 10000) {
      const rows: Row[] = await this.db('alarm_states').orderBy(['rule', 'series']).limit(10000).offset(offset);
      out.push(...rows.map(fromRow));
      if (rows.length < 10000) return out;
    }
  }

  /**
   * Upserts `save`, deletes `remove` (rule, series), appends `changes` to the history. Many states (a rule's
   * first evaluation over 50,000 series) go in transactions of TRANSACTION rows, so no one transaction holds
   * the database for seconds; the last one carries removals and history.
   */
  async write(save: StoredInstance[], remove: { rule: string; series: string }[], changes: Omit<HistoryEntry, 'id'>[]): Promise<void> {
    if (!save.length && !remove.length && !changes.length) return;
    let from = 0;
    for (; save.length - from > TRANSACTION; from += TRANSACTION) {
      const part = save.slice(from, from + TRANSACTION);
      await this.db.transaction(async (trx) => {
        for (let i = 0; i < part.length; i += CHUNK)
          await trx('alarm_states')
            .insert(part.slice(i, i + CHUNK).map(toRow))
            .onConflict(['rule', 'series'])
            .merge();
      });
    }
    save = save.slice(from);
    await this.db.transaction(async (trx) => {
      for (let i = 0; i < save.length; i += CHUNK)
        await trx('alarm_states')
          .insert(save.slice(i, i + CHUNK).map(toRow))
          .onConflict(['rule', 'series'])
          .merge();
      const byRule = new Map<string, string[]>();
      for (const r of remove) byRule.set(r.rule, [...(byRule.get(r.rule) ?? []), r.series]);
      for (const [rule, series] of byRule)
        for (let i = 0; i < series.length; i += CHUNK)
          await trx('alarm_states')
            .where('rule', rule)
            .whereIn('series', series.slice(i, i + CHUNK))
            .delete();
      const rows = changes.map((c) => ({
        at: Math.floor(c.at),
        rule: c.rule,
        series: c.series,
        from_state: c.from,
        to_state: c.to,
        value: c.value,
        bound: c.bound,
        muted: c.muted,
        downtime_id: c.downtimeId,
      }));
      for (let i = 0; i < rows.length; i += CHUNK) await trx('alarm_history').insert(rows.slice(i, i + CHUNK));
    });
  }

  /** Drops the current states of rules no longer configured (their history stays); returns how many. */
  async dropRulesExcept(rules: string[]): Promise<number> {
    return this.db('alarm_states')
      .whereNotIn('rule', rules.length ? rules : [''])
      .delete();
  }

  /** State changes, newest first; one more than `limit` tells the caller whether more matched. */
  async history(q: HistoryQuery): Promise<HistoryEntry[]> {
    const query = this.db('alarm_history').orderBy('at', 'desc').orderBy('id', 'desc').limit(q.limit);
    if (q.from !== undefined) query.where('at', '>=', Math.floor(q.from));
    if (q.to !== undefined) query.where('at', '<=', Math.ceil(q.to));
    if (q.rule !== undefined) query.where('rule', q.rule);
    if (q.series !== undefined) query.where('series', q.series);
    const rows: Row[] = await query;
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      rule: String(r.rule),
      series: String(r.series),
      from: r.from_state as AlarmState,
      to: r.to_state as AlarmState,
      value: num(r.value),
      bound: num(r.bound),
      muted: Boolean(r.muted),
      downtimeId: num(r.downtime_id),
    }));
  }
}
