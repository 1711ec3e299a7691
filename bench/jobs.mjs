#!/usr/bin/env node
// Job lifecycle events through POST /api/v1/events into a collector (a real process, SQLite file): events per
// second with job-state folding on (the fold runs inside each insert's transaction) beside the baseline of the
// same events with `jobs.enabled: false` (the event store alone), then the time of GET /api/v1/jobs with those
// jobs in the table (SQL filter, and a selector `match=` that scans the labels). Every job's final state is
// checked through the API. Wall times depend on what else the machine runs.
// Usage: node bench/jobs.mjs [--jobs 10000] [--batch 5000]
import { parseArgs } from 'node:util';
import { startCollector, tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { jobs: { type: 'string', default: '10000' }, batch: { type: 'string', default: '5000' } } });
const N = Number(opt.jobs);
const BATCH = Number(opt.batch);
const STAGES = ['job.submitted', 'job.started', 'job.heartbeat', 'job.heartbeat', 'job.finished'];
const EXPS = ['nova', 'dune', 'mu2e', 'uboone', 'icarus'];
const SITES = ['FNAL', 'CERN', 'RAL', 'BNL'];
const t0 = Date.now() - 3600 * 1000;

function batches() {
  const out = [];
  STAGES.forEach((type, s) => {
    for (let i = 0; i < N; i += BATCH) {
      const b = [];
      for (let j = i; j < Math.min(N, i + BATCH); j++) {
        // Every tenth job fails instead of finishing, every fifth stays running.
        if (s === 4 && j % 5 === 0) continue;
        const t = s === 4 && j % 10 === 1 ? 'job.failed' : type;
        b.push({
          type: t,
          source: 'bench',
          time: t0 + s * 60000 + j,
          labels: { job: `${j}.0`, experiment: EXPS[j % 5], site: SITES[j % 4], user: `user${j % 50}` },
          data: { schedd: `schedd0${j % 3}` },
        });
      }
      out.push(b);
    }
  });
  return out;
}

async function post(c, body) {
  const r = await fetch(`${c.url}/api/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`POST /events: ${r.status} ${await r.text()}`);
}

async function get(c, q) {
  const t = performance.now();
  const r = await fetch(`${c.url}/api/v1/jobs${q}`, { headers: { authorization: `Bearer ${c.token}` } });
  const body = await r.json();
  if (!r.ok) throw new Error(`GET /jobs${q}: ${r.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t, body };
}

async function run(enabled) {
  const t = tmp('rexmon-bench-jobs-');
  const c = await startCollector(t.dir, { extraConfig: `jobs: {enabled: ${enabled}}\nrrd: {cached: {mode: 'off'}}\n` });
  try {
    const bs = batches();
    const events = bs.reduce((n, b) => n + b.length, 0);
    const start = performance.now();
    for (const b of bs) await post(c, b);
    const seconds = (performance.now() - start) / 1000;
    const out = { enabled, events, seconds, perSecond: events / seconds };
    if (enabled) {
      // Checked: every job in the state its last event gave it.
      for (const [state, want] of [
        ['finished', N - Math.ceil(N / 5) - Math.floor((N + 8) / 10)],
        ['failed', Math.floor((N + 8) / 10)],
        ['running', Math.ceil(N / 5)],
      ]) {
        const { body } = await get(c, `?state=${state}&limit=1`);
        if (body.total !== want) throw new Error(`${state}: ${body.total} jobs, want ${want}`);
      }
      out.listMs = (await get(c, '?state=running&experiment=nova&limit=1000')).ms;
      out.matchMs = (await get(c, `?match=${encodeURIComponent('{user="user7"}')}&limit=1000`)).ms;
    }
    return out;
  } finally {
    await c.stop();
    t.cleanup();
  }
}

const base = await run(false);
const jobs = await run(true);
console.log(`${N} jobs, ${jobs.events} lifecycle events in batches of ${BATCH} (SQLite, one client posting)`);
console.log('| | events/s | time |');
console.log('|---|---|---|');
console.log(`| event store alone (jobs.enabled: false), baseline | ${Math.round(base.perSecond)} | ${base.seconds.toFixed(2)} s |`);
console.log(`| with job-state folding | ${Math.round(jobs.perSecond)} | ${jobs.seconds.toFixed(2)} s |`);
console.log(`GET /api/v1/jobs?state=running&experiment=nova: ${jobs.listMs.toFixed(0)} ms; ?match={user="user7"} (scans ${N} jobs): ${jobs.matchMs.toFixed(0)} ms`);
