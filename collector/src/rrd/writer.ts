// The RRD writer processor: registers new series, creates their files (start one step before the first value,
// so first points are kept), and writes values in time order per series. Values rrdtool would refuse
// (not after the file's last update) are counted and logged, never silently dropped.
import { Config, RrdTemplate } from '../config/schema.js';
import { Catalog, NewSeries, SeriesEntry } from '../catalog/catalog.js';
import { Sample, seriesKey } from '../model/series.js';
import { Metrics } from '../metrics/metrics.js';
import { Processor } from '../pipeline/pipeline.js';
import { globToRegExp } from '../util/glob.js';
import { DS_NAME, RrdArchive, UpdateJob } from './archive.js';
import { parseStale } from './errors.js';

interface Pending {
  entry: SeriesEntry;
  times: number[];
  values: number[];
}

export class TemplateChooser {
  private readonly rules: { re: RegExp; template: string }[];
  constructor(private readonly config: Config['rrd']) {
    this.rules = config.rules.map((r) => ({ re: globToRegExp(r.match), template: r.template }));
  }
  choose(name: string): { name: string; template: RrdTemplate } {
    const t = this.rules.find((r) => r.re.test(name))?.template ?? this.config.defaultTemplate;
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
    /** Acknowledged values kept for replay after an rrdcached crash before a full flush is forced. */
    private readonly maxUnconfirmed = 2_000_000,
  ) {}

  async handle(batch: Sample[]): Promise<void> {
    const t0 = performance.now();
    // Group by series, keeping arrival order within each.
    const groups = new Map<string, { sample: Sample; times: number[]; values: number[] }>();
    for (const s of batch) {
      const key = seriesKey(s.name, s.labels);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { sample: s, times: [], values: [] }));
      g.times.push(s.time);
      g.values.push(s.value);
    }
    // Register and create series seen for the first time.
    const unknown: NewSeries[] = [];
    const creating = new Map<string, { first: number; template: RrdTemplate }>();
    for (const [key, g] of groups) {
      if (this.catalog.get(key)) continue;
      const { name, template } = this.templates.choose(g.sample.name);
      unknown.push({ name: g.sample.name, labels: g.sample.labels, template: name, step: template.step, ds: DS_NAME });
      creating.set(key, { first: Math.min(...g.times), template });
    }
    if (unknown.length) {
      const entries = await this.catalog.register(unknown, { pending: true });
      await Promise.all(
        entries.map(async (e) => {
          // One step before the first value: a GAUGE value covers the interval since the previous update,
          // so a start just 1 s before would leave the first interval mostly unknown and lose the first point.
          const c = creating.get(e.key);
          const tpl = c?.template ?? this.templates.choose(e.name).template;
          const start = (c?.first ?? Math.floor(Date.now() / 1000)) - tpl.step;
          await this.archive.create(e.file, tpl, start);
          e.ready = true;
          // A file adopted as it was may hold later data; let the archive tell us (stale handling below).
          this.metrics.created.inc();
        }),
      );
      this.metrics.series.set(this.catalog.size);
    }
    // Build one ordered, de-duplicated job per series.
    let pending: Pending[] = [];
    for (const [key, g] of groups) {
      const entry = this.catalog.get(key)!;
      if (entry.origin === 'imported') {
        this.metrics.rejected.inc({ reason: 'readonly' }, g.times.length);
        this.log(`refusing ${g.times.length} value(s) for imported (read-only) series ${key}`);
        continue;
      }
      const order = g.times.map((_, i) => i).sort((a, b) => g.times[a] - g.times[b] || a - b);
      const times: number[] = [];
      const values: number[] = [];
      let stale = 0;
      for (const i of order) {
        const t = g.times[i];
        if (t <= entry.lastUpdate) {
          stale++;
          continue;
        }
        if (times.length && times[times.length - 1] === t) {
          values[values.length - 1] = g.values[i]; // same second: the later arrival wins
          continue;
        }
        times.push(t);
        values.push(g.values[i]);
      }
      if (stale) this.reportStale(entry, stale);
      if (times.length) pending.push({ entry, times, values });
    }
    // Write; a stale refusal from the archive (e.g. a file we adopted) tells us its last update: resend the rest.
    for (let round = 0; pending.length && round < 3; round++) {
      const jobs: UpdateJob[] = pending.map((p) => ({ file: p.entry.file, times: p.times, values: p.values }));
      const errors = await this.archive.update(jobs);
      const retry: Pending[] = [];
      const recreate: Pending[] = [];
      pending.forEach((p, i) => {
        this.dirty.add(p.entry.file);
        const err = errors.get(i);
        if (err === undefined) {
          p.entry.lastUpdate = p.times[p.times.length - 1];
          p.entry.lastValue = p.values[p.values.length - 1];
          this.metrics.written.inc(p.times.length);
          return;
        }
        const stale = parseStale(err.message);
        if (stale) {
          // Values before the refused one went in. Of the rest, those not after `last` cannot go in —
          // unless this write was a resend after a crash: then they are ours, already written.
          const refusedAt = Math.max(0, p.times.indexOf(stale.refused));
          let written = refusedAt;
          p.entry.lastUpdate = stale.last;
          const restT: number[] = [];
          const restV: number[] = [];
          let refused = 0;
          for (let k = refusedAt; k < p.times.length; k++) {
            if (p.times[k] > stale.last) {
              restT.push(p.times[k]);
              restV.push(p.values[k]);
            } else if (err.retried) written++;
            else refused++;
          }
          this.metrics.written.inc(written);
          if (refused) this.reportStale(p.entry, refused);
          if (restT.length) retry.push({ entry: p.entry, times: restT, values: restV });
          return;
        }
        if (/No such file/i.test(err.message) && p.entry.origin === 'native' && round === 0) {
          // Known to the catalog but no file: its creation failed earlier, or someone removed it. Make it again.
          recreate.push(p);
          return;
        }
        this.metrics.rejected.inc({ reason: 'write_error' }, p.times.length);
        this.log(`write to ${p.entry.key} failed: ${err.message}`);
      });
      await Promise.all(
        recreate.map(async (p) => {
          const tpl = this.templates.choose(p.entry.name).template;
          await this.archive.create(p.entry.file, tpl, p.times[0] - tpl.step);
          p.entry.ready = true;
          this.metrics.created.inc();
          this.log(`re-created missing file ${p.entry.file} for ${p.entry.key}`);
          retry.push(p);
        }),
      );
      pending = retry;
    }
    this.metrics.batchSeconds.observe((performance.now() - t0) / 1000);
    // The replay log of rrdcached's client is bounded: past the limit, write everything out and start afresh.
    if (this.archive.unconfirmedValues > this.maxUnconfirmed) await this.flush();
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
