// The write-ahead log: every accepted batch is appended here (and synced, per policy) before it is
// acknowledged, replayed at start, and trimmed once a checkpoint has seen its values into the RRD files.
// Append-only segment files of records [u32 length][u32 crc32][JSON payload]; a torn or corrupt tail
// (a crash mid-write) is cut off at the last good record. Group commit: appends that arrive while a
// write is in flight go out together in the next write and share its fdatasync.
import { Buffer } from 'node:buffer';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Labels, Sample } from '../model/series.js';

export type FsyncPolicy = 'always' | 'interval' | 'off';

export interface WalOptions {
  dir: string;
  /** always: fdatasync before every acknowledgement; interval: every fsyncInterval seconds; off: leave it to the OS. */
  fsync: FsyncPolicy;
  fsyncInterval: number;
  /** A segment is closed and a new one begun past this size. */
  segmentBytes: number;
  log: (msg: string) => void;
}

export interface WalRecord {
  seq: number;
  source: string;
  samples: Sample[];
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

const HEADER = 8;
const SUFFIX = '.wal';
const MAX_RECORD = 256 * 1024 * 1024;

/** Samples as compact arrays; NaN (unknown) goes through JSON as null. */
function encode(source: string, samples: Sample[]): Buffer {
  const payload = Buffer.from(
    JSON.stringify({ s: source, x: samples.map((s) => (s.counter ? [s.name, s.labels, s.value, s.time, 1] : [s.name, s.labels, s.value, s.time])) }),
    'utf8',
  );
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

function decode(payload: Buffer): { source: string; samples: Sample[] } {
  const doc = JSON.parse(payload.toString('utf8')) as { s: string; x: [string, Labels, number | null, number, 1?][] };
  return {
    source: doc.s,
    samples: doc.x.map(([name, labels, value, time, counter]) =>
      counter ? { name, labels, value: value ?? NaN, time, counter: true } : { name, labels, value: value ?? NaN, time },
    ),
  };
}

export class WriteAheadLog {
  private fh?: FileHandle;
  /** First sequence number of the open segment (its file name). */
  private segmentFirst = 0;
  private segmentSize = 0;
  private nextSeq = 1;
  private queued: Buffer[] = [];
  private queuedWaiters: Waiter[] = [];
  private writing?: Promise<void>;
  private syncTimer?: NodeJS.Timeout;
  private unsynced = false;
  private closed = false;
  /** Bytes in every segment on disk, for /metrics. */
  private bytesOnDisk = 0;

  constructor(private readonly opts: WalOptions) {}

  private segments(): { first: number; file: string }[] {
    mkdirSync(this.opts.dir, { recursive: true });
    return readdirSync(this.opts.dir)
      .filter((f) => /^\d{20}\.wal$/.test(f))
      .map((f) => ({ first: Number(f.slice(0, 20)), file: path.join(this.opts.dir, f) }))
      .sort((a, b) => a.first - b.first);
  }

  /**
   * Reads every record left by an earlier run, oldest first. A torn tail is cut off so that appends
   * continue after the last good record. Call once, before open().
   */
  *replay(): Generator<WalRecord> {
    for (const seg of this.segments()) {
      const data = readFileSync(seg.file);
      let off = 0;
      let seq = seg.first;
      while (off + HEADER <= data.length) {
        const len = data.readUInt32LE(off);
        const crc = data.readUInt32LE(off + 4);
        if (len > MAX_RECORD || off + HEADER + len > data.length) break;
        const payload = data.subarray(off + HEADER, off + HEADER + len);
        if (crc32(payload) !== crc) break;
        let rec: { source: string; samples: Sample[] };
        try {
          rec = decode(payload);
        } catch {
          break;
        }
        off += HEADER + len;
        this.nextSeq = Math.max(this.nextSeq, seq + 1);
        yield { seq: seq++, ...rec };
      }
      if (off < data.length) {
        this.opts.log(`write-ahead log ${path.basename(seg.file)}: ${data.length - off} byte(s) after the last good record cut off (torn or corrupt write)`);
        truncateSync(seg.file, off);
      }
      this.nextSeq = Math.max(this.nextSeq, seq);
    }
  }

  /** Opens a fresh segment for appends (after replay). */
  async open(): Promise<void> {
    this.bytesOnDisk = this.segments().reduce((n, s) => n + statSync(s.file).size, 0);
    await this.startSegment();
    if (this.opts.fsync === 'interval') {
      this.syncTimer = setInterval(() => void this.syncNow(), this.opts.fsyncInterval * 1000);
      this.syncTimer.unref();
    }
  }

  private async startSegment(): Promise<void> {
    // Appends still queued (issued while the last write ran) go into the new segment: it starts at the first.
    const first = this.nextSeq - this.queued.length;
    await this.fh?.close();
    this.segmentFirst = first;
    this.segmentSize = 0;
    this.fh = await open(path.join(this.opts.dir, String(this.segmentFirst).padStart(20, '0') + SUFFIX), 'a');
  }

  /** Appends one batch; resolves once it is written (and synced, with fsync: always). Rejects when the disk refuses it. */
  append(source: string, samples: Sample[]): Promise<number> {
    if (this.closed || !this.fh) return Promise.reject(new Error('write-ahead log is closed'));
    const seq = this.nextSeq++;
    this.queued.push(encode(source, samples));
    return new Promise<number>((resolve, reject) => {
      this.queuedWaiters.push({ resolve: () => resolve(seq), reject });
      if (!this.writing) this.writing = this.writeLoop();
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.queued.length) {
      const bufs = this.queued;
      const waiters = this.queuedWaiters;
      this.queued = [];
      this.queuedWaiters = [];
      const data = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
      try {
        await this.writeAll(data);
        if (this.opts.fsync === 'always') await this.fh!.datasync();
        else this.unsynced = true;
        for (const w of waiters) w.resolve();
      } catch (e) {
        // A partial write leaves a torn record: cut it so later records stay readable.
        await this.fh!.truncate(this.segmentSize).catch(() => {});
        const err = new Error(`write-ahead log: ${(e as Error).message}`);
        for (const w of waiters) w.reject(err);
      }
    }
    this.writing = undefined;
  }

  private async writeAll(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.fh!.write(data, off, data.length - off, this.segmentSize + off);
      off += bytesWritten;
    }
    this.segmentSize += data.length;
    this.bytesOnDisk += data.length;
    if (this.segmentSize >= this.opts.segmentBytes) await this.startSegment();
  }

  private async syncNow(): Promise<void> {
    if (!this.unsynced || !this.fh) return;
    this.unsynced = false;
    await this.fh.datasync().catch((e: Error) => this.opts.log(`write-ahead log fdatasync failed: ${e.message}`));
  }

  /** The sequence number of the last record appended (0 when none). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get bytes(): number {
    return this.bytesOnDisk;
  }

  /**
   * Seals the open segment once every append so far is written, and starts a new one.
   * Returns the last sequence number in the sealed segments: trim(it) may delete them once their values are stored.
   */
  async seal(): Promise<number> {
    while (this.writing) await this.writing;
    const upTo = this.lastSeq;
    if (this.segmentSize > 0) {
      // The change of segment holds the write loop: an append made meanwhile waits in the queue for the new
      // file instead of writing to the one being closed ("file closed", which refused input).
      const rotation = this.startSegment();
      this.writing = rotation.catch(() => {}).then(() => this.writeLoop());
      await rotation;
    }
    return upTo;
  }

  /** Deletes segments whose every record is at or before `upTo` (their values are in the RRD files). */
  trim(upTo: number): number {
    const segs = this.segments();
    let removed = 0;
    for (let i = 0; i < segs.length; i++) {
      const next = segs[i + 1]?.first ?? this.nextSeq;
      // A segment's records run from its first seq to the next segment's first seq - 1; never delete the open one.
      if (segs[i].first === this.segmentFirst || next - 1 > upTo) continue;
      const size = statSync(segs[i].file).size;
      rmSync(segs[i].file, { force: true });
      this.bytesOnDisk -= size;
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {
    while (this.writing) await this.writing;
    this.closed = true;
    clearInterval(this.syncTimer);
    await this.syncNow();
    await this.fh?.close();
    this.fh = undefined;
  }
}
