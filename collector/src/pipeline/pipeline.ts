// Listeners push samples here; every processor (RRD writer, later event store, alerts, forwarder) drains
// its own bounded queue so a slow one cannot stall the others. When a queue is full, push() says so and the
// listener applies backpressure (TCP, HTTP 503) or drops with a counter (UDP) — never silently.
// With a write-ahead log, a batch is appended (and synced) there before push() reports it accepted, so an
// acknowledged sample survives a crash; flush() is also the log's checkpoint: it trims what reached the files.
import { Metrics } from '../metrics/metrics.js';
import { Sample, timeRefusal } from '../model/series.js';
import { WalRecord, WriteAheadLog } from '../wal/wal.js';
import { BoundedQueue } from './queue.js';

export interface Processor {
  readonly name: string;
  /**
   * Handles one batch. Bad samples are counted, not thrown. Throw RetryLater when the backend is unavailable
   * (rrdcached down, disk full): those samples are kept and retried. Any other error is retried a few times,
   * then the batch is split until the sample that causes it is found and dropped with a count.
   */
  handle(batch: Sample[]): Promise<void>;
  /** Called in flush() once everything queued before it was handled: make it durable; false when some of it could not be. */
  flush?(): Promise<boolean | void>;
}

/** The backend cannot take these samples now; keep them and try again (never dropped, except at shutdown). */
export class RetryLater extends Error {
  constructor(
    message: string,
    /** What is left to write; default the whole batch. */
    readonly remaining?: Sample[],
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

interface Lane {
  processor: Processor;
  queue: BoundedQueue<Sample>;
  /** Samples ever queued / handled (written, refused or dropped): flush() waits for handled to catch up. */
  enqueued: number;
  handled: number;
  handledWaiters: { target: number; resolve: () => void }[];
  /** Ends the wait for a fuller batch. */
  wake?: () => void;
  /** Set while the backend refuses this lane's writes. */
  failing?: { since: number; message: string };
  done?: Promise<void>;
  finished: boolean;
}

export interface PipelineOptions {
  queueCapacity: number;
  batchSize: number;
  /** Seconds to wait for a batch to fill before handling a partial one. */
  flushInterval: number;
  /** Seconds a sample may be ahead of the clock. */
  futureTolerance: number;
  /** Seconds stop() keeps retrying a backend that refuses writes before it gives up (the log keeps them). */
  stopTimeout: number;
  wal?: WriteAheadLog;
  log: (msg: string, err?: unknown) => void;
}

const POISON_ATTEMPTS = 3;

export class Pipeline {
  private readonly lanes: Lane[] = [];
  private running = false;
  private stopped = false;
  /** Samples being appended to the log: counted against queue room before they are queued. */
  private reserved = 0;
  /** Set while the log refuses appends (disk full); one push a second is let through to probe. */
  private walFailing?: { since: number; message: string; nextProbe: number };
  private timeRefusalsLogged = 0;
  /** waitForSpace() callers blocked only by reservations of appends in flight. */
  private appendWaiters: (() => void)[] = [];

  constructor(
    private readonly opts: PipelineOptions,
    private readonly metrics: Metrics,
  ) {}

  add(processor: Processor) {
    const lane: Lane = { processor, queue: new BoundedQueue(this.opts.queueCapacity), enqueued: 0, handled: 0, handledWaiters: [], finished: false };
    this.lanes.push(lane);
    this.metrics.queueCapacity.set({ processor: processor.name }, this.opts.queueCapacity);
    if (this.running) lane.done = this.loop(lane);
  }

  start() {
    this.running = true;
    for (const l of this.lanes) l.done = this.loop(l);
  }

  /** Room in every queue for n more samples besides those being appended to the log. */
  private hasRoom(n: number): boolean {
    return this.lanes.every((l) => l.queue.hasRoom(n + this.reserved));
  }

  /** Why push() refuses now, for the listener's answer; undefined when it would not. */
  refusal(n = 1): string | undefined {
    if (this.stopped) return 'shutting down';
    if (this.walFailing) return `the write-ahead log cannot be written (${this.walFailing.message})`;
    if (!this.hasRoom(n)) {
      // Name the processor that holds input up (e.g. a full forward buffer), not only the queue.
      const stuck = this.lanes.find((l) => l.failing && !l.queue.hasRoom(n + this.reserved));
      return stuck ? `the ingest queue is full (${stuck.processor.name}: ${stuck.failing!.message})` : 'the ingest queue is full';
    }
    return undefined;
  }

  /**
   * Offers samples to every processor; all-or-nothing. Returns false when they cannot be taken now (see
   * refusal()); otherwise a promise that resolves true once they are durable and queued, or false when the
   * write-ahead log refused them (counted). Samples outside the time window are dropped here, counted and logged.
   */
  push(samples: Sample[], source: string): false | Promise<boolean> {
    if (samples.length === 0) return Promise.resolve(true);
    if (this.stopped) return false;
    const wf = this.walFailing;
    if (wf && Date.now() < wf.nextProbe) return false;
    if (!this.hasRoom(samples.length)) return false;
    const ok = this.inWindow(samples, source);
    if (ok.length === 0) return Promise.resolve(true);
    const wal = this.opts.wal;
    if (!wal) {
      this.enqueue(ok, source);
      return Promise.resolve(true);
    }
    if (wf) wf.nextProbe = Date.now() + 1000;
    this.reserved += ok.length;
    return wal.append(source, ok).then(
      () => {
        this.reserved -= ok.length;
        this.appendSettled();
        if (this.walFailing) this.opts.log(`write-ahead log writable again after ${Math.round((Date.now() - this.walFailing.since) / 1000)} s`);
        this.walFailing = undefined;
        this.enqueue(ok, source);
        return true;
      },
      (e: Error) => {
        this.reserved -= ok.length;
        this.appendSettled();
        if (!this.walFailing) this.opts.log(`${e.message}: refusing input until it can be written`);
        this.walFailing = { since: this.walFailing?.since ?? Date.now(), message: e.message, nextProbe: Date.now() + 1000 };
        this.metrics.dropped.inc({ source, reason: 'wal_error' }, ok.length);
        return false;
      },
    );
  }

  /** Why a sample time would be refused (the HTTP API checks before it accepts a batch). */
  timeRefusal(time: number) {
    return timeRefusal(time, Math.floor(Date.now() / 1000), this.opts.futureTolerance);
  }

  /** Drops samples rrdtool could never take or that would block a series' later values (a far-future time). */
  private inWindow(samples: Sample[], source: string): Sample[] {
    const now = Math.floor(Date.now() / 1000);
    let out: Sample[] | undefined;
    for (let i = 0; i < samples.length; i++) {
      const why = timeRefusal(samples[i].time, now, this.opts.futureTolerance);
      if (!why) {
        out?.push(samples[i]);
        continue;
      }
      out ??= samples.slice(0, i);
      this.metrics.dropped.inc({ source, reason: why.reason });
      if (this.timeRefusalsLogged++ < 100) this.opts.log(`${source}: refused a sample of ${samples[i].name}: ${why.message}`);
    }
    return out ?? samples;
  }

  private enqueue(samples: Sample[], source: string) {
    let unknown = 0;
    for (const s of samples) if (Number.isNaN(s.value)) unknown++;
    if (unknown) this.metrics.unknownValues.inc({ source }, unknown);
    for (const l of this.lanes) {
      l.queue.offer(samples, true);
      l.enqueued += samples.length;
      this.metrics.queueDepth.set({ processor: l.processor.name }, l.queue.size);
      // A lane waiting for a fuller batch goes as soon as it has one: a burst's first batch waited the whole
      // flushInterval (0.2 s of a warm ingest's 0.9, bench/cold-phases.mjs --warm).
      if (l.wake && l.queue.size >= this.opts.batchSize) l.wake();
    }
    this.metrics.received.inc({ source }, samples.length);
  }

  /**
   * Queues what the write-ahead log kept from an earlier run, before any new input (so each series stays in
   * time order), waiting for room as the processors drain. The samples are marked: a value already stored is no error.
   */
  async replay(records: Iterable<WalRecord>): Promise<number> {
    let n = 0;
    for (const r of records) {
      const samples = r.samples.map((s) => ({ ...s, replay: true as const }));
      while (!this.lanes.every((l) => l.queue.hasRoom(samples.length)) && this.lanes.some((l) => l.queue.size > 0)) await this.waitForSpace();
      this.enqueue(samples, 'replay');
      n += samples.length;
    }
    return n;
  }

  /**
   * Resolves when some queue space was freed for `n` more samples, when an append to the log settled (its
   * reservation released), or after a second while the log refuses appends. With room already there it resolves
   * after pending I/O. Never at once while nothing changed: callers loop on push(), and an answer at once made them
   * spin without yielding to I/O (a livelock that starved the writers and grew the heap to gigabytes).
   */
  waitForSpace(n = 1): Promise<void> {
    if (this.walFailing) return new Promise((r) => setTimeout(r, Math.max(10, this.walFailing!.nextProbe - Date.now())));
    const full = this.lanes.find((l) => !l.queue.hasRoom(n + this.reserved) && l.queue.size > 0);
    if (full) return full.queue.waitForSpace();
    // No room only because of appends in flight: their settling frees it.
    if (this.reserved > 0) return new Promise((r) => this.appendWaiters.push(r));
    return new Promise((r) => setImmediate(r));
  }

  private appendSettled() {
    for (const w of this.appendWaiters.splice(0)) w();
  }

  depth(): Record<string, number> {
    return Object.fromEntries(this.lanes.map((l) => [l.processor.name, l.queue.size]));
  }

  /** What keeps input from being stored now (for /readyz); empty when all is well. */
  problems(): string[] {
    const out: string[] = [];
    if (this.walFailing) out.push(`write-ahead log: ${this.walFailing.message}`);
    for (const l of this.lanes)
      if (l.failing)
        out.push(`${l.processor.name}: ${l.failing.message} (for ${Math.round((Date.now() - l.failing.since) / 1000)} s; ${l.queue.size} samples waiting)`);
    return out;
  }

  private async loop(lane: Lane) {
    const { queue } = lane;
    while (!this.stopped || queue.size > 0) {
      if (queue.size === 0) {
        if (this.stopped) break;
        await queue.waitForData();
        continue;
      }
      // Let a batch fill a little when input trickles in, unless it is already full.
      // A flush() arriving meanwhile cuts the wait short.
      if (queue.size < this.opts.batchSize && this.opts.flushInterval > 0 && !this.stopped && lane.handledWaiters.length === 0) {
        await new Promise<void>((r) => {
          const timer = setTimeout(done, this.opts.flushInterval * 1000);
          lane.wake = done;
          function done() {
            clearTimeout(timer);
            r();
          }
        });
        lane.wake = undefined;
      }
      const kept = await this.handleNext(lane);
      if (kept) {
        // Given up at shutdown: what is left stays in the write-ahead log (or is lost, counted) — not handled.
        const rest = kept + queue.take(queue.size).length;
        this.abandoned(lane, rest);
        break;
      }
    }
    lane.finished = true;
    this.settleWaiters(lane);
  }

  /**
   * Takes and delivers one batch; returns what was given up on (0: all handled). Its own frame: a batch held in the
   * loop's frame stayed alive while the loop waited for the next one (20,000 samples, heap snapshot after a burst).
   */
  private async handleNext(lane: Lane): Promise<number> {
    const batch = lane.queue.take(this.opts.batchSize);
    this.metrics.queueDepth.set({ processor: lane.processor.name }, lane.queue.size);
    const kept = await this.deliver(lane, batch, POISON_ATTEMPTS);
    if (!kept) this.advance(lane, batch.length);
    return kept;
  }

  private advance(lane: Lane, n: number) {
    lane.handled += n;
    lane.handledWaiters = lane.handledWaiters.filter((w) => (w.target <= lane.handled ? (w.resolve(), false) : true));
  }

  private settleWaiters(lane: Lane) {
    for (const w of lane.handledWaiters.splice(0)) w.resolve();
  }

  private abandoned(lane: Lane, n: number) {
    const name = lane.processor.name;
    if (this.opts.wal) {
      this.metrics.dropped.inc({ source: name, reason: 'kept_in_wal_at_shutdown' }, n);
      this.opts.log(`${name}: ${lane.failing?.message}; ${n} samples stay in the write-ahead log and are written at the next start`);
    } else {
      this.metrics.dropped.inc({ source: name, reason: 'shutdown_write_error' }, n);
      this.opts.log(`${name}: ${lane.failing?.message}; dropping ${n} samples at shutdown (no write-ahead log)`);
    }
  }

  /**
   * Hands a batch to the processor until it is taken. Returns 0, or at shutdown the number of samples given up on.
   * RetryLater keeps the samples it names and retries with backoff; other errors are retried `attempts` times,
   * then the batch is halved (a sub-batch gets one try before it is halved again) down to the one bad sample.
   */
  private async deliver(lane: Lane, batch: Sample[], attempts: number): Promise<number> {
    const { processor } = lane;
    for (let attempt = 1; ; attempt++) {
      try {
        await processor.handle(batch);
        if (lane.failing) this.opts.log(`${processor.name}: writing again after ${Math.round((Date.now() - lane.failing.since) / 1000)} s`);
        lane.failing = undefined;
        return 0;
      } catch (err) {
        if (err instanceof RetryLater) {
          if (err.remaining) batch = err.remaining;
          if (batch.length === 0) return 0;
          if (!lane.failing || attempt % 20 === 1) this.opts.log(`${processor.name}: ${err.message}; keeping ${batch.length} samples and retrying`);
          lane.failing = { since: lane.failing?.since ?? Date.now(), message: err.message };
          if (this.stopped && Date.now() - lane.failing.since > this.opts.stopTimeout * 1000) return batch.length;
          await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
          continue;
        }
        if (attempt < attempts) {
          this.opts.log(`${processor.name}: batch of ${batch.length} failed (attempt ${attempt}), retrying`, err);
          await sleep(100 * 2 ** attempt);
          continue;
        }
        if (batch.length === 1) {
          const s = batch[0];
          this.metrics.dropped.inc({ source: processor.name, reason: 'poison' });
          this.opts.log(`${processor.name}: dropping a sample it cannot take: ${s.name} ${JSON.stringify(s.labels)} ${s.value} @${s.time}`, err);
          return 0;
        }
        const mid = batch.length >> 1;
        const left = await this.deliver(lane, batch.slice(0, mid), 1);
        if (left) return left + batch.length - mid;
        return this.deliver(lane, batch.slice(mid), 1);
      }
    }
  }

  /**
   * Returns once everything acknowledged before the call has been handled and each processor made it
   * durable; then trims the write-ahead log up to there. Input keeps flowing meanwhile.
   */
  async flush(): Promise<void> {
    const wal = this.opts.wal;
    const upTo = wal ? await wal.seal() : 0;
    // Appends resolved by the seal queue their samples in callbacks that run before this.
    await new Promise((r) => setImmediate(r));
    const complete = await Promise.all(
      this.lanes.map(async (l) => {
        const target = l.enqueued;
        while (l.handled < target && !l.finished)
          await new Promise<void>((r) => {
            l.handledWaiters.push({ target, resolve: r });
            l.queue.wakeAll();
            l.wake?.();
          });
        // A lane that gave up at shutdown has not handled everything: the log must keep it.
        const durable = (await l.processor.flush?.()) !== false;
        return durable && l.handled >= target;
      }),
    );
    if (wal && complete.every(Boolean)) wal.trim(upTo);
  }

  /** Stops taking input, drains, flushes. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const l of this.lanes) {
      l.queue.wakeAll();
      l.wake?.();
    }
    await this.flush();
    await Promise.all(this.lanes.map((l) => l.done));
  }
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
