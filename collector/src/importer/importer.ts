// Adopts an RRD tree rexmon did not write (collectd, Ganglia, Munin, hand-made): a path pattern maps path
// parts to labels; each data source becomes a series served like a native one (read-only).
import { Dirent, Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Catalog, NewSeries } from '../catalog/catalog.js';
import { checkLabels, checkMetricName, Labels } from '../model/series.js';
import { RrdArchive } from '../rrd/archive.js';
import { isProtocolSafePath } from '../rrd/naming.js';

export interface ImportPattern {
  re: RegExp;
  /** Builds the metric name and labels from the regex groups and the file's DS name. */
  toSeries(groups: Record<string, string | undefined>, ds: string, dsCount: number): { name: string; labels: Labels };
}

const sanitize = (s: string) => s.replace(/[^A-Za-z0-9_:]/g, '_');
const withDs = (labels: Labels, ds: string, dsCount: number): Labels => (dsCount > 1 ? { ...labels, ds } : labels);
const defined = (o: Record<string, string | undefined>): Labels =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as Labels;

export const PRESETS: Record<string, ImportPattern> = {
  // <host>/<plugin>[-<plugin_instance>]/<type>[-<type_instance>].rrd, several DS per file.
  collectd: {
    re: /^(?<host>[^/]+)\/(?<plugin>[^/-]+)(?:-(?<plugin_instance>[^/]+))?\/(?<type>[^/-]+)(?:-(?<type_instance>[^/]+))?\.rrd$/,
    toSeries: (g, ds, n) => ({
      name: `collectd_${sanitize(g.plugin!)}_${sanitize(g.type!)}`,
      labels: withDs(defined({ host: g.host, plugin_instance: g.plugin_instance, type_instance: g.type_instance }), ds, n),
    }),
  },
  // <cluster>/<host>/<metric>.rrd with DS `sum` (summary files also carry `num`).
  ganglia: {
    re: /^(?<cluster>[^/]+)\/(?<host>[^/]+)\/(?<metric>[^/]+)\.rrd$/,
    toSeries: (g, ds, n) => ({ name: `ganglia_${sanitize(g.metric!)}`, labels: withDs(defined({ cluster: g.cluster, host: g.host }), ds, n) }),
  },
};

/**
 * A pattern over the path relative to the tree: `{label}` captures one path part (or part of one),
 * `{__name__}` the metric name, `*` matches within a part, `**` any number of directories.
 */
export function compilePattern(pattern: string, fixedName?: string): ImportPattern {
  let re = '';
  const labels: string[] = [];
  for (let i = 0; i < pattern.length;) {
    if (pattern.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 3;
    } else if (pattern[i] === '*') {
      re += '[^/]*';
      i++;
    } else if (pattern[i] === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) throw new Error(`pattern: missing '}' after position ${i + 1}`);
      const name = pattern.slice(i + 1, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`pattern: {${name}} is not a valid label name`);
      if (labels.includes(name)) throw new Error(`pattern: {${name}} appears twice`);
      labels.push(name);
      re += `(?<${name}>[^/]+?)`;
      i = end + 1;
    } else {
      re += pattern[i].replace(/[.+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  if (!labels.includes('__name__') && !fixedName) throw new Error('pattern needs {__name__} or a fixed metric name (--name)');
  if (!pattern.endsWith('.rrd')) re += '\\.rrd';
  return {
    re: new RegExp(`^${re}$`),
    toSeries: (g, ds, n) => {
      const { __name__, ...rest } = g;
      return { name: fixedName ?? sanitize(__name__!), labels: withDs(defined(rest), ds, n) };
    },
  };
}

export interface ImportReport {
  files: number;
  matched: number;
  series: number;
  skipped: { file: string; reason: string }[];
}

export interface ImportOptions {
  /** Follow symbolic links whose target lies outside the tree (default: skip them, with the reason). */
  followOutside?: boolean;
}

type Skipped = ImportReport['skipped'];

/** What a directory entry (or a link's target) is, in words, when it is not a regular file or directory. */
function kindOf(s: Stats | Dirent): string {
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

const inside = (p: string, root: string) => p === root || p.startsWith(root + path.sep);

/**
 * The *.rrd files under `absRoot` (paths relative to it, as the pattern sees them), following symbolic links:
 * to files and directories inside the tree, outside it only with `followOutside`, never round a loop (a link
 * to a directory being walked). Links and entries that are not imported are put in `skipped` with the reason;
 * nothing is opened here, so a FIFO named *.rrd cannot block the walk.
 */
async function findRrdFiles(absRoot: string, opts: ImportOptions, skipped: Skipped): Promise<string[]> {
  const realRoot = await realpath(absRoot);
  const files: string[] = [];
  const walk = async (dir: string, rel: string, ancestors: Set<string>) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const relPath = rel ? path.join(rel, e.name) : e.name;
      const abs = path.join(dir, e.name);
      const isRrd = e.name.endsWith('.rrd');
      let target: Stats | Dirent = e;
      if (e.isSymbolicLink()) {
        let real: string;
        try {
          real = await realpath(abs);
          target = await stat(real);
        } catch (err) {
          skipped.push({ file: relPath, reason: `symbolic link that leads nowhere (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
          continue;
        }
        if (!target.isDirectory() && !isRrd) continue;
        if (!opts.followOutside && !inside(real, realRoot)) {
          skipped.push({ file: relPath, reason: `symbolic link to ${real}, outside the tree (--follow-outside follows it)` });
          continue;
        }
      }
      if (target.isDirectory()) {
        const st = e.isSymbolicLink() ? (target as Stats) : await stat(abs);
        const id = `${st.dev}:${st.ino}`;
        if (ancestors.has(id)) {
          skipped.push({ file: relPath, reason: 'symbolic link loop: leads back to a directory it is in' });
          continue;
        }
        await walk(abs, relPath, new Set(ancestors).add(id));
      } else if (isRrd) {
        if (target.isFile()) files.push(relPath);
        else skipped.push({ file: relPath, reason: `${kindOf(target)}, not an RRD file` });
      }
    }
  };
  const rootStat = await stat(realRoot);
  await walk(absRoot, '', new Set([`${rootStat.dev}:${rootStat.ino}`]));
  return files.sort();
}

export async function importTree(
  root: string,
  pattern: ImportPattern,
  catalog: Catalog,
  archive: RrdArchive,
  progress?: (done: number, total: number) => void,
  opts: ImportOptions = {},
): Promise<ImportReport> {
  const absRoot = path.resolve(root);
  const skipped: Skipped = [];
  const files = await findRrdFiles(absRoot, opts, skipped);
  // Files: the regular ones found and the *.rrd entries skipped on the way (links and directories are not counted).
  const report: ImportReport = { files: files.length + skipped.filter((s) => s.file.endsWith('.rrd')).length, matched: 0, series: 0, skipped };
  let pending: NewSeries[] = [];
  const commit = async () => {
    if (pending.length) await catalog.register(pending);
    pending = [];
  };
  for (let i = 0; i < files.length; i += 64) {
    const slice = files.slice(i, i + 64);
    await Promise.all(
      slice.map(async (rel) => {
        const abs = path.join(absRoot, rel);
        const m = pattern.re.exec(rel.split(path.sep).join('/'));
        if (!m) return void report.skipped.push({ file: rel, reason: 'does not match the pattern' });
        if (!isProtocolSafePath(abs))
          return void report.skipped.push({ file: rel, reason: 'path has characters rrdtool cannot take safely (space, quote, colon, control)' });
        let info: Map<string, string>;
        try {
          info = await archive.info(abs);
        } catch (e) {
          return void report.skipped.push({ file: rel, reason: `not a readable RRD: ${(e as Error).message}` });
        }
        const dss = [...info.keys()].map((k) => /^ds\[([^\]]+)\]\.type$/.exec(k)?.[1]).filter((x): x is string => !!x);
        const step = Number(info.get('step') ?? 60);
        report.matched++;
        for (const ds of dss) {
          try {
            const s = pattern.toSeries(m.groups ?? {}, ds, dss.length);
            pending.push({ name: checkMetricName(s.name), labels: checkLabels(s.labels), template: 'imported', step, ds, file: abs, origin: 'imported' });
            report.series++;
          } catch (e) {
            report.skipped.push({ file: rel, reason: (e as Error).message });
          }
        }
      }),
    );
    if (pending.length >= 1000) await commit();
    progress?.(Math.min(i + 64, files.length), files.length);
  }
  await commit();
  return report;
}
