// Prometheus series selectors: `name{label="v", other=~"re.*", x!="y", z!~"w"}`.
import { RE2JS } from 're2js';
import { Labels, ValidationError } from '../model/series.js';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string; // label name; `__name__` is the metric name
  op: MatchOp;
  value: string;
  /** Compiled, full match, for =~ and !~. */
  re?: LabelRegex;
}

/** A regex matched against a whole label value. */
export interface LabelRegex {
  test(value: string): boolean;
}

export interface Selector {
  matchers: Matcher[];
  text: string;
}

const IDENT = /[A-Za-z_:][A-Za-z0-9_:.-]*/y;
const LABEL = /[A-Za-z_][A-Za-z0-9_]*/y;

export function makeMatcher(name: string, op: MatchOp, value: string, path = 'match'): Matcher {
  const m: Matcher = { name, op, value };
  if (op === '=~' || op === '!~') {
    // An alternation of plain strings (what Grafana makes of an "All" variable: `(a|b|…)`) is a set look-up: RE2JS
    // takes ~2 s to compile 100,000 alternatives (90 ms for 1,500), for the same answer.
    const literals = literalAlternation(value);
    if (literals) {
      m.re = { test: (v) => literals.has(v) };
      return m;
    }
    // RE2 (linear time, as Prometheus and Alertmanager): a backtracking engine can spend minutes on `(a+)+`.
    let re: RE2JS;
    try {
      re = RE2JS.compile(`^(?:${value})$`);
    } catch (e) {
      throw new ValidationError(
        `${path}: invalid regular expression ${JSON.stringify(value)} for label ${name}: Go RE2 (the syntax of Prometheus and Alertmanager: no backreferences or lookaround) cannot compile it: ${(e as Error).message}`,
        path,
      );
    }
    m.re = { test: (v) => re.matches(v) };
  }
  return m;
}

const REGEX_META = '.+*?()|[]{}^$\\';

/**
 * The strings a regex matches when it is only literal alternatives, `a|b\\.c` or `(a|b)` / `(?:a|b)`: plain characters
 * and backslash-escaped punctuation; undefined for anything else (classes, repeats, flags, nested groups).
 */
export function literalAlternation(value: string): Set<string> | undefined {
  let body = value;
  if (body.startsWith('(?:') && body.endsWith(')') && !body.endsWith('\\)')) body = body.slice(3, -1);
  else if (body.startsWith('(') && !body.startsWith('(?') && body.endsWith(')') && !body.endsWith('\\)')) body = body.slice(1, -1);
  const out = new Set<string>();
  let cur = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      const n = body[i + 1];
      // Only escaped punctuation is a literal; \d, \w, \n, ... are classes or controls.
      if (n === undefined || /[A-Za-z0-9]/.test(n) || n.charCodeAt(0) > 127) return undefined;
      cur += n;
      i++;
    } else if (c === '|') {
      out.add(cur);
      cur = '';
    } else if (REGEX_META.includes(c)) return undefined;
    else cur += c;
  }
  out.add(cur);
  return out;
}

/** Parses a selector; an empty string or `{}` selects every series. */
export function parseSelector(text: string, path = 'match'): Selector {
  const src = text.trim();
  let i = 0;
  const fail = (what: string): never => {
    throw new ValidationError(`${path}: ${what} at position ${i + 1} in ${JSON.stringify(text)}`, path);
  };
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const matchers: Matcher[] = [];
  ws();
  IDENT.lastIndex = i;
  const nameMatch = IDENT.exec(src);
  if (nameMatch) {
    matchers.push(makeMatcher('__name__', '=', nameMatch[0], path));
    i = IDENT.lastIndex;
  }
  ws();
  if (i < src.length) {
    if (src[i] !== '{') fail("expected '{' or end of selector");
    i++;
    ws();
    while (src[i] !== '}') {
      if (i >= src.length) fail("missing '}'");
      LABEL.lastIndex = i;
      const l = LABEL.exec(src);
      if (!l) fail('expected a label name');
      i = LABEL.lastIndex;
      ws();
      const op = (['=~', '!~', '!=', '='] as MatchOp[]).find((o) => src.startsWith(o, i));
      if (!op) fail(`expected one of = != =~ !~ after label ${l![0]}`);
      i += op!.length;
      ws();
      const value = readString();
      matchers.push(makeMatcher(l![0], op!, value, path));
      ws();
      if (src[i] === ',') {
        i++;
        ws();
      } else if (src[i] !== '}') fail("expected ',' or '}'");
    }
    i++;
    ws();
    if (i < src.length) fail('unexpected text after selector');
  }
  return { matchers, text: src };

  function readString(): string {
    const q = src[i];
    if (q !== '"' && q !== "'" && q !== '`') fail('expected a quoted label value');
    i++;
    let out = '';
    while (i < src.length && src[i] !== q) {
      const c = src[i];
      if (c === '\\' && q !== '`') {
        const n = src[i + 1];
        const esc: Record<string, string> = { n: '\n', t: '\t', '\\': '\\', '"': '"', "'": "'" };
        if (n !== undefined && n in esc) {
          out += esc[n];
          i += 2;
          continue;
        }
        // Regex escapes like \d or \. are kept as written.
        out += c;
        i++;
        continue;
      }
      out += c;
      i++;
    }
    if (src[i] !== q) fail('unterminated string');
    i++;
    return out;
  }
}

export function matchesLabels(sel: Selector, name: string, labels: Labels): boolean {
  for (const m of sel.matchers) {
    const v = m.name === '__name__' ? name : (labels[m.name] ?? '');
    switch (m.op) {
      case '=':
        if (v !== m.value) return false;
        break;
      case '!=':
        if (v === m.value) return false;
        break;
      case '=~':
        if (!m.re!.test(v)) return false;
        break;
      case '!~':
        if (m.re!.test(v)) return false;
        break;
    }
  }
  return true;
}

/** The metric name if the selector pins it with `=`, for index look-ups. */
export function exactName(sel: Selector): string | undefined {
  return sel.matchers.find((m) => m.name === '__name__' && m.op === '=')?.value;
}

export function formatMatchers(matchers: Matcher[]): string {
  return `{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}
