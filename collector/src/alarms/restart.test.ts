// Restarts with the same data directory (SQLite file, RRD files, real rrdcached): the evaluator resumes from the
// stored states and hands the sink nothing for states unchanged since before; what was owed is still told.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { downtimeApi } from '../testing/downtimes.js';
import { startCollector, tempDir, TestCollector } from '../testing/harness.js';
import { postSamples, RecordingSink } from './testing.js';

const rules = [
  { name: 'hot', match: 'temp', warning: 80, critical: 90, steps: 5 },
  { name: 'slow', match: 'temp', warning: 50, for: '1h', steps: 5 },
];
const config = { auth: { anonymousWrite: true }, alarms: { interval: 3600, rules } };
const minute = () => Math.floor(Date.now() / 1000 / 60) * 60;

test('a restart resumes every state (since, pending `for`) and sends nothing for what was told; owed notices still go out', async () => {
  const tmp = await tempDir();
  let c: TestCollector | undefined;
  try {
    const sink1 = new RecordingSink();
    c = await startCollector(config, tmp.dir, { alarmSink: sink1 });
    const t = minute();
    await postSamples(
      c.url,
      ['a', 'b', 'c', 'd'].flatMap((host) => [
        { name: 'temp', labels: { host }, value: 95, time: t - 60 },
        { name: 'temp', labels: { host }, value: 95, time: t },
      ]),
    );
    // c goes into a planned downtime that ends while the collector is stopped; the first hand-over is refused.
    const now = Date.now() / 1000;
    const d = await downtimeApi(() => c!.url).post({ match: '{host="c"}', start: Math.floor(now) - 60, end: Math.floor(now) + 3 });
    sink1.failing = true;
    await c.collector.alarms.evaluate(now);
    sink1.failing = false;
    const before = c.collector.alarms.view.current({ rule: 'hot' });
    assert.deepEqual(
      before.map((i) => [i.labels.host, i.state, i.muted]),
      [
        ['a', 'CRITICAL', false],
        ['b', 'CRITICAL', false],
        ['c', 'CRITICAL', true],
        ['d', 'CRITICAL', false],
      ],
    );
    // What was refused is handed again at the next check.
    assert.deepEqual(sink1.take(), []);
    await c.collector.alarms.checkDowntimes(now);
    assert.deepEqual(sink1.take('hot').sort(), [
      'hot temp{host="a"} OK→CRITICAL change',
      'hot temp{host="b"} OK→CRITICAL change',
      'hot temp{host="d"} OK→CRITICAL change',
    ]);
    const pending = await c.collector.db('alarm_states').where({ rule: 'slow', series: 'temp{host="a"}' }).first();
    assert.equal(pending.state, 'OK');
    assert.ok(pending.warn_since > 0, 'the `for` of rule slow is pending');
    const sinceBefore = Object.fromEntries(before.map((i) => [i.series, i.since]));
    await c.stop();
    c = undefined;

    // Stopped while c's downtime ends.
    await new Promise((r) => setTimeout(r, Math.max(0, (d.end! - Date.now() / 1000) * 1000 + 200)));

    const sink2 = new RecordingSink();
    c = await startCollector(config, tmp.dir, { alarmSink: sink2 });
    await c.collector.alarms.evaluate();
    // c: its downtime ended meanwhile and the problem is still there. Nothing for a, b, d: told before the restart.
    assert.deepEqual(sink2.take(), ['hot temp{host="c"} OK→CRITICAL downtime-ended']);
    const resumed = c.collector.alarms.view.current({ rule: 'hot' });
    assert.deepEqual(
      resumed.map((i) => [i.series, i.state, i.since]),
      Object.entries(sinceBefore).map(([s, since]) => [s, 'CRITICAL', since]),
    );
    const still = await c.collector.db('alarm_states').where({ rule: 'slow', series: 'temp{host="a"}' }).first();
    assert.equal(still.warn_since, pending.warn_since, 'the pending `for` resumed where it was');
    await c.collector.alarms.evaluate();
    assert.deepEqual(sink2.take(), []);
  } finally {
    await c?.stop();
    await tmp.cleanup();
  }
});

test('notices the notifier refused before a restart are handed after it', async () => {
  const tmp = await tempDir();
  let c: TestCollector | undefined;
  try {
    const sink1 = new RecordingSink();
    sink1.failing = true;
    c = await startCollector(config, tmp.dir, { alarmSink: sink1 });
    const t = minute();
    await postSamples(c.url, [
      { name: 'temp', labels: { host: 'x' }, value: 85, time: t - 60 },
      { name: 'temp', labels: { host: 'x' }, value: 85, time: t },
    ]);
    await c.collector.alarms.evaluate();
    assert.equal(c.collector.alarms.view.current({ rule: 'hot' })[0].state, 'WARNING');
    assert.deepEqual(sink1.take(), []);
    await c.stop();
    c = undefined;
    const sink2 = new RecordingSink();
    c = await startCollector(config, tmp.dir, { alarmSink: sink2 });
    await c.collector.alarms.evaluate();
    assert.deepEqual(sink2.take(), ['hot temp{host="x"} OK→WARNING change']);
    await c.collector.alarms.evaluate();
    assert.deepEqual(sink2.take(), []);
  } finally {
    await c?.stop();
    await tmp.cleanup();
  }
});
