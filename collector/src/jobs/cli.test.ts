// `rexmon jobs list|show` as a user runs them (a real process) against a real collector.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { api, startCollector, TestCollector } from '../testing/harness.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));
let c: TestCollector;
const T = Date.parse('2026-11-30T10:00:00Z');

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
  c = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { anonymousWrite: true }, jobs: { interval: 3600, silentTimeout: 0 } });
  const e = (type: string, job: string, min: number, labels: Record<string, string> = {}, data: Record<string, unknown> = {}) => ({
    type,
    source: 'schedd01',
    time: T + min * 60000,
    labels: { job, ...labels },
    data,
  });
  const r = await api(c.url, '/api/v1/events', {
    method: 'POST',
    body: JSON.stringify([
      e('job.submitted', '1.0', 0, { experiment: 'nova', site: 'FNAL', user: 'alice' }),
      e('job.started', '1.0', 5, {}, { host: 'fnpc3001' }),
      e('job.held', '1.0', 9, {}, { reason: 'disk quota' }),
      e('job.submitted', '2.0', 1, { experiment: 'dune', site: 'CERN' }),
    ]),
  });
  assert.equal(r.status, 202);
  await c.collector.events.drain(30_000);
});
after(async () => {
  await c?.stop();
});

test('rexmon jobs list: a table, filters, JSON', async () => {
  const all = await rexmon('jobs', 'list');
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.trim().split('\n');
  assert.match(lines[0], /^JOB\s+STATE\s+EXPERIMENT\s+SITE\s+SINCE\s+LAST EVENT\s+SILENT SINCE$/);
  assert.match(lines[1], /^1\.0\s+held\s+nova\s+FNAL\s+2026-11-30 10:09:00Z\s+2026-11-30 10:09:00Z\s+-$/);
  assert.match(lines[2], /^2\.0\s+queued\s+dune\s+CERN\s+/);
  const held = await rexmon('jobs', 'list', '--state', 'held', '--json');
  assert.deepEqual(
    JSON.parse(held.stdout).map((j: { job: string }) => j.job),
    ['1.0'],
  );
  const m = await rexmon('jobs', 'list', '--match', '{user="alice"}', '--experiment', 'nova,dune');
  assert.match(m.stdout, /^1\.0 /m);
  assert.doesNotMatch(m.stdout, /^2\.0 /m);
  assert.equal((await rexmon('jobs', 'list', '--silent')).stdout.trim(), 'no jobs');
});

test('rexmon jobs show: the job and its history', async () => {
  const r = await rexmon('jobs', 'show', '1.0');
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.split('\n');
  assert.equal(out[0], '1.0: held since 2026-11-30 10:09:00Z (nova at FNAL); 3 events, the latest 2026-11-30 10:09:00Z');
  assert.equal(out[1], 'user="alice" host="fnpc3001" reason="disk quota"');
  assert.match(out[3], /^2026-11-30 10:00:00Z\s+job\.submitted\s+schedd01\s+new -> queued\s*$/);
  assert.match(out[4], /^2026-11-30 10:05:00Z\s+job\.started\s+schedd01\s+queued -> running\s+host="fnpc3001"$/);
  assert.match(out[5], /^2026-11-30 10:09:00Z\s+job\.held\s+schedd01\s+running -> held\s+reason="disk quota"$/);
});

test('rexmon jobs: bad arguments exit 2 naming them; a refused filter or unknown job exits 1 with the collector message', async () => {
  const m = await rexmon('jobs', 'list', '--match', '{user=');
  assert.equal(m.code, 2);
  assert.match(m.stderr, /--match/);
  const l = await rexmon('jobs', 'list', '--limit', '0');
  assert.equal(l.code, 2);
  assert.match(l.stderr, /--limit/);
  const s = await rexmon('jobs', 'list', '--state', 'sleeping');
  assert.equal(s.code, 1);
  assert.match(s.stderr, /unknown state "sleeping"; states: queued, running/);
  const n = await rexmon('jobs', 'show', 'nope.0');
  assert.equal(n.code, 1);
  assert.match(n.stderr, /no job "nope\.0".*HTTP 404/);
});
