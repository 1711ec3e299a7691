// The notify stage: takes alarm notices (AlarmSink), downtime changes and matching events, keeps every
// one in SQL before saying yes, groups them into mails and delivers them over SMTP with retries.
// Delivery is at-least-once with a window of one SQL update: a message is marked `sending` (with a lease)
// before the SMTP dialogue and `sent` right after the server's 250; only a crash between those two
// re-sends it, with the same Message-ID.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import type { AlarmNotice, AlarmSink } from '../alarms/types.js';
import type { DowntimeStore } from '../downtimes/store.js';
import type { EventStore } from '../events/store.js';
import type { EventInput } from '../events/model.js';
import { matchesLabels, parseSelector, Selector } from '../matchers/selector.js';
import { globToRegExp } from '../util/glob.js';
import type { NotifyConfig } from './config.js';
import { DowntimeWatch } from './downtime-watch.js';
import { Mailer, MailError, smtpMailer } from './mailer.js';
import { outboxRouter, RouterAuth } from './api.js';
import { Outbox, QueuedNotice } from './outbox.js';
import { EventPayload, eventSubject, render } from './render.js';

export { notifySchema } from './config.js';

/** The outbox routes (also without notify.smtp: then the outbox stays empty). */
export function outboxRoutes(db: Knex, auth: RouterAuth) {
  return outboxRouter(new Outbox(db), auth);
}
export type { NotifyConfig } from './config.js';

export interface NotifierDeps {
  log: Logger;
  registry?: Registry;
  /** Downtime start/end notices watch this store (when notify.downtimeNotices is set). */
  downtimes?: DowntimeStore;
  /** Event handlers hook into this store's inserts. */
  events?: EventStore;
  /** The status page linked from every mail (notify.statusUrl wins). */
  statusUrl: () => string;
  /** Tests may hand in another SMTP client; default nodemailer with notify.smtp. */
  mailer?: Mailer;
}

interface CompiledHandler {
  index: number;
  type: RegExp;
  source?: RegExp;
  match: [string, RegExp][];
  to: string[];
  subject: string;
  groupWait: number;
}

export class Notifier implements AlarmSink {
  readonly outbox: Outbox;
  private readonly mailer: Mailer;
  private readonly routes: { sel: Selector; to: string[]; continue: boolean }[];
  private readonly handlers: CompiledHandler[];
  private readonly watch?: DowntimeWatch;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopping = false;
  /** After a failure the server is left alone until then (Unix ms), doubling per failure in a row. */
  private pauseUntil = 0;
  private failuresInRow = 0;
  private readonly m: {
    notices?: Counter;
    unrouted?: Counter;
    sent?: Counter;
    errors?: Counter;
    failed?: Counter;
  } = {};

  constructor(
    db: Knex,
    private readonly config: NotifyConfig,
    private readonly deps: NotifierDeps,
  ) {
    if (!config.smtp && !deps.mailer) throw new Error('notify.smtp is required to send mail');
    this.outbox = new Outbox(db, domainOf(config.from));
    this.mailer = deps.mailer ?? smtpMailer(config.smtp!);
    this.routes = config.routes.map((r) => ({ sel: parseSelector(r.match, 'match'), to: r.to, continue: r.continue }));
    this.handlers = config.eventHandlers.map((h, index) => ({
      index,
      type: globToRegExp(h.type),
      source: h.source ? globToRegExp(h.source) : undefined,
      match: Object.entries(h.match).map(([k, v]) => [k, globToRegExp(v)]),
      to: h.to,
      subject: h.subject,
      groupWait: h.groupWait,
    }));
    if (this.handlers.length && deps.events) deps.events.onInsert((trx, events, nowMs) => this.onEvents(trx, events, nowMs));
    if (config.downtimeNotices.length && deps.downtimes)
      this.watch = new DowntimeWatch(
        deps.downtimes,
        this.outbox,
        { recipients: config.downtimeNotices, kinds: config.downtimeKinds, interval: config.downtimeCheckInterval },
        deps.log,
        () => this.kick(),
      );
    if (deps.registry) this.metrics(deps.registry);
  }

  /** AlarmSink: every notice is in SQL when this resolves (or it rejects and nothing was taken). */
  async accept(notices: AlarmNotice[]): Promise<void> {
    const now = Date.now();
    const queued: QueuedNotice[] = [];
    let unrouted = 0;
    for (const n of notices) {
      const to = this.recipients(n);
      if (!to.length) {
        unrouted++;
        continue;
      }
      queued.push({ kind: 'alarm', group: this.groupOf(n), recipients: to, payload: n, dueAt: now + this.config.groupWait * 1000 });
    }
    await this.outbox.enqueue(queued, now);
    this.m.notices?.inc({ kind: 'alarm' }, queued.length);
    if (unrouted) {
      this.m.unrouted?.inc(unrouted);
      this.deps.log.warn(`notify: ${unrouted} alarm notice(s) matched no route and notify.to is empty: not mailed`);
    }
    if (queued.length && this.config.groupWait === 0) this.kick();
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.config.pollInterval * 1000);
    this.timer.unref();
    this.watch?.start();
    this.kick();
  }

  /**
   * One mail now, outside the outbox (for event handler modules, whose own queue retries or counts a failure):
   * the same SMTP set-up and sender; throws when the server refuses it or cannot be reached.
   */
  async sendMail(m: { to: string[]; subject: string; text: string }): Promise<void> {
    if (!m.to.length) throw new Error('sendMail: no recipient');
    const r = await this.mailer.send({
      from: this.config.from,
      to: m.to,
      subject: m.subject,
      text: m.text,
      messageId: `<${randomUUID()}@${domainOf(this.config.from)}>`,
      date: Date.now(),
    });
    if (!r.accepted.length) throw new Error(`the SMTP server refused every recipient (${r.rejected.join(', ')})`);
  }

  /** Stops looking; a send in flight finishes (bounded by the SMTP timeouts), so nothing is left `sending`. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.watch?.stop();
    await this.ticking;
    this.mailer.close();
  }

  /** Groups what is due and sends what is due; one pass at a time. */
  kick(): void {
    if (this.ticking || this.stopping) return;
    this.ticking = this.tick()
      .catch((e) => this.deps.log.error({ err: e }, 'notify: outbox pass failed'))
      .finally(() => (this.ticking = undefined));
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const opts = { statusUrl: this.config.statusUrl ?? this.deps.statusUrl(), grafanaUrl: this.config.grafanaUrl };
    for (const key of await this.outbox.dueGroups(now)) {
      if (this.stopping) return;
      while ((await this.outbox.compose(key, this.config.maxPerMail, (n, g) => render(n, g, opts), now)) !== undefined) {
        // A group larger than maxPerMail: the rest in the next mail, now.
        if (this.stopping) return;
      }
    }
    if (Date.now() < this.pauseUntil) return;
    for (const msg of await this.outbox.due(Date.now())) {
      if (this.stopping) return;
      const t = Date.now();
      if (!(await this.outbox.claim(msg, t, t + this.lease()))) continue;
      try {
        const r = await this.mailer.send({
          from: this.config.from,
          to: msg.recipients,
          subject: msg.subject,
          text: msg.body,
          messageId: msg.messageId,
          date: msg.createdAt,
        });
        await this.outbox.markSent(msg.id, Date.now());
        this.m.sent?.inc({ kind: msg.kind });
        this.failuresInRow = 0;
        if (r.rejected.length)
          this.deps.log.warn({ message: msg.id, rejected: r.rejected }, `notify: mail ${msg.messageId} sent, but the server refused ${r.rejected.join(', ')}`);
      } catch (e) {
        const err = e instanceof MailError ? e : new MailError((e as Error).message, false);
        const age = Date.now() - msg.createdAt;
        this.m.errors?.inc({ kind: msg.kind });
        if (err.permanent || age > this.config.retry.giveUpAfter * 1000) {
          await this.outbox.markFailed(msg.id, err.message, null);
          this.m.failed?.inc({ kind: msg.kind });
          this.deps.log.error({ message: msg.id, attempts: msg.attempts + 1 }, `notify: mail ${msg.messageId} "${msg.subject}" given up: ${err.message}`);
          continue;
        }
        const wait = this.backoff(msg.attempts + 1);
        await this.outbox.markFailed(msg.id, err.message, Date.now() + wait);
        // The server is down or refusing: leave it alone for a while instead of trying every message now.
        this.failuresInRow++;
        this.pauseUntil = Date.now() + this.backoff(this.failuresInRow);
        this.deps.log.warn(
          { message: msg.id, attempts: msg.attempts + 1 },
          `notify: sending mail ${msg.messageId} failed (${err.message}); trying again in ${Math.round(wait / 100) / 10} s`,
        );
        return;
      }
    }
  }

  /** A send takes at most connection + greeting + socket timeouts; past that, a `sending` row was cut by a crash. */
  private lease(): number {
    return ((this.config.smtp?.timeout ?? 30) * 3 + 5) * 1000;
  }

  private backoff(attempt: number): number {
    const r = this.config.retry;
    return Math.min(r.max, r.initial * 2 ** Math.max(0, attempt - 1)) * 1000;
  }

  /** First matching route wins (unless it says continue); the default recipients when none matched. */
  private recipients(n: AlarmNotice): string[] {
    const out: string[] = [];
    let matched = false;
    for (const r of this.routes) {
      if (!matchesLabels(r.sel, n.instance.name, n.instance.labels)) continue;
      matched = true;
      out.push(...r.to);
      if (!r.continue) break;
    }
    return [...new Set(matched ? out : this.config.to)];
  }

  /** `disk_full {host="fnpc1"}`: the rule (if grouped by it) and the other groupBy labels. */
  private groupOf(n: AlarmNotice): string {
    const parts: string[] = [];
    const labels: string[] = [];
    for (const g of this.config.groupBy) {
      if (g === 'rule') parts.push(n.instance.rule);
      else labels.push(`${g}=${JSON.stringify(n.instance.labels[g] ?? '')}`);
    }
    if (labels.length) parts.push(`{${labels.join(',')}}`);
    return parts.join(' ') || 'all alarms';
  }

  private async onEvents(trx: Knex.Transaction, events: EventInput[], nowMs: number): Promise<void> {
    const queued: QueuedNotice[] = [];
    for (const e of events)
      for (const h of this.handlers) {
        if (!h.type.test(e.type) || (h.source && !h.source.test(e.source))) continue;
        if (!h.match.every(([k, re]) => re.test(String(e.labels[k] ?? e.data[k] ?? '')) && (k in e.labels || k in e.data))) continue;
        const base = { type: e.type, source: e.source, time: e.time, labels: e.labels, data: e.data };
        const payload: EventPayload = { handler: h.index, subject: eventSubject(h.subject, base), ...base };
        queued.push({ kind: 'event', group: `event handler ${h.index}`, recipients: h.to, payload, dueAt: nowMs + h.groupWait * 1000 });
      }
    if (!queued.length) return;
    await this.outbox.enqueue(queued, nowMs, trx);
    this.m.notices?.inc({ kind: 'event' }, queued.length);
    setImmediate(() => this.kick());
  }

  private metrics(registry: Registry): void {
    const kinds = ['alarm', 'downtime', 'event'];
    const counter = (name: string, help: string, labelNames: string[] = ['kind']) => {
      const c = new Counter({ name, help, labelNames, registers: [registry] });
      if (labelNames.length) for (const k of kinds) c.inc({ kind: k }, 0);
      return c;
    };
    this.m.notices = counter('rexmon_notify_notices_total', 'Notices queued for mail, by kind (alarm, downtime, event).');
    this.m.unrouted = counter('rexmon_notify_notices_unrouted_total', 'Alarm notices no route matched while notify.to is empty (not mailed).', []);
    this.m.sent = counter('rexmon_notify_mails_sent_total', 'Mails the SMTP server accepted, by kind.');
    this.m.errors = counter('rexmon_notify_send_errors_total', 'Failed send attempts (each is retried unless given up), by kind.');
    this.m.failed = counter('rexmon_notify_mails_failed_total', 'Mails given up: refused by the server, or not accepted within notify.retry.giveUpAfter.');
    const outbox = this.outbox;
    let last: ReturnType<Outbox['stats']> | undefined;
    // Both gauges read the same numbers; one query per scrape.
    const stats = () => (last ??= outbox.stats().finally(() => setImmediate(() => (last = undefined))));
    new Gauge({
      name: 'rexmon_notify_queued',
      help: 'Not yet sent: notices waiting for their group (state=waiting), mails to send (pending) or being sent (sending).',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const s = await stats();
        this.set({ state: 'waiting' }, s.waitingNotices);
        this.set({ state: 'pending' }, s.byStatus.pending);
        this.set({ state: 'sending' }, s.byStatus.sending);
      },
    });
    new Gauge({
      name: 'rexmon_notify_oldest_pending_age_seconds',
      help: 'Age of the oldest notice or mail not yet sent; 0 when none waits.',
      registers: [registry],
      async collect() {
        const s = await stats();
        this.set(s.oldestPending === null ? 0 : Math.max(0, (Date.now() - s.oldestPending) / 1000));
      },
    });
  }
}

function domainOf(from: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return m ? m[1] : 'rexmon.localhost';
}
