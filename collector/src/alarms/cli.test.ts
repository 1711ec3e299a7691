// `rexmon alarms list|history|rules` as a user runs them (a real process) against a real collector.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCollector, TestCollector } from '../testing/harness.js';
import { postSamples, RecordingSink } from './testing.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));
let c: TestCollector;
const minute = Math.floor(Date.now() / 1000 / 60) * 60;

function rexmon(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [BIN, ...args, '--url', c.url], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  c = await startCollector(
    { auth: { anonymousWrite: true }, alarms: { interval: 3600, rules: [{ name: 'disk', match: 'disk_pct', warning: 80, critical: 90, steps: 5 }] } },
    undefined,
    { alarmSink: new RecordingSink() },
  );
  await postSamples(
    c.url,
    [
      ['a', 95],
      ['b', 50],
    ].flatMap(([host, v]) => [minute - 60, minute].map((time) => ({ name: 'disk_pct', labels: { host: String(host) }, value: Number(v), time }))),
  );
  await c.collector.alarms.evaluate(minute);
});
after(async () => {
  await c?.stop();
});

test('rexmon alarms list: a table, filters, JSON', async () => {
  const all = await rexmon('alarms', 'list');
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.trim().split('\n');
  assert.match(lines[0], /^STATE\s+RULE\s+SERIES\s+VALUE\s+SINCE\s+DOWNTIME\s+SUMMARY$/);
  const when = new Date(minute * 1000)
    .toISOString()
    .replace(/\.000Z$/, 'Z')
    .replace('T', ' ');
  assert.match(
    lines[1],
    new RegExp(`^CRITICAL\\s+disk\\s+disk_pct\\{host="a"\\}\\s+95\\s+${when}\\s+-\\s+disk CRITICAL: disk_pct\\{host="a"\\} = 95 \\(bound 90\\)$`),
  );
  assert.match(lines[2], /^OK\s+disk\s+disk_pct\{host="b"\}\s+50\s/);
  const bad = await rexmon('alarms', 'list', '--state', 'critical,warning', '--json');
  assert.equal(bad.code, 0, bad.stderr);
  assert.deepEqual(
    JSON.parse(bad.stdout).map((i: { series: string }) => i.series),
    ['disk_pct{host="a"}'],
  );
  const none = await rexmon('alarms', 'list', '--in-downtime');
  assert.equal(none.stdout.trim(), 'no alarm instances');
});

test('rexmon alarms history and rules', async () => {
  const h = await rexmon('alarms', 'history', '--rule', 'disk');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /disk\s+disk_pct\{host="a"\}\s+OK -> CRITICAL\s+95\s+90\s+no/);
  const r = await rexmon('alarms', 'rules');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^disk\s+disk_pct\s+above\s+80\s+90\s+last of 5\s+0s$/m);
});

test('rexmon alarms: bad arguments exit 2 naming them; a refused filter exits 1 with the collector message', async () => {
  const s = await rexmon('alarms', 'list', '--state', 'BROKEN');
  assert.equal(s.code, 2);
  assert.match(s.stderr, /"BROKEN" is not one of OK, WARNING, CRITICAL, UNKNOWN/);
  const m = await rexmon('alarms', 'list', '--match', '{host=');
  assert.equal(m.code, 2);
  const both = await rexmon('alarms', 'list', '--in-downtime', '--not-in-downtime');
  assert.equal(both.code, 2);
  const rule = await rexmon('alarms', 'list', '--rule', 'nope');
  assert.equal(rule.code, 1);
  assert.match(rule.stderr, /no rule named "nope"; configured: disk \(HTTP 400\)/);
});
