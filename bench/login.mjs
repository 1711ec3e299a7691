#!/usr/bin/env node
// What a Basic login costs per request: GET /api/v1/auth/whoami on a real collector (in this process, loopback),
// with a bearer token (the baseline), with a user's password remembered (auth.users.cacheTtl, the default) and
// with it checked by bcrypt every time (cacheTtl 0), for a cost-10 hash (`rexmon user add`) and a cost-5 one
// (`htpasswd -B`'s default). Sequential requests; median and 95th percentile.
// Usage: node bench/login.mjs [--requests 200]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Collector } from '../collector/dist/app.js';
import { hashPassword } from '../collector/dist/auth/htpasswd.js';
import { createToken } from '../collector/dist/auth/tokens.js';
import { configSchema } from '../collector/dist/config/schema.js';
import { tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { requests: { type: 'string', default: '200' } } });
const N = Number(opt.requests);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function run(cacheTtl) {
  const t = tmp('rexmon-bench-login-');
  const users = path.join(t.dir, 'users');
  const c5 = execFileSync('htpasswd', ['-nbB', 'h5', 'password-five']).toString().trim();
  writeFileSync(users, `u10:${await hashPassword('password-ten')}\n${c5}\n`);
  const config = configSchema.parse({
    dataDir: path.join(t.dir, 'data'),
    http: { listen: '127.0.0.1:0' },
    graphite: { tcp: false, udp: false },
    slurpers: [],
    log: { level: 'silent' },
    auth: { anonymousRead: false, users: { file: users, cacheTtl } },
  });
  const c = new Collector(config);
  await c.start();
  const url = `${c.addresses.http}/api/v1/auth/whoami`;
  const token = await createToken(c.db, 'bench', 'viewer');
  const basic = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const cases = { 'bearer token': `Bearer ${token}`, 'Basic, cost 10': basic('u10', 'password-ten'), 'Basic, cost 5': basic('h5', 'password-five') };
  const out = {};
  try {
    for (const [name, authorization] of Object.entries(cases)) {
      const ms = [];
      for (let i = 0; i < N + 5; i++) {
        const t0 = performance.now();
        const r = await fetch(url, { headers: { authorization } });
        await r.text();
        if (r.status !== 200) throw new Error(`${name}: ${r.status}`);
        if (i >= 5) ms.push(performance.now() - t0);
      }
      out[name] = ms;
    }
  } finally {
    await c.stop();
    t.cleanup();
  }
  return out;
}

const cached = await run(300);
const uncached = await run(0);
console.log(`GET /api/v1/auth/whoami, ${N} sequential requests each (after 5 warm-up), ms per request:`);
console.log('| caller | median | p95 | requests/s |');
console.log('|---|---|---|---|');
const row = (label, ms) => console.log(`| ${label} | ${pct(ms, 0.5).toFixed(2)} | ${pct(ms, 0.95).toFixed(2)} | ${(1000 / (ms.reduce((a, b) => a + b, 0) / ms.length)).toFixed(0)} |`);
row('bearer token (baseline)', cached['bearer token']);
for (const k of ['Basic, cost 10', 'Basic, cost 5']) {
  row(`${k}, remembered (cacheTtl 300s, default)`, cached[k]);
  row(`${k}, bcrypt every request (cacheTtl 0)`, uncached[k]);
}
