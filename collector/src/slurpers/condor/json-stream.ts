// Splits a JSON array of objects that arrives in chunks (`condor_q -json`) into its objects and JSON.parses
// each one: only the object being read is ever buffered, so a 200,000-job answer is never one string or one
// array. No streaming JSON parser is installed (stream-json, @streamparser/json), hence this small one:
// it only tracks strings, escapes and nesting; JSON.parse does the real checking of every object.

export class JsonStreamError extends Error {
  override name = 'JsonStreamError';
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const CHARS = ['"', '\\', '{', '}', '[', ']'];
const [QUOTE, BACKSLASH, OPEN, CLOSE, OPEN_ARRAY, CLOSE_ARRAY] = [0, 1, 2, 3, 4, 5];

export class ObjectArraySplitter {
  /** Where we are at nesting depth 0: before `[`, after `[`, after `,`, after an object, after `]`. */
  private state: 'start' | 'open' | 'comma' | 'item' | 'done' = 'start';
  private depth = 0;
  private inString = false;
  /** A backslash ended the previous chunk inside a string: the next character is escaped. */
  private escaped = false;
  /** The start of the object being read, from earlier chunks. */
  private pending = '';
  private offset = 0;
  /** Objects emitted so far. */
  count = 0;
  /** The most characters held for one unfinished object (the memory bound tests check). */
  maxHeld = 0;

  constructor(
    private readonly onObject: (o: Record<string, unknown>) => void,
    private readonly maxObjectChars = 4 * 1024 * 1024,
  ) {}

  push(chunk: string): void {
    const n = chunk.length;
    let i = 0;
    let start = this.depth > 0 ? 0 : -1;
    if (this.escaped) {
      this.escaped = false;
      i = 1;
    }
    // Where each character we look for occurs next (indexOf is far faster than a loop or a regex here);
    // a position is searched again only once the scan has passed it.
    const at = [-1, -1, -1, -1, -1, -1];
    const next = (k: number, from: number) => {
      if (at[k] < from) {
        const p = chunk.indexOf(CHARS[k], from);
        at[k] = p < 0 ? n : p;
      }
      return at[k];
    };
    while (i < n) {
      if (this.depth === 0) {
        const c = chunk.charCodeAt(i);
        if (WS.has(c)) {
          i++;
          continue;
        }
        const ch = chunk[i];
        if (this.state === 'start' && ch === '[') this.state = 'open';
        else if ((this.state === 'open' || this.state === 'comma') && ch === '{') {
          this.depth = 1;
          start = i;
        } else if ((this.state === 'open' || this.state === 'item') && ch === ']') this.state = 'done';
        else if (this.state === 'item' && ch === ',') this.state = 'comma';
        else throw this.error(this.offset + i, ch);
        i++;
        continue;
      }
      if (this.inString) {
        const q = next(QUOTE, i);
        const b = next(BACKSLASH, i);
        if (b < q) {
          // An escape: skip the escaped character (maybe the first of the next chunk).
          if (b + 1 < n) i = b + 2;
          else {
            this.escaped = true;
            i = n;
          }
        } else if (q < n) {
          this.inString = false;
          i = q + 1;
        } else i = n;
        continue;
      }
      // Jump to the next character that matters (most of a ClassAd is names, numbers and indentation).
      i = Math.min(next(QUOTE, i), next(OPEN, i), next(CLOSE, i), next(OPEN_ARRAY, i), next(CLOSE_ARRAY, i));
      if (i >= n) break;
      const ch = chunk[i];
      if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if (ch === '}' || ch === ']') {
        if (--this.depth === 0) {
          const text = this.pending + chunk.slice(start, i + 1);
          this.pending = '';
          this.emit(text);
          start = -1;
        }
      }
      i++;
    }
    if (this.depth > 0) {
      this.pending += chunk.slice(start);
      if (this.pending.length > this.maxHeld) this.maxHeld = this.pending.length;
      if (this.pending.length > this.maxObjectChars) throw new JsonStreamError(`object ${this.count + 1} is larger than ${this.maxObjectChars} characters`);
    }
    this.offset += n;
  }

  /** The input ended: nothing at all (an empty queue, as some condor_q versions print) or a closed array. */
  end(): void {
    if (this.state === 'start' || this.state === 'done') return;
    throw new JsonStreamError(`output ended inside the JSON array after ${this.count} object(s)`);
  }

  private emit(text: string) {
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch (e) {
      throw new JsonStreamError(`object ${this.count + 1}: ${(e as Error).message}`);
    }
    this.count++;
    this.state = 'item';
    this.onObject(o as Record<string, unknown>);
  }

  private error(at: number, ch: string) {
    const expected = { start: '"["', open: 'an object or "]"', comma: 'an object', item: '"," or "]"', done: 'nothing after "]"' }[this.state];
    return new JsonStreamError(`unexpected ${JSON.stringify(ch)} at character ${at} (after ${this.count} object(s)): expected ${expected}`);
  }
}
