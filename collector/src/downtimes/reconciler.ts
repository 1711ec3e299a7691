// Keeps Alertmanager silences (Prometheus Alertmanager, Grafana) and Grafana mute timings in step with
// the downtime DB. Stateless: each pass reads what the target has, computes what it should have, and
// writes only the difference. Silences it made carry createdBy and a marker in the comment
// `[rexmon:<downtime id>:<occurrence start>:<content hash>]`; nothing else is ever touched.
import { createHash } from 'node:crypto';
import { Logger } from 'pino';
import { AmClient, AmMatcher, GettableSilence, HttpStatusError, MuteTiming, PostableSilence } from './alertmanager.js';
import { Downtime, Kind, occurrences, parseScope, stateAt } from './model.js';
import { DowntimeStore } from './store.js';
import { muteTimingFor } from './mute-timings.js';

export interface SilenceOptions {
  createdBy: string;
  /** Occurrences starting within this many seconds get their silence now. */
  lookahead: number;
  kinds: Kind[];
}

export interface DesiredSilence extends PostableSilence {
  key: string;
  hash: string;
}

const MARKER = /\[rexmon:(\d+):(\d+):([0-9a-f]{12})\]$/;
const iso = (t: number) => new Date(t * 1000).toISOString();

export function amMatchers(match: string): AmMatcher[] {
  return parseScope(match).map((m) => ({ name: m.name, value: m.value, isRegex: m.op === '=~' || m.op === '!~', isEqual: m.op === '=' || m.op === '=~' }));
}

/** The silences the downtimes call for at `now`, by key `<id>:<occurrence start>`. */
export function desiredSilences(downtimes: Downtime[], now: number, o: SilenceOptions, skip?: (d: Downtime) => boolean): Map<string, DesiredSilence> {
  const out = new Map<string, DesiredSilence>();
  for (const d of downtimes) {
    if (!o.kinds.includes(d.kind) || skip?.(d)) continue;
    for (const occ of occurrences(d, now, now + o.lookahead)) {
      // An open end is renewed every hour: a silence always reaches at least an hour ahead.
      const end = occ.end ?? (Math.floor(now / 3600) + 2) * 3600;
      if (end <= now) continue;
      const matchers = amMatchers(d.match);
      const text = `${d.reason} — ${d.author} (rexmon downtime #${d.id}${d.recurrence ? `, occurrence ${iso(occ.start)}` : ''})`;
      const hash = createHash('sha256').update(JSON.stringify([matchers, occ.start, end, text, o.createdBy])).digest('hex').slice(0, 12);
      const key = `${d.id}:${occ.start}`;
      out.set(key, { key, hash, matchers, startsAt: iso(occ.start), endsAt: iso(end), createdBy: o.createdBy, comment: `${text} [rexmon:${key}:${hash}]` });
    }
  }
  return out;
}

export interface SilencePlan {
  create: DesiredSilence[];
  /** Silences whose content is out of date: posted again with their id. */
  update: { id: string; silence: DesiredSilence }[];
  expire: GettableSilence[];
  keep: number;
}

/** Compares what a target has with what it should have. Silences not made by rexmon are ignored. */
export function planSilences(existing: GettableSilence[], desired: Map<string, DesiredSilence>, createdBy: string): SilencePlan {
  const plan: SilencePlan = { create: [], update: [], expire: [], keep: 0 };
  const seen = new Map<string, GettableSilence>();
  const stale: GettableSilence[] = [];
  for (const s of existing) {
    if (s.status?.state === 'expired' || s.createdBy !== createdBy) continue;
    const m = MARKER.exec(s.comment ?? '');
    if (!m) continue;
    const key = `${m[1]}:${m[2]}`;
    const want = desired.get(key);
    if (want && want.hash === m[3] && !seen.has(key)) seen.set(key, s);
    else stale.push(s);
  }
  plan.keep = seen.size;
  const reusable = new Map<string, GettableSilence>();
  for (const s of stale) {
    const key = MARKER.exec(s.comment)!.slice(1, 3).join(':');
    if (desired.has(key) && !seen.has(key) && !reusable.has(key)) reusable.set(key, s);
    else plan.expire.push(s);
  }
  for (const [key, want] of desired) {
    if (seen.has(key)) continue;
    const old = reusable.get(key);
    if (old) plan.update.push({ id: old.id, silence: want });
    else plan.create.push(want);
  }
  return plan;
}

export interface TargetConfig {
  name: string;
  kind: 'alertmanager' | 'grafana';
  client: AmClient;
  silences: boolean;
  /** Grafana only: recurring downtimes that fit also become mute timings. */
  muteTimings: boolean;
  /** ... and get no silences. */
  muteTimingsReplaceSilences?: boolean;
}

export interface TargetStatus {
  name: string;
  kind: string;
  url: string;
  ok: boolean | null;
  lastAttempt: number | null;
  lastSuccess: number | null;
  lastError: string | null;
  failures: number;
  nextAttempt: number | null;
  silences: number;
  muteTimings: number;
}

export interface ReconcilerOptions extends SilenceOptions {
  interval: number;
  backoffInitial: number;
  backoffMax: number;
}

const MUTE_PREFIX = 'rexmon-downtime-';
const NO_PROVENANCE = { 'X-Disable-Provenance': 'true' };

class Target {
  readonly status: TargetStatus;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  again = false;

  constructor(readonly cfg: TargetConfig) {
    this.status = { name: cfg.name, kind: cfg.kind, url: cfg.client.base, ok: null, lastAttempt: null, lastSuccess: null, lastError: null, failures: 0, nextAttempt: null, silences: 0, muteTimings: 0 };
  }
}

export class Reconciler {
  private readonly targets: Target[];
  private stopped = true;
  private unsubscribe?: () => void;

  constructor(
    private readonly store: DowntimeStore,
    targets: TargetConfig[],
    private readonly opts: ReconcilerOptions,
    private readonly log: Logger,
    private readonly onPass?: (target: string, ok: boolean) => void,
  ) {
    this.targets = targets.map((t) => new Target(t));
  }

  status(): TargetStatus[] {
    return this.targets.map((t) => ({ ...t.status }));
  }

  start() {
    this.stopped = false;
    this.unsubscribe = this.store.onChange(() => this.kick());
    for (const t of this.targets) this.schedule(t, 0);
  }

  async stop() {
    this.stopped = true;
    this.unsubscribe?.();
    for (const t of this.targets) clearTimeout(t.timer);
    await Promise.allSettled(this.targets.map((t) => t.running));
  }

  /** A downtime changed: reconcile healthy targets now; targets in back-off keep their schedule. */
  kick() {
    for (const t of this.targets) if (t.status.failures === 0) this.schedule(t, 0);
  }

  /** Runs one pass on every target now and waits for it; throws the first failure. */
  async syncNow(): Promise<void> {
    const results = await Promise.allSettled(this.targets.map((t) => this.run(t)));
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
  }

  private schedule(t: Target, delaySec: number) {
    if (this.stopped) return;
    clearTimeout(t.timer);
    t.status.nextAttempt = Date.now() / 1000 + delaySec;
    t.timer = setTimeout(() => void this.run(t).catch(() => undefined), delaySec * 1000);
    t.timer.unref();
  }

  private run(t: Target): Promise<void> {
    if (t.running) {
      t.again = true;
      return t.running;
    }
    t.running = (async () => {
      try {
        do {
          t.again = false;
          await this.pass(t);
        } while (t.again && !this.stopped);
      } finally {
        t.running = undefined;
      }
    })();
    return t.running;
  }

  private async pass(t: Target): Promise<void> {
    const now = Date.now() / 1000;
    t.status.lastAttempt = now;
    try {
      await this.reconcile(t, now);
      if (t.status.failures > 0) this.log.info({ target: t.cfg.name }, `downtime sync: ${t.cfg.name} answers again; in step`);
      t.status.ok = true;
      t.status.lastSuccess = Date.now() / 1000;
      t.status.lastError = null;
      t.status.failures = 0;
      this.onPass?.(t.cfg.name, true);
      this.schedule(t, this.opts.interval);
    } catch (e) {
      t.status.ok = false;
      t.status.failures++;
      t.status.lastError = (e as Error).message;
      const delay = Math.min(this.opts.backoffMax, this.opts.backoffInitial * 2 ** (t.status.failures - 1));
      this.log.warn({ target: t.cfg.name, failures: t.status.failures, retryIn: delay }, `downtime sync with ${t.cfg.name} failed: ${(e as Error).message}`);
      this.onPass?.(t.cfg.name, false);
      this.schedule(t, delay);
      throw e;
    }
  }

  private async reconcile(t: Target, now: number) {
    const downtimes = await this.store.list({ from: now, to: now + this.opts.lookahead, kinds: this.opts.kinds });
    const muted = new Set<number>();
    if (t.cfg.muteTimings) {
      const wanted = new Map<string, MuteTiming>();
      for (const d of downtimes) {
        const mt = d.recurrence && d.start <= now && stateAt(d, now) !== 'ended' ? muteTimingFor(d, MUTE_PREFIX) : undefined;
        if (mt) {
          wanted.set(mt.name, mt);
          if (t.cfg.muteTimingsReplaceSilences) muted.add(d.id);
        }
      }
      t.status.muteTimings = await this.syncMuteTimings(t.cfg.client, wanted);
    }
    if (!t.cfg.silences) return;
    const desired = desiredSilences(downtimes, now, this.opts, (d) => muted.has(d.id));
    const existing = await t.cfg.client.silences();
    const plan = planSilences(existing, desired, this.opts.createdBy);
    // New silences first, then the old ones go: alerts are never left unsilenced in between.
    for (const s of plan.create) await t.cfg.client.postSilence(strip(s));
    for (const u of plan.update) {
      try {
        await t.cfg.client.postSilence({ ...strip(u.silence), id: u.id });
      } catch (e) {
        if (!(e instanceof HttpStatusError && e.status === 404)) throw e;
        await t.cfg.client.postSilence(strip(u.silence));
      }
    }
    for (const s of plan.expire) await t.cfg.client.expireSilence(s.id);
    if (plan.create.length + plan.update.length + plan.expire.length)
      this.log.info({ target: t.cfg.name, created: plan.create.length, updated: plan.update.length, expired: plan.expire.length, kept: plan.keep }, `downtime sync: silences in ${t.cfg.name} updated`);
    t.status.silences = desired.size;
  }

  private async syncMuteTimings(client: AmClient, wanted: Map<string, MuteTiming>): Promise<number> {
    const existing = ((await client.call<MuteTiming[] | null>('GET', '/api/v1/provisioning/mute-timings')) ?? []).filter((m) => m.name.startsWith(MUTE_PREFIX));
    const have = new Map(existing.map((m) => [m.name, m]));
    for (const [name, mt] of wanted) {
      const old = have.get(name);
      if (!old) await client.call('POST', '/api/v1/provisioning/mute-timings', mt, NO_PROVENANCE);
      else if (JSON.stringify(canonical(old.time_intervals)) !== JSON.stringify(canonical(mt.time_intervals)))
        await client.call('PUT', `/api/v1/provisioning/mute-timings/${encodeURIComponent(name)}`, { ...mt, ...(old.version ? { version: old.version } : {}) }, NO_PROVENANCE);
    }
    for (const name of have.keys()) if (!wanted.has(name)) await client.call('DELETE', `/api/v1/provisioning/mute-timings/${encodeURIComponent(name)}`, undefined, NO_PROVENANCE);
    return wanted.size;
  }
}

function strip(s: DesiredSilence): PostableSilence {
  return { matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, createdBy: s.createdBy, comment: s.comment };
}

/** The parts of a time interval rexmon sets, in a fixed key order, for comparison. */
function canonical(list: Record<string, unknown>[]) {
  const keys = ['times', 'weekdays', 'days_of_month', 'months', 'years', 'location'];
  return (list ?? []).map((i) => keys.map((k) => [k, i[k] ?? null]));
}
