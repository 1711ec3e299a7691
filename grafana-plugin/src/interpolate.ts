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

/**
 * Whether text uses a multi-value or include-All variable. A variable in scopedVars (a repeated
 * panel or row) has one value there, so it does not count.
 */
export function usesMultiVariable(text: string | undefined, templateSrv: TemplateSrv, scopedVars?: ScopedVars): boolean {
  if (!text) {
    return false;
  }
  const vars = templateSrv.getVariables() as VariableLike[];
  for (const m of text.matchAll(VARIABLE_RE)) {
    const name = m[1] ?? m[2] ?? m[3];
    const scoped = scopedVars?.[name];
    if (scoped ? Array.isArray(scoped.value) : isMulti(vars.find((v) => v.name === name))) {
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
  if (!usesMultiVariable(f.value, templateSrv, scopedVars)) {
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

// One matcher of a hand-written selector: label, operator, quoted value ("…", '…' or `…`).
const MATCHER_RE = /(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)(\s*)(=~|!~|!=|=)(\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/g;
const MATCHER_ONE = new RegExp(MATCHER_RE.source);
// A function around the selector: rate(…), delta(…) (see FUNCTIONS).
const FUNCTION_RE = /^(\s*)(rate|delta)(\s*\()([\s\S]*)(\)\s*)$/;
// The metric name part of a selector: what comes before `{` (or the whole text without one).
const HEAD_RE = /^(\s*)([^{\s]+)(\s*)(?:\{([\s\S]*)\})?(\s*)$/;

const DECODE: Record<string, string> = { n: '\n', t: '\t' };

/** The value of a "…" or '…' selector string, as the collector reads it. */
function decodeSelectorString(body: string): string {
  return body.replace(/\\(.)/gs, (_, c: string) => DECODE[c] ?? c);
}

/**
 * Interpolates a selector typed by hand (code mode, annotation matchers, variable queries): values
 * land inside quotes, so they are escaped for that too. A matcher `=`/`!=` whose value uses a
 * multi-value or All variable becomes `=~`/`!~` (the text around the variable regex-escaped), as the
 * builder does; a repeated panel's single value keeps `=`. A metric name that is such a variable is
 * selected by __name__. Elsewhere (a label name, say) a multi-value variable is refused: it has no
 * meaning there.
 */
export function interpolateSelector(expr: string | undefined, templateSrv: TemplateSrv, scopedVars?: ScopedVars): string {
  if (!expr) {
    return '';
  }
  const fn = expr.match(FUNCTION_RE);
  if (fn) {
    return fn[1] + fn[2] + fn[3] + interpolateSelector(fn[4], templateSrv, scopedVars) + fn[5];
  }
  const head = expr.match(HEAD_RE);
  if (head && !MATCHER_ONE.test(head[2]) && usesMultiVariable(head[2], templateSrv, scopedVars)) {
    const name = `__name__="${head[2]}"`;
    expr = `${head[1]}{${head[4]?.trim() ? `${name}, ${head[4].trim()}` : name}}${head[5]}`;
  }
  let out = '';
  let last = 0;
  for (const m of expr.matchAll(MATCHER_RE)) {
    out += interpolateOutside(expr.slice(last, m.index), expr, templateSrv, scopedVars);
    const [, label, s1, op, s2, quoted] = m;
    const q = quoted[0];
    const body = quoted.slice(1, -1);
    const raw = q === '`';
    let newOp = op;
    let value: string;
    if ((op === '=' || op === '!=') && usesMultiVariable(body, templateSrv, scopedVars)) {
      newOp = op === '=' ? '=~' : '!~';
      const re = regexOfLiteral(raw ? body : decodeSelectorString(body), templateSrv, scopedVars);
      value = raw ? re : escapeSelectorString(re);
      if (raw && re.includes('`')) {
        throw new Error(`${label}${op}${quoted}: a variable value holds a backtick, which a \`…\` string cannot hold: use "…"`);
      }
    } else {
      const regex = op === '=~' || op === '!~';
      value = templateSrv.replace(body, scopedVars, (v: string | string[], variable?: VariableLike) => {
        let text = String(v);
        if (regex && (Array.isArray(v) || isMulti(variable))) {
          // The values of a multi-value variable are values, not regexes (a repeated panel's one value too).
          text = Array.isArray(v) ? alternation(v, escapeRegex) : escapeRegex(v);
        }
        return raw ? text : escapeSelectorString(text);
      });
    }
    out += `${label}${s1}${newOp}${s2}${q}${value}${q}`;
    last = m.index! + m[0].length;
  }
  return out + interpolateOutside(expr.slice(last), expr, templateSrv, scopedVars);
}

/** The selector inside rate(…)/delta(…), or the text itself: what the editors' look-ups take. */
export function stripFunction(expr: string): string {
  return expr.match(FUNCTION_RE)?.[4] ?? expr;
}

/** A regex matching the text literally, with multi-value variables as alternations of their values. */
function regexOfLiteral(text: string, templateSrv: TemplateSrv, scopedVars?: ScopedVars): string {
  let re = '';
  let last = 0;
  for (const m of text.matchAll(VARIABLE_RE)) {
    const resolved = templateSrv.replace(m[0], scopedVars, (v: string | string[]) => (Array.isArray(v) ? alternation(v, escapeRegex) : escapeRegex(v)));
    // An unknown variable is left as written: literal text too. A custom All value (e.g. .*) is a regex already.
    re += escapeRegex(text.slice(last, m.index)) + (resolved === m[0] ? escapeRegex(m[0]) : resolved);
    last = m.index! + m[0].length;
  }
  return re + escapeRegex(text.slice(last));
}

/** Text outside quoted values (metric names, label names, punctuation): single values only. */
function interpolateOutside(text: string, expr: string, templateSrv: TemplateSrv, scopedVars?: ScopedVars): string {
  if (usesMultiVariable(text, templateSrv, scopedVars)) {
    const name = [...text.matchAll(VARIABLE_RE)][0]?.[0];
    throw new Error(
      `selector ${expr}: the multi-value variable ${name} stands outside a quoted label value, where only one value fits: ` +
        `use it in a value, e.g. {host=~"$host"}, or make the variable single-valued`
    );
  }
  return templateSrv.replace(text, scopedVars);
}

/** Everything the backend needs, with dashboard variables resolved (alert rules have none). */
export function interpolateQuery(q: RexmonQuery, templateSrv: TemplateSrv, scopedVars?: ScopedVars): RexmonQuery {
  const plain = (s?: string) => (s ? templateSrv.replace(s, scopedVars) : s);
  const out: RexmonQuery = { ...q };
  let filters = (q.labelFilters ?? []).map((f) => interpolateFilter(f, templateSrv, scopedVars));
  if (q.metric && usesMultiVariable(q.metric, templateSrv, scopedVars)) {
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
