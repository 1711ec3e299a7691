import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachLimited } from './limited.js';

test('eachLimited runs every item, never more than the limit at once', async () => {
  let running = 0;
  let most = 0;
  const done: number[] = [];
  const items = Array.from({ length: 100 }, (_, i) => i);
  await eachLimited(items, 7, async (i) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, i % 3));
    done.push(i);
    running--;
  });
  assert.equal(most, 7);
  assert.deepEqual(
    done.sort((a, b) => a - b),
    items,
  );
  await eachLimited([], 4, async () => assert.fail('no item, no call'));
});

test('eachLimited throws the first error and starts no item after it', async () => {
  const started: number[] = [];
  await assert.rejects(
    eachLimited(
      Array.from({ length: 50 }, (_, i) => i),
      4,
      async (i) => {
        started.push(i);
        await new Promise((r) => setImmediate(r));
        if (i === 5) throw new Error('item 5 failed');
      },
    ),
    /item 5 failed/,
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(Math.max(...started) < 5 + 4, `started after the failure: ${started.join(',')}`);
});
