// Selector regexes run in linear time (RE2) on every endpoint that matches series or scopes, and a
// search that would take too long is refused with the limit named.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { downtimeApi } from '../testing/downtimes.js';
import { api, startCollector, TestCollector } from '../testing/harness.js';

const EVIL = encodeURIComponent('{v=~"(a+)+"}');
// 1,024 characters that `(a+)+` almost matches: a backtracking engine tries every split of the a's.
const LONG = 'a'.repeat(1023) + '!';
let c: TestCollector;

before(async () => {
  c = await startCollector({ auth: { anonymousWrite: true } });
  const now = Math.floor(Date.now() / 1000);
  const samples = [{ name: 'm', labels: { v: LONG }, value: 1, time: now }];
  for (let i = 0; i < 300; i++) samples.push({ name: 'many', labels: { v: `x${i}` }, value: i, time: now });
  assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) })).status, 202);
  assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
});
after(() => c.stop());

// A backtracking engine needs ~2^1023 steps here: a 10 s bound tells it apart on any machine, however busy.
async function timed(path: string): Promise<{ status: number; ms: number; body: { error?: { message: string } } }> {
  const t0 = performance.now();
  const r = await api(c.url, path);
  return { ...r, ms: performance.now() - t0 };
}

test('a catastrophic regex against a 1,024-character value answers at once on /series, /query, /labels and label values', async () => {
  for (const path of [
    `/api/v1/series?match=${EVIL}`,
    `/api/v1/query?match=${EVIL}`,
    `/api/v1/labels?match=${EVIL}`,
    `/api/v1/label/v/values?match=${EVIL}`,
    `/api/v1/series?match=${encodeURIComponent('{v!~"(a+)+"}')}`,
  ]) {
    const r = await timed(path);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    assert.ok(r.ms < 10000, `${path} took ${Math.round(r.ms)} ms`);
  }
  const hit = await api<{ data: { labels: { v: string } }[] }>(c.url, `/api/v1/series?match=${encodeURIComponent('{v=~"a+!"}')}`);
  assert.deepEqual(
    hit.body.data.map((s) => s.labels.v),
    [LONG],
    'the same value is still found by a regex that matches it',
  );
});

test('a catastrophic regex in a downtime scope answers at once on /downtimes/active', async () => {
  await downtimeApi(() => c.url).post({ match: '{v=~"(a+)+"}', start: 'now-1m', end: '+1h' });
  const r = await timed(`/api/v1/downtimes/active?series=${encodeURIComponent(`m{v="${LONG}"}`)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.ms < 10000, `took ${Math.round(r.ms)} ms`);
  assert.equal((r.body as { data: { inDowntime: boolean } }).data.inDowntime, false);
});

test('a regex RE2 cannot run is a 400 naming the problem', async () => {
  for (const re of ['(a)\\1', '(?=a)a', '(?<!b)a']) {
    for (const path of ['/api/v1/series', '/api/v1/query']) {
      const r = await api(c.url, `${path}?match=${encodeURIComponent(`{v=~"${re}"}`)}`);
      assert.equal(r.status, 400, `${path} ${re}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error!.message, /invalid regular expression .*RE2/, re);
    }
  }
});

test('a search past its time budget is refused with the limit named', async () => {
  c.collector.catalog.findBudgetMs = 0;
  try {
    for (const path of ['/api/v1/series?match={v=~"x.*"}', '/api/v1/query?match={v=~"x.*"}', '/api/v1/label/v/values']) {
      const r = await api(c.url, path);
      assert.equal(r.status, 422, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error!.message, /took longer than 0 ms to evaluate/);
    }
  } finally {
    c.collector.catalog.findBudgetMs = 2000;
  }
});
