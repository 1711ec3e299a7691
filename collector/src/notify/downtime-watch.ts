// Downtime start and end notices: the occurrences running now are compared with those already told
// as started (table notify_downtimes). A new one is told started; one told started that runs no more is
// told ended (window closed, ended early, or cancelled). Checked on a timer and at once after every change;
// each notice carries a dedup key, so a restart or a second collector never tells one twice.
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { currentOccurrence, Downtime, occurrences } from '../downtimes/model.js';
import type { DowntimeStore } from '../downtimes/store.js';
import type { Outbox, QueuedNotice } from './outbox.js';
import type { DowntimePayload } from './render.js';

export interface DowntimeWatchOptions {
  recipients: string[];
  kinds: ('planned' | 'unplanned')[];
  interval: number;
}

type Row = Record<string, unknown>;

export class DowntimeWatch {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private unsubscribe?: () => void;

  constructor(
    private readonly store: DowntimeStore,
    private readonly outbox: Outbox,
    private readonly opts: DowntimeWatchOptions,
    private readonly log: Logger,
    /** Told how many notices each scan queued (for the sender to look sooner). */
    private readonly onQueued: (n: number) => void = () => {},
  ) {}

  start(): void {
    this.unsubscribe = this.store.onChange(() => this.kick());
    this.timer = setInterval(() => this.kick(), this.opts.interval * 1000);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearInterval(this.timer);
    this.timer = undefined;
    this.again = false;
    await this.running;
  }

  /** One scan at a time; a change during a scan asks for one more. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.scan()
      .then((n) => {
        if (n) this.onQueued(n);
      })
      .catch((e) => this.log.warn(`notify: downtime check failed: ${(e as Error).message}`))
      .finally(() => {
        this.running = undefined;
        if (this.again && this.timer) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Compares the running occurrences with what was told; returns how many notices it queued. */
  async scan(now = Date.now() / 1000): Promise<number> {
    const db = this.outbox.db;
    const active = new Map<string, { d: Downtime; start: number; end: number | null }>();
    for (const d of await this.store.list({ from: now, to: now + 1 })) {
      if (!this.opts.kinds.includes(d.kind)) continue;
      const o = currentOccurrence(d, now);
      if (o) active.set(occurrenceKey(d, o.start), { d, start: o.start, end: o.end });
    }
    const open: Row[] = await db('notify_downtimes').whereNull('ended_at');
    const told = new Set<string>(open.map((r) => String(r.occurrence)));
    const keys = [...active.keys()].filter((k) => !told.has(k));
    // Ended ones told before are not told again if they came back (an edit moving the window).
    for (let i = 0; i < keys.length; i += 500)
      for (const r of (await db('notify_downtimes')
        .whereIn('occurrence', keys.slice(i, i + 500))
        .select('occurrence')) as Row[])
        told.add(String(r.occurrence));
    let queued = 0;
    const nowMs = now * 1000;
    for (const [key, a] of active) {
      if (told.has(key)) continue;
      const payload: DowntimePayload = {
        event: 'start',
        at: Math.floor(Math.max(a.start, Math.min(now, a.d.createdAt))),
        downtime: summary(a.d),
        start: a.start,
        end: a.end,
      };
      await db.transaction(async (trx: Knex.Transaction) => {
        await trx('notify_downtimes')
          .insert({ occurrence: key, downtime_id: a.d.id, started_at: Math.floor(now) })
          .onConflict('occurrence')
          .ignore();
        await this.outbox.enqueue([this.notice(key, payload, nowMs)], nowMs, trx);
      });
      queued++;
    }
    for (const r of open) {
      const key = String(r.occurrence);
      if (active.has(key)) continue;
      const id = Number(r.downtime_id);
      const d = await this.store.get(id);
      const start = Number(key.includes('@') ? key.slice(key.indexOf('@') + 1) : d ? occurrenceStart(d) : now);
      let payload: DowntimePayload;
      if (!d) {
        payload = {
          event: 'end',
          at: Math.floor(now),
          downtime: { id, kind: 'planned', match: '?', author: '?', reason: '?', recurring: false },
          start,
          end: null,
          cause: 'window',
        };
      } else {
        const base = { event: 'end' as const, downtime: summary(d), start };
        const occ = occurrences({ ...d, cancelledAt: null }, start, now + 1).find((o) => o.start === start);
        if (d.cancelledAt !== null) payload = { ...base, at: d.cancelledAt, end: d.cancelledAt, cause: 'cancelled', by: d.cancelledBy };
        else if (d.endedAt !== null && d.endedAt <= now) payload = { ...base, at: d.endedAt, end: d.endedAt, cause: 'ended', by: d.endedBy };
        else {
          const end = occ?.end !== null && occ?.end !== undefined && occ.end <= now ? occ.end : Math.floor(now);
          payload = { ...base, at: end, end, cause: 'window' };
        }
      }
      const told = await db.transaction(async (trx: Knex.Transaction) => {
        const n = await trx('notify_downtimes')
          .where({ occurrence: key })
          .whereNull('ended_at')
          .update({ ended_at: Math.floor(now) });
        if (n === 1) await this.outbox.enqueue([this.notice(key, payload, nowMs)], nowMs, trx);
        return n === 1;
      });
      if (told) queued++;
    }
    return queued;
  }

  private notice(key: string, p: DowntimePayload, nowMs: number): QueuedNotice {
    return {
      kind: 'downtime',
      group: `downtime ${key} ${p.event}`,
      recipients: this.opts.recipients,
      payload: p,
      dueAt: nowMs,
      dedupKey: `downtime:${key}:${p.event}`,
    };
  }
}

/** One key per occurrence: the downtime for a one-off, the downtime and its start for a recurring one. */
function occurrenceKey(d: Downtime, start: number): string {
  return d.recurrence ? `${d.id}@${Math.floor(start)}` : String(d.id);
}

function occurrenceStart(d: Downtime): number {
  return d.flexible ? (d.triggeredAt ?? d.start) : d.start;
}

function summary(d: Downtime): DowntimePayload['downtime'] {
  return { id: d.id, kind: d.kind, match: d.match, author: d.author, reason: d.reason, recurring: d.recurrence !== null };
}
