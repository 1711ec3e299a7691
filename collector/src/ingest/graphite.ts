// Graphite plaintext: `path value [timestamp]`, plus the tagged form `name;tag=value;...`.
// Paths become series through mapping rules (globs with captures), in the spirit of graphite_exporter.
import { Buffer } from 'node:buffer';
import { PRESETS } from '../importer/importer.js';
import { checkLabels, checkMetricName, Labels, Sample, ValidationError } from '../model/series.js';

export type GraphiteMapping = { match: string; name: string; labels: Record<string, string> } | { preset: 'collectd'; prefix: string };

type Series = { name: string; labels: Labels };

/** A path → series rule: undefined when the path is not its. */
type CompiledMapping = (path: string) => Series | undefined;

/** Paths whose checked series are remembered; past this the memory is cleared and refilled (a burst of misses). */
export const MAPPER_CACHE_SIZE = 200_000;

export class GraphiteMapper {
  private readonly rules: CompiledMapping[];
  /** Path → checked series. Every sample of a series then shares one name and labels object: less to parse and check per line, less memory per queued sample. */
  private readonly cache = new Map<string, Series>();

  constructor(
    mappings: GraphiteMapping[],
    private readonly cacheSize = MAPPER_CACHE_SIZE,
  ) {
    this.rules = mappings.map((m) => ('preset' in m ? collectdRule(m.prefix) : globRule(m.match, m.name, Object.entries(m.labels))));
  }

  /** The checked series of an untagged path (throws ValidationError, not remembered, for a bad one). */
  series(path: string): Series {
    const hit = this.cache.get(path);
    if (hit) return hit;
    // A copy: the path is a slice of the socket's chunk, and as a key it would keep the whole chunk alive.
    const own = Buffer.from(path, 'utf8').toString('utf8');
    const m = this.map(own);
    const s = { name: checkMetricName(m.name), labels: checkLabels(m.labels) };
    if (this.cache.size >= this.cacheSize) this.cache.clear();
    this.cache.set(own, s);
    return s;
  }

  /** Maps a dotted path to a series; unmapped paths keep the whole path as the metric name. */
  map(path: string): Series {
    for (const r of this.rules) {
      const s = r(path);
      if (s) return s;
    }
    return { name: path, labels: {} };
  }
}

function globRule(match: string, name: string, labels: [string, string][]): CompiledMapping {
  const re = compileGlob(match);
  return (path) => {
    const m = re.exec(path);
    if (!m) return undefined;
    const expand = (s: string) => s.replace(/\$(\d+)|\$\{(\d+)\}/g, (_, a, b) => m[Number(a ?? b)] ?? '');
    const out: Labels = {};
    for (const [k, v] of labels) out[k] = expand(v);
    return { name: expand(name), labels: out };
  };
}

/**
 * collectd's write_graphite: `<prefix>.<host>.<plugin>[-<instance>].<type>[-<instance>][.<ds>]` (its defaults:
 * dots in the host escaped as '_', instances joined with '-', the DS appended only for types with several).
 * Gives the names and labels of `rexmon import --preset collectd`, so live and imported data line up.
 */
function collectdRule(prefix: string): CompiledMapping {
  const head = prefix ? `${prefix}.` : '';
  return (path) => {
    if (!path.startsWith(head)) return undefined;
    const parts = path.slice(head.length).split('.');
    if (parts.length < 3 || parts.length > 4)
      throw new ValidationError(`expected collectd's <host>.<plugin>[-<instance>].<type>[-<instance>][.<ds>] after "${head}"`);
    const [host, pluginPart, typePart, ds] = parts;
    const split = (s: string) => (s.includes('-') ? [s.slice(0, s.indexOf('-')), s.slice(s.indexOf('-') + 1)] : [s, undefined]);
    const [plugin, plugin_instance] = split(pluginPart);
    const [type, type_instance] = split(typePart);
    // Host names cannot hold '_' (RFC 1123): each one is an escaped '.'.
    const groups = { host: host.replace(/_/g, '.'), plugin, plugin_instance, type, type_instance };
    // A single-DS file's DS is `value`: the import gives it no ds label, and neither does this.
    return PRESETS.collectd.toSeries(groups, ds ?? 'value', ds && ds !== 'value' ? 2 : 1);
  };
}

/** `*` matches one path part, `**` one or more parts; each is a capture group. */
export function compileGlob(glob: string): RegExp {
  const parts = glob.split('.');
  const re = parts
    .map((p) => {
      if (p === '**') return '(.+)';
      return p
        .split('*')
        .map((lit) => lit.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('([^.]+)');
    })
    .join('\\.');
  return new RegExp(`^${re}$`);
}

export type ParseResult = { sample: Sample } | { error: string };

/** Decimal and exponent forms only: Number() would also take 0x10, 0b11, 0o7, Infinity and ' 1_000'-like surprises. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** collectd's write_graphite sends `nan` for a value it does not know yet (a rate's first interval). */
const UNKNOWN = /^[+-]?nan$/i;

/** A strict number, NaN for `nan` (stored as unknown), undefined when it is neither. */
export function parseGraphiteNumber(text: string): number | undefined {
  if (DECIMAL.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
  return UNKNOWN.test(text) ? NaN : undefined;
}

const TAB = 9;
const SEMICOLON = 59;
const MAX_DIGITS_TIME = 15; // below 2^53: a whole number read digit by digit is exact

/** Exact powers of ten: a double holds 10^0 … 10^22 without rounding. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const MAX_EXACT = 2 ** 53;

/**
 * The decimal number (DECIMAL's grammar) in text[from, to), or undefined when the text is not one or is not
 * simple. Simple: at most 15 significant digits and a power of ten up to 22, so digits and power are both
 * exact doubles and one IEEE multiply or divide rounds the result correctly, as Number() does (Clinger's fast path).
 */
function simpleDecimal(text: string, from: number, to: number): number | undefined {
  let i = from;
  let c = text.charCodeAt(i);
  let negative = false;
  if (c === 43 || c === 45) {
    negative = c === 45;
    c = text.charCodeAt(++i);
  }
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  while (c >= 48 && c <= 57) {
    mantissa = mantissa * 10 + (c - 48);
    digits++;
    c = text.charCodeAt(++i);
  }
  if (c === 46) {
    c = text.charCodeAt(++i);
    while (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      scale--;
      c = text.charCodeAt(++i);
    }
  }
  if (digits === 0 || i !== to || digits > 15 || mantissa >= MAX_EXACT) return undefined; // an exponent goes the long way
  const v = scale === 0 ? mantissa : mantissa / POW10[-scale];
  return negative ? -v : v;
}

/**
 * The common line — `path value timestamp`, single spaces, an untagged path, a decimal value, whole seconds —
 * read in one pass without splitting or regular expressions: about half the time of the general parser, which took
 * ~0.75 µs a line with the mapping (bench/hot-paths.mjs), a tenth of the ingest CPU (profiled).
 * Answers exactly what parseGeneralLine would; undefined hands any other line to it.
 */
function parseCommonLine(line: string, mapper: GraphiteMapper): ParseResult | undefined {
  const n = line.length;
  const first = line.charCodeAt(0);
  if (first <= 32 || first > 126) return undefined; // what trim() would cut, and any other blank, go the long way
  const s1 = line.indexOf(' ');
  if (s1 <= 0) return undefined;
  const s2 = line.indexOf(' ', s1 + 1);
  if (s2 < 0 || s2 === s1 + 1 || s2 === n - 1) return undefined;
  let time = 0;
  for (let i = s2 + 1; i < n; i++) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57 || i - s2 > MAX_DIGITS_TIME) return undefined; // a blank, '\r', '-1', 'N', a fraction
    time = time * 10 + (c - 48);
  }
  if (time <= 0) return undefined;
  for (let i = 0; i < s1; i++) {
    const c = line.charCodeAt(i);
    if (c === TAB || c === SEMICOLON) return undefined; // other fields, or a tagged path
  }
  const value = simpleDecimal(line, s1 + 1, s2);
  if (value === undefined) return undefined;
  const path = line.slice(0, s1);
  let series: Series;
  try {
    series = mapper.series(path);
  } catch (e) {
    return { error: `${(e as Error).message} (path ${JSON.stringify(path.slice(0, 80))})` };
  }
  return { sample: { name: series.name, labels: series.labels, value, time: Math.floor(time > 1e11 ? time / 1000 : time) } };
}

/** Parses one line (without its newline). Empty lines are not errors: return undefined. */
export function parseGraphiteLine(line: string, mapper: GraphiteMapper, nowSeconds: number): ParseResult | undefined {
  return parseCommonLine(line, mapper) ?? parseGeneralLine(line, mapper, nowSeconds);
}

/** Any line, by the rules in full (exported for the test that holds the common-line reader to it). */
export function parseGeneralLine(line: string, mapper: GraphiteMapper, nowSeconds: number): ParseResult | undefined {
  const text = (line.endsWith('\r') ? line.slice(0, -1) : line).trim();
  if (text === '') return undefined;
  // One separator between fields: `x  1700000000` (an empty shell variable) must not make the timestamp the value.
  const parts = text.split(/[ \t]/);
  const fields = parts.filter((f) => f !== '');
  if (fields.length < 2 || fields.length > 3) return { error: `expected "path value [timestamp]", got ${fields.length} field(s)` };
  // Runs of blanks are only unambiguous when all three fields are there (aligned columns).
  if (fields.length < parts.length && fields.length < 3) return { error: 'empty field (two separators in a row): is the value missing?' };
  const [path, rawValue, rawTime] = fields;
  const value = parseGraphiteNumber(rawValue);
  if (value === undefined) return { error: `value ${JSON.stringify(rawValue.slice(0, 40))} is not a decimal number or nan` };
  let time = nowSeconds;
  if (rawTime !== undefined && rawTime !== '-1' && rawTime !== 'N') {
    const t = DECIMAL.test(rawTime) ? Number(rawTime) : NaN;
    if (!Number.isFinite(t) || t <= 0) return { error: `timestamp ${JSON.stringify(rawTime.slice(0, 40))} is not a positive decimal number` };
    time = Math.floor(t > 1e11 ? t / 1000 : t);
  }
  try {
    let name: string;
    let labels: Labels;
    const semi = path.indexOf(';');
    if (semi >= 0) {
      // Tagged form: the tags are labels, the name is mapped like any path.
      const tags: Record<string, string> = {};
      for (const tag of path.slice(semi + 1).split(';')) {
        const eq = tag.indexOf('=');
        if (eq <= 0) throw new ValidationError(`tag ${JSON.stringify(tag.slice(0, 40))} is not name=value`);
        tags[tag.slice(0, eq)] = tag.slice(eq + 1);
      }
      const mapped = mapper.map(path.slice(0, semi));
      name = mapped.name;
      labels = { ...mapped.labels, ...tags };
    } else {
      ({ name, labels } = mapper.series(path));
      return { sample: { name, labels, value, time } };
    }
    return { sample: { name: checkMetricName(name), labels: checkLabels(labels), value, time } };
  } catch (e) {
    return { error: `${(e as Error).message} (path ${JSON.stringify(path.slice(0, 80))})` };
  }
}
