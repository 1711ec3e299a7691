// The notifier's SQL side: notices in, grouped into rendered messages, messages through their states
// pending → sending (a lease) → sent | failed. Every step is one statement or one short transaction.
import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export type NoticeKind = 'alarm' | 'downtime' | 'event';
export type MessageStatus = 'pending' | 'sending' | 'sent' | 'failed';

/** A notice as queued: where it goes and with which others it shares a mail. */
export interface QueuedNotice {
  kind: NoticeKind;
  /** Readable group, e.g. `disk_full {host="fnpc1"}`; the key is derived from kind, recipients and this. */
  group: string;
  recipients: string[];
  payload: unknown;
  /** Unix ms from which the group's mail may go. */
  dueAt: number;
  /** Notices with the same key are queued once (a second insert is ignored). */
  dedupKey?: string;
}

export interface StoredNotice {
  id: number;
  kind: NoticeKind;
  group: string;
  recipients: string[];
  payload: unknown;
  createdAt: number;
}

export interface Message {
  id: number;
  kind: NoticeKind;
  groupKey: string;
  recipients: string[];
  subject: string;
  body: string;
  messageId: string;
  notices: number;
  status: MessageStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

type Row = Record<string, unknown>;
const INSERT_CHUNK = 200;

export function groupKey(kind: NoticeKind, recipients: string[], group: string): string {
  return createHash('sha256')
    .update(JSON.stringify([kind, [...recipients].sort(), group]))
    .digest('hex');
}

function messageFromRow(r: Row): Message {
  return {
    id: Number(r.id),
    kind: r.kind as NoticeKind,
    groupKey: String(r.group_key),
    recipients: JSON.parse(String(r.recipients)),
    subject: String(r.subject),
    body: String(r.body),
    messageId: String(r.message_id),
    notices: Number(r.notices),
    status: r.status as MessageStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lastError: (r.last_error as string) ?? null,
    createdAt: Number(r.created_at),
    sentAt: r.sent_at === null || r.sent_at === undefined ? null : Number(r.sent_at),
  };
}

export class Outbox {
  constructor(
    readonly db: Knex,
    /** Domain part of generated Message-IDs. */
    private readonly domain = 'rexmon.localhost',
  ) {}

  /** Queues notices, all or none; inside `trx` when given (so they commit with the caller's own rows). */
  async enqueue(notices: QueuedNotice[], nowMs = Date.now(), trx?: Knex.Transaction): Promise<void> {
    if (!notices.length) return;
    const rows = notices.map((n) => ({
      kind: n.kind,
      group_key: groupKey(n.kind, n.recipients, n.group),
      group_label: n.group,
      recipients: JSON.stringify(n.recipients),
      payload: JSON.stringify(n.payload),
      due_at: Math.round(n.dueAt),
      dedup_key: n.dedupKey ?? null,
      created_at: Math.round(nowMs),
    }));
    const write = async (t: Knex.Transaction) => {
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const chunk = rows.slice(i, i + INSERT_CHUNK);
        // Only once-only notices carry a dedup key; the rest need no conflict clause.
        if (chunk.some((r) => r.dedup_key !== null)) await t('notify_notices').insert(chunk).onConflict('dedup_key').ignore();
        else await t('notify_notices').insert(chunk);
      }
    };
    if (trx) await write(trx);
    else await this.db.transaction(write);
  }

  /** Groups whose first waiting notice is due: each becomes one message (see `compose`). */
  async dueGroups(nowMs: number, limit = 100): Promise<string[]> {
    const rows = await this.db('notify_notices')
      .select('group_key')
      .min({ due: 'due_at' })
      .whereNull('message_id')
      .groupBy('group_key')
      .havingRaw('min(due_at) <= ?', [Math.round(nowMs)])
      .orderBy('due')
      .limit(limit);
    return rows.map((r: Row) => String(r.group_key));
  }

  /**
   * Takes up to `max` waiting notices of a group and turns them into one pending message rendered by
   * `render`, in one transaction: a notice is in exactly one message. Returns the message id, or
   * undefined when another collector took the group first.
   */
  async compose(
    key: string,
    max: number,
    render: (notices: StoredNotice[], group: string) => { subject: string; body: string },
    nowMs = Date.now(),
  ): Promise<number | undefined> {
    return this.db
      .transaction(async (trx) => {
        const rows: Row[] = await trx('notify_notices').where({ group_key: key }).whereNull('message_id').orderBy('id').limit(max);
        if (!rows.length) return undefined;
        const notices: StoredNotice[] = rows.map((r) => ({
          id: Number(r.id),
          kind: r.kind as NoticeKind,
          group: String(r.group_label),
          recipients: JSON.parse(String(r.recipients)),
          payload: JSON.parse(String(r.payload)),
          createdAt: Number(r.created_at),
        }));
        const mail = render(notices, notices[0].group);
        const [ret] = await trx('notify_messages')
          .insert({
            group_key: key,
            kind: notices[0].kind,
            recipients: JSON.stringify(notices[0].recipients),
            subject: mail.subject,
            body: mail.body,
            message_id: `<${randomUUID()}@${this.domain}>`,
            notices: notices.length,
            status: 'pending',
            attempts: 0,
            next_attempt_at: Math.round(nowMs),
            created_at: Math.round(nowMs),
          })
          .returning('id');
        const id = Number(typeof ret === 'object' ? (ret as Row).id : ret);
        const ids = notices.map((n) => n.id);
        const taken = await trx('notify_notices').whereIn('id', ids).whereNull('message_id').update({ message_id: id });
        // Another collector grouped some of them meanwhile (PostgreSQL): undo, it sends them.
        if (taken !== ids.length) throw new Raced();
        return id;
      })
      .catch((e) => {
        if (e instanceof Raced) return undefined;
        throw e;
      });
  }

  /** Messages whose next attempt is due (pending, or sending with an expired lease: a send cut by a crash). */
  async due(nowMs: number, limit = 50): Promise<Message[]> {
    const rows = await this.db('notify_messages')
      .whereIn('status', ['pending', 'sending'])
      .where('next_attempt_at', '<=', Math.round(nowMs))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit);
    return rows.map(messageFromRow);
  }

  /** Claims a message for one attempt until `leaseUntil`; false if someone else holds or finished it. */
  async claim(m: Message, nowMs: number, leaseUntil: number): Promise<boolean> {
    const n = await this.db('notify_messages')
      .where({ id: m.id, attempts: m.attempts })
      .whereIn('status', ['pending', 'sending'])
      .where('next_attempt_at', '<=', Math.round(nowMs))
      .update({ status: 'sending', attempts: m.attempts + 1, next_attempt_at: Math.round(leaseUntil) });
    return n === 1;
  }

  async markSent(id: number, nowMs: number): Promise<void> {
    await this.db('notify_messages')
      .where({ id, status: 'sending' })
      .update({ status: 'sent', sent_at: Math.round(nowMs), last_error: null });
  }

  /** A failed attempt: tried again at `nextAt`, or given up (`failed`) when nextAt is null. */
  async markFailed(id: number, error: string, nextAt: number | null): Promise<void> {
    await this.db('notify_messages')
      .where({ id, status: 'sending' })
      .update(nextAt === null ? { status: 'failed', last_error: error } : { status: 'pending', last_error: error, next_attempt_at: Math.round(nextAt) });
  }

  async list(q: { status?: MessageStatus[]; limit: number }): Promise<Message[]> {
    const query = this.db('notify_messages').orderBy('id', 'desc').limit(q.limit);
    if (q.status?.length) query.whereIn('status', q.status);
    return (await query).map(messageFromRow);
  }

  async get(id: number): Promise<Message | undefined> {
    const r = await this.db('notify_messages').where({ id }).first();
    return r ? messageFromRow(r) : undefined;
  }

  async notices(messageId: number): Promise<StoredNotice[]> {
    const rows: Row[] = await this.db('notify_notices').where({ message_id: messageId }).orderBy('id');
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind as NoticeKind,
      group: String(r.group_label),
      recipients: JSON.parse(String(r.recipients)),
      payload: JSON.parse(String(r.payload)),
      createdAt: Number(r.created_at),
    }));
  }

  /** For /metrics: messages by status, notices not yet in a message, and the oldest thing not yet sent. */
  async stats(): Promise<{ byStatus: Record<MessageStatus, number>; waitingNotices: number; oldestPending: number | null }> {
    const byStatus: Record<MessageStatus, number> = { pending: 0, sending: 0, sent: 0, failed: 0 };
    for (const r of (await this.db('notify_messages').select('status').count({ n: '*' }).groupBy('status')) as Row[])
      byStatus[r.status as MessageStatus] = Number(r.n);
    const w = (await this.db('notify_notices').whereNull('message_id').count({ n: '*' }).min({ oldest: 'created_at' }).first()) as Row;
    const m = (await this.db('notify_messages').whereIn('status', ['pending', 'sending']).min({ oldest: 'created_at' }).first()) as Row;
    const olds = [w?.oldest, m?.oldest].filter((v) => v !== null && v !== undefined).map(Number);
    return { byStatus, waitingNotices: Number(w?.n ?? 0), oldestPending: olds.length ? Math.min(...olds) : null };
  }
}

class Raced extends Error {}
