// Reads series straight from their RRD files, answering what `rrdtool xport` answers for one DEF + XPORT per
// series (the same RRA choice, alignment, consolidation to the step and common step), without a child process
// or its text output: for a day of 1,000 series xport prints and we parse 27 MB of JSON.
//
// The file layout is rrdtool's own (rrd_format.h), written in the machine's native format. It is read only
// when the header proves the layout we know (x86-64/aarch64 Linux: 8-byte longs and doubles, little-endian,
// the float cookie in its place, counts and row pointers in range, the RRA all there); otherwise, and for
// anything unusual (a missing data source or CF, a version we do not know), the caller uses xport.
// Values are the stored doubles at full precision (xport prints 11 significant digits).
import { closeSync, openSync, readSync } from 'node:fs';
import type { CF, ReadResult, ReadSpec } from './read-types.js';

const STAT_HEAD = 128;
const DS_DEF = 120;
const RRA_DEF = 120;
const LIVE_HEAD = 16;
const PDP_PREP = 112;
const CDP_PREP = 80;
const RRA_PTR = 8;
const FLOAT_COOKIE = 8.642135e130;
/** One read covers the header of every template with up to ~14 RRAs; a longer header is read again. */
const FIRST_READ = 4096;
/** A header changed between the two reads of a file (a writer was at it) is read again this often. */
const RETRIES = 3;
/** Files read together (open at once), then checked together after the pause. */
const BATCH = 256;
/** How long after its first read a header is read again (see readFiles). */
const SETTLE_MS = 2;

interface RraDef {
  cf: string;
  rows: number;
  pdpCount: number;
  /** Byte offset of its first row. */
  base: number;
}

interface Header {
  dsNames: string[];
  pdpStep: number;
  rras: RraDef[];
  lastUp: number;
  curRows: number[];
  /** Where the parts written on every update begin (live head) and where the header ends. */
  liveAt: number;
  length: number;
}

/** Why a file cannot be read here: the caller reads it with xport instead. */
class NotReadable extends Error {}

const ascii = (b: Buffer, at: number, len: number) => {
  const end = b.indexOf(0, at);
  return b.toString('latin1', at, end < 0 || end > at + len ? at + len : end);
};

function u64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new NotReadable('field out of range');
  return Number(v);
}

/** The header from the file's first bytes, or NotReadable (RangeError: it needs more bytes than given). */
function parseHeader(b: Buffer): Header {
  if (b.length < STAT_HEAD || b.toString('latin1', 0, 4) !== 'RRD\0') throw new NotReadable('not an RRD file');
  const version = ascii(b, 4, 5);
  if (version !== '0003' && version !== '0004' && version !== '0005') throw new NotReadable(`RRD version ${version}`);
  if (b.readDoubleLE(16) !== FLOAT_COOKIE) throw new NotReadable('not the native 64-bit layout');
  const dsCount = u64(b, 24);
  const rraCount = u64(b, 32);
  const pdpStep = u64(b, 40);
  if (dsCount < 1 || rraCount < 1 || pdpStep < 1 || dsCount > 1000 || rraCount > 1000) throw new NotReadable('implausible header');
  const rraDefsAt = STAT_HEAD + DS_DEF * dsCount;
  const liveAt = rraDefsAt + RRA_DEF * rraCount;
  const ptrAt = liveAt + LIVE_HEAD + PDP_PREP * dsCount + CDP_PREP * dsCount * rraCount;
  const length = ptrAt + RRA_PTR * rraCount;
  if (b.length < length) throw new RangeError(String(length)); // read more
  const dsNames = Array.from({ length: dsCount }, (_, i) => ascii(b, STAT_HEAD + DS_DEF * i, 20));
  let base = length; // the RRAs follow the header, one after the other
  const rras: RraDef[] = [];
  const curRows: number[] = [];
  for (let i = 0; i < rraCount; i++) {
    const at = rraDefsAt + RRA_DEF * i;
    const rows = u64(b, at + 24);
    const pdpCount = u64(b, at + 32);
    if (rows < 1 || pdpCount < 1) throw new NotReadable('implausible RRA');
    rras.push({ cf: ascii(b, at, 20), rows, pdpCount, base });
    base += rows * dsCount * 8;
    const cur = u64(b, ptrAt + RRA_PTR * i);
    if (cur >= rows) throw new NotReadable('row pointer outside its RRA');
    curRows.push(cur);
  }
  const lastUp = Number(b.readBigInt64LE(liveAt));
  return { dsNames, pdpStep, rras, lastUp, curRows, liveAt, length };
}

const CONSOLIDATING = new Set(['AVERAGE', 'MIN', 'MAX', 'LAST']);

/** rrd_fetch_fn's choice: the RRA covering the start whose step is nearest the wish, else the best partial one. */
function chooseRra(h: Header, cf: CF, start: number, end: number, wish: number): number {
  let bestFull = -1;
  let bestFullDiff = 0;
  let bestPart = -1;
  let bestPartDiff = 0;
  let bestMatch = 0;
  h.rras.forEach((r, i) => {
    if (!(r.cf === cf || (r.pdpCount === 1 && CONSOLIDATING.has(r.cf)))) return;
    const rraStep = r.pdpCount * h.pdpStep;
    const calEnd = h.lastUp - (h.lastUp % rraStep);
    const calStart = calEnd - rraStep * r.rows;
    const diff = Math.abs(wish - rraStep);
    if (calStart <= start) {
      if (bestFull < 0 || diff < bestFullDiff) [bestFull, bestFullDiff] = [i, diff];
    } else {
      const match = end - start - (calStart - start);
      if (bestPart < 0 || bestMatch < match || (bestMatch === match && diff < bestPartDiff)) [bestPart, bestMatch, bestPartDiff] = [i, match, diff];
    }
  });
  if (bestFull >= 0) return bestFull;
  if (bestPart >= 0) return bestPart;
  throw new NotReadable('no RRA for this CF');
}

interface Fetched {
  start: number;
  end: number;
  step: number;
  /** One value per row; row i covers (start + i*step, start + (i+1)*step]. */
  data: Float64Array;
}

/** rrd_fetch_fn for one data source, from the RRA's values as read (rows × data sources). */
function fetchRows(h: Header, rra: number, ds: number, rraValues: Float64Array, start: number, end: number): Fetched {
  const r = h.rras[rra];
  const dsCount = h.dsNames.length;
  const step = h.pdpStep * r.pdpCount;
  start -= start % step;
  end += step - (end % step);
  const rraEnd = h.lastUp - (h.lastUp % step);
  const rraStart = rraEnd - step * (r.rows - 1);
  const startOffset = (start + step - rraStart) / step; // exact: every term is a multiple of step
  const endOffset = (rraEnd - end) / step;
  let ptr = 0;
  if (start <= rraEnd && end >= rraStart - step) ptr = (h.curRows[rra] + 1 + Math.max(0, startOffset)) % r.rows;
  const data = new Float64Array(Math.max(0, r.rows - endOffset - startOffset));
  let k = 0;
  for (let i = startOffset; i < r.rows - endOffset; i++) {
    if (i < 0 || i >= r.rows) data[k++] = NaN;
    else {
      if (ptr >= r.rows) ptr -= r.rows;
      data[k++] = rraValues[ptr * dsCount + ds];
      ptr++;
    }
  }
  return { start, end, step, data };
}

/** rrd_reduce_data: consolidates `f` (at its RRA's step) to the multiple of that step no finer than `wish`. */
function reduce(cf: CF, f: Fetched, wish: number): Fetched {
  const cur = f.step;
  const factor = Math.ceil(wish / cur);
  const step = cur * factor;
  let { start, end } = f;
  const src = f.data;
  const out: number[] = [];
  let rows = (end - start) / cur;
  let at = 0;
  const endOffset = end % step;
  const startOffset = start % step;
  if (startOffset) {
    start -= startOffset;
    const skip = factor - startOffset / cur;
    at += skip;
    out.push(NaN);
    rows -= skip;
  }
  if (endOffset) {
    end = end - endOffset + step;
    rows -= endOffset / cur;
  }
  if (rows < 0) {
    // rrdtool counts rows unsigned: below zero wraps to 2^64 + rows, whose remainder decides between its
    // "SANITY CHECK" error and an answer without reduced rows.
    if ((2n ** 64n + BigInt(rows)) % BigInt(factor) !== 0n) throw new NotReadable('rrdtool refuses this reduction');
    rows = 0;
  }
  if (rows % factor) throw new NotReadable('rows cannot be reduced evenly');
  for (; rows >= factor; rows -= factor, at += factor) {
    let v = NaN;
    let valid = 0;
    for (let i = 0; i < factor; i++) {
      const x = src[at + i];
      if (Number.isNaN(x)) continue;
      valid++;
      if (Number.isNaN(v)) v = x;
      else if (cf === 'AVERAGE') v += x;
      else if (cf === 'MIN') v = Math.min(v, x);
      else if (cf === 'MAX') v = Math.max(v, x);
      else v = x;
    }
    out.push(valid === 0 ? NaN : cf === 'AVERAGE' ? v / valid : v);
  }
  if (endOffset) out.push(NaN);
  return { start, end, step, data: Float64Array.from(out) };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

interface FileRead {
  h: Header;
  rra: number;
  values: Float64Array;
  /** The header as first read, compared with a second read. */
  head: Buffer;
}

/** A file's header and the values of the RRA `pick` chooses. */
function readOnce(fd: number, pick: (h: Header) => number): FileRead {
  let head = Buffer.allocUnsafe(FIRST_READ);
  let size = readSome(fd, head, 0);
  let h: Header;
  try {
    h = parseHeader(head.subarray(0, size));
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    if (size < head.length) throw new NotReadable('short header');
    head = Buffer.allocUnsafe(Number(e.message));
    size = readSome(fd, head, 0);
    h = parseHeader(head.subarray(0, size));
  }
  const rra = pick(h);
  const r = h.rras[rra];
  // Read straight into doubles: the file holds them in the machine's own format (checked by the cookie).
  const values = new Float64Array(r.rows * h.dsNames.length);
  if (readSome(fd, Buffer.from(values.buffer), r.base) !== values.byteLength) throw new NotReadable('file shorter than its header says');
  return { h, rra, values, head };
}

function unchanged(fd: number, f: FileRead): boolean {
  const again = Buffer.allocUnsafe(f.h.length - f.h.liveAt);
  readSome(fd, again, f.h.liveAt);
  return again.equals(f.head.subarray(f.h.liveAt, f.h.length));
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * The files' headers and chosen RRAs, each read consistently. rrdtool takes an fcntl lock to read a file, which
 * we cannot take from here (and which makes a writer fail while held). An update changes the row pointers and
 * then the last update time, so a read between the two would put every row one step off. Instead the part an
 * update changes is read again at least SETTLE_MS after it was first read: unchanged, no update was under way
 * (an update takes microseconds; the pause outlasts one held up by the scheduler); changed, read again.
 */
function readFiles(files: string[], pick: (h: Header) => number): FileRead[] {
  const out = new Array<FileRead>(files.length);
  for (let at = 0; at < files.length; at += BATCH) {
    const batch = files.slice(at, at + BATCH);
    const fds: number[] = [];
    try {
      for (const f of batch) fds.push(openSync(f, 'r'));
      let todo = batch.map((_, i) => i);
      for (let attempt = 0; todo.length > 0; attempt++) {
        if (attempt > RETRIES) throw new NotReadable('the file kept changing while read');
        for (const i of todo) out[at + i] = readOnce(fds[i], pick);
        pause(SETTLE_MS);
        todo = todo.filter((i) => !unchanged(fds[i], out[at + i]));
      }
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }
  return out;
}

/** Reads up to buf.length bytes (fewer only at the end of the file); returns how many. */
function readSome(fd: number, buf: Buffer, position: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** The columns of a read, or undefined: see readDirect. Synchronous: it runs on a worker thread (file-readers.ts). */
export type DirectRead = Omit<ReadResult, 'timestamps'>;

/**
 * What `rrdtool xport --start from --end to --step step --maxrows maxRows DEF:v0=... XPORT:v0 ...` answers, or
 * undefined when some file is not one this reader understands (then ask xport, which also names any error).
 */
export function readDirect(specs: ReadSpec[], cf: CF, from: number, to: number, step: number, maxRows: number): DirectRead | undefined {
  const imStart = Math.floor(from);
  const imEnd = Math.ceil(to);
  if (specs.length === 0 || imStart < 3600 * 24 * 365 * 10 || imEnd < imStart) return undefined;
  const xsize = Math.max(10, maxRows);
  const imStep = Math.max(Math.max(1, Math.round(step)), Math.floor((imEnd - imStart) / xsize));
  const fetched: Fetched[] = [];
  try {
    const reads = readFiles(
      specs.map((s) => s.file),
      (h) => chooseRra(h, cf, imStart, imEnd, imStep),
    );
    reads.forEach(({ h, rra, values }, i) => {
      const ds = h.dsNames.indexOf(specs[i].ds);
      if (ds < 0) throw new NotReadable(`no data source ${specs[i].ds}`);
      const f = fetchRows(h, rra, ds, values, imStart, imEnd);
      fetched.push(f.step < imStep ? reduce(cf, f, imStep) : f);
    });
  } catch (e) {
    // Unreadable here, missing, or not an RRD: xport answers (or names the error) the same way as before.
    if (e instanceof NotReadable || (e as NodeJS.ErrnoException).code !== undefined) return undefined;
    throw e;
  }
  // rrd_xport_fn: the common step is the greatest common divisor; coarser series repeat their rows.
  const common = fetched.reduce((g, f) => gcd(g, f.step), 0);
  const start = imStart - (imStart % common);
  let end = imEnd - (imEnd % common);
  if (imEnd > end) end += common;
  const rows = (end - start) / common;
  const columns = fetched.map((f) => {
    const col = new Float64Array(rows);
    const at = (start - f.start) / common;
    if (f.step === common && Number.isInteger(at) && at + rows <= f.data.length) {
      col.set(f.data.subarray(at, at + rows)); // the usual case: the rows as fetched
    } else for (let r = 0; r < rows; r++) col[r] = f.data[Math.floor((start + r * common - f.start) / f.step)] ?? NaN;
    // xport prints infinities as null, like NaN.
    for (let r = 0; r < rows; r++) if (col[r] === Infinity || col[r] === -Infinity) col[r] = NaN;
    return col;
  });
  return { start: start + common, step: common, columns };
}
