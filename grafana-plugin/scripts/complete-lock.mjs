#!/usr/bin/env node
// The npm registry reachable here serves only the Linux builds of @swc/core's platform packages,
// so `npm install` leaves the others out of package-lock.json and `npm ci` then refuses the lock
// ("Missing: @swc/core-darwin-arm64@ from lock file"). This adds those entries (optional, with
// their os/cpu, so npm skips them on Linux without fetching anything). Idempotent; run after
// any `npm install` that rewrites the lock (scripts/ci-setup.sh runs it too). A platform package
// missing from the lock that the table below does not know is an error: add it to the table.
// Usage: node scripts/complete-lock.mjs [path/to/package-lock.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const platforms = {
  'darwin-arm64': ['darwin', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'linux-arm-gnueabihf': ['linux', 'arm'],
  'linux-arm64-gnu': ['linux', 'arm64', 'glibc'],
  'linux-arm64-musl': ['linux', 'arm64', 'musl'],
  'linux-ppc64-gnu': ['linux', 'ppc64', 'glibc'],
  'linux-s390x-gnu': ['linux', 's390x', 'glibc'],
  'linux-x64-gnu': ['linux', 'x64', 'glibc'],
  'linux-x64-musl': ['linux', 'x64', 'musl'],
  'win32-arm64-msvc': ['win32', 'arm64'],
  'win32-ia32-msvc': ['win32', 'ia32'],
  'win32-x64-msvc': ['win32', 'x64'],
};
const core = lock.packages['node_modules/@swc/core'];
if (!core) {
  process.exit(0);
}
const unknown = Object.keys(core.optionalDependencies ?? {}).filter(
  (dep) => !lock.packages[`node_modules/${dep}`] && !platforms[dep.replace('@swc/core-', '')]
);
if (unknown.length) {
  console.error(
    `complete-lock: ${unknown.join(', ')} (optional dependencies of @swc/core ${core.version}) missing from ${file} ` +
      'and not in the platform table of scripts/complete-lock.mjs: add each with its [os, cpu, libc] there; ' +
      'without the lock entry `npm ci` refuses the lock'
  );
  process.exit(1);
}
const added = [];
const out = {};
for (const [key, value] of Object.entries(lock.packages)) {
  out[key] = value;
  if (key !== 'node_modules/@swc/core') {
    continue;
  }
  for (const dep of Object.keys(core.optionalDependencies ?? {})) {
    const k = `node_modules/${dep}`;
    if (lock.packages[k]) {
      continue;
    }
    const p = platforms[dep.replace('@swc/core-', '')];
    const [os, cpu, libc] = p;
    out[k] = {
      version: core.optionalDependencies[dep],
      cpu: [cpu],
      dev: true,
      ...(libc ? { libc: [libc] } : {}),
      license: 'Apache-2.0 AND MIT',
      optional: true,
      os: [os],
      engines: { node: '>=10' },
    };
    added.push(dep);
  }
}
if (added.length) {
  lock.packages = out;
  writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
  console.log(`complete-lock: added ${added.join(', ')}`);
}
