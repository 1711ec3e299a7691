// The range query's answer as columns of float64, for clients that ask for it by `Accept` (the Grafana
// plugin): the same data as the JSON answer, without writing and parsing ~30 characters per point.
//
// Layout, little-endian:
//   8 bytes   magic "RXQUERY1"
//   uint32    length H of the header
//   H bytes   UTF-8 JSON: {"from","to","step","cf","series":[{"name","labels","downtime"?,"rows",
//             "start"?,"interval"?}]}; a series with "start"/"interval" has the times start + i*interval,
//             one without them sends its times as a column before its values
//   padding   zeros up to a multiple of 8 bytes from the start
//   columns   per series, in order: [times: rows float64] values: rows float64, NaN where the JSON has null
import { endianness } from 'node:os';
import type { QueryResult } from '../query/engine.js';

export const QUERY_BINARY_TYPE = 'application/vnd.rexmon.query+binary';
const MAGIC = 'RXQUERY1';

type BinarySeries = { name: string; labels: Record<string, string>; downtime?: unknown; rows: number; start?: number; interval?: number };

/** The first `rows` times of a series as start + i*interval, when they are exactly that (RRD rows always are). */
function regular(ts: number[], rows: number): { start: number; interval: number } | undefined {
  if (rows < 2) return rows === 1 ? { start: ts[0], interval: 0 } : { start: 0, interval: 0 };
  const start = ts[0];
  const interval = ts[1] - ts[0];
  for (let i = 2; i < rows; i++) if (ts[i] !== start + i * interval) return undefined;
  return { start, interval };
}

export function encodeQueryBinary(result: QueryResult): Buffer {
  const heads: BinarySeries[] = [];
  const regulars: boolean[] = [];
  let floats = 0;
  for (const s of result.series) {
    const rows = Math.min(s.timestamps.length, s.values.length);
    const r = regular(s.timestamps, rows);
    const downtime = (s as { downtime?: unknown }).downtime;
    heads.push({ name: s.name, labels: s.labels, ...(downtime ? { downtime } : {}), rows, ...(r ?? {}) });
    regulars.push(r !== undefined);
    floats += r ? rows : 2 * rows;
  }
  const header = Buffer.from(JSON.stringify({ from: result.from, to: result.to, step: result.step, cf: result.cf, series: heads }), 'utf8');
  const columnsAt = Math.ceil((MAGIC.length + 4 + header.length) / 8) * 8;
  const out = Buffer.alloc(columnsAt + floats * 8);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, MAGIC.length);
  header.copy(out, MAGIC.length + 4);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = columnsAt;
  const native = endianness() === 'LE';
  result.series.forEach((s, k) => {
    const rows = heads[k].rows;
    if (!regulars[k]) for (let i = 0; i < rows; i++, at += 8) view.setFloat64(at, s.timestamps[i], true);
    // The values are float64 already: one copy where the machine is little-endian (columnsAt keeps them aligned).
    if (native) new Float64Array(out.buffer, out.byteOffset + at, rows).set(s.values.subarray(0, rows));
    else for (let i = 0; i < rows; i++) view.setFloat64(at + 8 * i, s.values[i], true);
    for (let i = 0; i < rows; i++) if (!Number.isFinite(s.values[i])) view.setFloat64(at + 8 * i, NaN, true);
    at += 8 * rows;
  });
  return out;
}

/** The JSON answer, `{"data": result}`, with null where a value is unknown. */
export function encodeQueryJson(result: QueryResult): string {
  // A plain array of doubles takes JSON.stringify's fast path, and it writes NaN as null. (A loop of push:
  // Array.from goes through the iterator, and new Array(n) makes a holey array, slower to write.)
  const plain = (v: Float64Array) => {
    const a: number[] = [];
    for (let i = 0; i < v.length; i++) a.push(v[i]);
    return a;
  };
  return JSON.stringify({ data: { ...result, series: result.series.map((s) => ({ ...s, values: plain(s.values) })) } });
}
