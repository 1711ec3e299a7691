// The dispatcher alone: queues per processor, whole-or-nothing admission, timeouts, errors, retries, metrics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { EventInput } from './model.js';
import { dispatcherMetrics, EventDispatcher, EventProcessor, ProcessorOptions } from './processor.js';

const ev = (type: string, i = 0): EventInput => ({ time: 1795300000000 + i, type, source: 's', labels: {}, data: { i } });
const opts = (o: Partial<ProcessorOptions> = {}): ProcessorOptions => ({ queue: 100, concurrency: 1, onError: 'drop', batchSize: 100, ...o });

/** A processor that records what it took; `gate` holds every call until opened. */
function recorder(name: string) {
  const got: EventInput[] = [];
  let open!: () => void;
  let gate: Promise<void> | undefined;
  const p: EventProcessor & { got: EventInput[]; hold: () => void; release: () => void } = {
    name,
    got,
    hold: () => (gate = new Promise((r) => (open = r))),
    release: () => {
      gate = undefined;
      open?.();
    },
    async process(events) {
      if (gate) await gate;
      got.push(...events);
    },
  };
  return p;
}

async function metric(reg: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as { labels: Record<string, string>; value: number }[] | undefined)?.find((x) =>
    Object.entries(labels).every(([k, s]) => x.labels[k] === s),
  );
  return v?.value ?? 0;
}

test('a stalled processor holds only its own queue: the others take every batch', async () => {
  const reg = new Registry();
  const done: number[] = [];
  const d = new EventDispatcher(() => {}, dispatcherMetrics(reg), { done: (s) => done.push(s) });
  const slow = recorder('slow');
  const fast = recorder('fast');
  d.add(slow, opts());
  d.add(fast, opts());
  slow.hold();
  for (let i = 0; i < 5; i++) d.enqueue([ev('a', i)]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fast.got.length, 5);
  assert.equal(slow.got.length, 0);
  assert.deepEqual(done, [], 'no batch is done while one processor has not taken it');
  assert.equal(await metric(reg, 'rexmon_event_processor_queue_depth', { processor: 'slow' }), 5);
  assert.equal(await metric(reg, 'rexmon_event_processor_queue_depth', { processor: 'fast' }), 0);
  slow.release();
  assert.ok(await d.drain(1000));
  assert.equal(slow.got.length, 5);
  assert.deepEqual(
    done.sort((a, b) => a - b),
    [1, 2, 3, 4, 5],
  );
  assert.equal(await metric(reg, 'rexmon_event_processor_processed_total', { processor: 'slow' }), 5);
});

test('admission is whole or nothing: a batch that does not fit one queue is refused and queued nowhere', async () => {
  const reg = new Registry();
  const d = new EventDispatcher(() => {}, dispatcherMetrics(reg));
  const small = recorder('small');
  const big = recorder('big');
  d.add(small, opts({ queue: 3 }));
  d.add(big, opts({ queue: 100 }));
  small.hold();
  big.hold();
  d.enqueue([ev('a'), ev('a')]);
  const r = d.refusal([ev('a'), ev('a')]);
  assert.equal(r?.processor, 'small');
  assert.match(r!.reason, /queue of event processor "small" is full \(2 of 3\)/);
  d.countRefused(r!.processor, 2);
  assert.equal(d.refusal([ev('a')]), undefined, 'one more still fits');
  assert.equal(await metric(reg, 'rexmon_event_processor_dropped_total', { processor: 'small', reason: 'queue_full' }), 2);
  assert.equal(await metric(reg, 'rexmon_event_processor_queued_total', { processor: 'big' }), 2, 'the refused batch reached no queue');
  small.release();
  big.release();
  assert.ok(await d.drain(1000));
});

test('a filtered processor counts only its events against its queue', async () => {
  const d = new EventDispatcher(() => {});
  const disk = recorder('disk');
  const all = recorder('all');
  d.add(disk, opts({ queue: 1, accepts: (e) => e.type === 'disk.error' }));
  d.add(all, opts());
  disk.hold();
  d.enqueue([ev('disk.error'), ev('job.state'), ev('job.state')]);
  assert.equal(d.refusal([ev('job.state'), ev('job.state')]), undefined, 'other types do not need room in disk');
  assert.equal(d.refusal([ev('disk.error')])?.processor, 'disk');
  disk.release();
  assert.ok(await d.drain(1000));
  assert.deepEqual(
    disk.got.map((e) => e.type),
    ['disk.error'],
  );
  assert.equal(all.got.length, 3);
});

test('a processor that throws is counted and logged; one that hangs is timed out and its slot freed', async () => {
  const reg = new Registry();
  const logs: string[] = [];
  const d = new EventDispatcher((m) => logs.push(m), dispatcherMetrics(reg));
  const thrower: EventProcessor = {
    name: 'thrower',
    process: async (events) => {
      if (events[0].data.i === 1) throw new Error('boom');
    },
  };
  const seen: number[] = [];
  const hanger: EventProcessor = {
    name: 'hanger',
    process: (events) => {
      seen.push(events[0].data.i as number);
      return events[0].data.i === 0 ? new Promise(() => {}) : Promise.resolve();
    },
  };
  d.add(thrower, opts({ batchSize: 1 }));
  d.add(hanger, opts({ batchSize: 1, timeoutMs: 100 }));
  d.enqueue([ev('x', 0), ev('x', 1), ev('x', 2)]);
  assert.ok(await d.drain(2000), 'the hung call does not keep the queue busy');
  assert.deepEqual(seen, [0, 1, 2], 'after the timeout the next event got the slot');
  assert.equal(await metric(reg, 'rexmon_event_processor_failed_total', { processor: 'thrower', reason: 'error' }), 1);
  assert.equal(await metric(reg, 'rexmon_event_processor_processed_total', { processor: 'thrower' }), 2);
  assert.equal(await metric(reg, 'rexmon_event_processor_failed_total', { processor: 'hanger', reason: 'timeout' }), 1);
  assert.ok(logs.some((l) => /thrower: failed on 1 event\(s\) of type x: boom/.test(l)));
  assert.ok(logs.some((l) => /hanger: timed out .* no answer within 0.1 s/.test(l)));
});

test('onError retry: a failing call is tried again until it works, nothing dropped', async () => {
  const reg = new Registry();
  let fails = 3;
  const got: EventInput[] = [];
  const store: EventProcessor = {
    name: 'store',
    process: async (events) => {
      if (fails-- > 0) throw new Error('SQLITE_BUSY: database is locked');
      got.push(...events);
    },
  };
  const d = new EventDispatcher(() => {}, dispatcherMetrics(reg));
  d.add(store, opts({ onError: 'retry' }));
  d.enqueue([ev('a', 1), ev('a', 2)]);
  d.enqueue([ev('a', 3)]);
  assert.ok(await d.drain(5000));
  assert.deepEqual(
    got.map((e) => e.data.i),
    [1, 2, 3],
    'order kept: while failing, one call at a time',
  );
  assert.equal(await metric(reg, 'rexmon_event_processor_retries_total', { processor: 'store' }), 3);
  assert.equal(await metric(reg, 'rexmon_event_processor_failed_total', { processor: 'store', reason: 'error' }), 0);
});

test('concurrency: a handler with concurrency 3 runs three calls at once, never more', async () => {
  const d = new EventDispatcher(() => {});
  let running = 0;
  let most = 0;
  d.add(
    {
      name: 'h',
      process: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
      },
    },
    opts({ concurrency: 3, batchSize: 1 }),
  );
  d.enqueue(Array.from({ length: 10 }, (_, i) => ev('a', i)));
  assert.ok(await d.drain(2000));
  assert.equal(most, 3);
});
