// Counting rules: events become series. Each rule counts (or sums a numeric data key of) the events of a type
// per interval and per label set (`by`), and at each interval's end pushes one sample per series into the
// pipeline, at the interval's end time. A series seen once gets 0 for an interval without events.
import type { EventCounterConfig } from '../config/schema.js';
import { checkSample, Labels, Sample, ValidationError } from '../model/series.js';
import { globToRegExp } from '../util/glob.js';
import type { EventInput } from './model.js';
import type { EventProcessor } from './processor.js';

/** Where counted samples go: Pipeline.push, waiting for room (see app.ts). */
export type SamplePush = (samples: Sample[]) => Promise<void>;

/** Series per rule remembered for their zeros; beyond it, a new series still counts but gets no zeros. */
const MAX_KNOWN = 10000;
/** Seconds after an interval's end before it is pushed, for events in flight. */
const GRACE = 2;

interface Rule {
  c: EventCounterConfig;
  type: RegExp;
  /** interval start (s) → series key → value. */
  buckets: Map<number, Map<string, number>>;
  known: Map<string, Labels>;
}

export interface CounterStats {
  /** Events of a counted type whose `sum` key was missing or not a number. */
  badValue: (rule: string, n: number) => void;
  /** Events older than an interval already pushed: counted into the oldest open one. */
  late: (rule: string, n: number) => void;
  invalid: (rule: string, msg: string) => void;
}

export class EventCounters implements EventProcessor {
  readonly name = 'counters';
  private readonly rules: Rule[];
  private timer?: NodeJS.Timeout;
  /** Per rule: intervals before this start (s) are pushed already. */
  private readonly pushedBefore: number[];
  private flushing?: Promise<void>;

  constructor(
    configs: EventCounterConfig[],
    private readonly push: SamplePush,
    private readonly stats: CounterStats,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.rules = configs.map((c) => ({ c, type: globToRegExp(c.type), buckets: new Map(), known: new Map() }));
    const nowS = Math.floor(this.now() / 1000);
    this.pushedBefore = this.rules.map((r) => nowS - (nowS % r.c.interval));
  }

  /** True when some rule counts this event (the dispatcher queues only those). */
  accepts = (e: EventInput): boolean => this.rules.some((r) => r.type.test(e.type));

  async process(events: EventInput[]): Promise<void> {
    this.rules.forEach((r, i) => {
      let badValues = 0;
      let late = 0;
      for (const e of events) {
        if (!r.type.test(e.type)) continue;
        let v = 1;
        if (r.c.sum !== undefined) {
          const x = e.data[r.c.sum];
          if (typeof x !== 'number') {
            badValues++;
            continue;
          }
          v = x;
        }
        const labels: Labels = {};
        for (const k of r.c.by) {
          const x = e.labels[k] ?? e.data[k] ?? (k === 'source' ? e.source : undefined);
          if (x !== undefined && x !== '') labels[k] = String(x);
        }
        // The normal naming checks, once per event: a series that could never be written is not remembered.
        const bad = this.check(r, labels);
        if (bad) {
          this.stats.invalid(r.c.metric, bad);
          continue;
        }
        let start = Math.floor(e.time / 1000);
        start -= start % r.c.interval;
        if (start < this.pushedBefore[i]) {
          late++;
          start = this.pushedBefore[i];
        }
        const key = JSON.stringify(labels);
        if (!r.known.has(key) && r.known.size < MAX_KNOWN) r.known.set(key, labels);
        let b = r.buckets.get(start);
        if (!b) r.buckets.set(start, (b = new Map()));
        b.set(key, (b.get(key) ?? 0) + v);
      }
      if (badValues) this.stats.badValue(r.c.metric, badValues);
      if (late) this.stats.late(r.c.metric, late);
    });
  }

  start(): void {
    const tick = () => void this.flush().catch(() => {});
    this.timer = setInterval(tick, 1000);
    this.timer.unref();
  }

  /** Pushes every interval that ended GRACE seconds ago. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const nowS = Math.floor(this.now() / 1000);
    const out: Sample[] = [];
    this.rules.forEach((r, i) => {
      const iv = r.c.interval;
      // Each ended interval, oldest first, with a value for every known series.
      for (let start = this.pushedBefore[i]; start + iv <= nowS - GRACE; start += iv) {
        const b = r.buckets.get(start);
        r.buckets.delete(start);
        const time = start + iv;
        for (const [key, labels] of r.known) this.sample(r, labels, b?.get(key) ?? 0, time, out);
        // Series beyond MAX_KNOWN still get their value.
        for (const [key, value] of b ?? []) if (!r.known.has(key)) this.sample(r, JSON.parse(key) as Labels, value, time, out);
        this.pushedBefore[i] = start + iv;
      }
    });
    if (out.length) await this.push(out);
  }

  private check(r: Rule, labels: Labels): string | undefined {
    try {
      checkSample({ name: r.c.metric, labels, value: 0 }, 1);
      return undefined;
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      return `${e.path ? e.path + ': ' : ''}${e.message}`;
    }
  }

  private sample(r: Rule, labels: Labels, value: number, time: number, out: Sample[]): void {
    try {
      // The normal naming checks: a label value from an event may be anything.
      out.push(checkSample({ name: r.c.metric, labels, value, time }, time));
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      this.stats.invalid(r.c.metric, `${e.path ? e.path + ': ' : ''}${e.message}`);
    }
  }

  /** Pushes the intervals that ended; the one still open is not pushed (its end is in the future). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }
}
