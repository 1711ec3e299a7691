// Sending events to a collector from another Node program: `send()` only checks the event and puts it in a
// bounded buffer; a background flush posts batches to POST /api/v1/events. The caller is never blocked and
// never sees an exception: what cannot be delivered is dropped and counted, and each reason is logged once.
import os from 'node:os';
import { checkEvent, EventValue, MAX_EVENTS_PER_REQUEST } from '../events/model.js';
import type { EventInput } from '../events/model.js';
import type { Labels } from '../model/series.js';

export type { EventValue } from '../events/model.js';

export interface EventClientOptions {
  /** Collector base URL; default $REXMON_URL, else http://127.0.0.1:8080. */
  url?: string;
  /** API token (editor); default $REXMON_TOKEN. */
  token?: string;
  /** Source of events that name none; default this host's name. */
  source?: string;
  /** Events held while the collector is away or slow; beyond this new events are dropped (counted). Default 10,000. */
  maxBuffer?: number;
  /** Events per request (at most 10,000). Default 500. */
  batchSize?: number;
  /** Milliseconds between background flushes. Default 1000. */
  flushInterval?: number;
  /** Milliseconds one request may take before the collector counts as away. Default 5000. */
  requestTimeout?: number;
  /** Longest wait between retries while the collector is away or busy, ms. Default 30,000. */
  maxBackoff?: number;
  /** Where the client says why it drops events or waits (once per reason). Default: stderr. */
  log?: (message: string) => void;
}

export interface SendOptions {
  source?: string;
  /** Date, ISO 8601, Unix seconds or Unix ms; default now (taken at send time, not at delivery). */
  time?: Date | string | number;
  data?: Record<string, EventValue>;
}

export type DropReason = 'invalid' | 'rejected' | 'buffer_full' | 'shutdown';

export interface EventClientStats {
  /** Events the collector accepted. */
  sent: number;
  /** Events waiting in the buffer. */
  buffered: number;
  dropped: Record<DropReason, number>;
  /** Whether the last attempt reached the collector (false: away since then). */
  reachable: boolean;
}

type Outcome = 'done' | 'retry' | 'away';

export class EventClient {
  private readonly url: string;
  private readonly token?: string;
  private readonly source: string;
  private readonly maxBuffer: number;
  private readonly batchSize: number;
  private readonly requestTimeout: number;
  private readonly maxBackoff: number;
  private readonly log: (m: string) => void;
  private readonly buffer: EventInput[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly said = new Set<string>();
  private readonly counts: EventClientStats = { sent: 0, buffered: 0, dropped: { invalid: 0, rejected: 0, buffer_full: 0, shutdown: 0 }, reachable: true };
  private inFlight?: Promise<void>;
  /** No request before this (ms): set by Retry-After or the backoff. */
  private notBefore = 0;
  private backoff = 0;
  private closed = false;

  constructor(opts: EventClientOptions = {}) {
    this.url = new URL('/api/v1/events', opts.url ?? process.env.REXMON_URL ?? 'http://127.0.0.1:8080').href;
    this.token = opts.token ?? process.env.REXMON_TOKEN;
    this.source = opts.source ?? os.hostname();
    this.maxBuffer = Math.max(1, opts.maxBuffer ?? 10000);
    this.batchSize = Math.min(MAX_EVENTS_PER_REQUEST, Math.max(1, opts.batchSize ?? 500));
    this.requestTimeout = opts.requestTimeout ?? 5000;
    this.maxBackoff = opts.maxBackoff ?? 30000;
    this.log = opts.log ?? ((m) => process.stderr.write(`rexmon client: ${m}\n`));
    // Unref'd: a program that is otherwise done may exit; close() (or sendEvent's exit hook) flushes first.
    this.timer = setInterval(() => this.kick(), opts.flushInterval ?? 1000);
    this.timer.unref();
  }

  /** Buffers one event; false when it was dropped (invalid, buffer full, closed). Never throws. */
  send(type: string, labels: Labels = {}, opts: SendOptions = {}): boolean {
    let event: EventInput;
    try {
      const time = opts.time instanceof Date ? opts.time.getTime() : opts.time;
      event = checkEvent({ type, source: opts.source ?? this.source, time, labels, data: opts.data }, Date.now());
    } catch (e) {
      this.drop('invalid', 1, `event ${JSON.stringify(String(type)).slice(0, 80)} is invalid and was dropped: ${describe(e)}`);
      return false;
    }
    if (this.closed) return (this.drop('shutdown', 1, 'event sent after close() was dropped'), false);
    if (this.buffer.length >= this.maxBuffer) {
      this.drop('buffer_full', 1, `buffer full (${this.maxBuffer} events; the collector at ${this.url} is away or slow): new events are dropped`);
      return false;
    }
    this.buffer.push(event);
    if (this.buffer.length >= this.batchSize) this.kick();
    return true;
  }

  stats(): EventClientStats {
    return { ...this.counts, dropped: { ...this.counts.dropped }, buffered: this.buffer.length };
  }

  /** Sends what is buffered; resolves (never rejects) when the buffer is empty, the collector is away, or after `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      if (this.inFlight) {
        await within(this.inFlight, deadline - Date.now());
        continue;
      }
      const wait = this.notBefore - Date.now();
      if (wait > 0) {
        // Away and waiting out a backoff: give up at once rather than hold the caller (busy: wait it out).
        if (!this.counts.reachable || wait > deadline - Date.now()) return;
        await sleep(wait);
      }
      this.kick();
      if (this.inFlight) await within(this.inFlight, deadline - Date.now());
      if (!this.counts.reachable) return;
    }
  }

  /** Stops the background flush after one last bounded flush; what is still buffered is dropped (counted). */
  async close(timeoutMs = 5000): Promise<EventClientStats> {
    if (!this.closed) {
      this.closed = true;
      clearInterval(this.timer);
      this.notBefore = Math.min(this.notBefore, Date.now());
      await this.flush(timeoutMs);
      if (this.buffer.length) this.drop('shutdown', this.buffer.splice(0).length, `closing with events not delivered to ${this.url}: dropped`);
    }
    return this.stats();
  }

  /** Starts one request unless one runs or a backoff is pending. */
  private kick(): void {
    if (this.inFlight || this.buffer.length === 0 || Date.now() < this.notBefore) return;
    this.inFlight = this.post().finally(() => (this.inFlight = undefined));
  }

  private async post(): Promise<void> {
    // Events stay in the buffer until the collector has them: a refused or lost request loses nothing.
    const batch = this.buffer.slice(0, this.batchSize);
    const outcome = await this.attempt(batch).catch((e): Outcome => {
      this.warnOnce('bug', `unexpected error while sending: ${describe(e)}`);
      return 'retry';
    });
    if (outcome === 'done') {
      this.backoff = 0;
      // More waiting: send on without waiting for the timer.
      if (this.buffer.length >= this.batchSize || this.closed) queueMicrotask(() => this.kick());
      return;
    }
    this.backoff = Math.min(this.maxBackoff, this.backoff ? this.backoff * 2 : 250);
    this.notBefore = Math.max(this.notBefore, Date.now() + this.backoff);
  }

  private async attempt(batch: EventInput[]): Promise<Outcome> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(this.requestTimeout),
      });
    } catch (e) {
      if (this.counts.reachable) this.log(`collector at ${this.url} is away (${describe(e)}); keeping up to ${this.maxBuffer} events and retrying`);
      this.counts.reachable = false;
      return 'away';
    }
    const text = await res.text().catch(() => '');
    if (!this.counts.reachable)
      this.log(`collector at ${this.url} is back; ${this.buffer.length} events buffered, ${this.counts.dropped.buffer_full} dropped meanwhile`);
    this.counts.reachable = true;
    if (res.status === 200 || res.status === 201 || res.status === 202) {
      this.buffer.splice(0, batch.length);
      this.counts.sent += batch.length;
      return 'done';
    }
    if (res.status === 503 || res.status === 429 || res.status >= 500) {
      // Busy (a full queue, a rate limit) or failing for now: keep everything, wait as told.
      const after = Number(res.headers.get('retry-after'));
      if (Number.isFinite(after) && after > 0) this.notBefore = Date.now() + Math.min(after * 1000, this.maxBackoff);
      this.warnOnce(`busy${res.status}`, `collector answered HTTP ${res.status} (${errorText(text)}); events are kept and sent again later`);
      return 'retry';
    }
    // Any other 4xx: these events will never be taken. A 400 names the bad ones by index: drop only those.
    const bad = res.status === 400 ? badIndexes(text, batch.length) : undefined;
    if (bad && bad.size > 0 && bad.size < batch.length) {
      const keep = batch.filter((_, i) => !bad.has(i));
      this.buffer.splice(0, batch.length, ...keep);
      this.drop('rejected', bad.size, `collector refused events (HTTP 400: ${errorText(text)}); those were dropped, the rest are sent again`);
      return 'done';
    }
    this.buffer.splice(0, batch.length);
    this.drop('rejected', batch.length, `collector refused ${batch.length} events with HTTP ${res.status} (${errorText(text)}); they were dropped`);
    return 'done';
  }

  private drop(reason: DropReason, n: number, why: string): void {
    this.counts.dropped[reason] += n;
    this.warnOnce(reason, `${why} (further drops of this kind are only counted: stats().dropped.${reason})`);
  }

  private warnOnce(key: string, message: string): void {
    if (this.said.has(key)) return;
    this.said.add(key);
    try {
      this.log(message);
    } catch {
      /* a failing logger must not reach the caller either */
    }
  }
}

// Referenced: a caller awaiting flush() must not see the process exit under it (the waits are bounded).
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** `p`, or after `ms` whichever is first; the timer is cleared so it holds nothing open afterwards. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, Math.max(0, ms))))]);
  clearTimeout(t);
}

function describe(e: unknown): string {
  const err = e as Error & { cause?: Error; path?: string };
  const msg = err?.cause?.message ?? err?.message ?? String(e);
  return err?.path ? `${err.path}: ${msg}` : msg;
}

function errorText(body: string): string {
  try {
    const doc = JSON.parse(body) as { error?: { message?: string } };
    if (doc.error?.message) return doc.error.message.slice(0, 300);
  } catch {
    /* not JSON */
  }
  return body.slice(0, 200) || 'no message';
}

/** Indexes of the refused events in a 400 answer (`error.errors[].index`); undefined when it lists none. */
function badIndexes(body: string, n: number): Set<number> | undefined {
  try {
    const doc = JSON.parse(body) as { error?: { errors?: { index?: unknown }[] } };
    const list = (doc.error?.errors ?? []).map((e) => e.index).filter((i): i is number => Number.isInteger(i) && (i as number) >= 0 && (i as number) < n);
    return list.length ? new Set(list) : undefined;
  } catch {
    return undefined;
  }
}

let shared: EventClient | undefined;
let sharedOptions: EventClientOptions = {};

/** Options for the client behind `sendEvent`; call before the first `sendEvent`. */
export function configureEvents(opts: EventClientOptions): void {
  sharedOptions = opts;
}

/** Exit flush for the shared client: bounded, once per batch of leftovers, so `beforeExit` cannot loop. */
const EXIT_FLUSH_MS = 2000;

/**
 * One line to send an event: `sendEvent('job.state', {experiment: 'nova'}, {data: {to: 'held'}})`. Buffers and
 * returns at once; a shared client posts in the background and flushes (at most 2 s) when the program is done.
 */
export function sendEvent(type: string, labels?: Labels, opts?: SendOptions): boolean {
  if (!shared) {
    const c = (shared = new EventClient(sharedOptions));
    let lastTry = -1;
    process.on('beforeExit', () => {
      const st = c.stats();
      // beforeExit fires again after our flush ends; try again only if something new arrived since.
      if (st.buffered === 0 || st.sent + st.buffered === lastTry) return;
      lastTry = st.sent + st.buffered;
      void c.flush(EXIT_FLUSH_MS);
    });
    process.on('exit', () => {
      const n = c.stats().buffered;
      if (n) process.stderr.write(`rexmon client: exiting with ${n} event(s) not delivered (collector away or slow)\n`);
    });
  }
  return shared.send(type, labels, opts);
}

/** The shared client behind `sendEvent` (for stats, flush, close); undefined before the first send. */
export function sharedEventClient(): EventClient | undefined {
  return shared;
}
