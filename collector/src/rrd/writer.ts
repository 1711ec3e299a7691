// The RRD writer processor: registers new series, creates their files (start one step before the first value,
// so first points are kept), and writes values in time order per series. Values rrdtool would refuse
// (not after the file's last update) are counted and logged, never silently dropped.
import { statSync } from 'node:fs';
import { Config, RrdTemplate } from '../config/schema.js';
import { Catalog, NewSeries, SeriesEntry } from '../catalog/catalog.js';
import { Labels, Sample, seriesKey } from '../model/series.js';
import { Metrics } from '../metrics/metrics.js';
import { Processor, RetryLater } from '../pipeline/pipeline.js';
import { globToRegExp } from '../util/glob.js';
import { eachLimited } from '../util/limited.js';
import { DS_NAME, RrdArchive, UpdateError, UpdateJob } from './archive.js';
import { parseStale, RrdError } from './errors.js';

/** A series' values (a range of its arrays), each marked when it came from the write-ahead log's replay. */
interface Span extends UpdateJob {
  /** replay[k] is the value at from + k; undefined when none of them did (nearly always). */
  replay: boolean[] | undefined;
}

/** One series' values to write: the archive's job itself (no copy per batch). */
interface Pending extends Span {
  entry: SeriesEntry;
}

/**
 * A series' samples in a batch, as a range of the batch's columns (one Float64Array of times and one of values for
 * the whole batch, ordered by series), so that a batch makes one object per series and no arrays: a group with
 * arrays of its own held ~190 bytes a series across the rrdcached round trip, and V8 moved them to the old
 * generation (allocation profile of a cold ingest's write phase). In order, it is itself the job for the archive.
 */
interface Group extends Omit<Pending, 'entry'> {
  sample: Sample;
  key: string;
  /** Its catalog entry; undefined until a series seen for the first time is registered (createNew). */
  entry: SeriesEntry | undefined;
  /** Its samples in the batch. */
  count: number;
}

function newGroup(s: Sample, key: string, entry: SeriesEntry | undefined): Group {
  // `entry` is set once the series is registered (createNew), `file` once the group is a job, `from`/`to` once the batch is counted.
  return { sample: s, key, entry, file: '', times: NO_VALUES, values: NO_VALUES, from: 0, to: 0, replay: undefined, count: 1 };
}

const NO_VALUES = new Float64Array(0);

/** The values of the span from index `from` that `keep` (given each index) takes, in arrays of their own: what the rare paths (refusals, resends) make. */
function kept(s: Span, from: number, keep: (i: number) => boolean): { times: number[]; values: number[]; replay: boolean[] | undefined } {
  const times: number[] = [];
  const values: number[] = [];
  const replay = s.replay && ([] as boolean[]);
  for (let i = from; i < s.to; i++) {
    if (!keep(i)) continue;
    times.push(s.times[i]);
    values.push(s.values[i]);
    replay?.push(s.replay![i - s.from]);
  }
  return { times, values, replay };
}

/** The span's values as samples again on `base` (name, labels, ...): all marked as resent, or each with its own replay mark. */
function samplesOf(s: Span, base: Omit<Sample, 'time' | 'value'>, resent: boolean): Sample[] {
  const out: Sample[] = [];
  for (let i = s.from; i < s.to; i++) out.push({ ...base, time: s.times[i], value: s.values[i], replay: resent || s.replay?.[i - s.from] ? true : undefined });
  return out;
}

/**
 * Batches grouped by any writer of this process: tells a catalog entry's writeBatch from an earlier batch's. One
 * counter for all writers, so two writers sharing a catalog (tests do) never take the same number; grouping is
 * synchronous, so a slot is only read within the batch that wrote it.
 */
let batchesGrouped = 0;

/** Seconds of history the template's longest RRA holds. */
const retentions = new WeakMap<RrdTemplate, number>();
function retention(tpl: RrdTemplate): number {
  // Asked once per series in every batch: computed once per template.
  let r = retentions.get(tpl);
  if (r === undefined) retentions.set(tpl, (r = Math.max(...tpl.rras.map((x) => x.steps * x.rows)) * tpl.step));
  return r;
}

/** Size of a new file: 8 bytes a row per RRA and CF, plus headers. */
function fileBytes(tpl: RrdTemplate): number {
  return tpl.rras.reduce((n, r) => n + r.cf.length * (r.rows * 8 + 200), 4096);
}

/** Pending values as samples again, marked as resent (a stale refusal then means "already in"). */
function toSamples(pending: Pending[]): Sample[] {
  return pending.flatMap((p) => samplesOf(p, { name: p.entry.name, labels: p.entry.labels }, true));
}

/** Some time is before `oldest` (a loop: a closure for some() was made per series and batch). */
function anyBefore(s: UpdateJob, oldest: number): boolean {
  for (let i = s.from; i < s.to; i++) if (s.times[i] < oldest) return true;
  return false;
}

function earliest(s: UpdateJob): number {
  let min = Infinity;
  for (let i = s.from; i < s.to; i++) if (s.times[i] < min) min = s.times[i];
  return min;
}

/** Times already in order (the usual case): the sort can be skipped. */
function ascending(s: UpdateJob): boolean {
  for (let i = s.from + 1; i < s.to; i++) if (s.times[i] < s.times[i - 1]) return false;
  return true;
}

function increasing(s: UpdateJob): boolean {
  for (let i = s.from + 1; i < s.to; i++) if (s.times[i] <= s.times[i - 1]) return false;
  return true;
}

/**
 * Creates in flight at once: enough to keep every rrdtool pipe busy. Started all at once, 10,000 new series held
 * 10,000 pending creates (command strings, promises, async frames: ~20 MB of a 69 MB live heap, heap snapshot)
 * for the seconds they take, long enough for V8 to move it all to the old generation.
 */
const MAX_CREATES_IN_FLIGHT = 64;

/** Synchronous on purpose: a stat is microseconds, while fs.promises.stat costs ~75 µs a call on the main thread (measured). */
function exists(file: string): boolean {
  return (statSync(file, { throwIfNoEntry: false })?.size ?? 0) > 0;
}

export class TemplateChooser {
  private readonly rules: { re: RegExp; template: string }[];
  constructor(private readonly config: Config['rrd']) {
    this.rules = config.rules.map((r) => ({ re: globToRegExp(r.match), template: r.template }));
  }
  byName(name: string): RrdTemplate {
    return this.config.templates[name] ?? this.config.templates[this.config.defaultTemplate];
  }
  /** A rule on the name wins; else a declared counter gets `counter` (a per-second rate), else the default. */
  choose(name: string, counter = false): { name: string; template: RrdTemplate } {
    const t = this.rules.find((r) => r.re.test(name))?.template ?? (counter && this.config.templates.counter ? 'counter' : this.config.defaultTemplate);
    return { name: t, template: this.config.templates[t] };
  }
}

export class RrdWriter implements Processor {
  readonly name = 'rrd';
  /** Files written since the last flush: a read flushes only these. */
  private readonly dirty = new Set<string>();

  constructor(
    private readonly archive: RrdArchive,
    private readonly catalog: Catalog,
    private readonly templates: TemplateChooser,
    private readonly metrics: Metrics,
    private readonly log: (msg: string) => void,
    /** Bytes that must stay free on the archive's disk after new files are made. */
    private readonly minFreeBytes = 0,
    /** Acknowledged values kept for replay after an rrdcached crash before a full flush is forced. */
    private readonly maxUnconfirmed = 2_000_000,
  ) {}

  async handle(batch: Sample[]): Promise<void> {
    const t0 = performance.now();
    const now = Math.floor(Date.now() / 1000);
    let groups = this.group(batch);
    // Values older than every row of the series' template would land nowhere (and one before 1980 makes
    // `rrdtool create` fail): refuse them alone.
    let emptied = false;
    for (const g of groups) {
      const tpl = g.entry?.template;
      const oldest = now - retention(tpl ? this.templates.byName(tpl) : this.templates.choose(g.sample.name, g.sample.counter).template);
      if (!anyBefore(g, oldest)) continue;
      const rest = kept(g, g.from, (i) => g.times[i] >= oldest);
      const n = g.to - g.from - rest.times.length;
      this.metrics.rejected.inc({ reason: 'too_old' }, n);
      this.log(`${n} value(s) for ${g.key} older than its oldest row (${oldest}) refused`);
      Object.assign(g, rest, { from: 0, to: rest.times.length });
      emptied ||= g.to === 0;
    }
    if (emptied) groups = groups.filter((g) => g.to > g.from);
    // Register and create series seen for the first time.
    try {
      groups = await this.createNew(groups);
    } catch (e) {
      if (e instanceof RetryLater) throw e;
      // The catalog's database failed: nothing of this batch is written yet, keep it all.
      throw new RetryLater(`cannot register new series: ${(e as Error).message}`);
    }
    await this.learnLastUpdates(groups);
    // Build one ordered, de-duplicated job per series.
    let pending: Pending[] = [];
    for (const g of groups) {
      const entry = g.entry!;
      if (entry.origin === 'imported') {
        this.metrics.rejected.inc({ reason: 'readonly' }, g.to - g.from);
        this.log(`refusing ${g.to - g.from} value(s) for imported (read-only) series ${g.key}`);
        continue;
      }
      // In order, one value a second, all after the last update (nearly always): the group is the job.
      if (g.times[g.from] > entry.lastUpdate && increasing(g)) {
        g.file = entry.file;
        pending.push(g as Pending);
        continue;
      }
      // Else in time order, duplicates and values not after the last update taken out (no index array when in order).
      const n = g.to - g.from;
      const order = ascending(g) ? undefined : Array.from({ length: n }, (_, k) => g.from + k).sort((a, b) => g.times[a] - g.times[b] || a - b);
      const times: number[] = [];
      const values: number[] = [];
      const replay = g.replay && ([] as boolean[]);
      let stale = 0;
      for (let k = 0; k < n; k++) {
        const i = order ? order[k] : g.from + k;
        const t = g.times[i];
        if (t <= entry.lastUpdate) {
          if (g.replay?.[i - g.from]) this.metrics.alreadyStored.inc();
          else stale++;
          continue;
        }
        if (times.length && times[times.length - 1] === t) {
          values[values.length - 1] = g.values[i]; // same second: the later arrival wins
          continue;
        }
        times.push(t);
        values.push(g.values[i]);
        replay?.push(g.replay![i - g.from]);
      }
      if (stale) this.reportStale(entry, stale);
      if (times.length) pending.push({ entry, file: entry.file, times, values, from: 0, to: times.length, replay });
    }
    // Write; a stale refusal from the archive (e.g. a file we adopted) tells us its last update: resend the rest.
    for (let round = 0; pending.length && round < 3; round++) {
      let errors: Map<number, UpdateError>;
      try {
        errors = await this.archive.update(pending);
      } catch (e) {
        // rrdcached unreachable or the pipes dead: keep what is not written yet, resent marked (some may be in).
        throw new RetryLater(`cannot write to the archive: ${(e as Error).message}`, toSamples(pending));
      }
      const retry: Pending[] = [];
      const recreate: Pending[] = [];
      let written = 0;
      pending.forEach((p, i) => {
        this.dirty.add(p.entry.file);
        const err = errors.get(i);
        if (err === undefined) {
          p.entry.lastUpdate = p.times[p.to - 1];
          p.entry.lastValue = p.values[p.to - 1];
          written += p.to - p.from;
          return;
        }
        const stale = parseStale(err.message);
        if (stale) {
          // Values before the refused one went in. Of the rest, those not after `last` cannot go in —
          // unless this write was a resend after a crash or a replay of the log: then they are ours, already written.
          let refusedAt = p.from;
          while (refusedAt < p.to && p.times[refusedAt] !== stale.refused) refusedAt++;
          if (refusedAt === p.to) refusedAt = p.from; // not among them: judge them all
          let written = refusedAt - p.from;
          p.entry.lastUpdate = stale.last;
          let refused = 0;
          const rest = kept(p, refusedAt, (k) => {
            if (p.times[k] > stale.last) return true;
            if (p.replay?.[k - p.from]) this.metrics.alreadyStored.inc();
            else if (err.retried) written++;
            else refused++;
            return false;
          });
          this.metrics.written.inc(written);
          if (refused) this.reportStale(p.entry, refused);
          if (rest.times.length) retry.push({ entry: p.entry, file: p.entry.file, ...rest, from: 0, to: rest.times.length });
          return;
        }
        if (/No such file/i.test(err.message) && p.entry.origin === 'native' && round === 0) {
          // Known to the catalog but no file: its creation failed earlier, or someone removed it. Make it again.
          recreate.push(p);
          return;
        }
        this.metrics.rejected.inc({ reason: 'write_error' }, p.to - p.from);
        this.log(`write to ${p.entry.key} failed: ${err.message}`);
      });
      if (written) this.metrics.written.inc(written); // once a batch: a counter's inc is a label look-up each
      if (recreate.length) {
        await this.ensureSpace(
          recreate.map((p) => this.templates.byName(p.entry.template)),
          () => toSamples([...recreate, ...retry]),
        );
        await eachLimited(recreate, MAX_CREATES_IN_FLIGHT, async (p) => {
          const tpl = this.templates.byName(p.entry.template);
          if (await this.createFile(p.entry, tpl, p.times[p.from] - tpl.step)) {
            this.log(`re-created missing file ${p.entry.file} for ${p.entry.key}`);
            retry.push(p);
          } else this.refuseSeries(p.entry.key, p.to - p.from);
        });
      }
      pending = retry;
    }
    for (const p of pending) {
      this.metrics.rejected.inc({ reason: 'write_error' }, p.to - p.from);
      this.log(`${p.to - p.from} value(s) for ${p.entry.key} still refused after 3 rounds`);
    }
    this.metrics.batchSeconds.observe((performance.now() - t0) / 1000);
    // The replay log of rrdcached's client is bounded: past the limit, write everything out and start afresh.
    if (this.archive.unconfirmedValues > this.maxUnconfirmed) await this.flush();
  }

  /**
   * The batch's samples by series, in arrival order within each: counted first, then each series' values laid out
   * in its range of the batch's two columns (see Group).
   */
  private group(batch: Sample[]): Group[] {
    const gen = ++batchesGrouped;
    const groups: Group[] = [];
    /** Each sample's group, by its place in `groups`. */
    const slots = new Int32Array(batch.length);
    // Series not in the catalog yet, by labels object and by key (a first sight: rare once running).
    let unknown: Map<string, number> | undefined;
    let unknownByLabels: Map<Labels, number> | undefined;
    let last = -1;
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i];
      let slot: number | undefined;
      if (last >= 0 && groups[last].sample.labels === s.labels && groups[last].sample.name === s.name) slot = last;
      else {
        // Found by the labels object the listener shares across a series' samples: no key string per sample. A
        // series not in the catalog stays unknown for the whole batch (grouping is synchronous), so its later samples
        // find their group by that object too; the key is built once, for the first.
        let e = this.catalog.lookupShared(s.name, s.labels);
        let key: string | undefined;
        if (e === undefined) {
          slot = unknownByLabels?.get(s.labels);
          if (slot !== undefined && groups[slot].sample.name !== s.name) slot = undefined;
          if (slot === undefined) e = this.catalog.lookupKey(s.labels, (key = seriesKey(s.name, s.labels)));
        }
        if (e !== undefined) {
          if (e.writeBatch === gen) slot = e.writeSlot;
          else {
            e.writeBatch = gen;
            e.writeSlot = slots[i] = last = groups.length;
            groups.push(newGroup(s, e.key, e));
            continue;
          }
        } else if (slot === undefined) {
          // First sample of this labels object in the batch: a new series, or one whose key came in another object.
          slot = (unknown ??= new Map()).get(key!);
          if (slot === undefined) {
            unknown.set(key!, (slot = groups.length));
            groups.push(newGroup(s, key!, undefined));
            (unknownByLabels ??= new Map()).set(s.labels, slot);
            slots[i] = last = slot;
            continue;
          }
          (unknownByLabels ??= new Map()).set(s.labels, slot);
        }
        last = slot;
      }
      slots[i] = slot;
      groups[slot].count++;
    }
    // Each group's range of the columns, then its values in arrival order (`to` counts them in).
    const times = new Float64Array(batch.length);
    const values = new Float64Array(batch.length);
    let offset = 0;
    for (const g of groups) {
      g.times = times;
      g.values = values;
      g.from = g.to = offset;
      offset += g.count;
    }
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i];
      const g = groups[slots[i]];
      const k = g.to++;
      times[k] = s.time;
      values[k] = s.value;
      if (s.replay === true) (g.replay ??= new Array<boolean>(g.count).fill(false))[k - g.from] = true;
    }
    return groups;
  }

  /**
   * A series first written since start (its last update unknown) asks the archive for it, so that values the
   * file already holds are never sent: rrdcached skips the rest of an UPDATE line after a refused value but
   * applies the next line, which would store later values before earlier ones and lose those.
   */
  private async learnLastUpdates(groups: Group[]): Promise<void> {
    const unknown = groups.map((g) => g.entry!).filter((e) => e.lastUpdate === 0 && e.origin === 'native');
    await Promise.all(
      unknown.map(async (e) => {
        try {
          e.lastUpdate = await this.archive.lastUpdate(e.file);
        } catch (err) {
          if (!(err instanceof RrdError)) throw err; // a missing file is re-created below; others answer at write time
        }
      }),
    );
  }

  /**
   * Registers and creates the series of `groups` not in the catalog yet (setting their entries). Returns the
   * groups to write: those whose file cannot be made are dropped, counted.
   */
  private async createNew(groups: Group[]): Promise<Group[]> {
    const unknown: NewSeries[] = [];
    const creating: { g: Group; first: number; template: RrdTemplate }[] = [];
    for (const g of groups) {
      const known = g.entry;
      if (known && (known.ready || known.origin !== 'native')) continue;
      const { name, template } = this.templates.choose(g.sample.name, g.sample.counter);
      const first = earliest(g);
      if (!known) unknown.push({ name: g.sample.name, labels: g.sample.labels, template: name, step: template.step, ds: DS_NAME, firstTime: first });
      creating.push({ g, first, template });
    }
    if (creating.length === 0) return groups;
    // A full disk: keep everything of this batch for later rather than make some files and not others.
    await this.ensureSpace(
      creating.map((c) => c.template),
      () => groups.flatMap((g) => samplesOf(g, g.sample, false)),
    );
    if (unknown.length) await this.catalog.register(unknown, { pending: true });
    const failed = new Set<Group>();
    await eachLimited(creating, MAX_CREATES_IN_FLIGHT, async ({ g, first, template }) => {
      const e = (g.entry ??= this.catalog.get(g.key)!);
      // One step before the first value: a GAUGE value covers the interval since the previous update,
      // so a start just 1 s before would leave the first interval mostly unknown and lose the first point.
      if (!(await this.createFile(e, template, first - template.step))) {
        this.refuseSeries(g.key, g.to - g.from);
        failed.add(g);
      }
    });
    this.metrics.series.set(this.catalog.size);
    return failed.size ? groups.filter((g) => !failed.has(g)) : groups;
  }

  /**
   * Creates (or adopts) the file of an entry and proves it exists: on a full disk `rrdtool create` can answer OK
   * without making it. False when rrdtool refuses this one file; RetryLater when the disk is full.
   */
  private async createFile(e: SeriesEntry, tpl: RrdTemplate, start: number): Promise<boolean> {
    try {
      await this.archive.create(e.file, tpl, start);
    } catch (err) {
      if (!(err instanceof RrdError) || !err.fromRrdtool) throw new RetryLater(`cannot create RRD files: ${(err as Error).message}`);
      this.log(`cannot create ${e.file} for ${e.key}: ${err.message}`);
      return false;
    }
    if (!exists(e.file)) {
      const free = await this.archive.freeBytes();
      throw new RetryLater(`rrdtool create left no file ${e.file} (${free} bytes free under ${this.archive.root}): disk full?`);
    }
    e.ready = true;
    e.lastUpdate = Math.max(e.lastUpdate, start);
    this.metrics.created.inc();
    return true;
  }

  /**
   * Throws RetryLater (keeping what `keep` gives) unless the archive's disk has room for these files plus the
   * reserve. `keep` is called only then: a copy of the batch made for every batch with a new series was garbage.
   */
  private async ensureSpace(templates: RrdTemplate[], keep: () => Sample[]): Promise<void> {
    const need = templates.reduce((n, t) => n + fileBytes(t), 0) + this.minFreeBytes;
    const free = await this.archive.freeBytes();
    this.metrics.archiveFreeBytes.set(free);
    if (free < need)
      throw new RetryLater(
        `disk full: ${free} bytes free under ${this.archive.root}, ${need} needed for ${templates.length} new RRD file(s) and the reserve (rrd.minFreeBytes ${this.minFreeBytes})`,
        keep(),
      );
  }

  private refuseSeries(key: string, n: number) {
    this.metrics.rejected.inc({ reason: 'create_error' }, n);
    this.log(`${n} value(s) for ${key} refused: its RRD file cannot be created`);
  }

  private reportStale(entry: SeriesEntry, n: number) {
    this.metrics.rejected.inc({ reason: 'out_of_order' }, n);
    this.log(`${n} value(s) for ${entry.key} not after its last update ${entry.lastUpdate}: refused (RRD files take time-ordered values only)`);
  }

  /** Makes written values durable; with files, only those (if dirty). */
  async flush(files?: string[]): Promise<void> {
    if (!this.archive.usesCached) return;
    // FLUSH per file answers only once that file is on disk (FLUSHALL answers at once).
    const need = (files ?? [...this.dirty]).filter((f) => this.dirty.has(f));
    if (need.length)
      for (const r of await this.archive.flush(need)) {
        this.metrics.flushErrors.inc();
        this.log(`flush of ${r.file} refused by rrdcached: ${r.message}`);
      }
    for (const f of need) this.dirty.delete(f);
    if (!files) this.archive.confirmAll();
  }
}
