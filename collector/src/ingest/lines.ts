// Splits a byte stream into lines, refusing (not buffering) lines longer than the limit.
export class LineSplitter {
  private partial = '';
  private discarding = false;

  constructor(
    private readonly maxLength: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: (prefix: string) => void,
  ) {}

  push(chunk: string) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      const piece = chunk.slice(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false; // the end of an over-long line: already reported
        continue;
      }
      const line = this.partial + piece;
      this.partial = '';
      if (line.length > this.maxLength) this.onTooLong(line.slice(0, 60));
      else this.onLine(line);
    }
    if (start < chunk.length && !this.discarding) {
      this.partial += chunk.slice(start);
      if (this.partial.length > this.maxLength) {
        this.onTooLong(this.partial.slice(0, 60));
        this.partial = '';
        this.discarding = true;
      }
    }
  }

  /** A line begun but not ended: cutting the stream now would lose it. */
  get midLine(): boolean {
    return this.partial !== '' || this.discarding;
  }

  /** At end of stream: a last line without newline still counts. */
  end() {
    if (this.partial && !this.discarding) this.onLine(this.partial);
    this.partial = '';
    this.discarding = false;
  }
}
