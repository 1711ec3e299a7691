// The downtime stage: the store, the API router, the silence reconciler, flexible triggers and the
// Grafana annotation import, behind one small interface the collector wires in.
import { readFileSync } from 'node:fs';
import { Router } from 'express';
import { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DowntimesConfig } from '../config/schema.js';
import type { Db } from '../db/index.js';
import { Labels } from '../model/series.js';
import { AmClient } from './alertmanager.js';
import { downtimeRouter, RouterAuth } from './api.js';
import { AnnotationImporter } from './grafana-import.js';
import { covers, currentOccurrence, Downtime, nextOccurrence, occurrenceList, stateAt } from './model.js';
import { Reconciler, TargetConfig, TargetStatus } from './reconciler.js';
import { DowntimeStore } from './store.js';
import { applyAlerts, FiringAlert, fetchFiring, waitingFlexible } from './triggers.js';

export { DowntimeStore } from './store.js';
export type { Downtime } from './model.js';

/** A downtime as a series answer names it; `end` is the current occurrence's (null: open). */
export interface CoverRef {
  id: number;
  kind: 'planned' | 'unplanned';
  author: string;
  reason: string;
  end: number | null;
}

const GRAFANA_AM = '/api/alertmanager/grafana';

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`downtimes.grafana.tokenFile: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export class Downtimes {
  readonly store: DowntimeStore;
  readonly reconciler: Reconciler;
  private readonly alertSources: { name: string; client: AmClient }[] = [];
  private importer?: AnnotationImporter;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly syncCounter?: Counter;
  private readonly triggerCounter?: Counter;
  private readonly refusedCounter?: Counter;
  private readonly restartCounter?: Counter;

  constructor(
    db: Db,
    private readonly config: DowntimesConfig,
    private readonly log: Logger,
    registry?: Registry,
  ) {
    this.store = new DowntimeStore(db);
    const timeoutMs = config.timeout * 1000;
    const targets: TargetConfig[] = [];
    for (const am of config.alertmanagers) {
      const client = new AmClient(am.url, '', am.token ? { authorization: `Bearer ${am.token}` } : {}, timeoutMs);
      const name = am.name ?? am.url;
      if (am.silences) targets.push({ name, kind: 'alertmanager', client, silences: true, muteTimings: false });
      if (am.triggers) this.alertSources.push({ name, client });
    }
    const g = config.grafana;
    if (g) {
      const token = g.token ?? (g.tokenFile ? readToken(g.tokenFile) : undefined);
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const api = new AmClient(g.url, '', headers, timeoutMs);
      if (g.silences || g.muteTimings)
        targets.push({
          name: 'grafana',
          kind: 'grafana',
          client: new AmClient(g.url, GRAFANA_AM, headers, timeoutMs),
          silences: g.silences,
          muteTimings: g.muteTimings,
          muteTimingsReplaceSilences: g.muteTimingsReplaceSilences,
        });
      if (g.triggers) this.alertSources.push({ name: 'grafana', client: new AmClient(g.url, GRAFANA_AM, headers, timeoutMs) });
      if (g.importAnnotations) this.importer = new AnnotationImporter(api, this.store, g.importLookback, log);
    }
    if (registry) {
      this.syncCounter = new Counter({
        name: 'rexmon_downtime_sync_total',
        help: 'Silence reconciliation passes, by target and result (ok, error).',
        labelNames: ['target', 'result'],
        registers: [registry],
      });
      this.refusedCounter = new Counter({
        name: 'rexmon_downtime_sync_refused_total',
        help: 'Silences and mute timings a target refused (HTTP 4xx) or that could not be built, by target; the other downtimes were synced.',
        labelNames: ['target'],
        registers: [registry],
      });
      this.restartCounter = new Counter({
        name: 'rexmon_downtime_target_restarts_total',
        help: 'Restarts of a target noticed (its start time in /api/v2/status changed), by target; its silences are reconciled at once.',
        labelNames: ['target'],
        registers: [registry],
      });
      for (const t of targets) this.restartCounter.inc({ target: t.name }, 0);
      const each = (g: Gauge, fn: (s: TargetStatus) => [Record<string, string>, number][]) => {
        g.reset();
        for (const s of this.reconciler.status()) for (const [labels, v] of fn(s)) g.set({ target: s.name, ...labels }, v);
      };
      new Gauge({
        name: 'rexmon_downtime_target_up',
        help: 'Whether the last pass on the target succeeded (1) or not (0); absent before the first.',
        labelNames: ['target'],
        registers: [registry],
        collect() {
          each(this, (s) => (s.ok === null ? [] : [[{}, s.ok ? 1 : 0]]));
        },
      });
      new Gauge({
        name: 'rexmon_downtime_silences',
        help: 'Silences rexmon expects in the target (state=expected) and those it found there at the last check (state=present).',
        labelNames: ['target', 'state'],
        registers: [registry],
        collect() {
          each(this, (s) => [
            [{ state: 'expected' }, s.expected] as [Record<string, string>, number],
            ...(s.present === null ? [] : [[{ state: 'present' }, s.present] as [Record<string, string>, number]]),
          ]);
        },
      });
      new Gauge({
        name: 'rexmon_downtime_last_check_timestamp_seconds',
        help: "When the target's silences were last read (a check or a pass), Unix seconds.",
        labelNames: ['target'],
        registers: [registry],
        collect() {
          each(this, (s) => (s.lastCheck === null ? [] : [[{}, s.lastCheck]]));
        },
      });
      this.triggerCounter = new Counter({
        name: 'rexmon_downtime_triggers_total',
        help: 'Flexible downtimes started by a firing alert.',
        registers: [registry],
      });
    }
    this.reconciler = new Reconciler(
      this.store,
      targets,
      {
        interval: config.reconcileInterval,
        checkInterval: config.checkInterval,
        probeInterval: config.probeInterval,
        lookahead: config.lookahead,
        kinds: config.silenceKinds,
        createdBy: config.createdBy,
        backoffInitial: config.backoff.initial,
        backoffMax: config.backoff.max,
      },
      log,
      {
        onPass: (target, ok) => this.syncCounter?.inc({ target, result: ok ? 'ok' : 'error' }),
        onRefused: (target, n) => this.refusedCounter?.inc({ target }, n),
        onRestart: (target) => this.restartCounter?.inc({ target }),
      },
    );
  }

  router(auth: RouterAuth): Router {
    return downtimeRouter(this.store, auth, () => this.reconciler.status());
  }

  start(): void {
    this.reconciler.start();
    if (this.alertSources.length) this.every(this.config.triggerInterval, () => this.pollAlerts());
    if (this.importer) this.every(this.config.grafana!.importInterval, () => this.importer!.run());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.reconciler.stop();
  }

  /** Reconciles every target once, now (tests, `POST` hooks); throws if one fails. */
  syncNow(): Promise<void> {
    return this.reconciler.syncNow();
  }

  /** Reads firing alerts from every configured source and starts the flexible downtimes they match. */
  async pollAlerts(now = Date.now() / 1000): Promise<number[]> {
    if ((await waitingFlexible(this.store, now)).length === 0) return [];
    const alerts: FiringAlert[] = [];
    for (const s of this.alertSources) {
      try {
        alerts.push(...(await fetchFiring(s.client, s.name)));
      } catch (e) {
        this.log.warn({ source: s.name }, `cannot read firing alerts from ${s.name}: ${(e as Error).message}`);
      }
    }
    return this.alertFired(alerts, now);
  }

  /** rexmon's own alarms report firing alerts here; flexible downtimes they match start. */
  async alertFired(alerts: FiringAlert[], now = Date.now() / 1000): Promise<number[]> {
    const ids = await applyAlerts(this.store, alerts, now, this.log);
    this.triggerCounter?.inc(ids.length);
    return ids;
  }

  /** The downtimes covering a series at `at` (default now): what the alarm stage asks before notifying. */
  async covering(name: string, labels: Labels, at = Date.now() / 1000): Promise<Downtime[]> {
    const list = await this.store.list({ from: at, to: at + 1 });
    return list.filter((d) => currentOccurrence(d, at) && covers(d, name, labels));
  }

  /** One read of the downtimes running at `at`, then a test per series: for marking many series at once (a query's answer). */
  async coverAt(at = Date.now() / 1000): Promise<(name: string, labels: Labels) => CoverRef | undefined> {
    const active = (await this.store.list({ from: at, to: at + 1 })).flatMap((d) => {
      const o = currentOccurrence(d, at);
      return o ? [{ d, end: o.end }] : [];
    });
    // Planned first: it is the one that mutes, so it is the one to show.
    active.sort((a, b) => (a.d.kind === b.d.kind ? a.d.id - b.d.id : a.d.kind === 'planned' ? -1 : 1));
    return (name, labels) => {
      const hit = active.find((x) => covers(x.d, name, labels));
      return hit && { id: hit.d.id, kind: hit.d.kind, author: hit.d.author, reason: hit.d.reason, end: hit.end };
    };
  }

  /** Occurrences in [from, to) of the downtimes covering any of these series (graph shading), at most `max` per downtime. */
  async windows(series: { name: string; labels: Labels }[], from: number, to: number, max = 1000) {
    const out: { kind: Downtime['kind']; start: number; end: number | null; id: number }[] = [];
    for (const d of await this.store.list({ from, to })) {
      if (!series.some((s) => covers(d, s.name, s.labels))) continue;
      for (const o of occurrenceList(d, from, to, max).list) out.push({ kind: d.kind, start: o.start, end: o.end, id: d.id });
    }
    return out;
  }

  /** Downtimes running at `now` or starting within `horizon` seconds, for the status page. */
  async glance(now: number, horizon: number) {
    const out: {
      id: number;
      kind: Downtime['kind'];
      match: string;
      author: string;
      reason: string;
      active: boolean;
      start: number;
      end: number | null;
      recurring: boolean;
    }[] = [];
    for (const d of await this.store.list({ from: now, to: now + horizon })) {
      const state = stateAt(d, now);
      const occ = state === 'active' ? currentOccurrence(d, now) : state === 'scheduled' ? nextOccurrence(d, now) : undefined;
      const waiting = state === 'scheduled' && !occ; // a flexible downtime waiting for its trigger
      if (!occ && !waiting) continue;
      const start = occ?.start ?? d.start;
      if (state === 'scheduled' && start > now + horizon) continue;
      out.push({
        id: d.id,
        kind: d.kind,
        match: d.match,
        author: d.author,
        reason: d.reason,
        active: state === 'active',
        start,
        end: occ ? occ.end : d.end,
        recurring: d.recurrence !== null,
      });
    }
    return out.sort((a, b) => a.start - b.start);
  }

  importAnnotations(now?: number): Promise<number[]> {
    return this.importer ? this.importer.run(now) : Promise.resolve([]);
  }

  private every(seconds: number, fn: () => Promise<unknown>) {
    let busy = false;
    const tick = () => {
      if (busy || this.stopped) return;
      busy = true;
      fn()
        .catch((e) => this.log.warn(`downtimes: ${(e as Error).message}`))
        .finally(() => (busy = false));
    };
    const t = setInterval(tick, seconds * 1000);
    t.unref();
    this.timers.push(t);
    setImmediate(tick);
  }
}
