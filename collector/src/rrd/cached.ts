// Client for rrdcached's line protocol over a UNIX (or TCP) socket, with BATCH, pipelining and reconnect,
// and a supervisor that runs our own rrdcached when the config says `spawn`.
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RrdError, RrdReplyError } from './errors.js';
import { Fifo } from '../util/fifo.js';

/** A command waiting for its reply; `line` names it in errors. */
interface Pending {
  line: string;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

export interface Reply {
  status: number;
  message: string;
  lines: string[];
}

/** One `time:value` of an update line; NaN (unknown) is rrdtool's `U`. */
export function point(time: number, value: number): string {
  return Number.isNaN(value) ? ` ${time}:U` : ` ${time}:${value}`;
}

/** Acknowledged UPDATE lines kept for replay as numbers: ~12 bytes a value, where the line strings took ~80. */
interface PackedUpdates {
  at: number;
  /** Per line, the file as the caller knows it (a string it keeps anyway), turned into the name only at replay. */
  files: string[];
  name: (file: string) => string;
  /** Values per line (≤ 255). */
  counts: Uint8Array;
  times: Uint32Array;
  values: Float64Array;
}

/**
 * The UPDATE lines of one BATCH, kept as the numbers the client keeps for replay; their text is made when sent
 * (bytes(); commands() gives the lines, for tests) and not kept. Kept for the seconds a batch waits for rrdcached's
 * answer, the line strings (~160 bytes a value) outlived V8's young generation: they were the largest part of what
 * a write moved to the old generation (allocation profile of a cold ingest). The numbers go straight into typed
 * arrays, sized by the caller's count when it gives one: arrays grown by push were copied at each growth and, past
 * 16,384 values, made in V8's large-object space, which only a full collection frees.
 */
export class UpdateBatch {
  private readonly files: string[] = [];
  private linesAdded = 0;
  private valuesAdded = 0;
  private counts: Uint8Array;
  private times: Uint32Array;
  private values: Float64Array;

  /** `name(file)`: the file's name as rrdcached wants it; `expect`: the lines and values that will be added, if known. */
  constructor(
    private readonly name: (file: string) => string,
    expect: { lines: number; values: number } = { lines: 16, values: 64 },
  ) {
    this.counts = new Uint8Array(Math.max(1, expect.lines));
    this.times = new Uint32Array(Math.max(1, expect.values));
    this.values = new Float64Array(Math.max(1, expect.values));
  }

  /** One UPDATE line for `file` with points from..to-1 (at most 255). */
  add(file: string, times: ArrayLike<number>, values: ArrayLike<number>, from: number, to: number) {
    // The replay log counts a line's values in a byte.
    if (to - from > 255) throw new RrdError(`${to - from} values in one UPDATE line: at most 255`, `UPDATE ${this.name(file)}`);
    // Uint32 seconds: until 2106; a time outside would come back wrong from the replay log.
    for (let k = from; k < to; k++)
      if (!(times[k] >= 0 && times[k] <= 0xffffffff && Number.isInteger(times[k])))
        throw new RrdError(`update time ${times[k]} is not whole seconds`, `UPDATE ${this.name(file)}`);
    const n = to - from;
    if (this.valuesAdded + n > this.times.length) {
      const cap = Math.max(2 * this.times.length, this.valuesAdded + n);
      this.times = grown(this.times, new Uint32Array(cap));
      this.values = grown(this.values, new Float64Array(cap));
    }
    if (this.linesAdded === this.counts.length) this.counts = grown(this.counts, new Uint8Array(2 * this.counts.length));
    for (let k = from; k < to; k++) {
      this.times[this.valuesAdded] = times[k];
      this.values[this.valuesAdded++] = values[k];
    }
    this.files.push(file);
    this.counts[this.linesAdded++] = n;
  }

  get valueCount(): number {
    return this.valuesAdded;
  }

  /** The lines' text, made anew on each call. */
  commands(): string[] {
    const out = new Array<string>(this.linesAdded);
    let k = 0;
    for (let i = 0; i < this.linesAdded; i++) {
      out[i] = line(this.name(this.files[i]), this.times, this.values, k, k + this.counts[i]);
      k += this.counts[i];
    }
    return out;
  }

  /**
   * The whole BATCH (`BATCH`, the lines, `.`) as bytes, written straight from the numbers: the same text as
   * batchBytes(commands()) without a string per line and per point, which were a third of what a write allocated
   * (allocation profile of a cold ingest's write phase).
   */
  bytes(): Buffer {
    const names = new Array<string>(this.linesAdded);
    let size = BATCH_OPEN.length + BATCH_CLOSE.length;
    for (let i = 0, k = 0; i < this.linesAdded; k += this.counts[i++]) {
      const name = (names[i] = this.name(this.files[i]));
      if (UNSAFE.test(name))
        throw new RrdError('refusing a command containing a line break or NUL', line(name, this.times, this.values, k, k + this.counts[i]));
      size += UPDATE.length + Buffer.byteLength(name) + 1;
    }
    // A point is at most ` ` + 10 digits + `:` + a number's shortest text (≤ 24 characters).
    size += this.valuesAdded * 36;
    const out = Buffer.allocUnsafe(size);
    let o = out.write(BATCH_OPEN, 0, 'latin1');
    let k = 0;
    for (let i = 0; i < this.linesAdded; i++) {
      o += out.write(UPDATE, o, 'latin1');
      o += out.write(names[i], o);
      for (const end = k + this.counts[i]; k < end; k++) {
        out[o++] = 0x20;
        o = writeDigits(out, o, this.times[k]);
        out[o++] = 0x3a;
        const v = this.values[k];
        if (Number.isNaN(v))
          out[o++] = 0x55; // U
        else if (Number.isInteger(v) && v >= 0 && v < 1e15) o = writeDigits(out, o, v);
        else o += out.write(String(v), o, 'latin1');
      }
      out[o++] = 0x0a;
    }
    o += out.write(BATCH_CLOSE, o, 'latin1');
    return out.subarray(0, o);
  }

  /** For the replay log: exactly as long as what was added (a copy only when the arrays have room left). */
  pack(at: number): PackedUpdates {
    const fit = <T extends Uint8Array | Uint32Array | Float64Array>(a: T, n: number): T => (a.length === n ? a : (a.slice(0, n) as T));
    return {
      at,
      files: this.files,
      name: this.name,
      counts: fit(this.counts, this.linesAdded),
      times: fit(this.times, this.valuesAdded),
      values: fit(this.values, this.valuesAdded),
    };
  }
}

function grown<T extends Uint8Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** A non-negative integer below 2^53 in decimal, as String() writes it; returns the offset after it. */
function writeDigits(out: Buffer, o: number, n: number): number {
  if (n < 10) {
    out[o] = 0x30 + n;
    return o + 1;
  }
  let len = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) len++;
  for (let i = o + len - 1; i >= o; i--) {
    const q = Math.floor(n / 10);
    out[i] = 0x30 + (n - q * 10);
    n = q;
  }
  return o + len;
}

function line(name: string, times: ArrayLike<number>, values: ArrayLike<number>, from: number, to: number): string {
  let text = `UPDATE ${name}`;
  for (let k = from; k < to; k++) text += point(times[k], values[k]);
  return text;
}

const UNSAFE = /[\n\r\0]/;

/**
 * A BATCH command's whole text as bytes, each command checked. Bytes, not one string: the text of 20,000 values
 * (~1.4 MB) as a string is made in V8's large-object space and stays there until a full collection (large objects
 * were 7–12 MB at the end of a cold ingest, bench/cold-phases.mjs); a Buffer's bytes are outside the heap and go
 * with its handle, which dies young once the socket has written it.
 */
function batchBytes(commands: string[]): Buffer {
  let size = BATCH_OPEN.length + BATCH_CLOSE.length;
  for (const c of commands) {
    if (UNSAFE.test(c)) throw new RrdError('refusing a command containing a line break or NUL', c);
    size += Buffer.byteLength(c) + 1;
  }
  const out = Buffer.allocUnsafe(size);
  let o = out.write(BATCH_OPEN, 0, 'latin1');
  for (const c of commands) {
    o += out.write(c, o);
    out[o++] = 0x0a;
  }
  out.write(BATCH_CLOSE, o, 'latin1');
  return out;
}
const BATCH_OPEN = 'BATCH\n';
const UPDATE = 'UPDATE ';
const BATCH_CLOSE = '.\n';

/** A lost or refused connection: an idempotent command may be sent again once rrdcached is back. */
const reconnectable = (e: unknown) => e instanceof RrdError && /closed|cannot connect/.test(e.message);

export class RrdcachedClient {
  private sock?: net.Socket;
  private connecting?: Promise<net.Socket>;
  private inflight = new Fifo<Pending>();
  private buf = '';
  /** A cork is on the socket until the end of this turn of the event loop. */
  private corked = false;
  private current?: Reply;
  private closed = false;
  /** Serialises BATCH sections (see inBatchOrder). */
  private batchChain: Promise<unknown> = Promise.resolve();
  /**
   * UPDATE lines acknowledged but maybe not yet in the files, oldest first. rrdcached acknowledges a value once
   * it is in its journal's write buffer, so when it dies these can be gone: after a reconnect they are sent again.
   */
  private replayLog: PackedUpdates[] = [];
  private replayValues = 0;
  private connectionLost = false;
  private lossCount = 0;
  private readonly maxAttempts: number;
  /** Seconds after which rrdcached has written a value to its file by itself (its -w plus -z, and a margin). */
  private readonly replayWindow: number;

  constructor(
    readonly address: string,
    opts: { maxAttempts?: number; replayWindow?: number } = {},
  ) {
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.replayWindow = opts.replayWindow ?? 420;
  }

  private connect(): Promise<net.Socket> {
    if (this.sock) return Promise.resolve(this.sock);
    if (this.connecting) return this.connecting;
    const opts: net.NetConnectOpts = this.address.startsWith('unix:')
      ? { path: this.address.slice(5) }
      : { host: this.address.slice(0, this.address.lastIndexOf(':')), port: Number(this.address.slice(this.address.lastIndexOf(':') + 1)) };
    this.connecting = new Promise((resolve, reject) => {
      const s = net.createConnection(opts);
      s.setEncoding('utf8');
      s.once('connect', () => {
        this.connecting = undefined;
        this.sock = s;
        s.on('data', (d: string) => this.onData(d));
        s.on('close', () => this.onClose(s));
        resolve(s);
      });
      s.once('error', (e) => {
        if (this.sock !== s) {
          this.connecting = undefined;
          reject(new RrdError(`cannot connect to rrdcached at ${this.address}: ${e.message}`));
        }
      });
    });
    return this.connecting;
  }

  private onClose(s: net.Socket) {
    if (this.sock !== s) return;
    this.sock = undefined;
    if (!this.closed) {
      this.connectionLost = true;
      this.lossCount++;
    }
    this.buf = '';
    this.current = undefined;
    const retry = this.inflight.drain();
    if (retry.length === 0) return;
    // A BATCH cut in half cannot be resumed command by command; fail it and let the caller resend.
    const e = new RrdError(`connection to rrdcached at ${this.address} closed`);
    for (const p of retry) p.reject(e);
  }

  private onData(d: string) {
    this.buf += d;
    let start = 0;
    let nl: number;
    while ((nl = this.buf.indexOf('\n', start)) >= 0) {
      const line = this.buf.slice(start, nl);
      start = nl + 1;
      const head = this.inflight.peek();
      if (!head) continue;
      if (!this.current) {
        const sp = line.indexOf(' ');
        const status = Number(line.slice(0, sp));
        this.current = { status, message: line.slice(sp + 1), lines: [] };
        // For batch-end the count of following lines is the number of errors; status >0 means that many lines follow.
      } else {
        this.current.lines.push(line);
      }
      const want = this.current.status > 0 ? this.current.status : 0;
      if (this.current.lines.length >= want) {
        const r = this.current;
        this.current = undefined;
        this.inflight.shift();
        if (r.status < 0) head.reject(new RrdReplyError(r.message, head.line));
        else head.resolve(r);
      }
    }
    this.buf = this.buf.slice(start);
  }

  /** One command; resolves with the reply, rejects on a negative status. */
  async command(line: string): Promise<Reply> {
    if (/[\n\r\0]/.test(line)) throw new RrdError('refusing a command containing a line break or NUL', line);
    if (this.closed) throw new RrdError('rrdcached client closed');
    const s = await this.connect();
    return new Promise<Reply>((resolve, reject) => {
      this.inflight.push({ line, resolve, reject });
      // Commands written in one turn of the event loop go out in one write, not one write request each (a flush
      // of 10,000 files peaked at 189 MB RSS instead of 204 MB, one run each).
      if (!this.corked) {
        this.corked = true;
        s.cork();
        process.nextTick(() => {
          this.corked = false;
          s.uncork();
        });
      }
      s.write(line + '\n');
    });
  }

  /**
   * Sends the UPDATE lines in one BATCH. Resolves with the per-line errors (index of the line, in the order added).
   * Retries the whole batch on a lost connection (rrdcached refuses a value already written, which the caller handles).
   */
  batch(updates: UpdateBatch): Promise<{ errors: Map<number, string>; retried: boolean }> {
    return this.inBatchOrder(() =>
      this.withRetry(async (attempt) => {
        if (this.connectionLost) await this.replay();
        const errors = await this.batchOnce(() => updates.bytes());
        this.remember(updates);
        return { errors, retried: attempt > 1 };
      }),
    );
  }

  /** Sends the replay log again if rrdcached died since the last batch (before a FLUSH relies on its cache). */
  sync(): Promise<void> {
    return this.inBatchOrder(() =>
      this.withRetry(async () => {
        if (this.connectionLost) await this.replay();
      }),
    );
  }

  /**
   * Idempotent commands (FLUSH) in one BATCH, sent again after a lost connection; resolves with the refused ones
   * (index → message). rrdcached runs a BATCH's commands as if sent one by one, so each FLUSH still waits for its file.
   */
  batchWithRetry(commands: string[]): Promise<Map<number, string>> {
    const bytes = batchBytes(commands);
    return this.inBatchOrder(() => this.withRetry(() => this.batchOnce(() => bytes), reconnectable));
  }

  /** One command, sent again after a lost connection (for idempotent commands such as FLUSH). */
  commandWithRetry(line: string): Promise<Reply> {
    return this.withRetry(() => this.command(line), reconnectable);
  }

  /** Runs after every batch queued before it: nothing may interleave between BATCH and its '.'. */
  private inBatchOrder<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.batchChain.then(fn, fn);
    this.batchChain = p.catch(() => {});
    return p;
  }

  /** Retries with exponential backoff (200 ms doubling to 2 s) while rrdcached restarts. */
  private async withRetry<T>(fn: (attempt: number) => Promise<T>, retriable: (e: unknown) => boolean = () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (e) {
        if (!retriable(e) || attempt >= this.maxAttempts || this.closed) throw e;
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  /** How many times the connection to rrdcached was lost (it died or restarted). */
  get losses(): number {
    return this.lossCount;
  }

  /** Values acknowledged within the replay window and not yet known to be in their files. */
  get unconfirmedValues(): number {
    return this.replayValues;
  }

  /** Everything acknowledged so far is in the files (after a flush of every file written). */
  confirmAll() {
    this.replayLog = [];
    this.replayValues = 0;
  }

  private remember(updates: UpdateBatch) {
    if (updates.valueCount === 0) return;
    const now = Date.now();
    this.replayLog.push(updates.pack(now));
    this.replayValues += updates.valueCount;
    // rrdcached writes a value to its file within its write interval: older entries need no replay.
    while (this.replayLog.length && this.replayLog[0].at < now - this.replayWindow * 1000) this.replayValues -= this.replayLog.shift()!.times.length;
  }

  /**
   * After rrdcached came back: send again every value it acknowledged in the replay window, one value a
   * command, so that those its journal kept are refused alone (as not after the last update) and the
   * rest go in, in their original order, before anything newer.
   */
  private async replay(): Promise<void> {
    const single: string[] = [];
    for (const entry of this.replayLog) {
      let k = 0;
      entry.files.forEach((file, i) => {
        const name = entry.name(file);
        for (const end = k + entry.counts[i]; k < end; k++) single.push(line(name, entry.times, entry.values, k, k + 1));
      });
    }
    if (single.length) await this.batchOnce(() => batchBytes(single));
    this.connectionLost = false;
  }

  /**
   * Sends one BATCH, its bytes made by `make` (batchBytes) once connected; resolves with the per-line errors (index →
   * message). The bytes live only in that callback and the socket's write queue: held in an async frame until
   * rrdcached answers, they would be moved to the old generation.
   */
  private batchOnce(make: () => Buffer): Promise<Map<number, string>> {
    const sent = this.connect().then((s) => {
      const body = make();
      const start = new Promise<Reply>((resolve, reject) => this.inflight.push({ line: 'BATCH', resolve, reject }));
      const end = new Promise<Reply>((resolve, reject) => this.inflight.push({ line: '.', resolve, reject }));
      s.write(body);
      return Promise.all([start, end]); // both settle (or fail) together on a lost connection
    });
    return sent.then(([, r]) => {
      const errors = new Map<number, string>();
      for (const l of r.lines) {
        const sp = l.indexOf(' ');
        errors.set(Number(l.slice(0, sp)) - 1, l.slice(sp + 1));
      }
      return errors;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.end('QUIT\n', () => r()));
  }
}

/** Runs rrdcached as our child on a UNIX socket under the data dir, restarting it if it dies. */
export class RrdcachedProcess {
  private child?: ChildProcess;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private restartDelay = 500;
  readonly socket: string;
  private readonly pidFile: string;
  readonly address: string;

  constructor(
    private readonly binary: string,
    private readonly baseDir: string,
    private readonly stateDir: string,
    private readonly writeInterval: number,
    private readonly log: (msg: string) => void,
  ) {
    this.socket = path.join(stateDir, 'rrdcached.sock');
    this.address = `unix:${this.socket}`;
    this.pidFile = path.join(stateDir, 'rrdcached.pid');
  }

  async start(): Promise<void> {
    if (this.stopping) throw new RrdError('rrdcached supervisor stopped');
    mkdirSync(path.join(this.stateDir, 'journal'), { recursive: true });
    await this.stopOrphan();
    // Whatever is left (ours stopped, a dead PID, a zombie, someone else's PID) is stale: rrdcached would refuse to start.
    rmSync(this.pidFile, { force: true });
    if (existsSync(this.socket)) rmSync(this.socket);
    const args = [
      '-g', // foreground: we own the process and stop it by its PID
      '-F', // flush everything on shutdown
      '-l',
      this.address,
      '-p',
      this.pidFile,
      '-j',
      path.join(this.stateDir, 'journal'),
      '-b',
      this.baseDir,
      '-B',
      '-w',
      String(this.writeInterval),
      '-z',
      String(Math.max(1, Math.floor(this.writeInterval / 5))),
      '-f',
      '3600',
      '-t',
      '2',
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    let ready = false;
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      // Only a child that was serving is restarted here; a failed start is its caller's to handle.
      if (ready && !this.stopping) {
        this.log(`rrdcached exited (${signal ?? code}): ${stderr.trim()}; restarting`);
        this.scheduleRestart();
      }
    });
    const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new RrdError(`cannot start ${this.binary}: ${e.message}`))));
    // Ready when the socket accepts a connection.
    const deadline = Date.now() + 10000;
    const opened = (async () => {
      for (;;) {
        if (this.child !== child) throw new RrdError(`rrdcached exited at start: ${stderr.trim()}`);
        if (existsSync(this.socket)) {
          const ok = await new Promise<boolean>((r) => {
            const s = net.createConnection({ path: this.socket });
            s.once('connect', () => (s.end(), r(true)));
            s.once('error', () => r(false));
          });
          if (ok) return;
        }
        if (Date.now() > deadline) throw new RrdError(`rrdcached did not open ${this.socket} within 10 s: ${stderr.trim()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await Promise.race([opened, spawnError]);
    } catch (e) {
      if (this.child === child) {
        this.child = undefined;
        await stopChild(child);
      }
      throw e;
    }
    ready = true;
    this.restartDelay = 500;
  }

  private scheduleRestart() {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.start().catch((e) => {
        this.log(`rrdcached restart failed: ${(e as Error).message}`);
        this.restartDelay = Math.min(10000, this.restartDelay * 2);
        if (!this.stopping) this.scheduleRestart();
      });
    }, this.restartDelay);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * A collector killed hard leaves its rrdcached running. Found by the PID file in our state dir, it is
   * stopped (it flushes on SIGTERM) only if it really is an rrdcached on our socket: a PID file outlives
   * its process, and the PID may since belong to a zombie or to some unrelated process.
   */
  private async stopOrphan(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === this.child?.pid) return;
    if (!isOurRrdcached(pid, this.binary, this.address)) return;
    this.log(`stopping rrdcached ${pid} left running by an earlier collector on ${this.address}`);
    try {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 30000;
      while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (running(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    await stopChild(child);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15000).unref();
  });
}

/** Running, and not a zombie (state Z: dead, waiting for its parent to reap it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The process's command line names the rrdcached binary and listens on `address`. */
export function isOurRrdcached(pid: number, binary: string, address: string): boolean {
  if (!running(pid)) return false;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const l = argv.indexOf('-l');
  return path.basename(argv[0] ?? '') === path.basename(binary) && l > 0 && argv[l + 1] === address;
}
