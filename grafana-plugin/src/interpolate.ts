// Template variables in rexmon queries. Multi-value and "All" variables become a regex
// alternation `(a|b)` with every value regex-escaped, and an `=`/`!=` filter that uses one
// becomes `=~`/`!~`, so `host="$host"` with host = [a, b.c] selects host=~"(a|b\.c)".
import { ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';
import { LabelFilter, RexmonQuery, RexmonVariableQuery } from './types';

/** Escapes what a JavaScript (u-flag) regex treats as syntax; `-` is left alone on purpose. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/**
 * Escapes a value for a quoted selector string: the collector reads '…' as well as "…" (and
 * decodes \\ \" \' \n \t in both), and a variable's value may land in either.
 */
export function escapeSelectorString(value: string): string {
  return value.replace(/[\\"']/g, '\\$&').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}

interface VariableLike {
  name: string;
  multi?: boolean;
  includeAll?: boolean;
}

const VARIABLE_RE = /\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]/g;

function isMulti(v: VariableLike | undefined): boolean {
  return !!v && (!!v.multi || !!v.includeAll);
}

/** Whether text uses a multi-value or include-All variable. */
export function usesMultiVariable(text: string | undefined, templateSrv: TemplateSrv): boolean {
  if (!text) {
    return false;
  }
  const vars = templateSrv.getVariables() as VariableLike[];
  for (const m of text.matchAll(VARIABLE_RE)) {
    const name = m[1] ?? m[2] ?? m[3];
    if (isMulti(vars.find((v) => v.name === name))) {
      return true;
    }
  }
  return false;
}

function alternation(value: string | string[], escape: (s: string) => string): string {
  const values = Array.isArray(value) ? value : [value];
  return '(' + values.map(escape).join('|') + ')';
}

/**
 * Interpolates a raw value (a filter value, which the backend quotes itself). With a multi-value
 * variable the filter becomes a regex match; an `=`/`!=` filter's own text around the variable
 * (and single-value variables in it) is then regex-escaped, so `fnpc.$host` keeps its `.` literal.
 */
export function interpolateFilter(f: LabelFilter, templateSrv: TemplateSrv, scopedVars?: ScopedVars): LabelFilter {
  if (!usesMultiVariable(f.value, templateSrv)) {
    return { ...f, value: templateSrv.replace(f.value ?? '', scopedVars) };
  }
  const toRegex = (v: string | string[]) => alternation(v, escapeRegex);
  if (f.op === '=~' || f.op === '!~') {
    return { ...f, value: templateSrv.replace(f.value, scopedVars, toRegex) };
  }
  let value = '';
  let last = 0;
  for (const m of f.value.matchAll(VARIABLE_RE)) {
    const resolved = templateSrv.replace(m[0], scopedVars, (v: string | string[]) => (Array.isArray(v) ? toRegex(v) : escapeRegex(v)));
    // An unknown variable is left as written: literal text too.
    value += escapeRegex(f.value.slice(last, m.index)) + (resolved === m[0] ? escapeRegex(m[0]) : resolved);
    last = m.index! + m[0].length;
  }
  value += escapeRegex(f.value.slice(last));
  return { ...f, op: f.op === '!=' ? '!~' : '=~', value };
}

/**
 * Interpolates a selector typed by hand (code mode, annotation matchers, variable queries):
 * values land inside double quotes, so they are escaped for that too.
 */
export function interpolateSelector(expr: string | undefined, templateSrv: TemplateSrv, scopedVars?: ScopedVars): string {
  if (!expr) {
    return '';
  }
  return templateSrv.replace(expr, scopedVars, (v: string | string[], variable?: VariableLike) => {
    if (isMulti(variable) || Array.isArray(v)) {
      return alternation(v, (s) => escapeSelectorString(escapeRegex(s)));
    }
    return escapeSelectorString(String(v));
  });
}

/** Everything the backend needs, with dashboard variables resolved (alert rules have none). */
export function interpolateQuery(q: RexmonQuery, templateSrv: TemplateSrv, scopedVars?: ScopedVars): RexmonQuery {
  const plain = (s?: string) => (s ? templateSrv.replace(s, scopedVars) : s);
  const out: RexmonQuery = { ...q };
  let filters = (q.labelFilters ?? []).map((f) => interpolateFilter(f, templateSrv, scopedVars));
  if (q.metric && usesMultiVariable(q.metric, templateSrv)) {
    // Several metrics: select them by __name__ instead.
    filters = [interpolateFilter({ label: '__name__', op: '=', value: q.metric }, templateSrv, scopedVars), ...filters];
    out.metric = '';
  } else {
    out.metric = plain(q.metric);
  }
  out.labelFilters = filters;
  out.expr = interpolateSelector(q.expr, templateSrv, scopedVars);
  out.legendFormat = q.legendFormat; // {{label}} is ours; $var in a legend is resolved below
  if (q.legendFormat && q.legendFormat.includes('$')) {
    out.legendFormat = plain(q.legendFormat);
  }
  out.step = plain(q.step);
  out.eventType = plain(q.eventType);
  if (q.by?.length) {
    out.by = q.by
      .flatMap((b) => templateSrv.replace(b, scopedVars, (v: string | string[]) => (Array.isArray(v) ? v.join(',') : v)).split(','))
      .map((b) => b.trim())
      .filter((b) => b !== '');
  }
  return out;
}

export function interpolateVariableQuery(
  q: RexmonVariableQuery,
  templateSrv: TemplateSrv,
  scopedVars?: ScopedVars
): RexmonVariableQuery {
  return {
    ...q,
    label: q.label ? templateSrv.replace(q.label, scopedVars) : q.label,
    match: interpolateSelector(q.match, templateSrv, scopedVars),
  };
}

const METRIC_NAME_RE = /^[A-Za-z_:][A-Za-z0-9_:.-]*$/;

/** The selector of builder fields, as the backend builds it (pkg/plugin/selector.go). */
export function buildSelector(metric: string | undefined, filters: LabelFilter[] | undefined): string {
  const parts: string[] = [];
  let head = '';
  const m = metric?.trim() ?? '';
  if (m && METRIC_NAME_RE.test(m)) {
    head = m;
  } else if (m) {
    parts.push(`__name__="${escapeSelectorString(m)}"`);
  }
  for (const f of filters ?? []) {
    if (f.label?.trim()) {
      parts.push(`${f.label.trim()}${f.op || '='}"${escapeSelectorString(f.value ?? '')}"`);
    }
  }
  return parts.length ? `${head}{${parts.join(', ')}}` : head;
}
