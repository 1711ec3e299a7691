// One remote_write endpoint: a bounded in-memory buffer drained by one sender. Requests are sent in order, one at
// a time, so each series reaches the endpoint in time order. A 5xx, a 429 or a network error (refused, reset,
// timeout) is retried with exponential backoff, the same body again (Prometheus appends a request all or nothing);
// any other answer (401, 404, 413, ...) drops the request, counted; a 400 (out of order, out of bounds) is first
// split by series, so that only the series refused are dropped. When the buffer is full the
// oldest samples make room, counted; nothing is dropped without a count in /metrics.
import { readFile } from 'node:fs/promises';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundedQueue } from '../pipeline/queue.js';
import { Sample } from '../model/series.js';
import { RemoteWriteConfig, remoteName } from './config.js';
import { promKey, promLabels } from './labels.js';
import { encodeWriteRequest, PromLabel, PromTimeSeries } from './prompb.js';

export type DropReason = 'buffer_full' | 'rejected' | 'unknown_value' | 'out_of_order' | 'shutdown';

/** Shared by every endpoint of one collector, told apart by the `remote` label. */
export class RemoteWriteMetrics {
  readonly sent: Counter<'remote'>;
  readonly dropped: Counter<'remote' | 'reason'>;
  readonly requests: Counter<'remote' | 'status'>;
  readonly retries: Counter<'remote' | 'reason'>;
  readonly buffered: Gauge<'remote'>;
  readonly capacity: Gauge<'remote'>;
  readonly lastSuccess: Gauge<'remote'>;
  readonly seconds: Histogram<'remote'>;
  constructor(registry: Registry) {
    const registers = [registry];
    this.sent = new Counter({
      name: 'rexmon_remote_write_samples_sent_total',
      help: 'Samples a remote_write endpoint accepted (2xx).',
      labelNames: ['remote'],
      registers,
    });
    this.dropped = new Counter({
      name: 'rexmon_remote_write_samples_dropped_total',
      help: 'Samples not exported, by reason: buffer_full (oldest dropped), rejected (4xx other than 429), unknown_value (NaN), out_of_order (not newer than a value already sent for its series), shutdown (endpoint still failing at stop).',
      labelNames: ['remote', 'reason'],
      registers,
    });
    this.requests = new Counter({
      name: 'rexmon_remote_write_requests_total',
      help: 'remote_write requests by outcome: 2xx, 4xx, 429, 5xx, network (no answer: refused, reset, timeout).',
      labelNames: ['remote', 'status'],
      registers,
    });
    this.retries = new Counter({
      name: 'rexmon_remote_write_retries_total',
      help: 'remote_write requests sent again after 429, 5xx or network errors.',
      labelNames: ['remote', 'reason'],
      registers,
    });
    this.buffered = new Gauge({
      name: 'rexmon_remote_write_buffer_samples',
      help: 'Samples waiting for a remote_write endpoint (buffer plus the request in flight).',
      labelNames: ['remote'],
      registers,
    });
    this.capacity = new Gauge({
      name: 'rexmon_remote_write_buffer_capacity',
      help: 'Buffer capacity of a remote_write endpoint (queue.capacity).',
      labelNames: ['remote'],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'rexmon_remote_write_last_success_timestamp_seconds',
      help: 'When a remote_write endpoint last accepted a request.',
      labelNames: ['remote'],
      registers,
    });
    this.seconds = new Histogram({
      name: 'rexmon_remote_write_request_seconds',
      help: 'Duration of remote_write requests that got an answer.',
      labelNames: ['remote'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }
}

/** At most 2^6 = 64 pieces (126 requests) for one refused request of many series. */
const MAX_SPLIT_DEPTH = 6;
const MAPPING_CACHE = 200000;

type Log = { warn: (msg: string) => void; info: (msg: string) => void };

export class RemoteWriteQueue {
  readonly name: string;
  private readonly buffer: BoundedQueue<Sample>;
  private headers: Record<string, string> = {};
  /** Samples ever offered / accounted for (sent, dropped or skipped): flush() waits for done to catch up. */
  private offered = 0;
  private done = 0;
  private inFlight = 0;
  private doneWaiters: { target: number; resolve: () => void }[] = [];
  /** Newest time sent per Prometheus series (ms): older values would make the endpoint refuse the whole request. */
  private readonly lastSent = new Map<string, number>();
  private readonly mapping = new Map<string, { labels: PromLabel[]; key: string }>();
  private stopAt?: number;
  private loopDone?: Promise<void>;
  /** Cuts a batch wait or a backoff short (flush, stop, a full batch). */
  private wake?: () => void;
  private failing?: { since: number; message: string; logged: number };
  private rejectedLogged = 0;

  constructor(
    private readonly cfg: RemoteWriteConfig,
    private readonly m: RemoteWriteMetrics,
    private readonly log: Log,
  ) {
    this.name = remoteName(cfg);
    this.buffer = new BoundedQueue(cfg.queue.capacity);
    m.capacity.set({ remote: this.name }, cfg.queue.capacity);
    m.buffered.set({ remote: this.name }, 0);
    for (const reason of ['buffer_full', 'rejected', 'unknown_value', 'out_of_order', 'shutdown'] as DropReason[])
      m.dropped.inc({ remote: this.name, reason }, 0);
    m.sent.inc({ remote: this.name }, 0);
  }

  /** Reads the credential files (once, here) and starts the sender. */
  async start(): Promise<void> {
    const c = this.cfg;
    const secret = (file: string, what: string) =>
      readFile(file, 'utf8').then(
        (s) => s.trim(),
        (e: Error) => {
          throw new Error(`export.remoteWrite ${this.name}: cannot read ${what} ${file}: ${e.message}`);
        },
      );
    const h: Record<string, string> = {
      ...c.headers,
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
      'User-Agent': 'rexmon-remote-write',
    };
    if (c.basicAuth) {
      const pw = c.basicAuth.passwordFile ? await secret(c.basicAuth.passwordFile, 'basicAuth.passwordFile') : (c.basicAuth.password ?? '');
      h.Authorization = `Basic ${Buffer.from(`${c.basicAuth.username}:${pw}`).toString('base64')}`;
    }
    const token = c.bearerTokenFile ? await secret(c.bearerTokenFile, 'bearerTokenFile') : c.bearerToken;
    if (token) h.Authorization = `Bearer ${token}`;
    this.headers = h;
    this.loopDone = this.loop();
  }

  /** Takes samples into the buffer; never blocks, never refuses: when full, the oldest go, counted. */
  offer(samples: Sample[]): void {
    this.offered += samples.length;
    let known = samples.filter((s) => !Number.isNaN(s.value));
    // Prometheus would store NaN as a value; an unknown rexmon value is a gap, which remote_write says by sending nothing.
    if (known.length < samples.length) this.drop('unknown_value', samples.length - known.length);
    if (this.stopAt !== undefined) return this.drop('shutdown', known.length);
    const cap = this.cfg.queue.capacity;
    if (known.length > cap) {
      this.drop('buffer_full', known.length - cap);
      known = known.slice(known.length - cap);
    }
    const over = this.buffer.size + known.length - cap;
    if (over > 0) this.drop('buffer_full', this.buffer.take(over).length);
    this.buffer.offer(known, true);
    this.gauge();
    if (this.buffer.size >= this.cfg.queue.maxSamplesPerSend) this.wake?.();
  }

  /** Resolves once every sample offered before the call was sent or dropped (waits while the endpoint is down). */
  flush(): Promise<void> {
    const target = this.offered;
    if (this.done >= target) return Promise.resolve();
    return new Promise((resolve) => {
      this.doneWaiters.push({ target, resolve });
      this.wake?.();
    });
  }

  /** Sends what is buffered, retrying for at most queue.stopTimeout; the rest is dropped, counted. */
  async stop(): Promise<void> {
    this.stopAt = Date.now() + this.cfg.queue.stopTimeout * 1000;
    this.buffer.wakeAll();
    this.wake?.();
    await this.loopDone;
  }

  private drop(reason: DropReason, n: number) {
    if (n <= 0) return;
    this.m.dropped.inc({ remote: this.name, reason }, n);
    this.account(n);
  }

  private account(n: number) {
    this.done += n;
    this.doneWaiters = this.doneWaiters.filter((w) => (w.target <= this.done ? (w.resolve(), false) : true));
  }

  private gauge() {
    this.m.buffered.set({ remote: this.name }, this.buffer.size + this.inFlight);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const done = () => {
        clearTimeout(t);
        this.wake = undefined;
        r();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    const q = this.cfg.queue;
    for (;;) {
      if (this.buffer.size === 0) {
        if (this.stopAt !== undefined) break;
        await this.buffer.waitForData();
        continue;
      }
      // Let a request fill when samples trickle in, unless a flush or stop wants them out now.
      if (this.buffer.size < q.maxSamplesPerSend && this.stopAt === undefined && this.doneWaiters.length === 0 && q.flushInterval > 0)
        await this.sleep(q.flushInterval * 1000);
      const batch = this.buffer.take(q.maxSamplesPerSend);
      this.inFlight = batch.length;
      await this.send(batch);
      this.inFlight = 0;
      this.gauge();
      this.account(batch.length);
    }
  }

  /** The Prometheus labels and identity of a sample's series, cached: mapping and sorting cost more than sending. */
  private mapped(s: Sample): { labels: PromLabel[]; key: string } {
    let raw = s.name;
    for (const k in s.labels) raw += `\u0000${k}\u0000${s.labels[k]}`;
    let m = this.mapping.get(raw);
    if (!m) {
      // Bounded: a burst of new series empties the cache rather than growing it without end.
      if (this.mapping.size >= MAPPING_CACHE) this.mapping.clear();
      const labels = promLabels(s.name, s.labels, this.cfg.labels);
      this.mapping.set(raw, (m = { labels, key: promKey(labels) }));
    }
    return m;
  }

  /** Groups a batch by Prometheus series, in time order; values not newer than one already sent are skipped. */
  private build(batch: Sample[]): { series: PromTimeSeries[]; keys: string[]; skipped: number } {
    const bySeries = new Map<string, { ts: PromTimeSeries; byTime: Map<number, number> }>();
    for (const s of batch) {
      const { labels, key } = this.mapped(s);
      let e = bySeries.get(key);
      if (!e) bySeries.set(key, (e = { ts: { labels, samples: [] }, byTime: new Map() }));
      e.byTime.set(s.time * 1000, s.value); // the later of two values at one time wins, as in the RRD
    }
    let skipped = batch.length;
    const series: PromTimeSeries[] = [];
    const keys: string[] = [];
    for (const [key, e] of bySeries) {
      const after = this.lastSent.get(key) ?? -Infinity;
      for (const [timestamp, value] of [...e.byTime].sort((a, b) => a[0] - b[0])) if (timestamp > after) e.ts.samples.push({ value, timestamp });
      if (!e.ts.samples.length) continue;
      skipped -= e.ts.samples.length;
      series.push(e.ts);
      keys.push(key);
    }
    return { series, keys, skipped };
  }

  private async send(batch: Sample[]): Promise<void> {
    const { series, keys, skipped } = this.build(batch);
    // Values superseded within the batch or not newer than what the endpoint has: it would refuse the whole request.
    if (skipped) this.m.dropped.inc({ remote: this.name, reason: 'out_of_order' }, skipped);
    if (series.length) await this.post(series, keys, 0);
  }

  /**
   * Sends one request until it is taken or refused. A 400 (Prometheus: out of order, out of bounds) for several
   * series is split in halves, each sent on its own, down to MAX_SPLIT_DEPTH, so that one stale series (a value
   * replayed from the write-ahead log that the endpoint holds already) does not take the others with it.
   */
  private async post(series: PromTimeSeries[], keys: string[], depth: number): Promise<void> {
    const count = series.reduce((n, ts) => n + ts.samples.length, 0);
    const body = await encodeWriteRequest(series);
    const remote = this.name;
    for (let attempt = 0; ; attempt++) {
      let retry: { reason: string; message: string; after?: number };
      const started = process.hrtime.bigint();
      try {
        const res = await fetch(this.cfg.url, { method: 'POST', headers: this.headers, body, signal: AbortSignal.timeout(this.cfg.timeout * 1000) });
        const text = await res.text().catch(() => '');
        this.m.seconds.observe({ remote }, Number(process.hrtime.bigint() - started) / 1e9);
        const status = res.status;
        if (status >= 200 && status < 300) {
          this.m.requests.inc({ remote, status: '2xx' });
          this.m.sent.inc({ remote }, count);
          this.m.lastSuccess.set({ remote }, Date.now() / 1000);
          series.forEach((ts, i) => this.lastSent.set(keys[i], ts.samples[ts.samples.length - 1].timestamp));
          if (this.failing) this.log.info(`remote_write ${remote}: sending again after ${Math.round((Date.now() - this.failing.since) / 1000)} s`);
          this.failing = undefined;
          return;
        }
        const what = `HTTP ${status}${text ? `: ${text.trim().slice(0, 200)}` : ''}`;
        if (status === 429) retry = { reason: '429', message: what, after: retryAfter(res.headers.get('retry-after')) };
        else if (status >= 500) retry = { reason: '5xx', message: what };
        else {
          this.m.requests.inc({ remote, status: '4xx' });
          if (status === 400 && series.length > 1 && depth < MAX_SPLIT_DEPTH) {
            const mid = series.length >> 1;
            await this.post(series.slice(0, mid), keys.slice(0, mid), depth + 1);
            return this.post(series.slice(mid), keys.slice(mid), depth + 1);
          }
          this.m.dropped.inc({ remote, reason: 'rejected' }, count);
          if (this.rejectedLogged++ < 20 || this.rejectedLogged % 100 === 0)
            this.log.warn(`remote_write ${remote}: ${what}; dropped ${count} samples (a 4xx is not retried)`);
          return;
        }
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        retry = {
          reason: 'network',
          message: err.name === 'TimeoutError' ? `no answer within ${this.cfg.timeout} s` : (err.cause?.code ?? err.cause?.message ?? err.message),
        };
      }
      this.m.requests.inc({ remote, status: retry.reason });
      const now = Date.now();
      if (!this.failing) this.failing = { since: now, message: retry.message, logged: 0 };
      if (this.failing.logged++ % 20 === 0) this.log.warn(`remote_write ${remote}: ${retry.message}; keeping ${count} samples and retrying`);
      if (this.stopAt !== undefined && now >= this.stopAt) {
        this.m.dropped.inc({ remote, reason: 'shutdown' }, count);
        this.log.warn(`remote_write ${remote}: still failing at stop (${retry.message}); dropped ${count + this.buffer.size} samples`);
        this.drop('shutdown', this.buffer.take(this.buffer.size).length);
        return;
      }
      const q = this.cfg.queue;
      // Full jitter on the upper half, so many collectors restarting together do not retry in step.
      const backoff = Math.min(q.maxBackoff, q.minBackoff * 2 ** attempt) * (0.5 + Math.random() / 2);
      let delay = Math.min(q.maxBackoff, retry.after ?? backoff);
      if (this.stopAt !== undefined) delay = Math.min(delay, Math.max(0, (this.stopAt - now) / 1000));
      await this.sleepUnlessStopping(delay * 1000);
      this.m.retries.inc({ remote, reason: retry.reason });
    }
  }

  /** A backoff wait; stop() cuts it short only to check the deadline, flush() does not (the endpoint is still down). */
  private async sleepUnlessStopping(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await this.sleep(end - Date.now());
      if (this.stopAt !== undefined && Date.now() >= this.stopAt) return;
    }
  }
}

/** Retry-After in seconds (delta or HTTP date); undefined when absent or unreadable. */
function retryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim());
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, (t - Date.now()) / 1000);
}
