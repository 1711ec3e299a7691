// A bounded queue that holds samples in chunks; a processor drains it on its own schedule.
export class BoundedQueue<T> {
  private chunks: T[][] = [];
  private head = 0; // read offset into chunks[0]
  private count = 0;
  private spaceWaiters: (() => void)[] = [];
  private dataWaiters: (() => void)[] = [];

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.count;
  }

  hasRoom(n: number): boolean {
    return this.count + n <= this.capacity;
  }

  /** Adds all items or none; false when they do not fit (unless forced: room was reserved beforehand). */
  offer(items: T[], force = false): boolean {
    if (items.length === 0) return true;
    if (!force && !this.hasRoom(items.length)) return false;
    this.chunks.push(items);
    this.count += items.length;
    for (const w of this.dataWaiters.splice(0)) w();
    return true;
  }

  take(max: number): T[] {
    const out: T[] = [];
    while (out.length < max && this.chunks.length) {
      const c = this.chunks[0];
      const n = Math.min(max - out.length, c.length - this.head);
      for (let i = 0; i < n; i++) out.push(c[this.head + i]);
      this.head += n;
      if (this.head >= c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.count -= out.length;
    if (out.length) for (const w of this.spaceWaiters.splice(0)) w();
    return out;
  }

  /** Resolves when some items were taken (room may have appeared). */
  waitForSpace(): Promise<void> {
    return new Promise((r) => this.spaceWaiters.push(r));
  }

  waitForData(): Promise<void> {
    if (this.count > 0) return Promise.resolve();
    return new Promise((r) => this.dataWaiters.push(r));
  }

  wakeAll() {
    for (const w of this.dataWaiters.splice(0)) w();
    for (const w of this.spaceWaiters.splice(0)) w();
  }
}
