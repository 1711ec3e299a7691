#!/usr/bin/env node
// Checks what Grafana would check when loading dist/ (no Grafana runs here):
// plugin.json consistent with the code and package, the backend executables Grafana starts
// (<executable>_linux_amd64 / _arm64: static ELF of the right machine), the plugin id the same
// everywhere, grafanaDependency set and satisfied by the @grafana packages we build against.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const semver = require('semver');

const EXPECTED_ID = 'rexmon-rrd-datasource';
const failures = [];
let passed = 0;
function check(ok, what) {
  if (ok) {
    passed++;
  } else {
    failures.push(what);
  }
}
const read = (p) => readFileSync(join(root, p), 'utf8');
const json = (p) => JSON.parse(read(p));

const src = json('src/plugin.json');
const pkg = json('package.json');

check(src.id === EXPECTED_ID, `src/plugin.json id is ${src.id}, expected ${EXPECTED_ID}`);
check(src.type === 'datasource', `src/plugin.json type is ${src.type}, expected datasource`);
for (const key of ['backend', 'alerting', 'annotations', 'metrics']) {
  check(src[key] === true, `src/plugin.json must set "${key}": true`);
}
check(/^gpx_[a-z0-9_]+$/.test(src.executable ?? ''), `src/plugin.json executable ${src.executable} should be gpx_<name>`);
check(pkg.name === src.id, `package.json name ${pkg.name} differs from the plugin id ${src.id}`);
check(read('pkg/main.go').includes(`PluginID = "${src.id}"`), 'pkg/main.go does not serve the plugin id of plugin.json');
check(read('provisioning/datasources/datasources.yml').includes(`type: ${src.id}`), 'provisioning/datasources uses another plugin type');
check(read('.config/docker-compose-base.yaml').includes(`plugins/${src.id}`), '.config/docker-compose-base.yaml mounts another plugin id');

// grafanaDependency must admit the Grafana the plugin is built against (the installed
// @grafana/data), and its lower bound must be that same major.minor: a lower bound older than
// the packages would promise Grafana versions whose APIs the build was never checked against.
const dep = src.dependencies?.grafanaDependency;
const range = dep ? semver.validRange(dep) : null;
check(range !== null, `grafanaDependency ${dep} is not a valid semver range`);
const builtAgainst = require('@grafana/data/package.json').version;
if (range !== null) {
  check(semver.satisfies(builtAgainst, range), `grafanaDependency ${dep} excludes @grafana/data ${builtAgainst} the plugin is built against`);
  const lower = semver.minVersion(range);
  check(
    semver.major(lower) === semver.major(builtAgainst) && semver.minor(lower) === semver.minor(builtAgainst),
    `grafanaDependency ${dep} starts at ${lower}, but the plugin is built against @grafana/data ${builtAgainst}: ` +
      `use ">=${semver.major(builtAgainst)}.${semver.minor(builtAgainst)}.0"`
  );
}

// dist/ as webpack + build:backend leave it.
if (!existsSync(join(root, 'dist/plugin.json'))) {
  failures.push('dist/plugin.json is missing: run npm run build');
} else {
  const dist = json('dist/plugin.json');
  for (const key of ['id', 'type', 'executable', 'backend', 'alerting', 'annotations', 'metrics']) {
    check(dist[key] === src[key], `dist/plugin.json ${key} ${dist[key]} differs from src/plugin.json ${src[key]}`);
  }
  check(dist.info.version === pkg.version, `dist/plugin.json version ${dist.info.version}, expected ${pkg.version}`);
  check(/^\d{4}-\d{2}-\d{2}$/.test(dist.info.updated), `dist/plugin.json updated ${dist.info.updated} is not a date`);
  for (const logo of Object.values(dist.info.logos)) {
    check(existsSync(join(root, 'dist', logo)), `dist/${logo} (logo) is missing`);
  }
  check(existsSync(join(root, 'dist/module.js')), 'dist/module.js is missing');

  // ELF e_machine: 62 = x86-64, 183 = AArch64.
  for (const [arch, machine] of [['amd64', 62], ['arm64', 183]]) {
    const file = join(root, 'dist', `${src.executable}_linux_${arch}`);
    if (!existsSync(file)) {
      failures.push(`dist/${src.executable}_linux_${arch} is missing: run npm run build:backend`);
      continue;
    }
    check((statSync(file).mode & 0o111) !== 0, `${file} is not executable`);
    const b = readFileSync(file);
    const isElf = b.subarray(0, 4).toString('latin1') === '\x7fELF';
    check(isElf && b[4] === 2 && b[5] === 1, `${file} is not a 64-bit little-endian ELF`);
    check(b.readUInt16LE(18) === machine, `${file} is built for machine ${b.readUInt16LE(18)}, expected ${machine} (${arch})`);
    // No PT_INTERP (3) program header: statically linked, runs in any Grafana image.
    const phoff = Number(b.readBigUInt64LE(32));
    const phentsize = b.readUInt16LE(54);
    const phnum = b.readUInt16LE(56);
    let interp = false;
    for (let i = 0; i < phnum; i++) {
      interp ||= b.readUInt32LE(phoff + i * phentsize) === 3;
    }
    check(!interp, `${file} is dynamically linked (build with CGO_ENABLED=0)`);
  }

  // Started outside Grafana, a go-plugin binary refuses to serve and says so.
  if (process.arch === 'x64') {
    let out = '';
    let status = 0;
    try {
      out = execFileSync(join(root, 'dist', `${src.executable}_linux_amd64`), [], { encoding: 'utf8', stdio: 'pipe', timeout: 10000 });
    } catch (e) {
      out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
      status = e.status;
    }
    check(status === 1 && out.includes('This binary is a plugin'), `the amd64 executable did not answer as a Grafana plugin binary (exit ${status}): ${out.slice(0, 200)}`);
  }
}

for (const f of failures) {
  console.error(`FAIL ${f}`);
}
console.log(`plugin checks: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
