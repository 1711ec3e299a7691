// The event queue: every accepted batch is offered to each processor (event store, counting rules, each
// handler, job state), and each drains its own bounded queue with its own concurrency, so a slow or stalled
// one cannot hold up the others. Admission is whole or nothing: a batch that does not fit in every queue it
// is meant for is refused before any queue takes it. With a journal, the batch is on disk before it counts
// as accepted, and stays there until every processor has taken it.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventInput } from './model.js';

export interface EventProcessor {
  readonly name: string;
  /**
   * `key`, when given, names this call's events for good: the same batch part offered again after a crash
   * (replayed from the journal) has the same key, so a processor that must not apply it twice can tell.
   */
  process(events: EventInput[], key?: string): Promise<void>;
}

export interface ProcessorOptions {
  /** Events this processor may hold waiting. */
  queue: number;
  /** Calls of process() at once. */
  concurrency: number;
  /** Milliseconds one call may take; past it the call counts as failed (timeout) and its slot is freed. */
  timeoutMs?: number;
  /** retry: a failing call is tried again (backoff up to 5 s) until it succeeds, as the store must; drop: counted and logged. */
  onError: 'retry' | 'drop';
  /** Only events it accepts reach this processor (handlers: types and selector). */
  accepts?: (e: EventInput) => boolean;
  /** Events per call: 1 for handlers (a timeout is per event), larger for the store. */
  batchSize: number;
}

/** Who accepted a batch, to be told when every processor has taken it (the journal trims then). */
export interface BatchTracker {
  done(seq: number): void;
}

interface Item {
  seq: number;
  events: EventInput[];
  key?: string;
}

interface Lane {
  p: EventProcessor;
  o: ProcessorOptions;
  items: Item[];
  /** Events in items plus those being processed. */
  depth: number;
  active: number;
  /** Set while calls fail and are retried. */
  failing?: { since: number; message: string };
  idle: (() => void)[];
}

export interface DispatcherMetrics {
  queued: Counter<'processor'>;
  processed: Counter<'processor'>;
  failed: Counter<'processor' | 'reason'>;
  dropped: Counter<'processor' | 'reason'>;
  retries: Counter<'processor'>;
  depth: Gauge<'processor'>;
  capacity: Gauge<'processor'>;
  seconds: Histogram<'processor'>;
}

export function dispatcherMetrics(registry: Registry): DispatcherMetrics {
  const registers = [registry];
  const l = ['processor'] as const;
  return {
    queued: new Counter({ name: 'rexmon_event_processor_queued_total', help: 'Events queued to each event processor.', labelNames: l, registers }),
    processed: new Counter({ name: 'rexmon_event_processor_processed_total', help: 'Events each event processor took.', labelNames: l, registers }),
    failed: new Counter({
      name: 'rexmon_event_processor_failed_total',
      help: 'Events a processor failed on and gave up (reason: error, timeout); the store retries instead.',
      labelNames: ['processor', 'reason'],
      registers,
    }),
    dropped: new Counter({
      name: 'rexmon_event_processor_dropped_total',
      help: 'Events not queued to a processor: queue_full (the whole batch was refused with 503), shutdown (left in the journal for the next start).',
      labelNames: ['processor', 'reason'],
      registers,
    }),
    retries: new Counter({
      name: 'rexmon_event_processor_retries_total',
      help: 'Failed calls tried again (store: database locked or down).',
      labelNames: l,
      registers,
    }),
    depth: new Gauge({ name: 'rexmon_event_processor_queue_depth', help: 'Events waiting in or being handled by each processor.', labelNames: l, registers }),
    capacity: new Gauge({ name: 'rexmon_event_processor_queue_capacity', help: 'Events each processor may hold.', labelNames: l, registers }),
    seconds: new Histogram({
      name: 'rexmon_event_processor_seconds',
      help: 'Time of one call of a processor (a batch for the store, one event for a handler).',
      labelNames: l,
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60],
      registers,
    }),
  };
}

export type Admission = { ok: true; seq: number } | { ok: false; reason: string; processor?: string };

const MAX_BACKOFF_MS = 5000;

export class TimeoutError extends Error {}

function short(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.length > 300 ? m.slice(0, 300) + '…' : m;
}

export class EventDispatcher {
  private readonly lanes: Lane[] = [];
  /** Per accepted batch: processors that have not taken it yet. */
  private readonly pending = new Map<number, number>();
  private nextSeq = 1;
  private stopped = false;

  constructor(
    private readonly log: (msg: string, err?: unknown) => void,
    private readonly metrics?: DispatcherMetrics,
    private readonly tracker?: BatchTracker,
  ) {}

  add(p: EventProcessor, o: ProcessorOptions): void {
    if (this.lanes.some((l) => l.p.name === p.name)) throw new Error(`an event processor named ${JSON.stringify(p.name)} is already registered`);
    this.lanes.push({ p, o, items: [], depth: 0, active: 0, idle: [] });
    this.metrics?.capacity.set({ processor: p.name }, o.queue);
    this.metrics?.depth.set({ processor: p.name }, 0);
    for (const r of ['error', 'timeout']) this.metrics?.failed.inc({ processor: p.name, reason: r }, 0);
    this.metrics?.dropped.inc({ processor: p.name, reason: 'queue_full' }, 0);
  }

  get processors(): string[] {
    return this.lanes.map((l) => l.p.name);
  }

  /** What each lane would get of these events. */
  private split(events: EventInput[]): EventInput[][] {
    return this.lanes.map((l) => (l.o.accepts ? events.filter(l.o.accepts) : events));
  }

  /** Why these events cannot be taken now (a processor's queue is full), or undefined. Counts nothing. */
  refusal(events: EventInput[], reserved = 0): { reason: string; processor: string } | undefined {
    if (this.stopped) return { reason: 'shutting down', processor: '' };
    const parts = this.split(events);
    for (let i = 0; i < this.lanes.length; i++) {
      const l = this.lanes[i];
      const n = parts[i].length;
      if (n && l.depth + reserved + n > l.o.queue)
        return { reason: `the queue of event processor ${JSON.stringify(l.p.name)} is full (${l.depth} of ${l.o.queue})`, processor: l.p.name };
    }
    return undefined;
  }

  /** Counts a refused batch against the processor whose queue was full. */
  countRefused(processor: string, n: number): void {
    if (processor) this.metrics?.dropped.inc({ processor, reason: 'queue_full' }, n);
  }

  /**
   * Queues the events to every processor meant for them (no room check: call refusal() first; a replay from
   * the journal goes in whatever the room). `seq` names the batch for the tracker; default the next number.
   */
  enqueue(events: EventInput[], seq = this.nextSeq++, id?: string): number {
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    const parts = this.split(events);
    let lanes = 0;
    this.lanes.forEach((l, i) => {
      const mine = parts[i];
      if (!mine.length) return;
      lanes++;
      for (let j = 0; j < mine.length; j += l.o.batchSize) {
        const chunk = mine.slice(j, j + l.o.batchSize);
        l.items.push({ seq, events: chunk, key: id && `${id}:${l.p.name}:${j}` });
        // Chunks of one batch each count once towards pending.
        if (j > 0) lanes++;
      }
      l.depth += mine.length;
      this.metrics?.queued.inc({ processor: l.p.name }, mine.length);
      this.metrics?.depth.set({ processor: l.p.name }, l.depth);
      this.pump(l);
    });
    if (lanes) this.pending.set(seq, lanes);
    else this.tracker?.done(seq);
    return seq;
  }

  private pump(l: Lane): void {
    while (!this.stopped && l.active < l.o.concurrency && l.items.length && !(l.failing && l.active > 0)) {
      const item = l.items.shift()!;
      l.active++;
      void this.run(l, item);
    }
  }

  private async run(l: Lane, item: Item): Promise<void> {
    let backoff = 100;
    for (;;) {
      const end = this.metrics?.seconds.startTimer({ processor: l.p.name });
      try {
        await this.call(l, item.events, item.key);
        end?.();
        if (l.failing) this.log(`event processor ${l.p.name}: working again after ${Math.round((Date.now() - l.failing.since) / 1000)} s`);
        l.failing = undefined;
        this.metrics?.processed.inc({ processor: l.p.name }, item.events.length);
        break;
      } catch (e) {
        end?.();
        const timeout = e instanceof TimeoutError;
        if (l.o.onError === 'retry' && !this.stopped) {
          // The message only: a database error quotes the whole INSERT.
          if (!l.failing) this.log(`event processor ${l.p.name} failed (${short(e)}); retrying until it works`);
          l.failing ??= { since: Date.now(), message: (e as Error).message };
          this.metrics?.retries.inc({ processor: l.p.name });
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        if (l.o.onError === 'retry') {
          // Stopping: the batch stays in the journal and is offered again at the next start.
          this.metrics?.dropped.inc({ processor: l.p.name, reason: 'shutdown' }, item.events.length);
          this.finish(l, item, false);
          return;
        }
        this.metrics?.failed.inc({ processor: l.p.name, reason: timeout ? 'timeout' : 'error' }, item.events.length);
        this.log(
          `event processor ${l.p.name}: ${timeout ? 'timed out' : 'failed'} on ${item.events.length} event(s) of type ${item.events[0].type}: ${(e as Error).message}`,
          e,
        );
        break;
      }
    }
    this.finish(l, item, true);
  }

  private finish(l: Lane, item: Item, taken: boolean): void {
    l.active--;
    l.depth -= item.events.length;
    this.metrics?.depth.set({ processor: l.p.name }, l.depth);
    if (taken) {
      const left = (this.pending.get(item.seq) ?? 1) - 1;
      if (left > 0) this.pending.set(item.seq, left);
      else {
        this.pending.delete(item.seq);
        this.tracker?.done(item.seq);
      }
    }
    if (l.depth === 0 && l.active === 0) for (const w of l.idle.splice(0)) w();
    this.pump(l);
  }

  /** process() bounded by the lane's timeout; a hung call is left behind and its slot freed. */
  private call(l: Lane, events: EventInput[], key?: string): Promise<void> {
    const p = l.p.process(events, key);
    if (!l.o.timeoutMs) return p;
    const ms = l.o.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms / 1000} s`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Resolves once every queue is empty and no call runs (or after timeoutMs); true when all drained. */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all(this.lanes.map((l) => (l.depth === 0 && l.active === 0 ? undefined : new Promise<void>((r) => l.idle.push(r))))).then(() => true);
    const out = await Promise.race([all, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    return out;
  }

  /** Stops taking and starting work; calls in flight finish or time out. What is left is counted. */
  stop(): void {
    this.stopped = true;
    for (const l of this.lanes) {
      const left = l.items.reduce((n, i) => n + i.events.length, 0);
      if (left) this.metrics?.dropped.inc({ processor: l.p.name, reason: 'shutdown' }, left);
      l.items = [];
    }
  }

  /** Each processor's queue, for the status of a stalled one. */
  status(): { processor: string; depth: number; capacity: number; active: number; failing?: string }[] {
    return this.lanes.map((l) => ({ processor: l.p.name, depth: l.depth, capacity: l.o.queue, active: l.active, failing: l.failing?.message }));
  }

  /** Resolves when some queue had room again (a waiting puller tries again then). */
  waitForRoom(ms = 200): Promise<void> {
    return new Promise((r) => setTimeout(r, ms).unref());
  }
}
