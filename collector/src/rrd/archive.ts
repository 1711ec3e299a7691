// The RRD archive: creates files from templates, writes values (rrdcached BATCH, else `rrdtool -` pipes
// sharded by file so each series keeps its order) and reads series back with `xport`.
import { mkdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { RrdTemplate } from '../config/schema.js';
import { RrdError } from './errors.js';
import { point, RrdcachedClient, UpdateBatch } from './cached.js';
import { FileReaders } from './file-readers.js';
import type { CF, ReadResult, ReadSpec } from './read-types.js';
import { arg, PipeHooks, RrdtoolPipe } from './pipe.js';

export type { CF, ReadResult, ReadSpec } from './read-types.js';
export const DS_NAME = 'value';

export interface ArchiveOptions {
  root: string;
  rrdtool: string;
  writers: number;
  readers: number;
  cached?: RrdcachedClient;
  hooks?: PipeHooks;
  /** Read series from the files themselves (file-reader.ts) where their layout allows; false: always xport. */
  directRead?: boolean;
  /** A reader thread failed a read (xport answered it instead): a bug or a dying thread, not a file it does not know. */
  onDirectReadFailure?: (message: string) => void;
}

export interface UpdateJob {
  /** Absolute path inside the root. */
  file: string;
  /** times[from..to) and values[from..to): ascending, unique integer seconds and their values. */
  times: ArrayLike<number>;
  values: ArrayLike<number>;
  from: number;
  to: number;
}

export interface UpdateError {
  message: string;
  /** The write was sent again after a crash or lost connection, so values refused as stale may be ours, already in. */
  retried: boolean;
}

// Values per UPDATE line: long enough to amortise, short enough for rrdcached's line buffer.
const VALUES_PER_LINE = 64;
const FLUSH_CONNECTIONS = 8;
const FLUSHES_PER_BATCH = 1000;
/** `/./`, `/../` or `//`: a path path.join would have written otherwise (one scan, where three includes() took three). */
const NOT_NORMAL = /\/(?:\.\.?)?\//;

export function createArgs(tpl: RrdTemplate, start: number): string[] {
  const heartbeat = tpl.heartbeat ?? tpl.step * 2;
  const bound = (n: number | undefined) => (n === undefined ? 'U' : String(n));
  const args = ['--start', String(Math.floor(start)), '--step', String(tpl.step), `DS:${DS_NAME}:${tpl.type}:${heartbeat}:${bound(tpl.min)}:${bound(tpl.max)}`];
  for (const r of tpl.rras) for (const cf of r.cf) args.push(`RRA:${cf}:${r.xff}:${r.steps}:${r.rows}`);
  return args;
}

/**
 * createArgs after the start, joined, once per template: the same for every file of a template, they were a
 * tenth of what a cold ingest of 10,000 series allocated when built per file (bench/alloc.mjs).
 */
const createTails = new WeakMap<RrdTemplate, string>();
function createTail(tpl: RrdTemplate): string {
  let tail = createTails.get(tpl);
  if (tail === undefined) createTails.set(tpl, (tail = createArgs(tpl, 0).slice(2).join(' ')));
  return tail;
}

export class RrdArchive {
  private readonly writers: RrdtoolPipe[];
  private readonly readers: RrdtoolPipe[];
  private nextReader = 0;
  private readonly madeDirs = new Map<string, Promise<void>>();
  private readonly flushers: RrdcachedClient[] = [];
  private readonly rootSlash: string;
  private readonly fileReaders?: FileReaders;
  /** For the replay log, which keeps the file and makes its name only when it resends. */
  private readonly nameOf = (file: string) => this.relative(file);

  constructor(private readonly opts: ArchiveOptions) {
    if (opts.directRead !== false) this.fileReaders = new FileReaders(opts.readers);
    this.rootSlash = path.resolve(opts.root) + '/';
    // Paths given to the pipes are absolute, so their working directory does not matter.
    this.writers = Array.from({ length: opts.writers }, () => new RrdtoolPipe(opts.rrdtool, opts.hooks));
    this.readers = Array.from({ length: opts.readers }, () => new RrdtoolPipe(opts.rrdtool, opts.hooks));
  }

  get root(): string {
    return this.opts.root;
  }

  /**
   * A file's name relative to the root, as rrdcached (-B) wants it. Native files are built with path.join under
   * the root, so a prefix cut is exact; path.relative (3–4 µs a call, a tenth of the ingest CPU) only for others.
   */
  private relative(file: string): string {
    const root = this.rootSlash;
    if (file.startsWith(root) && !NOT_NORMAL.test(file)) return file.slice(root.length);
    return path.relative(this.opts.root, file);
  }

  /** Bytes an unprivileged writer may still use on the archive's file system. */
  async freeBytes(): Promise<number> {
    const st = await statfs(this.opts.root);
    return st.bavail * st.bsize;
  }

  get usesCached(): boolean {
    return this.opts.cached !== undefined;
  }

  get readerCount(): number {
    return this.readers.length;
  }

  pids(): number[] {
    return [...this.writers, ...this.readers].map((p) => p.pid).filter((p): p is number => p !== undefined);
  }

  private writerFor(file: string): RrdtoolPipe {
    let h = 0;
    for (let i = 0; i < file.length; i++) h = (h * 31 + file.charCodeAt(i)) | 0;
    return this.writers[Math.abs(h) % this.writers.length];
  }

  private reader(): RrdtoolPipe {
    const r = this.readers[this.nextReader];
    this.nextReader = (this.nextReader + 1) % this.readers.length;
    return r;
  }

  /** Creates a file unless it already exists (then it is adopted as it is). */
  async create(file: string, tpl: RrdTemplate, start: number): Promise<void> {
    const dir = path.dirname(file);
    // One mkdir per directory, shared by the creates that wait for it.
    let made = this.madeDirs.get(dir);
    if (!made) {
      made = mkdir(dir, { recursive: true }).then(() => undefined);
      this.madeDirs.set(dir, made);
      made.catch(() => this.madeDirs.delete(dir));
    }
    await made;
    try {
      await this.writerFor(file).run(`create ${arg(file)} --no-overwrite --start ${Math.floor(start)} ${createTail(tpl)}`);
    } catch (e) {
      if (e instanceof RrdError && /File exists/i.test(e.message)) return;
      throw e;
    }
  }

  /**
   * Writes values. Returns per-job errors (index → message); the caller decides about stale values.
   * Through rrdcached the values are enqueued there (journaled); use flush() for durability on disk.
   */
  async update(jobs: UpdateJob[]): Promise<Map<number, UpdateError>> {
    const errors = new Map<number, UpdateError>();
    if (jobs.length === 0) return errors;
    if (this.opts.cached) {
      let lineCount = 0;
      let valueCount = 0;
      for (const j of jobs) {
        lineCount += Math.ceil((j.to - j.from) / VALUES_PER_LINE);
        valueCount += j.to - j.from;
      }
      const lines = new UpdateBatch(this.nameOf, { lines: lineCount, values: valueCount });
      const owner = new Int32Array(lineCount);
      let lineNo = 0;
      jobs.forEach((j, idx) => {
        for (let i = j.from; i < j.to; i += VALUES_PER_LINE) {
          lines.add(j.file, j.times, j.values, i, Math.min(j.to, i + VALUES_PER_LINE));
          owner[lineNo++] = idx;
        }
      });
      const { errors: errs, retried } = await this.opts.cached.batch(lines);
      for (const [lineNo, message] of errs) if (!errors.has(owner[lineNo])) errors.set(owner[lineNo], { message, retried });
      return errors;
    }
    await Promise.all(
      jobs.map(async (j, idx) => {
        const w = this.writerFor(j.file);
        for (let i = j.from; i < j.to; i += VALUES_PER_LINE) {
          let line = `update ${arg(j.file)}`;
          const end = Math.min(j.to, i + VALUES_PER_LINE);
          for (let k = i; k < end; k++) line += point(j.times[k], j.values[k]);
          try {
            await w.run(line);
          } catch (e) {
            errors.set(idx, { message: (e as Error).message, retried: e instanceof RrdError && e.retried });
            return;
          }
        }
      }),
    );
    return errors;
  }

  /**
   * Makes every value sent so far for these files durable on disk (pipes write synchronously). Returns the
   * files rrdcached refused to flush; only a lost connection throws, so one bad file cannot block the rest.
   */
  async flush(files: string[]): Promise<{ file: string; message: string }[]> {
    const c = this.opts.cached;
    if (!c) return [];
    // rrdcached serves one connection's commands in order and a FLUSH waits for its file, so flushing
    // many files goes over several connections at once to keep its write threads busy.
    if (this.flushers.length === 0) for (let i = 0; i < FLUSH_CONNECTIONS; i++) this.flushers.push(new RrdcachedClient(c.address));
    // A restarted rrdcached first gets back what it lost; if it dies during the flush, again.
    for (;;) {
      const losses = c.losses;
      const refused: { file: string; message: string }[] = [];
      await c.sync();
      // A connection's FLUSHes go in BATCHes of FLUSHES_PER_BATCH: one command each held a promise, its text and
      // its reply (~700 bytes a file) until the last file was written, and the flush ends a burst, at its peak memory.
      await Promise.all(
        this.flushers.map(async (flusher, k) => {
          const mine = files.filter((_, i) => i % this.flushers.length === k);
          for (let at = 0; at < mine.length; at += FLUSHES_PER_BATCH) {
            const chunk = mine.slice(at, at + FLUSHES_PER_BATCH);
            const errors = await flusher.batchWithRetry(chunk.map((f) => `FLUSH ${this.relative(f)}`));
            for (const [i, message] of errors) {
              // rrdcached answers "no such file" for a file it holds nothing for: nothing to flush.
              if (!/no such file|not found/i.test(message)) refused.push({ file: chunk[i], message });
            }
          }
        }),
      );
      if (c.losses === losses) return refused;
    }
  }

  /** Reads several series aligned on a common step: from the files directly, else in one `xport`. */
  async read(specs: ReadSpec[], cf: CF, from: number, to: number, step: number, maxRows: number): Promise<ReadResult> {
    // A reader thread that failed (it should not: files it does not know are answered undefined) costs the
    // speed, not the answer: xport reads those series, and the failure is counted.
    const direct = await this.fileReaders?.read(specs, cf, from, to, step, maxRows).catch((e: Error) => {
      this.opts.onDirectReadFailure?.(e.message);
      return undefined;
    });
    if (direct) {
      return { ...direct, timestamps: rowTimes(direct.start, direct.step, direct.columns[0].length) };
    }
    return this.xport(specs, cf, from, to, step, maxRows);
  }

  /** Reads several series in one `xport`, aligned on a common step. */
  async xport(specs: ReadSpec[], cf: CF, from: number, to: number, step: number, maxRows: number): Promise<ReadResult> {
    const parts = [
      'xport',
      '--json',
      '--start',
      String(Math.floor(from)),
      '--end',
      String(Math.ceil(to)),
      '--step',
      String(Math.max(1, Math.round(step))),
      '--maxrows',
      String(Math.max(10, maxRows)) /* xport refuses fewer than 10 */,
    ];
    specs.forEach((s, i) => {
      // In DEF a ':' separates fields; escape it (our own names never have one; imported ones are checked at import).
      const f = s.file.replace(/:/g, '\\:');
      parts.push(arg(`DEF:v${i}=${f}:${s.ds}:${cf}`), `XPORT:v${i}`);
    });
    const out = await this.reader().run(parts.join(' '));
    let doc: { meta: { start: number; step: number }; data: (number | null)[][] };
    try {
      doc = JSON.parse(out);
    } catch {
      throw new RrdError('rrdtool xport returned output that is not JSON', parts[0]);
    }
    const { start, step: realStep } = doc.meta;
    const rows = doc.data;
    const columns: Float64Array[] = [];
    for (let i = 0; i < specs.length; i++) {
      const col = new Float64Array(rows.length);
      for (let r = 0; r < rows.length; r++) {
        const v = rows[r][i];
        col[r] = v === null || v === undefined ? NaN : v;
      }
      columns.push(col);
    }
    return { start, step: realStep, columns, timestamps: rowTimes(start, realStep, rows.length) };
  }

  /**
   * `rrdtool graphv` on a reader pipe, the image written to `outFile` (pipe mode cannot carry PNG bytes on its
   * text channel); resolves with the graph's geometry (graph_left, graph_width, graph_start, ...).
   */
  async graph(outFile: string, args: string[]): Promise<Map<string, string>> {
    const out = await this.reader().run(['graphv', arg(outFile), ...args.map(arg)].join(' '));
    const m = new Map<string, string>();
    for (const line of out.split('\n')) {
      const eq = line.indexOf(' = ');
      if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 3).replace(/^"(.*)"$/, '$1'));
    }
    return m;
  }

  /**
   * The time of a file's last update, values still in rrdcached included. `direct` asks rrdtool itself: for files
   * rrdcached does not write (imported trees, which may lie outside the archive root).
   */
  async lastUpdate(file: string, opts: { direct?: boolean } = {}): Promise<number> {
    const c = opts.direct ? undefined : this.opts.cached;
    const out = c ? (await c.commandWithRetry(`LAST ${this.relative(file)}`)).message : await this.reader().run(`last ${arg(file)}`);
    const t = Number(out.trim());
    if (!Number.isFinite(t)) throw new RrdError(`unexpected answer to LAST for ${file}: ${JSON.stringify(out.slice(0, 80))}`);
    return t;
  }

  /** `rrdtool info` as key → raw value. */
  async info(file: string): Promise<Map<string, string>> {
    const out = await this.reader().run(`info ${arg(file)}`);
    const m = new Map<string, string>();
    for (const line of out.split('\n')) {
      const eq = line.indexOf(' = ');
      if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 3).replace(/^"(.*)"$/, '$1'));
    }
    return m;
  }

  /** Values rrdcached acknowledged that are not yet known to be in their files (replayed if it dies). */
  get unconfirmedValues(): number {
    return this.opts.cached?.unconfirmedValues ?? 0;
  }

  confirmAll() {
    this.opts.cached?.confirmAll();
  }

  restarts(): number {
    return [...this.writers, ...this.readers].reduce((n, p) => n + p.restartCount, 0);
  }

  async close(): Promise<void> {
    await Promise.all([...this.writers, ...this.readers].map((p) => p.close()));
    await Promise.all(this.flushers.map((f) => f.close()));
    await this.fileReaders?.close();
  }
}

/** The times of `n` rows from `start`, `step` apart (pushed: a packed array). */
function rowTimes(start: number, step: number, n: number): number[] {
  const times: number[] = [];
  for (let r = 0; r < n; r++) times.push(start + r * step);
  return times;
}
