// rexmon series → Prometheus label sets. Prometheus metric names are [a-zA-Z_:][a-zA-Z0-9_:]*; rexmon's also allow
// '.' and '-' (so Graphite paths stay readable): each character outside the Prometheus set becomes '_'
// (lab.host01.temp → lab_host01_temp). rexmon label names already follow Prometheus' rule, values pass unchanged.
import { Labels } from '../model/series.js';
import { PromLabel } from './prompb.js';

export function promMetricName(name: string): string {
  const out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

/** `__name__`, the series' labels, then the endpoint's extra labels where the series has none of that name; sorted by name (byte order) as the protocol requires. */
export function promLabels(name: string, labels: Labels, extra: Labels): PromLabel[] {
  const out: PromLabel[] = [{ name: '__name__', value: promMetricName(name) }];
  for (const [k, v] of Object.entries(labels)) if (v !== '') out.push({ name: k, value: v });
  for (const [k, v] of Object.entries(extra)) if (!(k in labels)) out.push({ name: k, value: v });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Identity of a Prometheus series (after the mapping, so `a.b` and `a_b` are one). */
export function promKey(labels: PromLabel[]): string {
  return labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(',');
}
