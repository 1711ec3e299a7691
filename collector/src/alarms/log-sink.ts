// The sink used when no notifier is configured: one structured log line per notice, so alarms work on their own.
import type { Logger } from 'pino';
import type { AlarmNotice, AlarmSink } from './types.js';

export class LogSink implements AlarmSink {
  constructor(private readonly log: Logger) {}

  async accept(notices: AlarmNotice[]): Promise<void> {
    for (const n of notices) {
      const i = n.instance;
      const level = n.to === 'CRITICAL' ? 'error' : n.to === 'OK' ? 'info' : 'warn';
      this.log[level](
        { alarm: { rule: i.rule, series: i.series, from: n.from, to: n.to, reason: n.reason, at: n.at, value: i.value, bound: i.bound, labels: i.labels } },
        `alarm ${n.reason}: ${i.summary}`,
      );
    }
  }
}
