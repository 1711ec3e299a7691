// The record framing shared by the write-ahead log and the forward buffer: [u32 length][u32 crc32][payload].
// A reader stops at the first record that is torn (cut short by a crash) or fails its checksum.
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';

export const HEADER = 8;
export const MAX_RECORD = 256 * 1024 * 1024;

export function frame(payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

/** The good records of a segment's bytes, in order; `end` is the offset just after each. */
export function* records(data: Buffer): Generator<{ payload: Buffer; offset: number; end: number }> {
  let off = 0;
  while (off + HEADER <= data.length) {
    const len = data.readUInt32LE(off);
    const crc = data.readUInt32LE(off + 4);
    if (len > MAX_RECORD || off + HEADER + len > data.length) return;
    const payload = data.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== crc) return;
    yield { payload, offset: off, end: off + HEADER + len };
    off += HEADER + len;
  }
}
