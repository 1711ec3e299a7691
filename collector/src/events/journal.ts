// The event journal: accepted batches go into a write-ahead log of their own (collector/src/wal, directory
// events-journal/) before the 202, and are replayed at start until every processor has taken them. Batches
// finish out of order (a handler may be slow), so the log is trimmed below the oldest unfinished batch, and a
// small `done` file records that point so a restart does not offer finished batches again.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FsyncPolicy } from '../wal/wal.js';
import { WalCodec, WriteAheadLog } from '../wal/wal.js';
import type { EventInput } from './model.js';
import type { BatchTracker } from './processor.js';

export interface EventBatch {
  /** Random, made when the batch was accepted: the same batch replayed after a crash keeps it (the store skips it). */
  id?: string;
  events: EventInput[];
}

const codec: WalCodec<EventBatch> = {
  encode: (b) => Buffer.from(JSON.stringify({ i: b.id, e: b.events }), 'utf8'),
  decode: (p) => {
    const doc = JSON.parse(p.toString('utf8')) as EventInput[] | { i?: string; e: EventInput[] };
    // A bare array: a journal written before batches had ids.
    return Array.isArray(doc) ? { events: doc } : { id: doc.i, events: doc.e };
  },
};

export interface JournalOptions {
  dir: string;
  fsync: FsyncPolicy;
  fsyncInterval: number;
  segmentBytes: number;
  log: (msg: string) => void;
}

export class EventJournal implements BatchTracker {
  private readonly wal: WriteAheadLog<EventBatch>;
  private readonly doneFile: string;
  /** Every batch at or below this is taken by every processor. */
  private doneUpTo = 0;
  /** Finished batches above doneUpTo (out of order). */
  private readonly finished = new Set<number>();
  private savedUpTo = 0;
  private trimming?: Promise<void>;

  constructor(private readonly opts: JournalOptions) {
    this.wal = new WriteAheadLog<EventBatch>({ ...opts }, codec);
    this.doneFile = path.join(opts.dir, 'done');
  }

  /** Batches left unfinished by an earlier run, oldest first; then opens the log for appends. */
  async open(): Promise<{ seq: number; id?: string; events: EventInput[] }[]> {
    let done = 0;
    try {
      done = Number(readFileSync(this.doneFile, 'utf8').trim()) || 0;
    } catch {
      // No file: nothing was finished, or the journal is new.
    }
    const out: { seq: number; id?: string; events: EventInput[] }[] = [];
    for (const r of this.wal.replay()) if (r.seq > done) out.push({ seq: r.seq, id: r.id, events: r.events });
    await this.wal.open();
    // Replayed batches keep their numbers; everything at or below the first of them is done.
    this.doneUpTo = this.savedUpTo = out.length ? out[0].seq - 1 : this.wal.lastSeq;
    const left = new Set(out.map((b) => b.seq));
    for (let s = this.doneUpTo + 1; s <= this.wal.lastSeq; s++) if (!left.has(s)) this.finished.add(s);
    return out;
  }

  /** Resolves with the batch's number once it is written (and synced per policy). */
  append(events: EventInput[], id: string): Promise<number> {
    return this.wal.appendRecord({ id, events });
  }

  done(seq: number): void {
    if (seq <= this.doneUpTo) return;
    this.finished.add(seq);
    while (this.finished.delete(this.doneUpTo + 1)) this.doneUpTo++;
  }

  /** Records the done point and deletes segments wholly below it (the caller runs this every few seconds). */
  trim(): Promise<void> {
    if (this.trimming) return this.trimming;
    this.trimming = (async () => {
      if (this.doneUpTo === this.savedUpTo) return;
      const upTo = this.doneUpTo;
      // Written then renamed, so a crash leaves the old point or the new one, never half a number.
      writeFileSync(this.doneFile + '.tmp', String(upTo));
      renameSync(this.doneFile + '.tmp', this.doneFile);
      this.savedUpTo = upTo;
      if (upTo === this.wal.lastSeq) await this.wal.seal();
      this.wal.trim(upTo);
    })()
      .catch((e: Error) => this.opts.log(`event journal: trimming failed: ${e.message}`))
      .finally(() => (this.trimming = undefined));
    return this.trimming;
  }

  get bytes(): number {
    return this.wal.bytes;
  }

  get unfinished(): number {
    return this.wal.lastSeq - this.doneUpTo;
  }

  async close(): Promise<void> {
    await this.trim();
    await this.wal.close();
  }
}
