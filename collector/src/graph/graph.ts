// Graph images: `rrdtool graphv` on the archive's reader pipes, downtimes shaded behind the lines (planned one
// colour, unplanned another), threshold lines drawn. Bounded in series, size and time; every name and label that
// reaches the rrdtool line goes through legend() or the archive's arg() checks.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from '../api/http-error.js';
import { Selector } from '../matchers/selector.js';
import { Labels, seriesKey, ValidationError } from '../model/series.js';
import { CF } from '../rrd/archive.js';
import { RrdError } from '../rrd/errors.js';

export interface GraphSeries {
  name: string;
  labels: Labels;
  /** Absolute path of the RRD file, and its data source. */
  file: string;
  ds: string;
  /** Only files rexmon writes itself can hold values still buffered in rrdcached. */
  origin: 'native' | 'imported';
}

export interface DowntimeWindow {
  kind: 'planned' | 'unplanned';
  /** Unix seconds; end null while open. */
  start: number;
  end: number | null;
}

/** What the renderer needs from the other stages, handed in by app.ts. */
export interface GraphSources {
  /** Series matching any selector, at most `limit`. */
  find(selectors: Selector[], limit: number): GraphSeries[];
  /** Makes values still buffered (rrdcached) visible in these series' files. */
  flush(series: GraphSeries[]): Promise<void>;
  /** Downtime occurrences covering any of these series within [from, to). */
  downtimes(series: { name: string; labels: Labels }[], from: number, to: number): Promise<DowntimeWindow[]>;
  /** An alarm rule's bounds (a number, or a [low, high] range), or undefined when no rule has that name. */
  rule?(name: string): { warning?: number | [number, number]; critical?: number | [number, number] } | undefined;
  /** Runs `rrdtool graphv outFile args...` on a reader pipe; the graph's geometry. */
  graph(outFile: string, args: string[]): Promise<Map<string, string>>;
}

export interface GraphRequest {
  selectors: Selector[];
  /** Selector text for the default title. */
  matchText: string;
  from: number;
  to: number;
  width: number;
  height: number;
  cf: CF;
  title?: string;
  warn?: number;
  crit?: number;
  /** Draw this alarm rule's warning and critical bounds. */
  rule?: string;
}

export const GRAPH_LIMITS = {
  maxSeries: 20,
  minWidth: 100,
  maxWidth: 2000,
  minHeight: 40,
  maxHeight: 1000,
  /** Longest range drawn: 20 years. */
  maxRange: 20 * 366 * 86400,
  /** Downtime windows drawn per graph; more are counted in a comment. */
  maxWindows: 200,
  /** Longest a render may take before the request is answered 503 (the pipe finishes it in the background). */
  budgetMs: 10000,
  maxTitle: 200,
};

export const COLOURS = {
  planned: '#AEC7E8',
  unplanned: '#FFBB78',
  warn: '#FF7F0E',
  crit: '#D62728',
  lines: ['#1F77B4', '#2CA02C', '#9467BD', '#8C564B', '#E377C2', '#7F7F7F', '#BCBD22', '#17BECF', '#393B79', '#637939'],
};

export interface Rendered {
  png: Buffer;
  /** rrdtool's answer: graph_left, graph_top, graph_width, graph_height, graph_start, graph_end, ... */
  info: Map<string, string>;
  series: number;
  windows: { planned: number; unplanned: number; hidden: number };
}

/**
 * Text for a legend, title or comment: rrdtool reads `:` as a field separator (so `\:`), a trailing `\x` as a
 * layout code (so a backslash never ends the text), and the pipe's tokenizer groups on `"` (so `'`).
 */
export function legend(text: string, max = 120): string {
  let s = text
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/"/g, "'")
    .slice(0, max);
  s = s.replace(/:/g, '\\:');
  if (/\\.?$/.test(s)) s += ' ';
  return s;
}

/** Title text: a separate option, so colons need no escape; quotes and control characters go. */
function titleText(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/"/g, "'")
    .slice(0, GRAPH_LIMITS.maxTitle);
}

/** A CDEF that is 1 inside any window and unknown outside (AREA with INF then fills the full height there). */
function windowCdef(name: string, base: string, windows: { start: number; end: number }[]): string {
  const terms = windows.map((w, i) => `TIME,${Math.floor(w.start)},GE,TIME,${Math.ceil(w.end)},LT,*${i > 0 ? ',+' : ''}`);
  return `CDEF:${name}=${base},POP,${terms.join(',')},0,GT,INF,UNKN,IF`;
}

/** Merges overlapping windows so the CDEF stays short. */
function merge(ws: { start: number; end: number }[]): { start: number; end: number }[] {
  const sorted = [...ws].sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last && w.start <= last.end) last.end = Math.max(last.end, w.end);
    else out.push({ ...w });
  }
  return out;
}

export class GraphRenderer {
  private seq = 0;
  private made?: Promise<unknown>;

  constructor(
    private readonly sources: GraphSources,
    /** Where images are written before they are read back (inside the data dir). */
    private readonly tmpDir: string,
    private readonly limits = GRAPH_LIMITS,
  ) {}

  async render(q: GraphRequest): Promise<Rendered> {
    const L = this.limits;
    if (!(q.to > q.from)) throw new ValidationError('`to` must be after `from`', 'to');
    if (q.to - q.from > L.maxRange) throw new ValidationError(`the range is longer than ${L.maxRange} s`, 'from');
    const lines = { warn: [] as number[], crit: [] as number[] };
    if (q.warn !== undefined) lines.warn.push(q.warn);
    if (q.crit !== undefined) lines.crit.push(q.crit);
    if (q.rule !== undefined) {
      const r = this.sources.rule?.(q.rule);
      if (!r) throw new ValidationError(`no alarm rule named ${JSON.stringify(q.rule)}`, 'rule');
      lines.warn.push(...[r.warning ?? []].flat());
      lines.crit.push(...[r.critical ?? []].flat());
    }
    const found = this.sources.find(q.selectors, L.maxSeries + 1);
    if (found.length === 0) throw new HttpError(404, `no series matches ${q.matchText}`, 'match');
    if (found.length > L.maxSeries)
      throw new ValidationError(`the selector matches more than ${L.maxSeries} series; a graph draws at most ${L.maxSeries}: narrow it`, 'match');
    await this.sources.flush(found);
    const windows = await this.sources.downtimes(found, q.from, q.to);
    const args = [
      '--imgformat',
      'PNG',
      '--start',
      String(Math.floor(q.from)),
      '--end',
      String(Math.ceil(q.to)),
      '--width',
      String(q.width),
      '--height',
      String(q.height),
      '--title',
      titleText(q.title ?? q.matchText),
      '--slope-mode',
    ];
    found.forEach((s, i) => {
      // In DEF a ':' separates fields; escape it in the path as the archive's reads do.
      args.push(`DEF:v${i}=${s.file.replace(/:/g, '\\:')}:${s.ds}:${q.cf}`);
    });
    // Shading first, so the lines draw over it; unplanned before planned (planned wins where both hold).
    let drawn = 0;
    let hidden = 0;
    const counts = { planned: 0, unplanned: 0 };
    for (const kind of ['unplanned', 'planned'] as const) {
      const ws = merge(windows.filter((w) => w.kind === kind).map((w) => ({ start: Math.max(w.start, q.from), end: Math.min(w.end ?? q.to, q.to) })));
      const room = Math.max(0, L.maxWindows - drawn);
      const take = ws.slice(0, room);
      hidden += ws.length - take.length;
      counts[kind] = take.length;
      drawn += take.length;
      if (take.length === 0) continue;
      args.push(windowCdef(`dt_${kind}`, 'v0', take), `AREA:dt_${kind}${COLOURS[kind]}:${kind} downtime`);
    }
    found.forEach((s, i) => args.push(`LINE1:v${i}${COLOURS.lines[i % COLOURS.lines.length]}:${legend(seriesKey(s.name, s.labels))}`));
    // Thresholds: an invisible line at each bound makes autoscale include it, the HRULE draws it.
    // (rrdtool's RPN refuses an expression that ends in a number after POP, so the constant comes from IF.)
    let n = 0;
    for (const what of ['warn', 'crit'] as const)
      for (const v of lines[what]) {
        args.push(
          `CDEF:th${n}=v0,UN,${v},${v},IF`,
          `LINE:th${n++}`,
          `HRULE:${v}${COLOURS[what]}:${what === 'warn' ? 'warning' : 'critical'} ${legend(String(v))}`,
        );
      }
    if (hidden) args.push(`COMMENT:${hidden} more downtime windows not drawn`);
    const file = path.join(this.tmpDir, `graph-${process.pid}-${++this.seq}-${randomBytes(4).toString('hex')}.png`);
    this.made ??= mkdir(this.tmpDir, { recursive: true }).catch((e) => {
      this.made = undefined;
      throw e;
    });
    await this.made;
    const job = this.sources.graph(file, args).then(async (info) => ({ info, png: await readFile(file) }));
    // The image is removed whenever the command ends, also after the budget answered the request.
    const done = job.finally(() => rm(file, { force: true }));
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HttpError(503, `rendering took longer than ${L.budgetMs / 1000} s; try a shorter range or fewer series`)),
        L.budgetMs,
      );
    });
    done.catch(() => {}); // a late failure after the budget answered is not unhandled
    try {
      const { info, png } = await Promise.race([done, budget]);
      return { png, info, series: found.length, windows: { ...counts, hidden } };
    } catch (e) {
      if (e instanceof RrdError && /RRA|consolidation/i.test(e.message))
        throw new ValidationError(`consolidation function ${q.cf} is not stored for some of these series (${e.message})`, 'cf');
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}
