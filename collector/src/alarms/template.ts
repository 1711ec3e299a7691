// Summary templates: `{{ $labels.host }} disk {{ $value }}% > {{ $bound }}`. Only placeholders, no logic:
// $labels.<name>, $value, $bound, $state, $rule, $series, $name. Anything else is refused when the config loads.
import type { Labels } from '../model/series.js';

const PLACEHOLDER = /\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\s*\}\}/g;
const NAMES = ['labels', 'value', 'bound', 'state', 'rule', 'series', 'name'];

export interface TemplateData {
  labels: Labels;
  value: number | null;
  bound: number | null;
  state: string;
  rule: string;
  series: string;
  name: string;
}

/** Why a template is not valid, or undefined. */
export function templateProblem(t: string): string | undefined {
  for (const m of t.matchAll(PLACEHOLDER)) {
    const [whole, name, sub] = m;
    if (!NAMES.includes(name)) return `unknown placeholder ${whole}: use $labels.<name>, $value, $bound, $state, $rule, $series or $name`;
    if ((name === 'labels') !== (sub !== undefined)) return `${whole}: only $labels takes a label name (e.g. {{ $labels.host }})`;
  }
  const rest = t.replace(PLACEHOLDER, '');
  if (rest.includes('{{')) return 'a "{{" that is not a placeholder such as {{ $labels.host }} or {{ $value }}';
  return undefined;
}

/** Numbers as a person reads them: 2 decimals from 1 up, 3 significant digits below; `none` for no value. */
export function formatValue(v: number | null): string {
  if (v === null) return 'none';
  if (!Number.isFinite(v)) return String(v);
  return String(Math.abs(v) >= 1 ? Number(v.toFixed(2)) : Number(v.toPrecision(3)));
}

export function render(t: string, d: TemplateData): string {
  return t.replace(PLACEHOLDER, (_w, name: string, sub?: string) => {
    switch (name) {
      case 'labels':
        return d.labels[sub!] ?? '';
      case 'value':
        return formatValue(d.value);
      case 'bound':
        return formatValue(d.bound);
      default:
        return String(d[name as 'state' | 'rule' | 'series' | 'name']);
    }
  });
}
