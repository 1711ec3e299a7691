// Job-state monitoring: an event processor that folds job lifecycle events (job.submitted, job.started, ...)
// into the current state per job (SQL, so it survives restarts) and, on a timer, writes the series
// job_states, job_transitions and job_silent through the sample pipeline, flags silent jobs (an event
// through the event store) and forgets finished ones after the retention.
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import type { EventInput, EventValue } from '../events/model.js';
import { checkLabelValue, Labels, Sample, seriesKey, ValidationError } from '../model/series.js';
import type { JobsConfig } from './config.js';
import { Job, JobEvent, JobStore } from './store.js';

export { JobStore } from './store.js';
export type { Job, JobEvent } from './store.js';

/** The shape of engineer (a)'s EventProcessor (events/processor.ts), met structurally. */
export interface EventProcessorLike {
  readonly name: string;
  process(events: EventInput[]): Promise<void>;
}

export interface JobsDeps {
  log: Logger;
  registry?: Registry;
  /** Into the sample pipeline: false when it cannot take them now (then the next tick tries again). */
  push: (samples: Sample[]) => false | Promise<boolean>;
  /** Into the event store (the silent-job events); without it, silent jobs are only marked. */
  emit?: (events: EventInput[]) => Promise<unknown>;
}

export const MAX_JOB_ID_LENGTH = 200;
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A transition series nothing moved along for this long is no longer written (as the condor slurper does). */
const QUIET_FORGET_MS = 86400 * 1000;
const SILENT_PER_TICK = 10000;

export function checkJobId(v: unknown, path = 'id'): string {
  if (typeof v === 'number' && Number.isFinite(v)) v = String(v);
  if (typeof v !== 'string' || v === '') throw new ValidationError('a job id must be a non-empty string', path);
  if (v.length > MAX_JOB_ID_LENGTH) throw new ValidationError(`job id is longer than ${MAX_JOB_ID_LENGTH} characters`, path);
  if (CONTROL.test(v)) throw new ValidationError('job id contains a control character (newline, NUL, ...)', path);
  return v;
}

export class Jobs implements EventProcessorLike {
  readonly name = 'jobs';
  readonly store: JobStore;
  /** Lifecycle states that are not terminal: the ones job_states counts. */
  readonly liveStates: string[];
  readonly states: string[];
  private readonly terminal: Set<string>;
  /** Transitions folded since the last write, by series key. */
  private pending = new Map<string, { labels: Labels; n: number }>();
  /** Transition series written before, with when one last moved (Unix ms). */
  private known = new Map<string, { labels: Labels; lastMoved: number }>();
  private lastWritten = 0;
  private knownLoaded = false;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<unknown>;
  private readonly folded?: Counter;
  private readonly flagged?: Counter;
  private readonly forgotten?: Counter;
  private ignoredLogged = 0;

  constructor(
    private readonly db: Knex,
    private readonly config: JobsConfig,
    private readonly deps: JobsDeps,
  ) {
    this.store = new JobStore(db);
    this.terminal = new Set(config.terminal);
    this.states = [...new Set(Object.values(config.events).filter((s): s is string => s !== null))];
    this.liveStates = this.states.filter((s) => !this.terminal.has(s));
    const registers = deps.registry ? [deps.registry] : [];
    if (deps.registry) {
      this.folded = new Counter({
        name: 'rexmon_jobs_events_total',
        help: 'Job lifecycle events seen, by result: folded, late (older than the job state: history only), ignored_* (not folded, why).',
        labelNames: ['result'],
        registers,
      });
      this.flagged = new Counter({ name: 'rexmon_jobs_silent_flagged_total', help: 'Jobs flagged silent.', registers });
      this.forgotten = new Counter({
        name: 'rexmon_jobs_forgotten_total',
        help: 'Jobs forgotten, by rule (finished, silent).',
        labelNames: ['rule'],
        registers,
      });
    }
  }

  /**
   * Folds the lifecycle events of a batch (other types are passed over). With `db` (the event insert's transaction)
   * the fold commits or rolls back with the events. Events that cannot be folded are counted and logged, never thrown.
   */
  async process(events: EventInput[], db?: Knex): Promise<void> {
    const k = this.config.keys;
    const relevant: { e: EventInput; id: string; exp?: string; site?: string }[] = [];
    for (const e of events) {
      const lifecycle = Object.prototype.hasOwnProperty.call(this.config.events, e.type);
      if (!lifecycle && e.type !== this.config.silentEvent) continue;
      try {
        const raw = e.labels[k.job] ?? e.data[k.job];
        if (raw === undefined) throw new ValidationError(`no ${k.job} in its labels or data`, k.job);
        const id = checkJobId(raw, k.job);
        relevant.push({ e, id, exp: this.labelFrom(e, k.experiment), site: this.labelFrom(e, k.site) });
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        this.ignore(e, 'ignored_invalid', err.message);
      }
    }
    if (relevant.length === 0) return;
    // In time order within the batch; ties keep the order they came in.
    relevant.sort((a, b) => a.e.time - b.e.time);
    const target = db ?? this.db;
    const jobs = await this.store.load([...new Set(relevant.map((r) => r.id))], target);
    const changed = new Map<string, Job>();
    const history: (JobEvent & { job: string })[] = [];
    const moved: { labels: Labels }[] = [];
    let folded = 0;
    let late = 0;
    for (const { e, id, exp, site } of relevant) {
      const data = this.freeData(e.data);
      const to = e.type === this.config.silentEvent ? undefined : this.config.events[e.type];
      let j = jobs.get(id);
      if (!j) {
        if (to === null || to === undefined) {
          this.ignore(e, 'ignored_unknown_job', `job ${JSON.stringify(id)} has no state yet (its first event must be one that sets a state)`);
          continue;
        }
        j = {
          job: id,
          state: to,
          experiment: exp ?? this.config.fallback,
          site: site ?? this.config.fallback,
          labels: {},
          data: {},
          firstAt: e.time,
          stateSince: e.time,
          lastAt: e.time,
          silentSince: null,
          finishedAt: this.terminal.has(to) ? e.time : null,
          events: 0,
        };
        jobs.set(id, j);
        moved.push({ labels: { experiment: j.experiment, site: j.site, from: 'none', to } });
        history.push({ job: id, time: e.time, type: e.type, source: e.source, from: null, to, labels: e.labels, data: e.data });
      } else if (to === undefined) {
        // The silent flag: history, and the mark (the timer set it already when it emitted the event).
        j.silentSince ??= e.time;
        history.push({ job: id, time: e.time, type: e.type, source: e.source, from: j.state, to: j.state, labels: e.labels, data: e.data });
      } else if (e.time < j.lastAt) {
        // Older than what the state rests on: kept in the history, the state stays.
        late++;
        history.push({ job: id, time: e.time, type: e.type, source: e.source, from: null, to: null, labels: e.labels, data: e.data });
      } else {
        const from = j.state;
        const next = to ?? from;
        if (exp !== undefined) j.experiment = exp;
        if (site !== undefined) j.site = site;
        if (next !== from) {
          j.state = next;
          j.stateSince = e.time;
          j.finishedAt = this.terminal.has(next) ? e.time : null;
          moved.push({ labels: { experiment: j.experiment, site: j.site, from, to: next } });
        }
        j.lastAt = e.time;
        j.silentSince = null;
        history.push({ job: id, time: e.time, type: e.type, source: e.source, from, to: next, labels: e.labels, data: e.data });
      }
      if (to !== undefined) {
        j.labels = { ...j.labels, ...this.freeLabels(e.labels) };
        j.data = { ...j.data, ...data };
      }
      j.events++;
      folded++;
      changed.set(id, j);
    }
    await this.store.save([...changed.values()], history, target);
    const count = () => {
      for (const m of moved) this.countTransition(m.labels);
      this.folded?.inc({ result: 'folded' }, folded - late);
      if (late) this.folded?.inc({ result: 'late' }, late);
    };
    // Counted once the events (and the fold) are committed; a rolled-back insert counts nothing.
    const trx = db as (Knex & { executionPromise?: Promise<unknown> }) | undefined;
    if (trx?.executionPromise) trx.executionPromise.then(count, () => undefined);
    else count();
  }

  /** A label value from the event's labels, else its data (numbers and booleans as text); absent or empty: undefined. */
  private labelFrom(e: EventInput, key: string): string | undefined {
    const v: EventValue | undefined = e.labels[key] ?? e.data[key];
    if (v === undefined || v === '') return undefined;
    return checkLabelValue(String(v), key);
  }

  private freeLabels(labels: Labels): Labels {
    const k = this.config.keys;
    const out: Labels = {};
    for (const [n, v] of Object.entries(labels)) if (n !== k.job && n !== k.experiment && n !== k.site && n !== 'state') out[n] = v;
    return out;
  }

  private freeData(data: Record<string, EventValue>): Record<string, EventValue> {
    const k = this.config.keys;
    const out: Record<string, EventValue> = {};
    for (const [n, v] of Object.entries(data)) if (n !== k.job && n !== k.experiment && n !== k.site) out[n] = v;
    return out;
  }

  private ignore(e: EventInput, result: string, why: string): void {
    this.folded?.inc({ result });
    // At most a few lines a minute: a misconfigured sender would otherwise flood the log.
    const now = Date.now();
    if (now - this.ignoredLogged < 10000) return;
    this.ignoredLogged = now;
    this.deps.log.warn({ type: e.type, source: e.source }, `jobs: an event of type ${e.type} from ${e.source} was not folded: ${why}`);
  }

  private countTransition(labels: Labels): void {
    const key = seriesKey('job_transitions', labels);
    const p = this.pending.get(key);
    if (p) p.n++;
    else this.pending.set(key, { labels, n: 1 });
  }

  /** Ticks now, then every `jobs.interval`. */
  start(): void {
    const run = () => {
      if (this.ticking) return;
      this.ticking = this.tick()
        .catch((e) => this.deps.log.warn(`jobs: ${(e as Error).message}`))
        .finally(() => (this.ticking = undefined));
    };
    this.timer = setInterval(run, this.config.interval * 1000);
    this.timer.unref();
    run();
  }

  /** Stops the timer; one last write so the transitions counted since the last tick are not lost. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const wasRunning = this.timer !== undefined;
    this.timer = undefined;
    await this.ticking;
    if (wasRunning) await this.writeSeries(Date.now()).catch((e) => this.deps.log.warn(`jobs: last write failed: ${(e as Error).message}`));
  }

  /** One round: flag silent jobs, forget old ones, write the series at `nowMs`. */
  async tick(nowMs = Date.now()): Promise<{ silent: number; forgotten: { finished: number; silent: number }; samples: number }> {
    const silent = await this.flagSilent(nowMs);
    const forgotten = await this.store.forget(nowMs - this.config.retention * 1000, nowMs - this.config.silentRetention * 1000);
    this.forgotten?.inc({ rule: 'finished' }, forgotten.finished);
    this.forgotten?.inc({ rule: 'silent' }, forgotten.silent);
    if (forgotten.finished || forgotten.silent)
      this.deps.log.info(forgotten, `jobs: forgot ${forgotten.finished} finished and ${forgotten.silent} silent job(s) past the retention`);
    const samples = await this.writeSeries(nowMs);
    return { silent, forgotten, samples };
  }

  /** Flags jobs silent for longer than `jobs.silentTimeout`, each with an event; returns how many. */
  async flagSilent(nowMs: number): Promise<number> {
    if (this.config.silentTimeout <= 0) return 0;
    const found = await this.store.silentCandidates(nowMs - this.config.silentTimeout * 1000, SILENT_PER_TICK);
    if (found.length === 0) return 0;
    const k = this.config.keys;
    const events: EventInput[] = found.map((j) => ({
      time: nowMs,
      type: this.config.silentEvent,
      source: 'rexmon-jobs',
      labels: { [k.experiment]: j.experiment, [k.job]: j.job, [k.site]: j.site },
      data: { state: j.state, lastEventAt: new Date(j.lastAt).toISOString(), silentSeconds: Math.round((nowMs - j.lastAt) / 1000) },
    }));
    // Marked first, so that a failing event store cannot make every tick flag the same jobs again.
    await this.store.markSilent(
      found.map((j) => j.job),
      nowMs,
    );
    this.flagged?.inc(found.length);
    this.deps.log.info(`jobs: ${found.length} job(s) silent for more than ${this.config.silentTimeout} s`);
    if (this.deps.emit) await this.deps.emit(events);
    return found.length;
  }

  /** job_states, job_silent and job_transitions at `nowMs` through the pipeline; returns how many samples. */
  async writeSeries(nowMs: number): Promise<number> {
    if (!this.knownLoaded) {
      // After a restart, the transition series that moved in the last day go on (as 0) instead of stopping.
      for (const r of await this.store.recentTransitions(nowMs - QUIET_FORGET_MS)) {
        const labels = { experiment: r.experiment, site: r.site, from: r.from, to: r.to };
        const key = seriesKey('job_transitions', labels);
        if (!this.known.has(key)) this.known.set(key, { labels, lastMoved: r.at });
      }
      this.knownLoaded = true;
    }
    const t = Math.max(Math.floor(nowMs / 1000), this.lastWritten + 1);
    const counts = await this.store.counts();
    const pairs = new Map<string, { experiment: string; site: string; states: Map<string, number>; silent: number }>();
    for (const c of counts) {
      const key = JSON.stringify([c.experiment, c.site]);
      let p = pairs.get(key);
      if (!p) pairs.set(key, (p = { experiment: c.experiment, site: c.site, states: new Map(), silent: 0 }));
      p.states.set(c.state, (p.states.get(c.state) ?? 0) + c.n);
      if (!this.terminal.has(c.state)) p.silent += c.silent;
    }
    const samples: Sample[] = [];
    for (const p of pairs.values()) {
      const base = { experiment: p.experiment, site: p.site };
      // Every live state, 0 included: a state a pair's jobs left shows 0, not a gap.
      for (const s of this.liveStates) samples.push({ name: 'job_states', labels: { ...base, state: s }, value: p.states.get(s) ?? 0, time: t });
      samples.push({ name: 'job_silent', labels: base, value: p.silent, time: t });
    }
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, p] of pending) this.known.set(key, { labels: p.labels, lastMoved: nowMs });
    for (const [key, k] of this.known) {
      const n = pending.get(key)?.n ?? 0;
      if (n === 0 && nowMs - k.lastMoved > QUIET_FORGET_MS) {
        this.known.delete(key);
        continue;
      }
      samples.push({ name: 'job_transitions', labels: k.labels, value: n, time: t });
    }
    if (samples.length === 0) return 0;
    const r = this.deps.push(samples);
    const ok = r !== false && (await r);
    if (!ok) {
      // Not taken: the counts go into the next write.
      for (const [key, p] of pending) {
        const q = this.pending.get(key);
        if (q) q.n += p.n;
        else this.pending.set(key, p);
      }
      this.deps.log.warn('jobs: the pipeline did not take the job series; they are written with the next tick');
      return 0;
    }
    this.lastWritten = t;
    return samples.length;
  }
}
