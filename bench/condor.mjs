#!/usr/bin/env node
// The condor slurper on a 200,000-job condor_q answer: time per 100,000 jobs and peak RSS, each run in a
// fresh process, beside the baseline of reading the whole output into one string and JSON.parse-ing it
// (counting the same way) in the same run. The answer comes from a file through `cat` in a stand-in script.
// CPU seconds are the reading process's own (not cat's); wall time depends on what else the machine runs.
// Usage: node bench/condor.mjs [--jobs 200000] [--runs 3]
import { spawn } from 'node:child_process';
import { chmodSync, createWriteStream, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tmp } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);
const { values: opt, positionals } = parseArgs({
  options: { jobs: { type: 'string', default: '200000' }, runs: { type: 'string', default: '3' }, child: { type: 'string' } },
  allowPositionals: true,
});

const STATES = { 1: 'idle', 2: 'running', 3: 'removed', 4: 'completed', 5: 'held', 6: 'transferring_output', 7: 'suspended' };

async function child(mode, script) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let jobs = 0;
  let series = 0;
  if (mode === 'stream') {
    const { CondorSlurper } = await import('../collector/dist/slurpers/condor/condor.js');
    const { configSchema } = await import('../collector/dist/config/schema.js');
    const cfg = configSchema.parse({
      slurpers: [{ type: 'condor', name: 'bench', interval: 60, timeout: 600, schedds: ['bench'], condorQ: [script], condorHistory: false }],
    }).slurpers[0];
    const s = new CondorSlurper(cfg);
    const r = await s.collect();
    if (r.problems.length) throw new Error(JSON.stringify(r.problems));
    jobs = s.calls[0].ads;
    series = r.samples.length;
  } else if (mode === 'baseline') {
    // Whole output, one JSON.parse, the same counts by experiment, user and state.
    const text = await new Promise((resolve, reject) => {
      const c = spawn(script, [], { stdio: ['ignore', 'pipe', 'inherit'] });
      const parts = [];
      c.stdout.on('data', (d) => parts.push(d));
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(parts).toString('utf8')));
    });
    const ads = JSON.parse(text);
    const counts = new Map();
    for (const ad of ads) {
      const e = /^group_(?<experiment>[^.]+)/.exec(ad.AcctGroup ?? ad.AccountingGroup ?? '')?.groups?.experiment ?? 'unknown';
      const k = `${e}\0${ad.Owner}\0${STATES[ad.JobStatus]}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    jobs = ads.length;
    series = counts.size;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ jobs, series, seconds, cpu: (cpu.user + cpu.system) / 1e6, peakMB: process.resourceUsage().maxRSS / 1024 }));
}

function measure(mode, script) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [SELF, '--child', mode, script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${mode} exited ${code}`))));
  });
}

async function main() {
  const N = Number(opt.jobs);
  const t = tmp('rexmon-bench-condor-');
  const file = path.join(t.dir, 'condor_q.json');
  const exps = ['nova', 'dune', 'mu2e', 'uboone', 'icarus'];
  // condor_q's own layout: one attribute per line, `,` on its own line between ClassAds.
  const w = createWriteStream(file);
  w.write('[\n');
  for (let i = 0; i < N; i++) {
    const ad = {
      ClusterId: 100000 + Math.floor(i / 10),
      ProcId: i % 10,
      JobStatus: [1, 2, 2, 2, 2, 5, 1, 4][i % 8],
      Owner: `user${i % 200}`,
      AcctGroup: `group_${exps[i % 5]}.prod`,
      AccountingGroup: `group_${exps[i % 5]}.prod.user${i % 200}`,
      RequestCpus: 1 + (i % 8 === 3 ? 7 : 0),
      RequestMemory: 2000,
      QDate: 1764547200 - (i % 86400),
      HoldReasonCode: i % 8 === 5 ? 13 : undefined,
      Cmd: `/grid/fermiapp/products/${exps[i % 5]}/run_job.sh`,
      Iwd: `/pnfs/${exps[i % 5]}/scratch/users/user${i % 200}/job_${i}`,
    };
    if (!w.write((i ? '\n,\n' : '') + JSON.stringify(ad, null, 2))) await new Promise((r) => w.once('drain', r));
  }
  w.write('\n]\n');
  await new Promise((r) => w.end(r));
  const script = path.join(t.dir, 'condor_q');
  writeFileSync(script, `#!/bin/sh\nexec cat ${JSON.stringify(file)}\n`);
  chmodSync(script, 0o755);
  const mb = statSync(file).size / 1048576;

  const rows = { idle: [], stream: [], baseline: [] };
  for (let r = 0; r < Number(opt.runs); r++) for (const mode of ['idle', 'stream', 'baseline']) rows[mode].push(await measure(mode, script));
  t.cleanup();
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`${N.toLocaleString('en')} jobs, ${mb.toFixed(0)} MB of condor_q -json output; median of ${opt.runs} runs, each in a fresh process\n`);
  console.log('| run | s per 100,000 jobs | CPU s per 100,000 jobs | peak RSS MB | series |');
  console.log('|---|---|---|---|---|');
  const label = {
    idle: 'node, nothing read (floor)',
    stream: 'condor slurper (streamed, counted as they arrive)',
    baseline: 'baseline: whole output, one JSON.parse',
  };
  for (const mode of ['idle', 'stream', 'baseline']) {
    const xs = rows[mode];
    const per = (k) => (mode === 'idle' ? '—' : (med(xs.map((x) => x[k])) / (xs[0].jobs / 100000)).toFixed(2));
    console.log(
      `| ${label[mode]} | ${per('seconds')} | ${per('cpu')} | ${med(xs.map((x) => x.peakMB)).toFixed(0)} | ${mode === 'idle' ? '—' : xs[0].series} |`,
    );
  }
}

if (opt.child) await child(opt.child, positionals[0]);
else await main();
