// The event stage: accepted batches go through the journal into the dispatcher, whose processors (the store,
// counting rules, handlers, and whatever app.ts adds) each drain their own queue; plus the API router and
// retention (pruned at start and hourly), behind one small interface the collector wires in.
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import type { EventsConfig } from '../config/schema.js';
import type { Db } from '../db/index.js';
import type { FsyncPolicy } from '../wal/wal.js';
import { eventRouter, EventRouterDeps } from './api.js';
import { EventCounters, SamplePush } from './counters.js';
import { loadHandlers, MailMessage } from './handlers.js';
import { EventJournal } from './journal.js';
import type { EventInput } from './model.js';
import { Admission, dispatcherMetrics, EventDispatcher, EventProcessor, ProcessorOptions } from './processor.js';
import { EventStore } from './store.js';

export { EventStore } from './store.js';
export { checkEvent } from './model.js';
export type { EventInput, StoredEvent } from './model.js';
export type { EventProcessor, ProcessorOptions, Admission } from './processor.js';
export type { HandlerContext, MailMessage } from './handlers.js';

export interface EventsOpenDeps {
  /** Journal directory and sync policy; absent: no journal (an accepted batch lives in memory until processed). */
  journal?: { dir: string; fsync: FsyncPolicy; fsyncInterval: number; segmentBytes: number };
  /** Where counted samples go. */
  push: SamplePush;
  sendMail?: (m: MailMessage) => Promise<void>;
}

/** Rows per store transaction. */
const STORE_BATCH = 500;
/** Seconds between journal trims. */
const TRIM_INTERVAL_MS = 2000;

export const PRUNE_INTERVAL_MS = 3600 * 1000;

export class Events {
  readonly store: EventStore;
  private timer?: NodeJS.Timeout;
  private pruning?: Promise<unknown>;
  private readonly stored?: Counter;
  private readonly rejected?: Counter;
  private readonly pruned?: Counter;
  private readonly accepted?: Counter;
  private readonly refused?: Counter<'reason'>;
  readonly dispatcher: EventDispatcher;
  private journal?: EventJournal;
  private counters?: EventCounters;
  private trimTimer?: NodeJS.Timeout;
  /** Events being journalled: counted against the queues' room before they are queued. */
  private reserved = 0;
  private opened = false;
  private stopped = false;

  constructor(
    db: Db,
    private readonly config: EventsConfig,
    private readonly log: Logger,
    private readonly registry?: Registry,
  ) {
    this.store = new EventStore(db);
    this.dispatcher = new EventDispatcher((msg, err) => this.log.warn({ err }, msg), registry ? dispatcherMetrics(registry) : undefined, {
      done: (seq) => this.journal?.done(seq),
    });
    if (registry) {
      this.stored = new Counter({ name: 'rexmon_events_stored_total', help: 'Events stored in the SQL database.', registers: [registry] });
      this.accepted = new Counter({
        name: 'rexmon_events_accepted_total',
        help: 'Events accepted into the event queue (API, pull slurpers, syslog), journalled first.',
        registers: [registry],
      });
      this.refused = new Counter({
        name: 'rexmon_events_refused_total',
        help: 'Valid events refused whole with 503: queue_full, journal_error, shutting_down.',
        labelNames: ['reason'],
        registers: [registry],
      });
      for (const r of ['queue_full', 'journal_error', 'shutting_down']) this.refused.inc({ reason: r }, 0);
      this.rejected = new Counter({
        name: 'rexmon_events_rejected_total',
        help: 'Events refused (a batch with an invalid event is refused whole).',
        registers: [registry],
      });
      this.pruned = new Counter({
        name: 'rexmon_events_pruned_total',
        help: 'Events deleted by retention, by rule (age, count).',
        labelNames: ['rule'],
        registers: [registry],
      });
    }
  }

  router(deps: Pick<EventRouterDeps, 'auth'>): Router {
    return eventRouter(this.store, { ...deps, accept: (e) => this.accept(e), rejected: this.rejected });
  }

  /** Registers a processor (e.g. job state) with its own queue; before open() to see replayed batches too. */
  addProcessor(p: EventProcessor, opts: Partial<ProcessorOptions> = {}): void {
    this.dispatcher.add(p, { queue: this.config.queue, concurrency: 1, onError: 'drop', batchSize: STORE_BATCH, ...opts });
  }

  /**
   * Adds the store, the counting rules and the configured handlers (modules loaded now: a bad one fails the
   * start, naming it), opens the journal and queues what an earlier run accepted but did not finish.
   */
  async open(deps: EventsOpenDeps): Promise<void> {
    // The store must never lose an accepted event: a locked or unreachable database is retried until it works.
    this.addProcessor(
      {
        name: 'store',
        // Exactly once: a batch part replayed after a crash is known by its key and skipped.
        process: async (events, key) => {
          const n = await this.store.insert(events, Date.now(), undefined, key);
          this.stored?.inc(n);
        },
      },
      { onError: 'retry' },
    );
    if (this.config.counters.length) {
      const c = (this.counters = new EventCounters(this.config.counters, deps.push, this.counterStats()));
      this.addProcessor(c, { accepts: c.accepts });
    }
    for (const h of await loadHandlers(this.config.handlers, { log: this.log, sendMail: deps.sendMail })) this.addProcessor(h, h.options);
    if (this.config.journal && deps.journal) {
      this.journal = new EventJournal({ ...deps.journal, log: (m) => this.log.warn(m) });
      const left = await this.journal.open();
      for (const b of left) this.dispatcher.enqueue(b.events, b.seq, b.id);
      if (left.length) this.log.info(`events: ${left.length} batch(es) accepted by an earlier run queued again from the journal`);
      this.trimTimer = setInterval(() => void this.journal?.trim(), TRIM_INTERVAL_MS);
      this.trimTimer.unref();
      if (this.registry) {
        const j = this.journal;
        new Gauge({
          name: 'rexmon_events_journal_bytes',
          help: 'Bytes in the event journal (batches not yet taken by every processor, and some taken).',
          registers: [this.registry],
          collect() {
            this.set(j.bytes);
          },
        });
      }
    }
    this.counters?.start();
    this.opened = true;
  }

  /**
   * Takes a batch of checked events whole, or refuses it whole (nothing queued anywhere): ok once it is in the
   * journal (synced per wal.fsync) and in every queue meant for it.
   */
  async accept(events: EventInput[]): Promise<Admission> {
    if (events.length === 0) return { ok: true, seq: 0 };
    const refuse = (reason: string, why: string, processor?: string): Admission => {
      this.refused?.inc({ reason }, events.length);
      return { ok: false, reason: why, processor };
    };
    if (!this.opened || this.stopped) return refuse('shutting_down', this.stopped ? 'the collector is shutting down' : 'the event stage is starting');
    const full = this.dispatcher.refusal(events, this.reserved);
    if (full) {
      this.dispatcher.countRefused(full.processor, events.length);
      return refuse('queue_full', full.reason, full.processor);
    }
    let seq: number | undefined;
    let id: string | undefined;
    if (this.journal) {
      this.reserved += events.length;
      try {
        id = randomUUID();
        seq = await this.journal.append(events, id);
      } catch (e) {
        this.log.error({ err: e }, 'events: the journal cannot be written');
        return refuse('journal_error', `the event journal cannot be written (${(e as Error).message})`);
      } finally {
        this.reserved -= events.length;
      }
    }
    seq = this.dispatcher.enqueue(events, seq, id);
    this.accepted?.inc(events.length);
    return { ok: true, seq };
  }

  /** accept(), waiting while the queues are full (pull slurpers and syslog can afford to be late). */
  async submit(events: EventInput[]): Promise<number> {
    for (;;) {
      const r = await this.accept(events);
      if (r.ok) return events.length;
      if (this.stopped || !r.processor) throw new Error(r.reason);
      await this.dispatcher.waitForRoom();
    }
  }

  private counterStats() {
    const reg = this.registry ? [this.registry] : [];
    const c = new Counter({
      name: 'rexmon_event_counter_problems_total',
      help: 'Counting-rule problems by metric and kind: bad_value (sum key missing or not a number), late (counted into the next open interval), invalid_series.',
      labelNames: ['metric', 'kind'],
      registers: reg,
    });
    let logged = 0;
    return {
      badValue: (m: string, n: number) => c.inc({ metric: m, kind: 'bad_value' }, n),
      late: (m: string, n: number) => c.inc({ metric: m, kind: 'late' }, n),
      invalid: (m: string, msg: string) => {
        c.inc({ metric: m, kind: 'invalid_series' });
        if (logged++ < 100) this.log.warn(`events: counting rule ${m}: series not pushed: ${msg}`);
      },
    };
  }

  /** Prunes now, then every hour. */
  start(intervalMs = PRUNE_INTERVAL_MS): void {
    const tick = () => {
      if (this.pruning) return;
      this.pruning = this.prune()
        .catch((e) => this.log.warn(`events: pruning failed: ${(e as Error).message}`))
        .finally(() => (this.pruning = undefined));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops taking events, lets the processors drain (events.stopTimeout), pushes ended counter intervals, closes the journal. */
  /** Resolves once every processor took what was accepted so far (or after timeoutMs); true when all drained. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.opened ? this.dispatcher.drain(timeoutMs) : Promise.resolve(true);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.pruning;
    this.stopped = true;
    if (!this.opened) return;
    const drained = await this.dispatcher.drain(this.config.stopTimeout * 1000);
    this.dispatcher.stop();
    if (!drained)
      this.log.warn(
        { processors: this.dispatcher.status() },
        `events: processors did not drain within ${this.config.stopTimeout} s; the journal keeps what they had not taken`,
      );
    await this.counters?.stop();
    clearInterval(this.trimTimer);
    await this.journal?.close();
  }

  /** Deletes events older than `events.retention`, then the oldest beyond `events.maxEvents`. */
  async prune(nowMs = Date.now()): Promise<{ expired: number; overflow: number }> {
    const r = await this.store.prune(this.config.retention * 1000, this.config.maxEvents, nowMs);
    this.pruned?.inc({ rule: 'age' }, r.expired);
    this.pruned?.inc({ rule: 'count' }, r.overflow);
    if (r.expired || r.overflow) this.log.info(r, `events: pruned ${r.expired} older than the retention, ${r.overflow} beyond maxEvents`);
    return r;
  }
}
