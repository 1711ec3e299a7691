// Syslog events go into the event store in batches (one transaction per batch, not per message), through a
// bounded buffer: when it is full, TCP readers wait (room()) and UDP drops with a counter.
import type { EventInput, EventStore } from '../events/index.js';

export interface EventSinkOptions {
  capacity: number;
  batchSize: number;
  /** Milliseconds a partial batch waits. */
  flushMs: number;
  onStored: (n: number) => void;
  onFailed: (n: number, err: Error) => void;
}

export class EventSink {
  private buf: EventInput[] = [];
  private writing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly store: Pick<EventStore, 'insert'>,
    private readonly opts: EventSinkOptions,
  ) {}

  /** Room for n more now. */
  hasRoom(n: number): boolean {
    return this.buf.length + n <= this.opts.capacity;
  }

  /** Resolves once some room was freed. */
  room(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  /** Takes the events when there is room; false (nothing taken) when full. */
  offer(events: EventInput[]): boolean {
    if (events.length === 0) return true;
    if (!this.hasRoom(events.length)) return false;
    this.buf.push(...events);
    if (this.buf.length >= this.opts.batchSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.flushMs);
    return true;
  }

  private kick() {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.buf.length === 0) return;
    const batch = this.buf.splice(0, this.opts.batchSize);
    this.writing = this.store
      .insert(batch)
      .then(
        (n) => this.opts.onStored(n),
        (e: Error) => this.opts.onFailed(batch.length, e),
      )
      .finally(() => {
        this.writing = undefined;
        for (const w of this.waiters.splice(0)) w();
        if (this.buf.length) this.kick();
      });
  }

  /** Writes everything buffered so far. */
  async flush(): Promise<void> {
    while (this.writing || this.buf.length) {
      this.kick();
      await this.writing;
    }
  }
}
