// The forward buffer: what this collector accepted and has yet to hand to the next collector, on disk so a
// restart or an outage of either side loses nothing. Segment files of crc'd records (the write-ahead log's
// framing), each record one batch with its sequence number; a cursor file holds the last sequence the
// receiver acknowledged. Bounded by maxBytes (whole segment files on disk): an append past it is refused.
import { Buffer } from 'node:buffer';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { FileHandle, open, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { frame, HEADER, records } from '../wal/records.js';

export interface ForwardBufferOptions {
  dir: string;
  maxBytes: number;
  /** A segment is closed and a new one begun past this size. */
  segmentBytes: number;
  log: (msg: string) => void;
}

/** The buffer has no room for this batch; nothing was written. */
export class BufferFull extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
    need: number,
  ) {
    super(`the forward buffer is full (${bytes} of ${maxBytes} bytes used, ${need} more needed): the receiver has not taken it`);
    this.name = 'BufferFull';
  }
}

interface Entry {
  seq: number;
  file: string;
  offset: number;
  length: number;
}

const SUFFIX = '.fwd';
const CURSOR = 'cursor';

export class ForwardBuffer {
  private fh?: FileHandle;
  private segmentFile = '';
  private segmentSize = 0;
  /** Unacknowledged records, oldest first. */
  private entries: Entry[] = [];
  private nextSeq = 1;
  private acked = 0;
  private bytesOnDisk = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private waiters: (() => void)[] = [];
  private closed = false;
  /** Set by a refused append, cleared by the next acknowledgement: a full buffer stays full for small batches too, so one state is reported. */
  private full = false;

  constructor(private readonly opts: ForwardBufferOptions) {}

  private segments(): { first: number; file: string }[] {
    return readdirSync(this.opts.dir)
      .filter((f) => /^\d{20}\.fwd$/.test(f))
      .map((f) => ({ first: Number(f.slice(0, 20)), file: path.join(this.opts.dir, f) }))
      .sort((a, b) => a.first - b.first);
  }

  /** Reads what an earlier run left (cutting a torn tail), drops what was acknowledged, opens a fresh segment. */
  async open(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    try {
      this.acked = Number(readFileSync(path.join(this.opts.dir, CURSOR), 'utf8').trim()) || 0;
    } catch {
      this.acked = 0;
    }
    let last = 0;
    for (const seg of this.segments()) {
      const data = readFileSync(seg.file);
      let good = 0;
      for (const r of records(data)) {
        const seq = seqOf(r.payload);
        if (seq === undefined) break;
        good = r.end;
        last = Math.max(last, seq);
        if (seq > this.acked) this.entries.push({ seq, file: seg.file, offset: r.offset + HEADER, length: r.end - r.offset - HEADER });
      }
      if (good < data.length) {
        this.opts.log(`forward buffer ${path.basename(seg.file)}: ${data.length - good} byte(s) after the last good record cut off (torn or corrupt write)`);
        truncateSync(seg.file, good);
      }
    }
    // Never reuse a sequence the receiver may have seen: it would answer "already have it" and the batch would be lost.
    this.nextSeq = Math.max(last, this.acked) + 1;
    await this.startSegment();
    this.dropAcked();
    this.bytesOnDisk = this.segments().reduce((n, s) => n + statSync(s.file).size, 0);
  }

  private async startSegment(): Promise<void> {
    await this.fh?.close();
    this.segmentFile = path.join(this.opts.dir, String(this.nextSeq).padStart(20, '0') + SUFFIX);
    this.segmentSize = 0;
    this.fh = await open(this.segmentFile, 'a');
  }

  /** Deletes segments that hold no unacknowledged record (never the open one). */
  private dropAcked(): void {
    const live = new Set(this.entries.map((e) => e.file));
    for (const seg of this.segments()) {
      if (seg.file === this.segmentFile || live.has(seg.file)) continue;
      const size = statSync(seg.file).size;
      rmSync(seg.file, { force: true });
      this.bytesOnDisk -= size;
    }
  }

  /**
   * Appends one batch (`build` gets its sequence number and returns the JSON payload); with `sync`, resolves only
   * once it is on disk (fdatasync). Rejects with BufferFull, writing nothing, when it would pass maxBytes.
   */
  append(build: (seq: number) => Buffer, sync: boolean): Promise<number> {
    const run = this.tail.then(async () => {
      if (this.closed || !this.fh) throw new Error('the forward buffer is closed');
      const seq = this.nextSeq;
      const rec = frame(build(seq));
      if (this.full || this.bytesOnDisk + rec.length > this.opts.maxBytes) {
        this.full = true;
        throw new BufferFull(this.bytesOnDisk, this.opts.maxBytes, rec.length);
      }
      let off = 0;
      try {
        while (off < rec.length) off += (await this.fh.write(rec, off, rec.length - off, this.segmentSize + off)).bytesWritten;
        if (sync) await this.fh.datasync();
      } catch (e) {
        // A partial write leaves a torn record: cut it so later records stay readable.
        await this.fh.truncate(this.segmentSize).catch(() => {});
        throw new Error(`the forward buffer cannot be written: ${(e as Error).message}`);
      }
      this.nextSeq++;
      this.entries.push({ seq, file: this.segmentFile, offset: this.segmentSize + HEADER, length: rec.length - HEADER });
      this.segmentSize += rec.length;
      this.bytesOnDisk += rec.length;
      if (this.segmentSize >= this.opts.segmentBytes) await this.startSegment();
      for (const w of [...this.waiters]) w();
      return seq;
    });
    this.tail = run.catch(() => {});
    return run;
  }

  /** Makes every append so far durable. */
  async sync(): Promise<void> {
    await this.tail;
    await this.fh?.datasync();
  }

  /** The oldest unacknowledged batches, up to `maxBytes` of payload (at least one), at most `maxRecords`. */
  async read(maxBytes: number, maxRecords = Infinity): Promise<{ seq: number; payload: Buffer }[]> {
    const picked: Entry[] = [];
    let bytes = 0;
    for (const e of this.entries) {
      if (picked.length >= maxRecords || (picked.length && bytes + e.length > maxBytes)) break;
      picked.push(e);
      bytes += e.length;
    }
    const out: { seq: number; payload: Buffer }[] = [];
    let fh: FileHandle | undefined;
    let file = '';
    try {
      for (const e of picked) {
        if (e.file !== file) {
          await fh?.close();
          fh = await open(e.file, 'r');
          file = e.file;
        }
        const buf = Buffer.allocUnsafe(e.length);
        let off = 0;
        while (off < e.length) {
          const { bytesRead } = await fh!.read(buf, off, e.length - off, e.offset + off);
          if (bytesRead === 0) throw new Error(`forward buffer ${path.basename(e.file)} ends early`);
          off += bytesRead;
        }
        out.push({ seq: e.seq, payload: buf });
      }
    } finally {
      await fh?.close();
    }
    return out;
  }

  /** Records the receiver's acknowledgement up to `seq` (the cursor file, replaced atomically) and frees the space. */
  async ack(seq: number): Promise<void> {
    if (seq <= this.acked) return;
    const tmp = path.join(this.opts.dir, CURSOR + '.tmp');
    await writeFile(tmp, String(seq) + '\n', { flush: true });
    await rename(tmp, path.join(this.opts.dir, CURSOR));
    this.acked = seq;
    this.full = false;
    this.entries = this.entries.filter((e) => e.seq > seq);
    // In line with appends, so none writes to a segment being closed.
    const run = this.tail.then(async () => {
      // The open segment fully acknowledged: start another so that it can go too.
      if (this.entries.length === 0 && this.segmentSize > 0 && !this.closed) await this.startSegment();
      this.dropAcked();
    });
    this.tail = run.catch(() => {});
    await run;
  }

  /** Resolves once there is something to send (or after `ms`). */
  waitForData(ms: number): Promise<void> {
    if (this.entries.length) return Promise.resolve();
    return new Promise((r) => {
      const done = () => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== done);
        r();
      };
      const t = setTimeout(done, ms);
      this.waiters.push(done);
    });
  }

  get pending(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.bytesOnDisk;
  }

  get lastAcked(): number {
    return this.acked;
  }

  async close(): Promise<void> {
    await this.tail;
    this.closed = true;
    await this.fh?.datasync().catch(() => {});
    await this.fh?.close();
    this.fh = undefined;
    for (const w of [...this.waiters]) w();
  }
}

/** The sequence number a payload carries (`{"q": n, ...}`), or undefined when it is not one of ours. */
function seqOf(payload: Buffer): number | undefined {
  try {
    const q = (JSON.parse(payload.toString('utf8')) as { q?: unknown }).q;
    return typeof q === 'number' && Number.isInteger(q) && q > 0 ? q : undefined;
  } catch {
    return undefined;
  }
}
