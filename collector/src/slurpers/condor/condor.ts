// The HTCondor slurper: per schedd, condor_q (jobs by state, held reasons, cores, memory, oldest idle job)
// and condor_history (completions and failures since the last poll); per pool, condor_status (slots).
// ClassAds are counted as they stream in; only the counts are kept. A call that fails writes nothing of
// its partial output: its series get a gap, `condor_up`/`condor_pool_up` 0 and `condor_poll_errors` 1.
import { SlurperConfig } from '../../config/schema.js';
import { checkLabelValue, Labels, Sample } from '../../model/series.js';
import { CallFailure, runJson } from './run.js';

export type CondorConfig = Extract<SlurperConfig, { type: 'condor' }>;

/** JobStatus → the `state` label. */
export const JOB_STATES: Record<number, string> = {
  1: 'idle',
  2: 'running',
  3: 'removed',
  4: 'completed',
  5: 'held',
  6: 'transferring_output',
  7: 'suspended',
};

export interface CondorProblem {
  /** Counted in rexmon_slurper_errors_total{kind}. */
  kind: CallFailure | 'missing_attribute' | 'bad_label' | 'history_limit';
  count: number;
  target: { schedd: string } | { pool: string };
  command: 'condor_q' | 'condor_history' | 'condor_status';
  message: string;
  /** The call itself failed (the run's result is error or timeout). */
  failed: boolean;
}

export interface CallStats {
  command: CondorProblem['command'];
  schedd?: string;
  pool?: string;
  ads: number;
  maxHeld: number;
  failure?: CallFailure;
}

type Counts = Map<string, { labels: Labels; value: number }>;

// `k` is the series' key within one answer, made by the caller from the label values (seriesKey sorts and
// quotes: per ClassAd that was most of the time); values with control characters never get this far.
function add(m: Counts, k: string, name: string, labels: Labels, v: number) {
  const e = m.get(k);
  if (e) e.value += v;
  else m.set(k, { labels: { ...labels, __name__: name }, value: v });
}

function min(m: Counts, k: string, name: string, labels: Labels, v: number) {
  const e = m.get(k);
  if (!e) m.set(k, { labels: { ...labels, __name__: name }, value: v });
  else if (v < e.value) e.value = v;
}

/** Missing attributes by name, for one summary line per call. */
class Missing {
  readonly byAttr = new Map<string, number>();
  records = 0;
  note(attrs: string[]) {
    if (!attrs.length) return;
    this.records++;
    for (const a of attrs) this.byAttr.set(a, (this.byAttr.get(a) ?? 0) + 1);
  }
  text() {
    return [...this.byAttr].map(([a, n]) => `${n} without ${a}`).join(', ');
  }
}

const FORGET_AFTER = 86400;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

export class CondorSlurper {
  /** Per call (q, history, status × target): the series written, and when each was last not 0. */
  private readonly last = new Map<string, Map<string, { labels: Labels; seen: number }>>();
  /** Per schedd, the end of the history window already counted. */
  private readonly historyUntil = new Map<string, number>();
  private readonly labelOk = new Map<string, boolean>();

  /** Per rule: attribute value → experiment ('' when the regex does not match). */
  private readonly experiments: Map<string, string>[];

  constructor(private readonly c: CondorConfig) {
    this.experiments = c.experiment.rules.map(() => new Map());
  }

  experimentOf(ad: Record<string, unknown>): string {
    for (let i = 0; i < this.c.experiment.rules.length; i++) {
      const r = this.c.experiment.rules[i];
      const v = ad[r.attribute];
      if (typeof v !== 'string') continue;
      // A queue has few distinct groups: remember each answer rather than run the regex per ClassAd.
      const memo = this.experiments[i];
      let e = memo.get(v);
      if (e === undefined) {
        e = r.regex.exec(v)?.groups?.experiment ?? '';
        if (memo.size > 100000) memo.clear();
        memo.set(v, e);
      }
      if (e) return e;
    }
    return this.c.experiment.fallback;
  }

  /** Remote strings become label values only through the same check as every other label. */
  private validLabel(v: string): boolean {
    let ok = this.labelOk.get(v);
    if (ok === undefined) {
      try {
        checkLabelValue(v);
        ok = true;
      } catch {
        ok = false;
      }
      if (this.labelOk.size > 100000) this.labelOk.clear();
      this.labelOk.set(v, ok);
    }
    return ok;
  }

  /** The calls of the last collect(): ClassAds read and the most characters held for one (for tests and bench/). */
  calls: CallStats[] = [];

  async collect(now = Math.floor(Date.now() / 1000)): Promise<{ samples: Sample[]; problems: CondorProblem[] }> {
    this.calls = [];
    const samples: Sample[] = [];
    const problems: CondorProblem[] = [];
    const out = (name: string, labels: Labels, value: number) => samples.push({ name, labels, value, time: now });
    await Promise.all([
      ...this.c.schedds.map(async (s) => {
        const target = { schedd: s.name };
        const where = ['-name', s.name, ...(s.pool ? ['-pool', s.pool] : [])];
        const q = await this.queue([...this.c.condorQ, ...where], s.name, now, problems);
        out('condor_up', target, q ? 1 : 0);
        out('condor_poll_errors', { ...target, command: 'condor_q' }, q ? 0 : 1);
        if (q) this.emit(`q\0${s.name}`, q, now, samples);
        if (this.c.condorHistory) {
          const h = await this.history(this.c.condorHistory, where, s.name, now, problems);
          out('condor_poll_errors', { ...target, command: 'condor_history' }, h ? 0 : 1);
          if (h) this.emit(`h\0${s.name}`, h, now, samples);
        }
      }),
      ...this.c.pools.map(async (pool) => {
        const st = await this.status([...this.c.condorStatus, '-pool', pool], pool, problems);
        out('condor_pool_up', { pool }, st ? 1 : 0);
        out('condor_poll_errors', { pool, command: 'condor_status' }, st ? 0 : 1);
        if (st) this.emit(`s\0${pool}`, st, now, samples);
      }),
    ]);
    return { samples, problems };
  }

  /**
   * This answer's series, and 0 for those an answer of the last day had and this one has not (no held
   * jobs any more reads 0, not a gap); a series silent for a day is forgotten.
   */
  private emit(key: string, counts: Counts, now: number, samples: Sample[]) {
    const prev = this.last.get(key) ?? new Map<string, { labels: Labels; seen: number }>();
    const next = new Map<string, { labels: Labels; seen: number }>();
    for (const [k, e] of prev) if (!counts.has(k) && now - e.seen < FORGET_AFTER) next.set(k, e);
    for (const [k, e] of counts) next.set(k, { labels: e.labels, seen: e.value !== 0 ? now : (prev.get(k)?.seen ?? now) });
    for (const [k, { labels }] of next) {
      const { __name__: name, ...rest } = labels;
      samples.push({ name, labels: rest, value: counts.get(k)?.value ?? 0, time: now });
    }
    this.last.set(key, next);
  }

  private call(
    argv: string[],
    target: CondorProblem['target'],
    command: CondorProblem['command'],
    problems: CondorProblem[],
    onAd: (ad: Record<string, unknown>) => void,
  ) {
    return runJson(argv, { timeoutSeconds: this.c.timeout, env: this.c.env }, onAd).then((r) => {
      this.calls.push({ command, ...target, ads: r.ads, maxHeld: r.maxHeld, failure: r.failure });
      if (r.failure) problems.push({ kind: r.failure, count: 1, target, command, message: r.message!, failed: true });
      return r;
    });
  }

  private report(
    problems: CondorProblem[],
    target: CondorProblem['target'],
    command: CondorProblem['command'],
    missing: Missing,
    bad: { n: number; example?: string },
  ) {
    if (missing.records)
      problems.push({
        kind: 'missing_attribute',
        count: missing.records,
        target,
        command,
        message: `${missing.records} ClassAd(s) lack attributes: ${missing.text()}`,
        failed: false,
      });
    if (bad.n)
      problems.push({
        kind: 'bad_label',
        count: bad.n,
        target,
        command,
        message: `${bad.n} ClassAd(s) skipped: a label value is not allowed (e.g. ${JSON.stringify(bad.example?.slice(0, 80))})`,
        failed: false,
      });
  }

  private async queue(argv: string[], schedd: string, now: number, problems: CondorProblem[]): Promise<Counts | undefined> {
    const counts: Counts = new Map();
    const missing = new Missing();
    const bad = { n: 0, example: undefined as string | undefined };
    const r = await this.call(argv, { schedd }, 'condor_q', problems, (ad) => {
      const lack: string[] = [];
      const state = JOB_STATES[num(ad.JobStatus) ?? 0];
      if (!state) return missing.note(['JobStatus']); // cannot be placed in any series
      let user = str(ad.Owner);
      if (!user) {
        lack.push('Owner');
        user = this.c.experiment.fallback;
      }
      const experiment = this.experimentOf(ad);
      for (const v of [user, experiment]) {
        if (!this.validLabel(v)) {
          bad.n++;
          bad.example ??= v;
          return;
        }
      }
      const e = { schedd, experiment };
      add(counts, `j\0${experiment}\0${user}\0${state}`, 'condor_jobs', { ...e, user, state }, 1);
      if (state === 'held') {
        const code = num(ad.HoldReasonCode);
        if (code === undefined) lack.push('HoldReasonCode');
        add(counts, `h\0${experiment}\0${code}`, 'condor_jobs_held', { ...e, reason_code: code === undefined ? 'unknown' : String(code) }, 1);
      } else if (state === 'running') {
        const cpus = num(ad.RequestCpus);
        const mem = num(ad.RequestMemory);
        if (cpus === undefined) lack.push('RequestCpus');
        else add(counts, `c\0${experiment}`, 'condor_running_cores', e, cpus);
        if (mem === undefined) lack.push('RequestMemory');
        else add(counts, `m\0${experiment}`, 'condor_requested_memory_bytes', e, mem * 1024 * 1024);
      } else if (state === 'idle') {
        const qdate = num(ad.QDate);
        if (qdate === undefined) lack.push('QDate');
        else min(counts, `i\0${experiment}`, 'condor_oldest_idle_seconds', e, qdate);
      }
      missing.note(lack);
    });
    if (r.failure) return undefined;
    this.report(problems, { schedd }, 'condor_q', missing, bad);
    for (const e of counts.values()) if (e.labels.__name__ === 'condor_oldest_idle_seconds') e.value = Math.max(0, now - e.value);
    return counts;
  }

  private async history(cmd: string[], where: string[], schedd: string, now: number, problems: CondorProblem[]): Promise<Counts | undefined> {
    // The window is (since, now]: a failed call leaves `since` where it was, so the next poll counts its jobs.
    const since = this.historyUntil.get(schedd) ?? now - (this.c.interval ?? 60);
    const counts: Counts = new Map();
    const missing = new Missing();
    const bad = { n: 0, example: undefined as string | undefined };
    const argv = [...cmd, ...where, '-completedsince', String(since), '-limit', String(this.c.historyLimit)];
    const r = await this.call(argv, { schedd }, 'condor_history', problems, (ad) => {
      const done = num(ad.CompletionDate);
      if (done === undefined) return missing.note(['CompletionDate']);
      if (done <= since || done > now) return;
      const status = num(ad.JobStatus);
      if (status !== undefined && status !== 4) return; // removed jobs are neither completions nor failures
      const experiment = this.experimentOf(ad);
      if (!this.validLabel(experiment)) {
        bad.n++;
        bad.example ??= experiment;
        return;
      }
      const e = { schedd, experiment };
      add(counts, `c\0${experiment}`, 'condor_jobs_completed', e, 1);
      const code = num(ad.ExitCode);
      if (ad.ExitBySignal === true || (code !== undefined && code !== 0)) add(counts, `f\0${experiment}`, 'condor_jobs_failed', e, 1);
      else if (code === undefined && ad.ExitBySignal === undefined) missing.note(['ExitCode']);
      // A failure series exists wherever completions do, so "no failures" reads 0, not a gap.
      add(counts, `f\0${experiment}`, 'condor_jobs_failed', e, 0);
    });
    if (r.failure) return undefined;
    this.report(problems, { schedd }, 'condor_history', missing, bad);
    if (r.ads >= this.c.historyLimit)
      problems.push({
        kind: 'history_limit',
        count: 1,
        target: { schedd },
        command: 'condor_history',
        message: `${r.ads} ClassAds reached historyLimit (${this.c.historyLimit}): completions since ${since} are undercounted`,
        failed: false,
      });
    this.historyUntil.set(schedd, now);
    return counts;
  }

  private async status(argv: string[], pool: string, problems: CondorProblem[]): Promise<Counts | undefined> {
    const counts: Counts = new Map();
    const missing = new Missing();
    const bad = { n: 0, example: undefined as string | undefined };
    const r = await this.call(argv, { pool }, 'condor_status', problems, (ad) => {
      const lack: string[] = [];
      const label = (attr: string) => {
        const v = str(ad[attr]);
        if (v) return v;
        lack.push(attr);
        return 'unknown';
      };
      const l = { pool, state: label('State'), activity: label('Activity'), slot_type: label('SlotType') };
      for (const v of [l.state, l.activity, l.slot_type]) {
        if (!this.validLabel(v)) {
          bad.n++;
          bad.example ??= v;
          return;
        }
      }
      add(counts, `s\0${l.state}\0${l.activity}\0${l.slot_type}`, 'condor_slots', l, 1);
      const cpus = num(ad.Cpus);
      if (cpus === undefined) lack.push('Cpus');
      else add(counts, `c\0${l.state}\0${l.activity}\0${l.slot_type}`, 'condor_slot_cores', l, cpus);
      missing.note(lack);
    });
    if (r.failure) return undefined;
    this.report(problems, { pool }, 'condor_status', missing, bad);
    return counts;
  }
}
