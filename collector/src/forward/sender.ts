// The sending side: a pipeline processor (samples) and an event processor (events) that append what this
// collector accepted to the forward buffer, and a loop that posts the buffer, oldest first, to the receiving
// collector's POST /api/v1/forward. A batch leaves the buffer only once the receiver acknowledged it; a retry
// carries the same batch id (sender id + sequence), so the receiver never stores it twice.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { HttpError } from '../api/http-error.js';
import type { EventInput } from '../events/model.js';
import { Labels, Sample } from '../model/series.js';
import { Processor, RetryLater } from '../pipeline/pipeline.js';
import { BufferFull, ForwardBuffer } from './buffer.js';
import type { ForwardConfig } from './config.js';
import { WireSample } from './wire.js';

/** The shape of an event processor in the event queue (engineer (a)'s `{ name; process(events) }`). */
export interface EventProcessor {
  readonly name: string;
  /** `key`: the store's key for this batch part (see EventStore.insert), sent along so a resend is known. */
  process(events: EventInput[], key?: string): Promise<void>;
}

export interface ForwardStatus {
  url: string;
  sender: string;
  /** idle: nothing to send; sending; retrying: the receiver cannot be reached or answers 5xx; refused: it answers 4xx. */
  state: 'idle' | 'sending' | 'retrying' | 'refused';
  pendingBatches: number;
  bufferedBytes: number;
  maxBufferBytes: number;
  full: boolean;
  lastAckedSeq: number;
  lastSuccess?: number;
  lastError?: string;
}

export interface SenderDeps {
  dataDir: string;
  registry: Registry;
  log: { info: (m: string) => void; warn: (m: string) => void; error: (m: string) => void };
}

const PATH = '/api/v1/forward';

export class ForwardSender implements Processor {
  readonly name = 'forward';
  readonly buffer: ForwardBuffer;
  private readonly dir: string;
  private sender = '';
  private token?: string;
  private stopped = false;
  private readonly abort = new AbortController();
  private loopDone?: Promise<void>;
  private state: ForwardStatus['state'] = 'idle';
  private lastSuccess?: number;
  private lastError?: string;
  private fullSince?: number;
  private readonly m: {
    bytes: Gauge;
    pending: Gauge;
    sent: Counter;
    retries: Counter;
    refused: Counter;
    full: Counter;
    setAside: Counter;
  };

  /** What the event queue calls; for now hooked where events are stored (EventStore.onInsert). */
  readonly events: EventProcessor;

  constructor(
    private readonly cfg: ForwardConfig & { url: string },
    private readonly deps: SenderDeps,
  ) {
    this.dir = path.join(deps.dataDir, 'forward');
    this.buffer = new ForwardBuffer({ dir: path.join(this.dir, 'buffer'), maxBytes: cfg.maxBufferBytes, segmentBytes: cfg.segmentBytes, log: deps.log.warn });
    const registers = [deps.registry];
    this.m = {
      bytes: new Gauge({ name: 'rexmon_forward_buffer_bytes', help: 'Bytes in the forward buffer on disk (forward.maxBufferBytes bounds it).', registers }),
      pending: new Gauge({ name: 'rexmon_forward_pending_batches', help: 'Batches in the forward buffer the receiver has not acknowledged.', registers }),
      sent: new Counter({ name: 'rexmon_forward_batches_sent_total', help: 'Batches the receiving collector acknowledged.', registers }),
      retries: new Counter({
        name: 'rexmon_forward_retries_total',
        help: 'Requests to the receiving collector that failed (unreachable, timeout, 5xx, 4xx) and are retried after a backoff.',
        registers,
      }),
      refused: new Counter({
        name: 'rexmon_forward_refused_total',
        help: 'Requests the receiving collector refused with a 4xx status (bad token, invalid batch), by status.',
        labelNames: ['status'],
        registers,
      }),
      full: new Counter({
        name: 'rexmon_forward_buffer_full_total',
        help: 'Samples and events refused because the forward buffer was full, by kind (the input was refused, not dropped).',
        labelNames: ['kind'],
        registers,
      }),
      setAside: new Counter({
        name: 'rexmon_forward_set_aside_total',
        help: 'Batches the receiver refused as invalid (400/413), moved to dataDir/forward/refused instead of blocking the rest.',
        registers,
      }),
    };
    const add = cfg.labels;
    const events = cfg.events;
    this.events = {
      name: 'forward',
      process: async (list: EventInput[], key?: string) => {
        if (!events || list.length === 0) return;
        const out = list.map((e) => ({ ...e, labels: withLabels(e.labels, add) }));
        try {
          await this.append({ e: out, ...(key ? { k: key } : {}) }, true, 'events', list.length);
        } catch (e) {
          // The events are not stored either (the store's transaction is undone): the client is told to retry.
          if (e instanceof BufferFull) throw new HttpError(503, `${e.message}; nothing was stored, retry later`);
          throw e;
        }
      },
    };
  }

  /** Opens the buffer (what an earlier run left is sent first) and starts sending. */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.sender = senderId(this.dir, this.cfg.name);
    this.token = readToken(this.cfg.tokenFile);
    await this.buffer.open();
    this.gauges();
    if (this.buffer.pending) this.deps.log.info(`forward: ${this.buffer.pending} batch(es) left by an earlier run go first`);
    this.deps.log.info(`forward: sending to ${this.cfg.url} as ${this.sender}`);
    this.loopDone = this.loop();
  }

  /** Pipeline lane: samples after validation. A full buffer keeps them in the lane (so input is refused upstream). */
  async handle(batch: Sample[]): Promise<void> {
    const add = this.cfg.labels;
    const wire: WireSample[] = batch.map((s) => {
      const flags = (s.counter ? 1 : 0) | (s.replay ? 2 : 0);
      const v = Number.isNaN(s.value) ? null : s.value;
      const l = withLabels(s.labels, add);
      return flags ? [s.name, l, v, s.time, flags] : [s.name, l, v, s.time];
    });
    try {
      await this.append({ s: wire }, false, 'samples', batch.length);
    } catch (e) {
      if (e instanceof BufferFull) throw new RetryLater(e.message);
      throw e;
    }
  }

  /** Called at the pipeline's checkpoint before the write-ahead log is trimmed: the samples must be on disk here. */
  async flush(): Promise<boolean> {
    await this.buffer.sync();
    return true;
  }

  private async append(body: { s?: WireSample[]; e?: EventInput[]; k?: string }, sync: boolean, kind: 'samples' | 'events', n: number): Promise<void> {
    try {
      await this.buffer.append((q) => Buffer.from(JSON.stringify({ q, ...body }), 'utf8'), sync);
      if (this.fullSince) this.deps.log.info(`forward: the buffer has room again after ${Math.round((Date.now() - this.fullSince) / 1000)} s`);
      this.fullSince = undefined;
    } catch (e) {
      if (e instanceof BufferFull) {
        this.m.full.inc({ kind }, n);
        if (!this.fullSince) this.deps.log.error(`forward: ${e.message}; refusing new input until it has room`);
        this.fullSince ??= Date.now();
      }
      throw e;
    } finally {
      this.gauges();
    }
  }

  private gauges() {
    this.m.bytes.set(this.buffer.bytes);
    this.m.pending.set(this.buffer.pending);
  }

  status(): ForwardStatus {
    return {
      url: this.cfg.url,
      sender: this.sender,
      state: this.buffer.pending === 0 && this.state !== 'refused' ? 'idle' : this.state,
      pendingBatches: this.buffer.pending,
      bufferedBytes: this.buffer.bytes,
      maxBufferBytes: this.cfg.maxBufferBytes,
      full: this.fullSince !== undefined,
      lastAckedSeq: this.buffer.lastAcked,
      ...(this.lastSuccess ? { lastSuccess: this.lastSuccess } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    // After a 400/413 for several batches, they go one at a time so only the bad one is set aside.
    let single = 0;
    while (!this.stopped) {
      if (this.buffer.pending === 0) {
        await this.buffer.waitForData(1000);
        continue;
      }
      const recs = await this.buffer.read(this.cfg.maxRequestBytes, single ? 1 : Infinity);
      this.state = attempt ? this.state : 'sending';
      const body = Buffer.concat([
        Buffer.from(`{"sender":${JSON.stringify(this.sender)},"batches":[`),
        ...recs.flatMap((r, i) => (i ? [Buffer.from(','), r.payload] : [r.payload])),
        Buffer.from(']}'),
      ]);
      let problem: string;
      let status = 0;
      try {
        const res = await fetch(this.cfg.url.replace(/\/$/, '') + PATH, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
          body,
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.cfg.timeout * 1000)]),
        });
        const text = await res.text();
        status = res.status;
        if (res.ok) {
          await this.buffer.ack(recs[recs.length - 1].seq);
          this.m.sent.inc(recs.length);
          if (attempt) this.deps.log.info(`forward: ${this.cfg.url} takes batches again after ${attempt} failed attempt(s)`);
          attempt = 0;
          if (single) single--;
          this.state = 'sending';
          this.lastSuccess = Math.floor(Date.now() / 1000);
          this.lastError = undefined;
          this.gauges();
          continue;
        }
        problem = `${this.cfg.url} answered ${res.status}: ${errorMessage(text)}`;
      } catch (e) {
        if (this.stopped) break;
        problem = `${this.cfg.url} cannot be reached: ${causeOf(e)}`;
      }
      if (status === 400 || status === 413) {
        this.m.refused.inc({ status: String(status) });
        if (recs.length > 1) {
          single = recs.length;
          continue;
        }
        await this.setAside(recs[0], problem);
        continue;
      }
      if (status >= 400 && status < 500) {
        this.m.refused.inc({ status: String(status) });
        this.state = 'refused';
      } else this.state = 'retrying';
      this.m.retries.inc();
      attempt++;
      if (attempt === 1 || attempt % 20 === 0 || problem !== this.lastError)
        this.deps.log.warn(`forward: ${problem}; ${this.buffer.pending} batch(es) kept, retrying (attempt ${attempt})`);
      this.lastError = problem;
      await this.sleep(backoff(attempt, this.cfg.backoff.min, this.cfg.backoff.max));
    }
  }

  /** A batch the receiver calls invalid would block every later one: keep it in a file, say so, go on. */
  private async setAside(rec: { seq: number; payload: Buffer }, problem: string) {
    const dir = path.join(this.dir, 'refused');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${String(rec.seq).padStart(20, '0')}.json`);
    writeFileSync(file, rec.payload);
    await this.buffer.ack(rec.seq);
    this.m.setAside.inc();
    this.gauges();
    this.deps.log.error(`forward: ${problem}; batch ${rec.seq} set aside in ${file}`);
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.abort.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((r) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        r();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }

  /** Stops sending (a request in flight is cut; its batches stay and go again at the next start) and closes the buffer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loopDone;
    await this.buffer.close();
  }
}

/** Adds the configured labels a sample or event lacks (one forwarded from further down keeps its own). */
function withLabels(labels: Labels, add: Record<string, string>): Labels {
  let out: Labels | undefined;
  for (const k in add)
    if (!(k in labels)) {
      out ??= { ...labels };
      out[k] = add[k];
    }
  return out ?? labels;
}

/** Exponential, with jitter (between half and all of it) so that many senders do not retry in step. */
export function backoff(attempt: number, minS: number, maxS: number): number {
  const full = Math.min(maxS, minS * 2 ** Math.min(attempt - 1, 30)) * 1000;
  return full / 2 + Math.random() * (full / 2);
}

/** This sender's id, made once with the buffer: a new buffer (data dir wiped) is a new sender, so its sequence 1 is never mistaken for an old one. */
function senderId(dir: string, name?: string): string {
  const file = path.join(dir, 'sender-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_.-]{1,100}$/.test(id)) return id;
  } catch {
    /* first start */
  }
  const id = `${name ? name + '.' : ''}${randomUUID()}`;
  writeFileSync(file, id + '\n', { flush: true });
  return id;
}

function readToken(file?: string): string | undefined {
  if (!file) return process.env.REXMON_FORWARD_TOKEN || undefined;
  let t: string;
  try {
    t = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`forward.tokenFile: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!t || /\s/.test(t)) throw new Error(`forward.tokenFile: ${file} must hold one token on one line`);
  return t;
}

function errorMessage(text: string): string {
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

function causeOf(e: unknown): string {
  const err = e as Error & { cause?: Error & { code?: string } };
  if (err.name === 'TimeoutError') return 'timed out';
  return err.cause?.code ?? err.cause?.message ?? err.message;
}
