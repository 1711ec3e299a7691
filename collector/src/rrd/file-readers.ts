// Worker threads that read series straight from RRD files (file-reader.ts), taken in turn.
import { Worker } from 'node:worker_threads';
import type { DirectRead } from './file-reader.js';
import type { CF, ReadSpec } from './read-types.js';

export interface ReadRequest {
  id: number;
  specs: ReadSpec[];
  cf: CF;
  from: number;
  to: number;
  step: number;
  maxRows: number;
}

export type ReadReply = { id: number; result?: DirectRead; error?: string };

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (r: DirectRead | undefined) => void; reject: (e: Error) => void }>;
}

export class FileReaders {
  private readonly threads: (Thread | undefined)[];
  private next = 0;
  private ids = 0;
  private closed = false;

  constructor(count: number) {
    this.threads = new Array(count).fill(undefined);
  }

  /** What readDirect answers (undefined: ask xport), read on the next worker thread. */
  read(specs: ReadSpec[], cf: CF, from: number, to: number, step: number, maxRows: number): Promise<DirectRead | undefined> {
    if (this.closed) return Promise.reject(new Error('file readers closed'));
    const i = this.next;
    this.next = (this.next + 1) % this.threads.length;
    const t = (this.threads[i] ??= this.start(i));
    const id = ++this.ids;
    return new Promise((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.ref(); // busy: keep the process for the answer
      t.worker.postMessage({ id, specs, cf, from, to, step, maxRows } satisfies ReadRequest);
    });
  }

  private start(i: number): Thread {
    const worker = new Worker(new URL('./file-reader-worker.js', import.meta.url));
    const t: Thread = { worker, pending: new Map() };
    worker.unref(); // idle threads do not keep the collector alive
    worker.on('message', (m: ReadReply) => {
      const p = t.pending.get(m.id);
      if (!p) return;
      t.pending.delete(m.id);
      if (t.pending.size === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(`reading RRD files: ${m.error}`));
      else p.resolve(m.result);
    });
    // A thread that dies takes its reads with it (they fail, and are asked again by the next query); the next
    // read starts a new one.
    const fail = (reason: string) => {
      if (this.threads[i] === t) this.threads[i] = undefined;
      for (const p of t.pending.values()) p.reject(new Error(`file reader thread ${reason}`));
      t.pending.clear();
    };
    worker.on('error', (e) => fail(`failed: ${e.message}`));
    worker.on('exit', (code) => fail(`exited (${code})`));
    return t;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t?.worker.terminate()));
  }
}
