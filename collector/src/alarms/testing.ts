// Test helpers for alarms: a sink that records what it is handed (our own AlarmSink interface), and sample posting.
import assert from 'node:assert/strict';
import { api } from '../testing/harness.js';
import type { AlarmNotice, AlarmSink } from './types.js';

export class RecordingSink implements AlarmSink {
  readonly notices: AlarmNotice[] = [];
  /** When set, accept() refuses (a notifier that is down). */
  failing = false;

  async accept(notices: AlarmNotice[]): Promise<void> {
    if (this.failing) throw new Error('notifier down (test)');
    this.notices.push(...structuredClone(notices));
  }

  /** The notices so far (of one rule, if given) as short strings, e.g. `disk disk_used_pct{host="a"} OK→WARNING change`; forgets them. */
  take(rule?: string): string[] {
    const mine = this.notices.filter((n) => rule === undefined || n.instance.rule === rule);
    const rest = this.notices.filter((n) => !mine.includes(n));
    this.notices.splice(0, this.notices.length, ...rest);
    return mine.map((n) => `${n.instance.rule} ${n.instance.series} ${n.from}→${n.to} ${n.reason}`);
  }
}

export async function postSamples(url: string, samples: { name: string; labels: Record<string, string>; value: number | null; time: number }[]) {
  const r = await api(url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  // Through the pipeline into the archive before anything reads it.
  const f = await api(url, '/api/v1/admin/flush', { method: 'POST' });
  assert.equal(f.status, 200, JSON.stringify(f.body));
}
