// Series → file name inside the archive root. Readable where safe, escaped elsewhere, hashed when long;
// the result never leaves the root and never carries a character the rrdtool/rrdcached protocols treat specially.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Labels } from '../model/series.js';

const SAFE = /[A-Za-z0-9_.-]/;
const MAX_COMPONENT = 200;

/**
 * Percent-encodes every byte outside [A-Za-z0-9_.-], a leading '.', and every '.' next to another '.':
 * `.` and `..` cannot appear as a component, and rrdcached (with -B) refuses any path containing "../".
 */
export function encodeComponent(s: string): string {
  let out = '';
  const chars = [...s];
  chars.forEach((ch, i) => {
    if (ch === '.' && (i === 0 || chars[i - 1] === '.' || chars[i + 1] === '.')) out += '%2E';
    else if (SAFE.test(ch)) out += ch;
    // A lone surrogate has no UTF-8 form (Buffer gives U+FFFD for all of them): spelled out, so each stays distinct.
    else if (ch.length === 1 && ch >= '\ud800' && ch <= '\udfff') out += `%u${ch.charCodeAt(0).toString(16).toUpperCase()}`;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  });
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
