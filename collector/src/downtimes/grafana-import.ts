// Imports Grafana annotations tagged `downtime` as downtimes, so a region marked on a Grafana graph lands
// in the DB. Tags: `planned` or `unplanned` (default unplanned), label tags `host:fnpc3001` or
// `host=fnpc3001` (the scope; required), anything else is kept as a tag. Each annotation is imported once.
import { Logger } from 'pino';
import { formatMatchers, makeMatcher, Matcher } from '../matchers/selector.js';
import { AmClient, GrafanaAnnotation } from './alertmanager.js';
import { DowntimeStore } from './store.js';

/**
 * `name:value` or `name=value`: a label name (not a reserved `__` one), then a value without whitespace
 * that does not look like (part of) a URL (`http://x`, `link:https://x`); `note: foo` and links stay plain tags.
 */
const LABEL_TAG = /^(?!__)([A-Za-z_][A-Za-z0-9_]*)[:=](?!\/\/|\S*:\/\/)(\S+)$/;

export function externalId(a: GrafanaAnnotation): string {
  return `grafana-annotation:${a.id}`;
}

/** The downtime body for an annotation, or a reason why it cannot be one. */
export function annotationToDowntime(a: GrafanaAnnotation): { body: Record<string, unknown> } | { skip: string } {
  const tags = a.tags ?? [];
  const labels: Matcher[] = [];
  const rest: string[] = [];
  let kind = 'unplanned';
  for (const t of tags) {
    const m = LABEL_TAG.exec(t);
    if (t === 'downtime') continue;
    if (t === 'planned' || t === 'unplanned') kind = t;
    else if (m) labels.push(makeMatcher(m[1], '=', m[2]));
    else rest.push(t);
  }
  if (!labels.length) return { skip: 'no label tag such as host:fnpc3001 says what it covers' };
  const hasEnd = typeof a.timeEnd === 'number' && a.timeEnd > a.time;
  if (!hasEnd && kind === 'planned') return { skip: 'a planned downtime needs a region (an end), not a point' };
  const text = (a.text ?? '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return {
    body: {
      kind,
      match: formatMatchers(labels),
      start: a.time,
      end: hasEnd ? a.timeEnd : null,
      author: a.login || a.email || 'grafana',
      reason: text || 'marked on a Grafana graph',
      tags: [...rest, 'grafana'],
    },
  };
}

export class AnnotationImporter {
  private readonly skipped = new Set<number>();

  constructor(
    private readonly client: AmClient,
    private readonly store: DowntimeStore,
    private readonly lookback: number,
    private readonly log: Logger,
  ) {}

  /** One pass; returns the ids of the downtimes created. */
  async run(now = Date.now() / 1000): Promise<number[]> {
    const from = Math.floor((now - this.lookback) * 1000);
    const to = Math.floor((now + 366 * 86400) * 1000);
    const list = (await this.client.call<GrafanaAnnotation[]>('GET', `/api/annotations?tags=downtime&type=annotation&limit=5000&from=${from}&to=${to}`)) ?? [];
    const created: number[] = [];
    for (const a of list) {
      if (!(a.tags ?? []).includes('downtime') || this.skipped.has(a.id)) continue;
      if (await this.store.findByExternalId(externalId(a))) continue;
      const r = annotationToDowntime(a);
      try {
        if ('skip' in r) throw new Error(r.skip);
        const d = await this.store.create(r.body, { actor: String(r.body.author), principal: 'grafana-import' }, now, {
          source: 'grafana',
          externalId: externalId(a),
        });
        created.push(d.id);
        this.log.info({ annotation: a.id, downtime: d.id }, `imported Grafana annotation ${a.id} as downtime #${d.id}`);
      } catch (e) {
        // Another collector sharing the database may have imported it a moment ago.
        if (await this.store.findByExternalId(externalId(a))) continue;
        this.skipped.add(a.id);
        this.log.warn({ annotation: a.id }, `Grafana annotation ${a.id} tagged downtime not imported: ${(e as Error).message}`);
      }
    }
    return created;
  }
}
