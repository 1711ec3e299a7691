// Listeners push samples here; every processor (RRD writer, later event store, alerts, forwarder) drains
// its own bounded queue so a slow one cannot stall the others. When a queue is full, push() says so and the
// listener applies backpressure (TCP, HTTP 503) or drops with a counter (UDP) — never silently.
import { Sample } from '../model/series.js';
import { Metrics } from '../metrics/metrics.js';
import { BoundedQueue } from './queue.js';

export interface Processor {
  readonly name: string;
  /** Handles one batch; must not throw for bad samples (count them), only for a broken backend (the batch is retried). */
  handle(batch: Sample[]): Promise<void>;
  /** Called after the queue is drained in flush(): make everything handled so far durable. */
  flush?(): Promise<void>;
}

interface Lane {
  processor: Processor;
  queue: BoundedQueue<Sample>;
  busy: boolean;
  idleWaiters: (() => void)[];
  /** Ends the wait for a fuller batch. */
  wake?: () => void;
}

export interface PipelineOptions {
  queueCapacity: number;
  batchSize: number;
  /** Seconds to wait for a batch to fill before handling a partial one. */
  flushInterval: number;
  log: (msg: string, err?: unknown) => void;
}

export class Pipeline {
  private readonly lanes: Lane[] = [];
  private running = false;
  private stopped = false;

  constructor(
    private readonly opts: PipelineOptions,
    private readonly metrics: Metrics,
  ) {}

  add(processor: Processor) {
    const lane: Lane = { processor, queue: new BoundedQueue(this.opts.queueCapacity), busy: false, idleWaiters: [] };
    this.lanes.push(lane);
    this.metrics.queueCapacity.set({ processor: processor.name }, this.opts.queueCapacity);
    if (this.running) void this.loop(lane);
  }

  start() {
    this.running = true;
    for (const l of this.lanes) void this.loop(l);
  }

  /** Offers samples to every processor; all-or-nothing. Returns false when a queue has no room. */
  push(samples: Sample[], source: string): boolean {
    if (samples.length === 0) return true;
    if (this.stopped) return false;
    if (!this.lanes.every((l) => l.queue.hasRoom(samples.length))) return false;
    for (const l of this.lanes) {
      l.queue.offer(samples);
      this.metrics.queueDepth.set({ processor: l.processor.name }, l.queue.size);
    }
    this.metrics.received.inc({ source }, samples.length);
    return true;
  }

  /** Resolves when some queue space was freed. */
  waitForSpace(): Promise<void> {
    const full = this.lanes.find((l) => !l.queue.hasRoom(1));
    return full ? full.queue.waitForSpace() : Promise.resolve();
  }

  depth(): Record<string, number> {
    return Object.fromEntries(this.lanes.map((l) => [l.processor.name, l.queue.size]));
  }

  private async loop(lane: Lane) {
    const { queue, processor } = lane;
    while (!this.stopped || queue.size > 0) {
      if (queue.size === 0) {
        for (const w of lane.idleWaiters.splice(0)) w();
        if (this.stopped) break;
        await queue.waitForData();
        continue;
      }
      // Let a batch fill a little when input trickles in, unless it is already full.
      // A flush() arriving meanwhile cuts the wait short.
      if (queue.size < this.opts.batchSize && this.opts.flushInterval > 0 && !this.stopped && lane.idleWaiters.length === 0) {
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
      const batch = queue.take(this.opts.batchSize);
      this.metrics.queueDepth.set({ processor: processor.name }, queue.size);
      lane.busy = true;
      for (let attempt = 1; ; attempt++) {
        try {
          await processor.handle(batch);
          break;
        } catch (err) {
          // The backend is broken (rrdcached down, disk full): keep the batch and retry with backoff.
          this.opts.log(`${processor.name}: batch of ${batch.length} failed (attempt ${attempt}), retrying`, err);
          await new Promise((r) => setTimeout(r, Math.min(10000, 100 * 2 ** Math.min(attempt, 7))));
          if (this.stopped && attempt >= 5) {
            this.metrics.dropped.inc({ source: processor.name, reason: 'shutdown_write_error' }, batch.length);
            this.opts.log(`${processor.name}: dropping ${batch.length} samples at shutdown after ${attempt} failed attempts`);
            break;
          }
        }
      }
      lane.busy = false;
    }
    for (const w of lane.idleWaiters.splice(0)) w();
  }

  /** Drains every queue, then asks each processor to make its work durable. */
  async flush(): Promise<void> {
    await Promise.all(
      this.lanes.map(async (l) => {
        while (l.queue.size > 0 || l.busy) {
          await new Promise<void>((r) => {
            l.idleWaiters.push(r);
            l.queue.wakeAll();
            l.wake?.();
          });
        }
        await l.processor.flush?.();
      }),
    );
  }

  /** Stops taking input, drains, flushes. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const l of this.lanes) {
      l.queue.wakeAll();
      l.wake?.();
    }
    await this.flush();
  }
}
