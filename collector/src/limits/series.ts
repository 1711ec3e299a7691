// Bounds on new series, checked where input arrives (before the pipeline): per sender and per minute, for all
// senders per minute, per metric name, and in total. A sender that puts a timestamp in a name (one new RRD file of
// ~305 KB per line) is stopped at its budget; its known series still get their values. Refusals are counted by
// listener, sender and limit (/metrics and the status page) and logged at most every 10 s per limit.
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import type { SeriesLimits } from '../config/security.js';
import { Labels, Sample, seriesKey } from '../model/series.js';
import { RateLimitedLog } from '../util/tcp-listener.js';

export type SeriesLimitName = 'seriesLimits.newPerSourcePerMinute' | 'seriesLimits.newPerMinute' | 'seriesLimits.perName' | 'seriesLimits.total';

/** Refills evenly: `perMinute` tokens a minute, never more than `perMinute` held. */
class Bucket {
  private tokens: number;
  constructor(
    private readonly perMinute: number,
    private last = Date.now(),
  ) {
    this.tokens = perMinute;
  }
  private refill(now: number) {
    // A clock read before the bucket was made (the batch's) must not take from it: a new bucket once held 1.99 of 2.
    if (now <= this.last) return;
    this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
  }
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
  give(): void {
    this.tokens = Math.min(this.perMinute, this.tokens + 1);
  }
  get full(): boolean {
    this.refill(Date.now());
    return this.tokens >= this.perMinute;
  }
}

export interface Admission {
  admitted: Sample[];
  /** Samples refused. */
  refused: number;
  /** The first limit that refused, and what to tell the sender. */
  limit?: SeriesLimitName;
  message?: string;
}

/** Senders tracked in /metrics by name; beyond this many, further ones are counted as `other`. */
const MAX_SOURCES = 1000;
/** Admitted new series the catalog has not listed yet are forgotten after this long (their samples were refused later). */
const PENDING_MS = 600_000;

export class SeriesLimiter {
  readonly refusedSamples: Counter<'listener' | 'source' | 'limit'>;
  private readonly pending = new Map<string, { name: string; at: number }>();
  /** Series keys of labels objects whose series was not in the catalog when first seen. */
  private readonly newKeys = new WeakMap<Labels, { name: string; key: string }>();
  private readonly pendingByName = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly all?: Bucket;
  private readonly named = new Set<string>();
  private readonly logs = new Map<string, RateLimitedLog>();
  private lastPrune = 0;

  constructor(
    private readonly limits: SeriesLimits,
    private readonly catalog: Catalog,
    private readonly log: Logger,
    registry: Registry,
  ) {
    if (limits.newPerMinute) this.all = new Bucket(limits.newPerMinute);
    this.refusedSamples = new Counter({
      name: 'rexmon_series_limit_refused_samples_total',
      help: 'Samples refused because they would create a series beyond a limit (seriesLimits.*), by listener, sender and limit.',
      labelNames: ['listener', 'source', 'limit'],
      registers: [registry],
    });
  }

  /**
   * The samples that may go in: those of known series and of new series within the limits. With `whole`, a batch
   * with any refused sample is refused entirely and uses none of the budget (HTTP batches are taken whole or not at all).
   */
  admit(samples: Sample[], listener: string, source: string, whole = false): Admission {
    const now = Date.now();
    if (now - this.lastPrune > 5000) this.prune(now);
    let refusedKeys: Set<string> | undefined;
    const took: { key: string; source: boolean }[] = [];
    let first: { limit: SeriesLimitName; message: string } | undefined;
    // Known series (nearly every sample) cost one look-up by their labels object; nothing is allocated for them.
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      if (this.catalog.lookupShared(s.name, s.labels)) continue;
      // A new series' later samples (until the catalog lists it) find its key by their shared labels object: built
      // twice for every sample, the key took most of the main thread while the lines of 10,000 new series came in (profiled).
      let key: string;
      const seen = this.newKeys.get(s.labels);
      if (seen !== undefined && seen.name === s.name) {
        key = seen.key;
        if (this.catalog.lookupKey(s.labels, key)) {
          this.newKeys.delete(s.labels); // listed since: the catalog finds it by this labels object from now on
          continue;
        }
      } else {
        key = seriesKey(s.name, s.labels);
        if (this.catalog.lookupKey(s.labels, key)) continue; // known, by another labels object (an HTTP body)
        this.newKeys.set(s.labels, { name: s.name, key });
      }
      if ((this.pending.size && this.pending.has(key)) || refusedKeys?.has(key)) continue;
      const why = this.take(s.name, key, source, now, took);
      if (!why) continue;
      (refusedKeys ??= new Set()).add(key);
      first ??= why;
    }
    if (!refusedKeys) return { admitted: samples, refused: 0 };
    let admitted: Sample[];
    if (whole) {
      for (const t of took) this.untake(t, source);
      admitted = [];
    } else admitted = samples.filter((x) => !refusedKeys.has(seriesKey(x.name, x.labels)));
    const refused = samples.length - admitted.length;
    const label = this.named.has(source) || this.named.size < MAX_SOURCES ? (this.named.add(source), source) : 'other';
    this.refusedSamples.inc({ listener, source: label, limit: first!.limit }, refused);
    let l = this.logs.get(first!.limit);
    if (!l) this.logs.set(first!.limit, (l = new RateLimitedLog(this.log, 10_000)));
    l.warn((n) => `${listener} ${source}: ${first!.message}` + (n > 1 ? ` (${n} batches refused since the last such line)` : ''));
    return { admitted, refused, ...first };
  }

  private take(
    name: string,
    key: string,
    source: string,
    now: number,
    took: { key: string; source: boolean }[],
  ): { limit: SeriesLimitName; message: string } | undefined {
    const L = this.limits;
    if (L.total && this.catalog.size + this.pending.size >= L.total)
      return { limit: 'seriesLimits.total', message: `new series ${key} refused: the catalog holds the limit of ${L.total} series (seriesLimits.total)` };
    if (L.perName && this.catalog.countOf(name) + (this.pendingByName.get(name) ?? 0) >= L.perName)
      return {
        limit: 'seriesLimits.perName',
        message: `new series ${key} refused: ${JSON.stringify(name)} has the limit of ${L.perName} series (seriesLimits.perName)`,
      };
    let bucket: Bucket | undefined;
    if (L.newPerSourcePerMinute) {
      bucket = this.buckets.get(source);
      if (!bucket) {
        if (this.buckets.size >= 10 * MAX_SOURCES) for (const [k, b] of this.buckets) if (b.full) this.buckets.delete(k);
        this.buckets.set(source, (bucket = new Bucket(L.newPerSourcePerMinute, now)));
      }
      if (!bucket.take(now))
        return {
          limit: 'seriesLimits.newPerSourcePerMinute',
          message: `new series ${key} refused: this sender created its limit of ${L.newPerSourcePerMinute} new series per minute (seriesLimits.newPerSourcePerMinute)`,
        };
    }
    if (this.all && !this.all.take(now)) {
      bucket?.give();
      return {
        limit: 'seriesLimits.newPerMinute',
        message: `new series ${key} refused: all senders together created the limit of ${L.newPerMinute} new series per minute (seriesLimits.newPerMinute)`,
      };
    }
    this.pending.set(key, { name, at: now });
    this.pendingByName.set(name, (this.pendingByName.get(name) ?? 0) + 1);
    took.push({ key, source: Boolean(bucket) });
    return undefined;
  }

  private untake(t: { key: string; source: boolean }, source: string) {
    if (t.source) this.buckets.get(source)?.give();
    this.all?.give();
    this.forget(t.key);
  }

  private forget(key: string) {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    const n = (this.pendingByName.get(p.name) ?? 1) - 1;
    if (n > 0) this.pendingByName.set(p.name, n);
    else this.pendingByName.delete(p.name);
  }

  /** Admitted series the catalog lists now are counted there; those it never listed expire. */
  private prune(now: number) {
    this.lastPrune = now;
    for (const [key, p] of this.pending) if (this.catalog.get(key) || now - p.at > PENDING_MS) this.forget(key);
  }

  /** For the status page: refused samples by listener, sender and limit. */
  async refusals(): Promise<{ source: string; reason: string; count: number }[]> {
    return (await this.refusedSamples.get()).values.map((v) => ({
      source: `${v.labels.listener} ${v.labels.source}`,
      reason: String(v.labels.limit),
      count: v.value,
    }));
  }
}

/** What listeners call; absent in tests and tools that run without limits. */
export type SeriesGate = Pick<SeriesLimiter, 'admit'>;
