// A long-lived `rrdtool -` process. Commands are pipelined; each ends with one `OK ...` or `ERROR: ...` line.
// If the child dies, it is restarted and every command in flight is sent again.
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { RrdError } from './errors.js';
import { Fifo } from '../util/fifo.js';

interface Pending {
  line: string;
  out: string[];
  started: number;
  resolve: (out: string) => void;
  reject: (e: Error) => void;
  attempts: number;
}

export interface PipeHooks {
  onLatency?: (seconds: number) => void;
  onRestart?: (reason: string) => void;
}

export class RrdtoolPipe {
  private child?: ChildProcessWithoutNullStreams;
  private inflight = new Fifo<Pending>();
  private buf = '';
  private closed = false;
  private restarts = 0;
  private corked = false;

  constructor(
    private readonly binary = 'rrdtool',
    private readonly hooks: PipeHooks = {},
    private readonly maxAttempts = 3,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(this.binary, ['-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (this.child === child) this.onData(chunk);
    });
    child.stderr.on('data', () => {}); // rrdtool writes nothing useful there in pipe mode
    child.stdin.on('error', () => {}); // reported through 'exit'
    child.on('error', (e) => this.onExit(child, `cannot run ${this.binary}: ${e.message}`, true));
    // 'close' (not 'exit'): by then every reply the child wrote has been read, so only unanswered commands are resent.
    child.on('close', (code, signal) => this.onExit(child, `rrdtool exited (${signal ?? code})`, false));
    this.child = child;
    return child;
  }

  private onExit(child: ChildProcessWithoutNullStreams, reason: string, fatal: boolean) {
    if (this.child !== child) return;
    this.child = undefined;
    this.buf = '';
    if (this.closed) {
      for (const p of this.inflight.drain()) p.reject(new RrdError('rrdtool pipe closed', p.line));
      return;
    }
    this.restarts++;
    this.hooks.onRestart?.(reason);
    const retry = this.inflight.drain();
    for (const p of retry) {
      p.attempts++;
      if (fatal || p.attempts > this.maxAttempts) p.reject(new RrdError(`${reason}; gave up after ${p.attempts} attempts`, p.line));
      else this.enqueue(p);
    }
  }

  private onData(chunk: string) {
    this.buf += chunk;
    let start = 0;
    let nl: number;
    // Scan with an offset and cut the buffer once per chunk: thousands of short replies arrive together.
    while ((nl = this.buf.indexOf('\n', start)) >= 0) {
      const line = this.buf.slice(start, nl);
      start = nl + 1;
      const head = this.inflight.peek();
      if (!head) continue;
      if (line.startsWith('OK u:')) {
        this.inflight.shift();
        this.hooks.onLatency?.((performance.now() - head.started) / 1000);
        head.resolve(head.out.join('\n'));
      } else if (line.startsWith('ERROR: ')) {
        this.inflight.shift();
        head.reject(new RrdError(line.slice(7), head.line, head.attempts > 0, true));
      } else {
        head.out.push(line);
      }
    }
    this.buf = this.buf.slice(start);
  }

  private enqueue(p: Pending) {
    const child = this.child ?? this.start();
    p.out = [];
    p.started = performance.now();
    this.inflight.push(p);
    // Commands issued in the same tick leave in one write.
    if (!this.corked) {
      this.corked = true;
      child.stdin.cork();
      process.nextTick(() => {
        this.corked = false;
        child.stdin.uncork();
      });
    }
    child.stdin.write(p.line + '\n');
  }

  /** Runs one command line (no newline inside); resolves with its output, rejects with the rrdtool error. */
  run(line: string): Promise<string> {
    if (this.closed) return Promise.reject(new RrdError('rrdtool pipe closed', line));
    if (line.includes('\n') || line.includes('\r') || line.includes('\0'))
      return Promise.reject(new RrdError('refusing a command containing a line break or NUL', line));
    return new Promise((resolve, reject) => this.enqueue({ line, out: [], started: 0, resolve, reject, attempts: 0 }));
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.stdin.end('quit\n');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  }

  get restartCount(): number {
    return this.restarts;
  }
}

/** Quotes one argument for the pipe-mode tokenizer (double quotes group words). */
export function arg(s: string): string {
  if (/["\n\r\0]/.test(s)) throw new RrdError(`argument contains a quote or line break: ${JSON.stringify(s)}`);
  return /\s/.test(s) ? `"${s}"` : s;
}
