// Keeps Alertmanager silences (Prometheus Alertmanager, Grafana) and Grafana mute timings in step with
// the downtime DB. Stateless: each pass reads what the target has, computes what it should have, and
// writes only the difference. Silences it made carry createdBy and a marker in the comment
// `[rexmon:<downtime id>:<occurrence start>:<content hash>]`; nothing else is ever touched. A write the
// target refuses (4xx) is logged, counted and listed in the sync status; the others go on regardless.
import { createHash } from 'node:crypto';
import { Logger } from 'pino';
import { AmClient, AmMatcher, GettableSilence, HttpStatusError, MuteTiming, PostableSilence } from './alertmanager.js';
import { Downtime, Kind, occurrences, scopeOf, stateAt } from './model.js';
import { DowntimeStore } from './store.js';
import { muteTimingFor } from './mute-timings.js';
import { iso } from './tz.js';

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

/** A write the target refused (4xx), or a downtime no silence could be made for; the pass went on. */
export interface Refusal {
  /** `<downtime id>:<occurrence start>`, the downtime id, or a mute timing's name. */
  key: string;
  downtime: number | null;
  /** The target's HTTP status; null when rexmon could not build the silence. */
  status: number | null;
  error: string;
}

export function amMatchers(d: Downtime): AmMatcher[] {
  return scopeOf(d).matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.op === '=~' || m.op === '!~', isEqual: m.op === '=' || m.op === '=~' }));
}

/**
 * The silences the downtimes call for at `now`, by key `<id>:<occurrence start>`. A downtime whose
 * silence cannot be built (a row stored before today's checks) is reported in `problems` and skipped.
 */
export function desiredSilences(
  downtimes: Downtime[],
  now: number,
  o: SilenceOptions,
  skip?: (d: Downtime) => boolean,
  problems: Refusal[] = [],
): Map<string, DesiredSilence> {
  const out = new Map<string, DesiredSilence>();
  for (const d of downtimes) {
    if (!o.kinds.includes(d.kind) || skip?.(d)) continue;
    try {
      const mine = new Map<string, DesiredSilence>();
      for (const occ of occurrences(d, now, now + o.lookahead)) {
        // An open end is renewed every hour: a silence always reaches at least an hour ahead.
        const end = occ.end ?? (Math.floor(now / 3600) + 2) * 3600;
        if (end <= now) continue;
        const matchers = amMatchers(d);
        const text = `${d.reason} — ${d.author} (rexmon downtime #${d.id}${d.recurrence ? `, occurrence ${iso(occ.start)}` : ''})`;
        const hash = createHash('sha256')
          .update(JSON.stringify([matchers, occ.start, end, text, o.createdBy]))
          .digest('hex')
          .slice(0, 12);
        const key = `${d.id}:${occ.start}`;
        mine.set(key, { key, hash, matchers, startsAt: iso(occ.start), endsAt: iso(end), createdBy: o.createdBy, comment: `${text} [rexmon:${key}:${hash}]` });
      }
      for (const [k, v] of mine) out.set(k, v);
    } catch (e) {
      problems.push({ key: String(d.id), downtime: d.id, status: null, error: `downtime #${d.id}: no silence can be made: ${(e as Error).message}` });
    }
  }
  return out;
}

/** Whether a live silence still says what the desired one says: marker hash, matchers and end (a user may edit them in the Alertmanager UI, keeping the comment). */
function sameSilence(live: GettableSilence, want: DesiredSilence, hash: string): boolean {
  if (hash !== want.hash || Date.parse(live.endsAt) !== Date.parse(want.endsAt)) return false;
  const key = (m: AmMatcher) => JSON.stringify([m.name, m.value, m.isRegex, m.isEqual ?? true]);
  const a = (live.matchers ?? []).map(key).sort();
  const b = want.matchers.map(key).sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** How many of the expected silences a target holds, unexpired and as written. */
export function countPresent(live: GettableSilence[], expected: Map<string, DesiredSilence>, createdBy: string): number {
  const found = new Set<string>();
  for (const s of live) {
    if (s.status?.state === 'expired' || s.createdBy !== createdBy) continue;
    const m = MARKER.exec(s.comment ?? '');
    const want = m && expected.get(`${m[1]}:${m[2]}`);
    if (want && sameSilence(s, want, m[3])) found.add(want.key);
  }
  return found.size;
}

export interface SilencePlan {
  create: DesiredSilence[];
  /** Silences whose content is out of date: posted again with their id. */
  update: { id: string; silence: DesiredSilence }[];
  expire: GettableSilence[];
  keep: number;
}

/**
 * Compares what a target has with what it should have. Silences not made by rexmon are ignored. Among
 * duplicates the one with the smallest id is kept, so collectors sharing a database keep the same one.
 */
export function planSilences(existing: GettableSilence[], desired: Map<string, DesiredSilence>, createdBy: string): SilencePlan {
  const plan: SilencePlan = { create: [], update: [], expire: [], keep: 0 };
  const seen = new Map<string, GettableSilence>();
  const stale: GettableSilence[] = [];
  const byId = [...existing].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const s of byId) {
    if (s.status?.state === 'expired' || s.createdBy !== createdBy) continue;
    const m = MARKER.exec(s.comment ?? '');
    if (!m) continue;
    const key = `${m[1]}:${m[2]}`;
    const want = desired.get(key);
    if (want && sameSilence(s, want, m[3]) && !seen.has(key)) seen.set(key, s);
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
  /** Silences the downtimes call for. */
  silences: number;
  /** Of them, the ones the target should hold (those it refused are not counted). */
  expected: number;
  /** How many of the expected silences the target held, as seen by the last check or pass; null before the first. */
  present: number | null;
  /** When the target's silences were last read (a check or a pass). */
  lastCheck: number | null;
  /** The target's start time (Alertmanager's `uptime` in `/api/v2/status`), null if it does not say. */
  startedAt: string | null;
  /** Restarts noticed (the start time changed). */
  restarts: number;
  /** The last time a check found silences missing or a restart and reconciled at once, and why. */
  lastRepair: { at: number; reason: string } | null;
  muteTimings: number;
  /** What the last completed pass could not write (the target answered 4xx) or build; the rest was written. */
  refused: Refusal[];
}

export interface ReconcilerOptions extends SilenceOptions {
  /** The full pass: the DB against the target. */
  interval: number;
  /** The cheap check of a healthy target (its start time, its silences against the last pass); default 5 s. */
  checkInterval?: number;
  /** How often a target that did not answer is asked whether it answers again; default 2 s. */
  probeInterval?: number;
  backoffInitial: number;
  backoffMax: number;
  /** Unix seconds now; tests set it. */
  clock?: () => number;
}

export interface ReconcilerHooks {
  /** After each pass, by target. */
  onPass?: (target: string, ok: boolean) => void;
  /** Writes a target refused (4xx) or silences that could not be built, by target, each pass. */
  onRefused?: (target: string, count: number) => void;
  /** A target restarted (its start time changed). */
  onRestart?: (target: string) => void;
}

const MUTE_PREFIX = 'rexmon-downtime-';
const NO_PROVENANCE = { 'X-Disable-Provenance': 'true' };
/** What a mute timing still named by a notification policy becomes instead of being deleted: it never matches. */
const NEVER = [{ years: ['1970'] }];

const refusedBy = (e: unknown): e is HttpStatusError => e instanceof HttpStatusError && e.status >= 400 && e.status < 500;
/** No answer from the target itself: no connection, a timeout, or a proxy saying it is not there. */
const unreachable = (e: unknown) => e instanceof HttpStatusError && [0, 502, 503, 504].includes(e.status);

class Target {
  readonly status: TargetStatus;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  again = false;
  checkTimer?: NodeJS.Timeout;
  checking?: Promise<void>;
  /** The last pass failed because the target did not answer: it is probed and reconciled once it does. */
  unreachable = false;
  /** What the last pass left in the target, by key `<id>:<start>`: what a check expects to find. */
  expected = new Map<string, DesiredSilence>();

  constructor(readonly cfg: TargetConfig) {
    this.status = {
      name: cfg.name,
      kind: cfg.kind,
      url: cfg.client.base,
      ok: null,
      lastAttempt: null,
      lastSuccess: null,
      lastError: null,
      failures: 0,
      nextAttempt: null,
      silences: 0,
      expected: 0,
      present: null,
      lastCheck: null,
      startedAt: null,
      restarts: 0,
      lastRepair: null,
      muteTimings: 0,
      refused: [],
    };
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
    private readonly hooks: ReconcilerHooks = {},
  ) {
    this.targets = targets.map((t) => new Target(t));
  }

  status(): TargetStatus[] {
    return this.targets.map((t) => ({ ...t.status, refused: [...t.status.refused], lastRepair: t.status.lastRepair && { ...t.status.lastRepair } }));
  }

  start() {
    this.stopped = false;
    this.unsubscribe = this.store.onChange(() => this.kick());
    for (const t of this.targets) {
      this.schedule(t, 0);
      this.scheduleCheck(t);
    }
  }

  async stop() {
    this.stopped = true;
    this.unsubscribe?.();
    for (const t of this.targets) {
      clearTimeout(t.timer);
      clearTimeout(t.checkTimer);
    }
    await Promise.allSettled(this.targets.flatMap((t) => [t.running, t.checking]));
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

  /** Between passes: a check every checkInterval while the target is in step, a probe every probeInterval while it does not answer. */
  private scheduleCheck(t: Target) {
    if (this.stopped) return;
    const delay = t.status.failures > 0 ? (this.opts.probeInterval ?? 2) : (this.opts.checkInterval ?? 5);
    t.checkTimer = setTimeout(() => {
      t.checking = this.tick(t)
        .catch((e) => this.log.warn({ target: t.cfg.name }, `downtime sync: check of ${t.cfg.name} failed: ${(e as Error).message}`))
        .finally(() => {
          t.checking = undefined;
          this.scheduleCheck(t);
        });
    }, delay * 1000);
    t.checkTimer.unref();
  }

  private async tick(t: Target) {
    if (t.running || this.stopped) return;
    if (t.status.failures > 0) {
      // A target that answered but failed the pass waits for its back-off slot; one that did not answer is probed.
      if (!t.unreachable) return;
      let restarted: string | undefined;
      try {
        restarted = await this.observeStart(t);
      } catch (e) {
        t.status.lastError = (e as Error).message;
        return;
      }
      const reason = `answers again${restarted ? `, ${restarted}` : ''}`;
      t.status.lastRepair = { at: Date.now() / 1000, reason };
      this.log.info({ target: t.cfg.name }, `downtime sync: ${t.cfg.name} ${reason}; reconciling now`);
      await this.run(t).catch(() => undefined);
      return;
    }
    let reason: string | undefined;
    try {
      reason = await this.observeStart(t);
      if (t.cfg.silences) {
        const live = await t.cfg.client.silences();
        const present = countPresent(live, t.expected, this.opts.createdBy);
        t.status.present = present;
        t.status.lastCheck = Date.now() / 1000;
        // A silence that ended by itself since the pass is not missing.
        const due = [...t.expected.values()].filter((w) => Date.parse(w.endsAt) > Date.now()).length;
        const missing = due - present;
        if (missing > 0) reason = [reason, `${missing} of ${t.expected.size} silences missing`].filter(Boolean).join('; ');
      }
    } catch {
      // It stopped answering (or answers with an error): a pass records it (ok: false, the error) and backs off.
      await this.run(t).catch(() => undefined);
      return;
    }
    if (!reason || t.running) return;
    t.status.lastRepair = { at: Date.now() / 1000, reason };
    this.log.warn({ target: t.cfg.name }, `downtime sync: ${t.cfg.name}: ${reason}; reconciling now`);
    await this.run(t).catch(() => undefined);
  }

  /** Reads the target's start time; returns why it counts as restarted, if it does. Throws if it does not answer. */
  private async observeStart(t: Target): Promise<string | undefined> {
    const started = await t.cfg.client.startedAt();
    const before = t.status.startedAt;
    t.status.startedAt = started;
    if (!started || !before || started === before) return undefined;
    t.status.restarts++;
    this.hooks.onRestart?.(t.cfg.name);
    return `restarted (up since ${started}, before since ${before})`;
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
    const now = this.opts.clock?.() ?? Date.now() / 1000;
    t.status.lastAttempt = now;
    try {
      await this.reconcile(t, now);
      if (t.status.failures > 0) this.log.info({ target: t.cfg.name }, `downtime sync: ${t.cfg.name} answers again; in step`);
      t.status.ok = true;
      t.status.lastSuccess = Date.now() / 1000;
      t.status.lastError = null;
      t.status.failures = 0;
      t.unreachable = false;
      this.hooks.onPass?.(t.cfg.name, true);
      this.schedule(t, this.opts.interval);
    } catch (e) {
      t.status.ok = false;
      t.status.failures++;
      t.status.lastError = (e as Error).message;
      t.unreachable = unreachable(e);
      const delay = Math.min(this.opts.backoffMax, this.opts.backoffInitial * 2 ** (t.status.failures - 1));
      this.log.warn({ target: t.cfg.name, failures: t.status.failures, retryIn: delay }, `downtime sync with ${t.cfg.name} failed: ${(e as Error).message}`);
      this.hooks.onPass?.(t.cfg.name, false);
      this.schedule(t, delay);
      throw e;
    }
  }

  /** Runs `write`; a 4xx answer is recorded in `refused` and logged instead of ending the pass. */
  private async attempt(t: Target, refused: Refusal[], key: string, downtime: number | null, write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (e) {
      if (!refusedBy(e)) throw e;
      refused.push({ key, downtime, status: e.status, error: e.message });
      this.log.warn({ target: t.cfg.name, key, status: e.status }, `downtime sync: ${t.cfg.name} refused ${key}: ${e.message}`);
      return false;
    }
  }

  private async reconcile(t: Target, now: number) {
    const downtimes = await this.store.list({ from: now, to: now + this.opts.lookahead, kinds: this.opts.kinds });
    const refused: Refusal[] = [];
    const muted = new Set<number>();
    // Mute-timing trouble does not hold up silences: a downtime whose mute timing is not in place gets
    // silences instead, and an unreachable mute-timing API fails the pass only after silences are done.
    let muteError: unknown;
    if (t.cfg.muteTimings) {
      const wanted = new Map<string, { mt: MuteTiming; id: number }>();
      for (const d of downtimes) {
        const mt = d.recurrence && d.start <= now && stateAt(d, now) !== 'ended' ? muteTimingFor(d, MUTE_PREFIX) : undefined;
        if (mt) wanted.set(mt.name, { mt, id: d.id });
      }
      try {
        const placed = await this.syncMuteTimings(t, wanted, refused);
        if (t.cfg.muteTimingsReplaceSilences) for (const [name, w] of wanted) if (placed.has(name)) muted.add(w.id);
        t.status.muteTimings = placed.size;
      } catch (e) {
        muteError = e;
      }
    }
    if (t.cfg.silences) {
      const desired = desiredSilences(downtimes, now, this.opts, (d) => muted.has(d.id), refused);
      const existing = await t.cfg.client.silences();
      const plan = planSilences(existing, desired, this.opts.createdBy);
      const downtimeOf = (key: string) => Number(key.split(':')[0]);
      // New silences first, then the old ones go: alerts are never left unsilenced in between.
      for (const s of plan.create) await this.attempt(t, refused, s.key, downtimeOf(s.key), () => t.cfg.client.postSilence(strip(s)));
      for (const u of plan.update) {
        await this.attempt(t, refused, u.silence.key, downtimeOf(u.silence.key), async () => {
          try {
            await t.cfg.client.postSilence({ ...strip(u.silence), id: u.id });
          } catch (e) {
            if (!(e instanceof HttpStatusError && e.status === 404)) throw e;
            await t.cfg.client.postSilence(strip(u.silence));
          }
        });
      }
      for (const s of plan.expire) {
        const m = MARKER.exec(s.comment);
        await this.attempt(t, refused, m ? `${m[1]}:${m[2]}` : s.id, m ? Number(m[1]) : null, () => t.cfg.client.expireSilence(s.id));
      }
      if (plan.create.length + plan.update.length + plan.expire.length)
        this.log.info(
          { target: t.cfg.name, created: plan.create.length, updated: plan.update.length, expired: plan.expire.length, kept: plan.keep },
          `downtime sync: silences in ${t.cfg.name} updated`,
        );
      t.status.silences = desired.size;
      // What a check expects to find: every desired silence but those the target refused.
      const refusedKeys = new Set(refused.map((r) => r.key));
      t.expected = new Map([...desired].filter(([k]) => !refusedKeys.has(k)));
      t.status.expected = t.expected.size;
      t.status.present = t.expected.size;
      t.status.lastCheck = Date.now() / 1000;
    }
    for (const r of refused) if (r.status === null) this.log.warn({ target: t.cfg.name, downtime: r.downtime }, r.error);
    t.status.refused = refused;
    if (refused.length) this.hooks.onRefused?.(t.cfg.name, refused.length);
    if (muteError) throw muteError;
  }

  /** Writes the wanted mute timings and removes rexmon's others; returns the names now in place as wanted. */
  private async syncMuteTimings(t: Target, wanted: Map<string, { mt: MuteTiming; id: number }>, refused: Refusal[]): Promise<Set<string>> {
    const client = t.cfg.client;
    const path = (name: string) => `/api/v1/provisioning/mute-timings/${encodeURIComponent(name)}`;
    const existing = ((await client.call<MuteTiming[] | null>('GET', '/api/v1/provisioning/mute-timings')) ?? []).filter((m) => m.name.startsWith(MUTE_PREFIX));
    const have = new Map(existing.map((m) => [m.name, m]));
    const same = (a: Record<string, unknown>[], b: Record<string, unknown>[]) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
    const put = (old: MuteTiming, time_intervals: Record<string, unknown>[]) =>
      client.call('PUT', path(old.name), { name: old.name, time_intervals, ...(old.version ? { version: old.version } : {}) }, NO_PROVENANCE);
    const placed = new Set<string>();
    for (const [name, { mt, id }] of wanted) {
      const old = have.get(name);
      const ok = await this.attempt(t, refused, name, id, async () => {
        if (!old) await client.call('POST', '/api/v1/provisioning/mute-timings', mt, NO_PROVENANCE);
        else if (!same(old.time_intervals, mt.time_intervals)) await put(old, mt.time_intervals);
      });
      if (ok) placed.add(name);
    }
    for (const [name, old] of have) {
      if (wanted.has(name)) continue;
      const id = Number(name.slice(MUTE_PREFIX.length)) || null;
      await this.attempt(t, refused, name, id, async () => {
        try {
          await client.call('DELETE', path(name), undefined, NO_PROVENANCE);
        } catch (e) {
          // Grafana keeps a mute timing a notification policy names (409): it is made to never match instead.
          if (!(e instanceof HttpStatusError && e.status === 409)) throw e;
          if (same(old.time_intervals, NEVER)) return;
          await put(old, NEVER);
          this.log.info(
            { target: t.cfg.name, muteTiming: name },
            `downtime sync: mute timing ${name} is still named by a notification policy in ${t.cfg.name}; it now never matches (remove it from the policy to have it deleted)`,
          );
        }
      });
    }
    return placed;
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
