// What the mails say: one plain-text mail per group of notices (alarm changes, a downtime starting or
// ending, events a handler matched). Pure functions of the stored notices, so a retry sends the same text.
import type { AlarmNotice, AlarmState } from '../alarms/types.js';
import type { Labels } from '../model/series.js';
import type { StoredNotice } from './outbox.js';

export interface DowntimePayload {
  event: 'start' | 'end';
  /** Unix seconds of the change. */
  at: number;
  downtime: { id: number; kind: 'planned' | 'unplanned'; match: string; author: string; reason: string; recurring: boolean };
  /** The occurrence: Unix seconds; end null when open-ended. */
  start: number;
  end: number | null;
  /** For an end: how it ended. */
  cause?: 'window' | 'ended' | 'cancelled';
  by?: string | null;
}

export interface EventPayload {
  handler: number;
  subject: string;
  type: string;
  source: string;
  /** Unix ms. */
  time: number;
  labels: Labels;
  data: Record<string, string | number | boolean>;
}

export interface RenderOptions {
  statusUrl: string;
  grafanaUrl?: string;
}

const SEVERITY: Record<AlarmState, number> = { CRITICAL: 3, UNKNOWN: 2, WARNING: 1, OK: 0 };
const ORDER: AlarmState[] = ['CRITICAL', 'WARNING', 'UNKNOWN', 'OK'];

export function fmtTime(unixSeconds: number): string {
  return new Date(Math.round(unixSeconds * 1000))
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function fmtValue(v: number | null): string {
  if (v === null) return 'none (no data)';
  return String(Number(v.toPrecision(6)));
}

/** No control characters (a header must stay one line; a body line stays a line). */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ');

/** `{{a.b}}` replaced by the value at that path of `vars` ('' when absent); `encode` for URLs. */
export function fill(template: string, vars: Record<string, unknown>, encode: (s: string) => string = (s) => s): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g, (_, path: string) => {
    let v: unknown = vars;
    for (const part of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    return v === undefined || v === null || typeof v === 'object' ? '' : encode(String(v));
  });
}

export function render(notices: StoredNotice[], group: string, o: RenderOptions): { subject: string; body: string } {
  const kind = notices[0].kind;
  const r = kind === 'alarm' ? renderAlarms(notices, group, o) : kind === 'downtime' ? renderDowntime(notices, o) : renderEvents(notices, o);
  return { subject: oneLine(r.subject), body: r.body.endsWith('\n') ? r.body : r.body + '\n' };
}

function renderAlarms(stored: StoredNotice[], group: string, o: RenderOptions): { subject: string; body: string } {
  const notices = stored.map((s) => s.payload as AlarmNotice);
  const worst = notices.reduce<AlarmState>((w, n) => (SEVERITY[n.to] > SEVERITY[w] ? n.to : w), 'OK');
  const counts = ORDER.map((s) => [s, notices.filter((n) => n.to === s).length] as const)
    .filter(([, c]) => c > 0)
    .map(([s, c]) => `${c} ${s}`)
    .join(', ');
  let subject: string;
  let head: string;
  if (notices.length === 1) {
    const n = notices[0];
    const note = n.reason === 'repeat' ? ' (still)' : n.reason === 'downtime-ended' ? ' (downtime ended)' : '';
    subject = `[rexmon] ${n.to}${note} ${n.instance.rule}: ${n.instance.series}`;
    head = `${n.to}${note} ${n.instance.rule}: ${n.instance.series}`;
  } else {
    subject = `[rexmon] ${worst} ${group}: ${notices.length} series (${counts})`;
    head = `${worst} ${group}: ${notices.length} series (${counts})`;
  }
  const lines = [head, ''];
  for (const n of notices) {
    const i = n.instance;
    lines.push(`${n.to} ${i.series}`);
    if (i.summary) lines.push(`  ${oneLine(i.summary)}`);
    lines.push(`  value ${fmtValue(i.value)}${i.bound === null ? '' : `, bound ${fmtValue(i.bound)}`}`);
    if (n.reason === 'repeat') lines.push(`  still ${n.to} since ${fmtTime(i.since)} (repeated at ${fmtTime(n.at)})`);
    else if (n.reason === 'downtime-ended') lines.push(`  ${n.to} since ${fmtTime(i.since)}; the downtime that muted it ended at ${fmtTime(n.at)}`);
    else lines.push(`  ${n.from} -> ${n.to} at ${fmtTime(n.at)}`);
    lines.push(`  rule ${i.rule}`);
    if (o.grafanaUrl) lines.push(`  Grafana: ${fill(o.grafanaUrl, { rule: i.rule, series: i.series, name: i.name, labels: i.labels }, encodeURIComponent)}`);
    lines.push('');
  }
  lines.push(`Status page: ${o.statusUrl}`);
  return { subject, body: lines.join('\n') };
}

function renderDowntime(stored: StoredNotice[], o: RenderOptions): { subject: string; body: string } {
  // One notice per downtime change: each is its own group (several only if the same change was queued twice).
  const p = stored[0].payload as DowntimePayload;
  const d = p.downtime;
  const kind = d.kind === 'planned' ? 'Planned' : 'Unplanned';
  const what = p.event === 'start' ? 'started' : 'ended';
  const subject = `[rexmon] Downtime #${d.id} ${what}: ${d.match} (${d.kind})`;
  const lines: string[] = [];
  if (p.event === 'start') lines.push(`${kind} downtime #${d.id} started at ${fmtTime(p.at)}.`);
  else {
    const how =
      p.cause === 'cancelled'
        ? `it was cancelled${p.by ? ` by ${p.by}` : ''}`
        : p.cause === 'ended'
          ? `it was ended early${p.by ? ` by ${p.by}` : ''}`
          : 'its window closed';
    lines.push(`${kind} downtime #${d.id} ended at ${fmtTime(p.at)}: ${how}.`);
  }
  lines.push('');
  lines.push(`  scope:  ${oneLine(d.match)}`);
  lines.push(`  reason: ${oneLine(d.reason)}`);
  lines.push(`  author: ${oneLine(d.author)}`);
  lines.push(
    `  window: ${fmtTime(p.start)} to ${p.end === null ? 'open end' : fmtTime(p.end)}${d.recurring ? ' (one occurrence of a recurring downtime)' : ''}`,
  );
  lines.push('');
  if (p.event === 'start' && d.kind === 'planned') lines.push('Alarms of the series in scope are muted until it ends.', '');
  if (p.event === 'end' && d.kind === 'planned') lines.push('Alarms of the series in scope notify again; those still bad are told now.', '');
  lines.push(`Status page: ${o.statusUrl}`);
  return { subject, body: lines.join('\n') };
}

function renderEvents(stored: StoredNotice[], o: RenderOptions): { subject: string; body: string } {
  const events = stored.map((s) => s.payload as EventPayload);
  const subject = events[0].subject + (events.length > 1 ? ` (+${events.length - 1} more)` : '');
  const lines: string[] = [];
  if (events.length > 1) lines.push(`${events.length} events`, '');
  for (const e of events) {
    lines.push(`${e.type} from ${oneLine(e.source)} at ${fmtTime(e.time / 1000)}`);
    const labels = Object.entries(e.labels);
    if (labels.length) lines.push(`  labels: ${labels.map(([k, v]) => `${k}=${oneLine(v)}`).join(' ')}`);
    for (const [k, v] of Object.entries(e.data)) lines.push(`  ${oneLine(k)}: ${oneLine(String(v))}`);
    lines.push('');
  }
  lines.push(`Status page: ${o.statusUrl}`);
  return { subject, body: lines.join('\n') };
}

/** An event handler's subject for one event. */
export function eventSubject(template: string, e: Omit<EventPayload, 'handler' | 'subject'>): string {
  return oneLine(fill(template, { type: e.type, source: e.source, time: fmtTime(e.time / 1000), labels: e.labels, data: e.data })).slice(0, 500);
}
