// Flexible downtimes: each waits inside its window for the first firing alert whose labels match its
// scope (read from Alertmanagers' /api/v2/alerts, or reported by rexmon's own alarms), then runs for its duration.
import { Logger } from 'pino';
import { Labels } from '../model/series.js';
import { AmClient } from './alertmanager.js';
import { covers, Downtime } from './model.js';
import { DowntimeStore } from './store.js';

export interface FiringAlert {
  labels: Labels;
  /** Unix seconds the alert started firing. */
  startsAt: number;
  source: string;
}

/** Flexible downtimes waiting for a trigger at `now`: window open, not triggered, ended or cancelled. */
export async function waitingFlexible(store: DowntimeStore, now: number): Promise<Downtime[]> {
  return (await store.list({ from: now, to: now + 1 })).filter(
    (d) => d.flexible && d.triggeredAt === null && d.endedAt === null && d.start <= now && d.end !== null && now < d.end,
  );
}

/** Triggers every waiting flexible downtime that one of `alerts` matches; returns the ids triggered. */
export async function applyAlerts(store: DowntimeStore, alerts: FiringAlert[], now: number, log: Logger): Promise<number[]> {
  const waiting = await waitingFlexible(store, now);
  const fired: number[] = [];
  for (const d of waiting) {
    const hits = alerts.filter((a) => covers(d, a.labels.__name__ ?? '', a.labels)).sort((a, b) => a.startsAt - b.startsAt);
    if (!hits.length) continue;
    const first = hits[0];
    // An alert already firing when the window opens starts the downtime at the window's start.
    const at = Math.max(d.start, Math.min(first.startsAt, now));
    const detail = { alert: first.labels.alertname ?? JSON.stringify(first.labels), alertLabels: first.labels, alertSource: first.source };
    if (await store.trigger(d.id, at, { actor: 'rexmon', principal: `alerts:${first.source}` }, detail, now)) {
      log.info({ downtime: d.id, alert: first.labels, at }, `flexible downtime #${d.id} started by a firing alert from ${first.source}`);
      fired.push(d.id);
    }
  }
  return fired;
}

export async function fetchFiring(client: AmClient, source: string): Promise<FiringAlert[]> {
  const list = (await client.alerts()) ?? [];
  return list.map((a) => ({ labels: a.labels ?? {}, startsAt: Date.parse(a.startsAt) / 1000 || Date.now() / 1000, source }));
}
