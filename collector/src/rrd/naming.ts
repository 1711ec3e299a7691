// Series → file name inside the archive root. Readable where safe, escaped elsewhere, hashed when long;
// the result never leaves the root and never carries a character the rrdtool/rrdcached protocols treat specially.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Labels } from '../model/series.js';

const SAFE = /[A-Za-z0-9_.-]/;
const MAX_COMPONENT = 200;

/** Percent-encodes every byte outside [A-Za-z0-9_.-]; a leading '.' is encoded too, so `.` and `..` cannot appear. */
export function encodeComponent(s: string): string {
  let out = '';
  for (const ch of s) {
    if (SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.startsWith('.')) out = '%2E' + out.slice(1);
  return out;
}

function hashed(s: string): string {
  return 'h-' + createHash('sha256').update(s).digest('hex').slice(0, 40);
}

/** Relative path of a native series' RRD file: `<name>/<k=v,k2=v2>.rrd`. */
export function seriesFile(name: string, labels: Labels): string {
  let dir = encodeComponent(name);
  if (dir.length > MAX_COMPONENT) dir = hashed(name);
  const keys = Object.keys(labels).sort();
  let base = keys.length ? keys.map((k) => `${encodeComponent(k)}=${encodeComponent(labels[k])}`).join(',') : 'series';
  if (base.length > MAX_COMPONENT) base = hashed(JSON.stringify(keys.map((k) => [k, labels[k]])));
  return `${dir}/${base}.rrd`;
}

/** Joins a relative file to the root and proves it stays inside. */
export function resolveInside(root: string, rel: string): string {
  const abs = path.resolve(root, rel);
  const r = path.relative(root, abs);
  if (r === '' || r.startsWith('..') || path.isAbsolute(r)) throw new Error(`refusing path outside the archive root: ${JSON.stringify(rel)}`);
  return abs;
}

// Characters that may appear in a path given to `rrdtool -` or rrdcached: no whitespace, quotes, colons or controls.
const PROTOCOL_SAFE = /^[A-Za-z0-9_.,=%+@/-]+$/;
export function isProtocolSafePath(p: string): boolean {
  return PROTOCOL_SAFE.test(p);
}
