// RFC 6587 framing of a syslog TCP stream, told apart per frame: a frame starting with a digit is octet-counted
// (`LEN SP MSG`), one starting with anything else ends at LF (non-transparent framing). A bad frame is refused
// alone and the stream read on from the next frame start, so its neighbours survive.
import type { RefusalReason } from './parse.js';

export interface FrameSink {
  frame(payload: Buffer): void;
  refused(reason: RefusalReason, error: string): void;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const LT = 0x3c;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** MSG-LEN is at most 9 digits here: more is no count any sender means. */
const MAX_LEN_DIGITS = 9;
/**
 * Where a frame could start: `LEN <PRI>` (octet-counted), `<PRI>` after a LF, or a `<PRI>` and the start of a
 * header anywhere (a LF-framed frame right after an octet-counted one has no LF before it).
 */
const FRAME_START = /[1-9]\d{0,8} <\d{1,3}>|\n<\d{1,3}>|<\d{1,3}>(?:1 |[A-Z][a-z]{2} )/g;

export class FrameSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of an oversize octet-counted frame still to be skipped. */
  private skip = 0;
  /** Skipping to the next LF (an oversize LF-framed frame). */
  private skipLine = false;
  /** The buffer starts inside a bad frame (already counted): read on from the next frame start. */
  private garbage = false;
  /** Where in the buffer that start may be: not at 0 while the bad frame's own `<PRI>` is there. */
  private garbageFrom = 1;

  constructor(
    private readonly maxSize: number,
    private readonly sink: FrameSink,
  ) {}

  /** Nothing buffered: cutting the stream now loses nothing. */
  get empty(): boolean {
    return this.buf.length === 0 && this.skip === 0 && !this.skipLine;
  }

  /**
   * Takes more bytes. An octet-counted frame is only passed on once the byte after it is seen (a count that is
   * too short shows there) — or when `flush` says no more is coming for now (the caller's idle timer, or the end).
   * Returns true when a complete frame waits for that byte.
   */
  push(chunk: Buffer): boolean {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    return this.run(false);
  }

  /** Passes on a complete frame held for its next byte (the stream went quiet). */
  flush(): void {
    this.run(true);
  }

  /** At end of stream: what is left is the last frame (an LF-framed one may lack its LF), or refused. */
  end(): void {
    this.run(true);
    if (this.skip || this.skipLine) {
      this.skip = 0;
      this.skipLine = false;
    } else if (this.buf.length) {
      if (this.garbage) this.garbage = false;
      else if (isDigit(this.buf[0]) && this.octetHeader() !== undefined)
        this.sink.refused('octet_count', `stream ended ${this.buf.length} bytes into an octet-counted frame that announced more`);
      else this.lineFrame(this.buf, this.buf.length);
    }
    this.buf = Buffer.alloc(0);
  }

  private consume(n: number) {
    this.buf = this.buf.subarray(n);
  }

  /** `LEN SP`: the count and the header length, 'wait' for more bytes, or undefined when it is no such header. */
  private octetHeader(): { len: number; hdr: number } | 'wait' | undefined {
    let i = 0;
    while (i < this.buf.length && i <= MAX_LEN_DIGITS && isDigit(this.buf[i])) i++;
    if (i === this.buf.length) return i <= MAX_LEN_DIGITS ? 'wait' : undefined;
    if (this.buf[i] !== SP || this.buf[0] === 0x30) return undefined;
    return { len: Number(this.buf.toString('latin1', 0, i)), hdr: i + 1 };
  }

  private run(quiet: boolean): boolean {
    for (;;) {
      if (this.skip) {
        const n = Math.min(this.skip, this.buf.length);
        this.skip -= n;
        this.consume(n);
        if (this.skip) return false;
      }
      if (this.skipLine) {
        const nl = this.buf.indexOf(LF);
        if (nl < 0) {
          this.buf = Buffer.alloc(0);
          return false;
        }
        this.skipLine = false;
        this.consume(nl + 1);
      }
      if (this.garbage) {
        const at = this.resync(this.garbageFrom, quiet);
        if (at < 0) {
          // Keep a tail in which a frame start may begin (a run of digits whole), or from a start that
          // cannot be told yet; the rest is the bad frame's.
          FRAME_START.lastIndex = this.garbageFrom;
          const maybe = FRAME_START.exec(this.buf.toString('latin1'));
          if (maybe && this.buf.length <= 2 * this.maxSize) {
            this.consume(maybe.index);
            this.garbageFrom = 0;
          } else if (this.buf.length > 16) {
            let cut = this.buf.length - 16;
            while (cut > 0 && isDigit(this.buf[cut - 1])) cut--;
            this.consume(cut);
            this.garbageFrom = 0;
          }
          return false;
        }
        this.garbage = false;
        this.consume(at);
      }
      while (this.buf.length && (this.buf[0] === LF || this.buf[0] === CR || this.buf[0] === SP)) this.consume(1);
      if (this.buf.length === 0) return false;
      if (isDigit(this.buf[0])) {
        const h = this.octetHeader();
        if (h === 'wait') return false;
        if (h !== undefined) {
          if (h.len > this.maxSize) {
            this.sink.refused('oversize', `octet-counted frame of ${h.len} bytes refused (syslog.maxMessageSize ${this.maxSize})`);
            this.consume(h.hdr);
            this.skip = h.len;
            continue;
          }
          const end = h.hdr + h.len;
          // No <PRI> behind the count: refused at once, without waiting for the bytes it announced.
          const pri = this.buf.length > h.hdr ? this.buf[h.hdr] === LT : undefined;
          if (pri !== false && this.buf.length < end) return false;
          const next = pri ? this.startsFrame(end) : false;
          if (next === undefined && !quiet) return true;
          if (pri && next !== false) {
            this.sink.frame(this.buf.subarray(h.hdr, end));
            this.consume(end);
            continue;
          }
          this.sink.refused('octet_count', `octet count ${h.len} does not fit the frame: ${pri ? 'no frame starts right after it' : 'no <PRI> after it'}`);
          this.consume(h.hdr);
          const at = this.resync(1, quiet);
          if (at < 0) {
            this.garbage = true;
            this.garbageFrom = 1;
            continue;
          }
          this.consume(at);
          continue;
        }
      }
      const nl = this.buf.indexOf(LF);
      if (nl < 0) {
        if (this.buf.length > this.maxSize) {
          this.sink.refused('oversize', `line of more than ${this.maxSize} bytes refused (syslog.maxMessageSize)`);
          this.buf = Buffer.alloc(0);
          this.skipLine = true;
        }
        return false;
      }
      // A line that does not start with <PRI> is the tail of a bad frame, or garbage: a frame starting inside it
      // (an octet count that was too short and went unseen) is read from there.
      if (this.buf[0] !== LT) {
        const at = this.resync(1, true);
        if (at > 0 && at <= nl) {
          this.sink.frame(this.buf.subarray(0, at)); // refused by the parser: no <PRI>
          this.consume(at);
          continue;
        }
      }
      this.lineFrame(this.buf, nl);
      this.consume(nl + 1);
    }
  }

  /** Whether a frame starts at `at` (`LEN `, strict: `LEN <`; `<PRI>`; or a LF/CR): undefined while the bytes to tell are not all in. */
  private startsFrame(at: number, strict = false): boolean | undefined {
    const b = this.buf;
    if (at >= b.length) return undefined;
    if (b[at] === LF || b[at] === CR) return true;
    let i = at;
    if (b[at] === LT) {
      i++;
      while (i < b.length && i - at <= 3 && isDigit(b[i])) i++;
      if (i >= b.length) return undefined;
      return i > at + 1 && b[i] === 0x3e;
    }
    if (!isDigit(b[at]) || b[at] === 0x30) return false;
    while (i < b.length && i - at <= MAX_LEN_DIGITS && isDigit(b[i])) i++;
    if (i + (strict ? 1 : 0) >= b.length) return undefined;
    // Not `LEN <` alone: when what follows a good frame is a bad count (no <PRI>), the good one must not pay for
    // it. Looking for where to read on after a bad frame (strict), the <PRI> must be there.
    return b[i] === SP && (!strict || b[i + 1] === LT);
  }

  private lineFrame(buf: Buffer, end: number) {
    const stop = end > 0 && buf[end - 1] === CR ? end - 1 : end;
    if (stop > this.maxSize) this.sink.refused('oversize', `line of ${stop} bytes refused (syslog.maxMessageSize ${this.maxSize})`);
    else this.sink.frame(buf.subarray(0, stop));
  }

  /**
   * Offset of the next frame start at or after `from` (a LF-framed start: just past its LF); -1 when none can be
   * told yet. Octet-counted frames follow each other with no separator, so `…jobs=524 <13>` may be "jobs=5" then
   * a frame of 24: of the digit run's suffixes, the one whose frame ends where another starts wins, and while
   * that cannot be told (the bytes are not in), it waits — unless the stream went quiet.
   */
  private resync(from: number, quiet: boolean): number {
    const text = this.buf.toString('latin1');
    FRAME_START.lastIndex = from;
    for (let m = FRAME_START.exec(text); m; m = FRAME_START.exec(text)) {
      if (m[0][0] === '\n') return m.index + 1;
      if (m[0][0] === '<') return m.index;
      const digits = m[0].slice(0, m[0].indexOf(' '));
      for (let j = 0; j < digits.length; j++) {
        const len = Number(digits.slice(j));
        if (digits[j] === '0' || len > this.maxSize) continue;
        const end = m.index + digits.length + 1 + len;
        const next = end === this.buf.length && quiet ? true : this.startsFrame(end, true);
        if (next === true) return m.index + j;
        // The longer count is the likelier: wait until it can be told rather than take a shorter one.
        if (next === undefined) return quiet ? m.index + j : -1;
      }
      FRAME_START.lastIndex = m.index + 1;
    }
    return -1;
  }
}
