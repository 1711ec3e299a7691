// The contract between the alarm evaluator (alarms/), the notifier (notify/) and the status page (web/):
// the evaluator owns rules and states and decides what is worth telling; the notifier groups, queues and
// delivers; the page only reads.
import type { Labels } from '../model/series.js';

export type AlarmState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** The downtime that covers a series now (planned ones mute notifications; unplanned ones only if configured). */
export interface DowntimeRef {
  id: number;
  kind: 'planned' | 'unplanned';
  author: string;
  reason: string;
  /** Unix seconds; null for an open-ended downtime. */
  end: number | null;
}

/** One rule applied to one series: what the page shows and what a notification describes. */
export interface AlarmInstance {
  rule: string;
  /** The series' key, e.g. `disk_used_pct{host="fnpc1",mount="/"}`. */
  series: string;
  name: string;
  /** The series' labels, plus the rule's own labels (rule labels never override series labels). */
  labels: Labels;
  state: AlarmState;
  /** The aggregated value the state was decided on; null when data is missing. */
  value: number | null;
  /** The bound that value crossed (or, for OK, the one it came back under); null when none applies. */
  bound: number | null;
  /** Unix seconds: since when the instance has been in `state`. */
  since: number;
  /** Unix seconds of the evaluation that produced this. */
  evaluatedAt: number;
  /** The rule's summary template, rendered for this series. */
  summary: string;
  /** Set while a downtime covers the series. */
  downtime?: DowntimeRef;
  /** True while notifications are held back (a planned downtime, or an unplanned one when so configured). */
  muted: boolean;
}

/** Something worth telling a person about one instance. */
export interface AlarmNotice {
  instance: AlarmInstance;
  from: AlarmState;
  to: AlarmState;
  /** Unix seconds. */
  at: number;
  /** `change`: a state change; `repeat`: an unresolved CRITICAL past its repeat interval; `downtime-ended`: a
   * downtime that muted this instance ended while it is still bad, so it is told now. */
  reason: 'change' | 'repeat' | 'downtime-ended';
}

/** Where the evaluator hands notices; the notifier implements it (durably: once `accept` resolves, nothing is lost). */
export interface AlarmSink {
  accept(notices: AlarmNotice[]): Promise<void>;
}

export interface AlarmFilter {
  state?: AlarmState[];
  rule?: string;
  /** A series selector the instance must match. */
  match?: string;
  inDowntime?: boolean;
}

/** What the page and the API read. */
export interface AlarmView {
  current(filter?: AlarmFilter): AlarmInstance[];
}
