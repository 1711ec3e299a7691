// Without a notifier the collector's own sink logs each notice as one structured JSON line (real collector, real pino).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { Collector } from '../app.js';
import { configSchema } from '../config/schema.js';
import { tempDir } from '../testing/harness.js';
import { postSamples } from './testing.js';

test('the default sink: one JSON log line per notice, with rule, series, states, reason, value, bound and labels', async () => {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const tmp = await tempDir();
  const config = configSchema.parse({
    dataDir: tmp.dir,
    http: { listen: '127.0.0.1:0' },
    graphite: { tcp: false, udp: false },
    slurpers: [],
    auth: { anonymousWrite: true },
    alarms: { interval: 3600, rules: [{ name: 'disk', match: 'disk_pct', critical: 90, steps: 5, labels: { team: 'ops' } }] },
  });
  const c = new Collector(config, pino({ level: 'info' }, out));
  await c.start();
  try {
    const t = Math.floor(Date.now() / 1000 / 60) * 60;
    await postSamples(c.addresses.http!, [
      { name: 'disk_pct', labels: { host: 'a' }, value: 97, time: t - 60 },
      { name: 'disk_pct', labels: { host: 'a' }, value: 97, time: t },
    ]);
    await c.alarms.evaluate(t);
    const told = lines.filter((l) => l.alarm);
    assert.equal(told.length, 1, JSON.stringify(told));
    assert.equal(told[0].level, 50); // error: a CRITICAL
    assert.equal(told[0].stage, 'alarms');
    assert.equal(told[0].msg, 'alarm change: disk CRITICAL: disk_pct{host="a"} = 97 (bound 90)');
    assert.deepEqual(told[0].alarm, {
      rule: 'disk',
      series: 'disk_pct{host="a"}',
      from: 'OK',
      to: 'CRITICAL',
      reason: 'change',
      at: t,
      value: 97,
      bound: 90,
      labels: { host: 'a', team: 'ops' },
    });
  } finally {
    await c.stop();
    await tmp.cleanup();
  }
});
