// The write-ahead log: every accepted batch is appended here (and synced, per policy) before it is
// acknowledged, replayed at start, and trimmed once a checkpoint has seen its values into the RRD files.
// Append-only segment files of records [u32 length][u32 crc32][JSON payload]; a torn or corrupt tail
// (a crash mid-write) is cut off at the last good record. Group commit: appends that arrive while a
// write is in flight go out together in the next write and share its fdatasync.
import { Buffer } from 'node:buffer';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { Sample } from '../model/series.js';
import { frame, records } from './records.js';
import { decodeSamples, encodeSamples, SampleBatch } from './sample-codec.js';

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

/** How a record's payload is written; the default holds sample batches, the event stage keeps event batches. */
export interface WalCodec<T> {
  encode(rec: T): Buffer;
  decode(payload: Buffer): T;
}

export type { SampleBatch } from './sample-codec.js';

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

const SUFFIX = '.wal';

const sampleCodec: WalCodec<SampleBatch> = { encode: encodeSamples, decode: decodeSamples };

export class WriteAheadLog<T = SampleBatch> {
  private fh?: FileHandle;
  /** First sequence number of the open segment (its file name). */
  private segmentFirst = 0;
  private segmentSize = 0;
  private nextSeq = 1;
  private queued: Buffer[] = [];
  private queuedWaiters: Waiter[] = [];
  private writing?: Promise<void>;
  private switching?: Promise<void>;
  private syncTimer?: NodeJS.Timeout;
  private unsynced = false;
  private closed = false;
  /** Bytes in every segment on disk, for /metrics. */
  private bytesOnDisk = 0;

  private readonly codec: WalCodec<T>;

  constructor(
    private readonly opts: WalOptions,
    codec?: WalCodec<T>,
  ) {
    this.codec = codec ?? (sampleCodec as unknown as WalCodec<T>);
  }

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
  *replay(): Generator<{ seq: number } & T> {
    for (const seg of this.segments()) {
      const data = readFileSync(seg.file);
      let off = 0;
      let seq = seg.first;
      for (const r of records(data)) {
        let rec: T;
        try {
          rec = this.codec.decode(r.payload);
        } catch {
          break;
        }
        off = r.end;
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

  /**
   * Opens the next segment, then swaps it in and closes the old one: the handle in use is never a closed one. Its
   * name is the seq of the first record not yet written (appends queued meanwhile get later seqs).
   */
  private async startSegment(): Promise<void> {
    const first = this.nextSeq - this.queued.length;
    // With fsync interval, what the closing segment holds is synced now (the timer syncs only the open one).
    if (this.fh && this.opts.fsync === 'interval') await this.fh.datasync();
    const fh = await open(path.join(this.opts.dir, String(first).padStart(20, '0') + SUFFIX), 'a');
    const old = this.fh;
    this.fh = fh;
    this.segmentFirst = first;
    this.segmentSize = 0;
    await old?.close();
  }

  /** Appends one batch; resolves once it is written (and synced, with fsync: always). Rejects when the disk refuses it. */
  append(source: string, samples: Sample[]): Promise<number> {
    return this.appendRecord({ source, samples } as unknown as T);
  }

  /** Appends one record of this log's codec; resolves with its sequence number once written (and synced, per policy). */
  appendRecord(rec: T): Promise<number> {
    if (this.closed || !this.fh) return Promise.reject(new Error('write-ahead log is closed'));
    const seq = this.nextSeq++;
    this.queued.push(frame(this.codec.encode(rec)));
    return new Promise<number>((resolve, reject) => {
      this.queuedWaiters.push({ resolve: () => resolve(seq), reject });
      if (!this.writing) this.writing = this.writeLoop();
    });
  }

  private async writeLoop(): Promise<void> {
    // A seal switching segments goes first: a record written into the old segment meanwhile would be trimmed with it.
    while (this.switching) await this.switching.catch(() => {}); // a failed switch is the seal's to report
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
    const fh = this.fh;
    if (!this.unsynced || !fh) return;
    this.unsynced = false;
    // A segment sealed meanwhile was synced by startSegment(): its closed handle is no failure.
    await fh.datasync().catch((e: Error) => fh === this.fh && this.opts.log(`write-ahead log fdatasync failed: ${e.message}`));
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
    while (this.writing || this.switching) await (this.writing ?? this.switching!.catch(() => {}));
    const upTo = this.lastSeq;
    if (this.segmentSize > 0) {
      // Appends arriving now queue; their write loop waits for the switch (before, it wrote to the handle being closed).
      this.switching = this.startSegment().finally(() => (this.switching = undefined));
      await this.switching;
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
    while (this.writing || this.switching) await (this.writing ?? this.switching!.catch(() => {}));
    this.closed = true;
    clearInterval(this.syncTimer);
    await this.syncNow();
    await this.fh?.close();
    this.fh = undefined;
  }
}
