// Bounded concurrency for work over many items (creates, flushes): a promise per item started at once holds
// every item's state in memory for as long as the slowest one takes.

/** Runs fn over items, at most `limit` at a time; after a failure no new item is started, and the first error is thrown. */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
