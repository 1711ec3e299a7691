// The alarm evaluator: on a schedule, every rule's matching series are read through the query engine (the last
// few steps only, in slices), judged, and their states kept in memory and in SQL (only what changed is written).
// What people must be told goes to the AlarmSink; downtimes hold it back and, when they end, release it at once.
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Catalog, SeriesEntry } from '../catalog/catalog.js';
import type { Downtimes } from '../downtimes/index.js';
import { covers, currentOccurrence, Downtime } from '../downtimes/model.js';
import { matchesLabels, parseSelector } from '../matchers/selector.js';
import type { Labels } from '../model/series.js';
import type { QueryEngine, SeriesData } from '../query/engine.js';
import type { AlarmsConfig } from './config.js';
import { Rule } from './rule.js';
import { AlarmStore, StoredInstance } from './store.js';
import { render } from './template.js';
import type { AlarmFilter, AlarmInstance, AlarmNotice, AlarmSink, AlarmState, AlarmView, DowntimeRef } from './types.js';

export const STATES: readonly AlarmState[] = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];
/** Series read per call of the query engine: bounds memory for rules over tens of thousands of series. */
export const SLICE = 2000;

export interface EvaluatorDeps {
  config: AlarmsConfig;
  catalog: Catalog;
  query: QueryEngine;
  store: AlarmStore;
  /** The downtime stage: its store (active downtimes, change hook) and flexible triggers. */
  downtimes: Pick<Downtimes, 'store' | 'alertFired'>;
  sink: AlarmSink;
  log: Logger;
  registry?: Registry;
}

interface Instance extends StoredInstance {
  /** Time of the newest value seen (not stored): where missing data is counted from. */
  lastSeen?: number;
  /** The stored fields as last written, to write only instances that changed. */
  written?: string;
}

interface Change {
  inst: Instance;
  at: number;
  from: AlarmState;
  to: AlarmState;
}

const bad = (s: AlarmState) => s !== 'OK';

/** The fields whose change is worth a write (value and evaluation time alone are not). */
function signature(i: Instance): string {
  const d = i.downtime;
  return `${i.state}|${i.since}|${i.warnSince}|${i.critSince}|${i.missingSince}|${i.muted}|${d ? `${d.id}/${d.end}` : ''}|${i.toldState}|${i.toldMuted}|${i.notifiedAt}`;
}

export class Evaluator implements AlarmView {
  readonly rules: Rule[];
  private readonly byRule = new Map<string, Map<string, Instance>>();
  private chain: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe?: () => void;
  private stopped = false;
  private checkQueued = false;
  private evaluating = false;
  /** The active downtimes at the last check, as a signature: unchanged means mutes are unchanged. */
  private downtimeSig = '';
  private readonly m?: {
    duration: Histogram;
    errors: Counter;
    notices: Counter;
    sinkErrors: Counter;
    skipped: Counter;
    last: Gauge;
  };

  constructor(private readonly deps: EvaluatorDeps) {
    this.rules = deps.config.rules.map((r) => new Rule(r, deps.config.repeatInterval));
    for (const r of this.rules) this.byRule.set(r.name, new Map());
    const registry = deps.registry;
    if (registry) {
      const byRule = this.byRule;
      new Gauge({
        name: 'rexmon_alarm_instances',
        help: 'Alarm instances (rule × matching series) by rule and state.',
        labelNames: ['rule', 'state'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [rule, map] of byRule) {
            const n: Record<string, number> = { OK: 0, WARNING: 0, CRITICAL: 0, UNKNOWN: 0 };
            for (const i of map.values()) n[i.state]++;
            for (const s of STATES) this.set({ rule, state: s }, n[s]);
          }
        },
      });
      this.m = {
        duration: new Histogram({
          name: 'rexmon_alarm_evaluation_seconds',
          help: 'Time to evaluate one rule over all its series (read, judge), by rule.',
          labelNames: ['rule'],
          buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
          registers: [registry],
        }),
        errors: new Counter({
          name: 'rexmon_alarm_evaluation_errors_total',
          help: 'Rule evaluations that failed (archive, selector, database), by rule; the states keep their last values.',
          labelNames: ['rule'],
          registers: [registry],
        }),
        notices: new Counter({
          name: 'rexmon_alarm_notices_total',
          help: 'Notices handed to the notifier, by reason (change, repeat, downtime-ended).',
          labelNames: ['reason'],
          registers: [registry],
        }),
        sinkErrors: new Counter({
          name: 'rexmon_alarm_sink_errors_total',
          help: 'Times the notifier refused notices; they are handed again at the next check.',
          registers: [registry],
        }),
        skipped: new Counter({
          name: 'rexmon_alarm_evaluations_skipped_total',
          help: 'Scheduled evaluations skipped because the previous one was still running (rules take longer than alarms.interval).',
          registers: [registry],
        }),
        last: new Gauge({
          name: 'rexmon_alarm_last_evaluation_timestamp_seconds',
          help: 'When the last evaluation of every rule finished, Unix seconds.',
          registers: [registry],
        }),
      };
      for (const r of this.rules) this.m.errors.inc({ rule: r.name }, 0);
      for (const reason of ['change', 'repeat', 'downtime-ended']) this.m.notices.inc({ reason }, 0);
    }
  }

  /** Loads the stored states (dropping those of rules no longer configured), then evaluates on the schedule. */
  async start(): Promise<void> {
    const dropped = await this.deps.store.dropRulesExcept(this.rules.map((r) => r.name));
    if (dropped) this.deps.log.info(`dropped ${dropped} alarm state(s) of rules no longer configured`);
    for (const s of await this.deps.store.load()) {
      const inst: Instance = { ...s };
      inst.written = signature(inst);
      this.byRule.get(s.rule)?.set(s.series, inst);
    }
    this.unsubscribe = this.deps.downtimes.store.onChange(() => this.queueDowntimeCheck());
    const every = (seconds: number, fn: () => void) => {
      const t = setInterval(fn, seconds * 1000);
      t.unref();
      this.timers.push(t);
    };
    if (this.rules.length) {
      every(this.deps.config.interval, () => this.scheduled());
      every(this.deps.config.downtimeCheckInterval, () => this.queueDowntimeCheck());
      setImmediate(() => this.scheduled());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribe?.();
    await this.chain.catch(() => undefined);
  }

  private scheduled() {
    if (this.stopped) return;
    if (this.evaluating) {
      this.m?.skipped.inc();
      this.deps.log.warn(`alarm evaluation still running after alarms.interval (${this.deps.config.interval} s); this one is skipped`);
      return;
    }
    this.evaluate().catch((e) => this.deps.log.error({ err: e }, 'alarm evaluation failed'));
  }

  private queueDowntimeCheck() {
    if (this.stopped || this.checkQueued) return;
    this.checkQueued = true;
    this.serial(async () => {
      this.checkQueued = false;
      await this.downtimeCheck(Math.floor(Date.now() / 1000));
    }).catch((e) => this.deps.log.error({ err: e }, 'alarm downtime check failed'));
  }

  /** One thing at a time: evaluations and downtime checks never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Evaluates every rule at `now` (Unix seconds), then tells the sink what is owed. */
  evaluate(at = Date.now() / 1000): Promise<void> {
    const now = Math.floor(at); // whole seconds, as stored
    this.evaluating = true;
    return this.serial(async () => {
      try {
        const changes: Change[] = [];
        const removed: { rule: string; series: string }[] = [];
        for (const rule of this.rules) {
          const t0 = performance.now();
          try {
            await this.evaluateRule(rule, now, changes, removed);
          } catch (e) {
            this.m?.errors.inc({ rule: rule.name });
            this.deps.log.error({ err: e, rule: rule.name }, `alarm rule ${rule.name}: evaluation failed: ${(e as Error).message}`);
          }
          this.m?.duration.observe({ rule: rule.name }, (performance.now() - t0) / 1000);
        }
        await this.triggerFlexible(changes, now);
        await this.applyDowntimes(now, true);
        await this.persist(changes, removed);
        await this.tell(now);
        this.m?.last.set(Math.floor(Date.now() / 1000));
      } finally {
        this.evaluating = false;
      }
    });
  }

  /** Between evaluations: a downtime that began or ended changes mutes, and what is owed is told now. */
  checkDowntimes(at = Date.now() / 1000): Promise<void> {
    return this.serial(() => this.downtimeCheck(Math.floor(at)));
  }

  private async downtimeCheck(now: number) {
    await this.applyDowntimes(now, false);
    await this.tell(now);
  }

  private async evaluateRule(rule: Rule, now: number, changes: Change[], removed: { rule: string; series: string }[]) {
    const map = this.byRule.get(rule.name)!;
    const entries = this.deps.catalog.find([rule.selector]);
    const seen = new Set<string>();
    const byStep = new Map<number, SeriesEntry[]>();
    for (const e of entries) {
      seen.add(e.key);
      let list = byStep.get(e.step);
      if (!list) byStep.set(e.step, (list = []));
      list.push(e);
    }
    const n = rule.cfg.steps;
    for (const [step, list] of byStep) {
      for (let i = 0; i < list.length; i += SLICE) {
        const slice = list.slice(i, i + SLICE);
        // One step more than the window, so that an interval not closed yet can be left out.
        const data = await this.deps.query.read(slice, { cf: rule.cfg.cf, from: now - (n + 1) * step, to: now, step, rows: n + 2 });
        data.forEach((d, k) => this.judge(rule, map, slice[k], d, step, now, changes));
      }
    }
    for (const [series, inst] of map)
      if (!seen.has(series)) {
        map.delete(series);
        removed.push({ rule: inst.rule, series });
      }
  }

  private judge(rule: Rule, map: Map<string, Instance>, e: SeriesEntry, d: SeriesData, step: number, now: number, changes: Change[]) {
    const ts = d.timestamps;
    const vs = d.values;
    let end = ts.length;
    // rrdtool answers the interval holding `now` too, unknown until it closes (unless the live point filled it);
    // the one that just closed may still wait for a value sent late. Neither counts as missing data.
    while (end > 0 && ts[end - 1] > now - step && Number.isNaN(vs[end - 1])) end--;
    const start = Math.max(0, end - rule.cfg.steps);
    const value = rule.aggregate(vs.slice(start, end));
    let inst = map.get(e.key);
    if (!inst) {
      inst = {
        rule: rule.name,
        series: e.key,
        name: e.name,
        labels: e.labels,
        state: 'OK',
        value: null,
        bound: null,
        since: now,
        evaluatedAt: now,
        warnSince: null,
        critSince: null,
        missingSince: null,
        muted: false,
        downtime: null,
        toldState: 'OK',
        toldMuted: false,
        notifiedAt: null,
      };
      map.set(e.key, inst);
    }
    for (let k = end - 1; k >= 0; k--)
      if (!Number.isNaN(vs[k])) {
        inst.lastSeen = Math.max(inst.lastSeen ?? 0, ts[k]);
        break;
      }
    // No value in the window: missing at least since the window began (or since the newest value seen).
    const windowStart = (end > 0 ? ts[start] : now) - step;
    const v = rule.judge(inst, value, now, inst.lastSeen ?? windowStart);
    if (v.state !== inst.state) {
      changes.push({ inst, at: now, from: inst.state, to: v.state });
      inst.since = now;
    }
    inst.state = v.state;
    inst.warnSince = v.warnSince;
    inst.critSince = v.critSince;
    inst.missingSince = v.missingSince;
    inst.value = value;
    inst.bound = v.bound;
    inst.evaluatedAt = now;
  }

  /** Instances that began to fire start the flexible downtimes waiting for them (so those mute them at once). */
  private async triggerFlexible(changes: Change[], now: number) {
    const firing = changes.filter((c) => (c.to === 'WARNING' || c.to === 'CRITICAL') && !(c.from === 'WARNING' || c.from === 'CRITICAL'));
    if (!firing.length) return;
    try {
      await this.deps.downtimes.alertFired(
        firing.map((c) => ({ labels: { ...c.inst.labels, __name__: c.inst.name, alertname: c.inst.rule }, startsAt: c.at, source: 'rexmon' })),
        now,
      );
    } catch (e) {
      this.deps.log.warn(`cannot start flexible downtimes for firing alarms: ${(e as Error).message}`);
    }
  }

  /**
   * Sets each instance's downtime and mute from the downtimes active at `now`. Returns whether anything could have
   * changed (skipped when the active downtimes are the same as at the last check and `force` is off).
   */
  private async applyDowntimes(now: number, force: boolean): Promise<boolean> {
    const active: { d: Downtime; end: number | null }[] = [];
    for (const d of await this.deps.downtimes.store.list({ from: now, to: now + 1 })) {
      const o = currentOccurrence(d, now);
      if (o) active.push({ d, end: o.end });
    }
    const sig = active.map((a) => `${a.d.id}/${a.d.version}/${a.end}`).join(',');
    if (!force && sig === this.downtimeSig) return false;
    this.downtimeSig = sig;
    // Planned first, then the one that lasts longest: the downtime an instance shows.
    active.sort((a, b) => (a.d.kind === b.d.kind ? (b.end ?? Infinity) - (a.end ?? Infinity) : a.d.kind === 'planned' ? -1 : 1));
    const unplannedMutes = this.deps.config.unplannedMutes;
    for (const map of this.byRule.values())
      for (const inst of map.values()) {
        let ref: DowntimeRef | null = null;
        let muted = false;
        for (const a of active) {
          if (!covers(a.d, inst.name, inst.labels)) continue;
          ref ??= { id: a.d.id, kind: a.d.kind, author: a.d.author, reason: a.d.reason, end: a.end };
          if (a.d.kind === 'planned' || unplannedMutes) {
            muted = true;
            break;
          }
        }
        inst.downtime = ref;
        inst.muted = muted;
      }
    return true;
  }

  /** Writes the instances whose stored fields changed, the removed ones and the state changes, in one transaction. */
  private async persist(changes: Change[], removed: { rule: string; series: string }[]) {
    const save: Instance[] = [];
    for (const map of this.byRule.values()) for (const inst of map.values()) if (inst.written !== signature(inst)) save.push(inst);
    const history = changes.map((c) => ({
      at: c.at,
      rule: c.inst.rule,
      series: c.inst.series,
      from: c.from,
      to: c.to,
      value: c.inst.value,
      bound: c.inst.bound,
      muted: c.inst.muted,
      downtimeId: c.inst.downtime?.id ?? null,
    }));
    await this.deps.store.write(save, removed, history);
    for (const inst of save) inst.written = signature(inst);
  }

  /** What the sink is owed: changes since the last notice, repeats, and the news held back by a downtime that ended. */
  private async tell(now: number) {
    const notices: AlarmNotice[] = [];
    const told: Instance[] = [];
    for (const map of this.byRule.values())
      for (const inst of map.values()) {
        if (inst.muted) {
          inst.toldMuted = true; // written with the next persist; nothing to tell
          continue;
        }
        let reason: AlarmNotice['reason'] | undefined;
        if (inst.toldMuted) {
          if (bad(inst.state)) reason = 'downtime-ended';
          else if (bad(inst.toldState)) reason = 'change';
          else inst.toldMuted = false;
        } else if (inst.state !== inst.toldState) reason = 'change';
        else if (inst.state === 'CRITICAL' && inst.notifiedAt !== null) {
          const repeat = this.ruleOf(inst.rule).repeatInterval;
          if (repeat > 0 && now - inst.notifiedAt >= repeat) reason = 'repeat';
        }
        if (!reason) continue;
        notices.push({
          instance: this.toInstance(inst),
          from: inst.toldState,
          to: inst.state,
          at: reason === 'change' ? inst.since : now,
          reason,
        });
        told.push(inst);
      }
    if (notices.length) {
      try {
        await this.deps.sink.accept(notices);
      } catch (e) {
        this.m?.sinkErrors.inc();
        this.deps.log.error({ err: e }, `the notifier refused ${notices.length} alarm notice(s); they are handed again at the next check`);
        await this.persist([], []);
        return;
      }
      for (const n of notices) this.m?.notices.inc({ reason: n.reason });
      for (const inst of told) {
        inst.toldState = inst.state;
        inst.toldMuted = false;
        inst.notifiedAt = now;
      }
    }
    await this.persist([], []);
  }

  private ruleOf(name: string): Rule {
    return this.rules.find((r) => r.name === name)!;
  }

  private toInstance(i: Instance): AlarmInstance {
    const rule = this.ruleOf(i.rule);
    const labels: Labels = { ...rule.cfg.labels, ...i.labels };
    const out: AlarmInstance = {
      rule: i.rule,
      series: i.series,
      name: i.name,
      labels,
      state: i.state,
      value: i.value,
      bound: i.bound,
      since: i.since,
      evaluatedAt: i.evaluatedAt,
      summary: render(rule.cfg.summary, { labels, value: i.value, bound: i.bound, state: i.state, rule: i.rule, series: i.series, name: i.name }),
      muted: i.muted,
    };
    if (i.downtime) out.downtime = { ...i.downtime };
    return out;
  }

  /** The current states, rule by rule in configuration order, series by key. */
  current(filter: AlarmFilter = {}): AlarmInstance[] {
    const sel = filter.match === undefined ? undefined : parseSelector(filter.match, 'match');
    const out: AlarmInstance[] = [];
    for (const rule of this.rules) {
      if (filter.rule !== undefined && rule.name !== filter.rule) continue;
      for (const i of this.byRule.get(rule.name)!.values()) {
        if (filter.state && !filter.state.includes(i.state)) continue;
        if (filter.inDowntime !== undefined && (i.downtime !== null) !== filter.inDowntime) continue;
        if (sel && !matchesLabels(sel, i.name, { ...rule.cfg.labels, ...i.labels })) continue;
        out.push(this.toInstance(i));
      }
    }
    return out;
  }
}
