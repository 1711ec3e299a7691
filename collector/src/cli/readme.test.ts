// The README's shell examples work as written: every ```sh block but the Quick start's two commands (which
// are CI itself) is run line by line in one bash, as a user would type it, against a fresh collector (on free
// ports: the examples' http://127.0.0.1:8080 is pointed at it; `npx rexmon` is this repository's CLI, run from
// a directory whose ./data is the collector's data dir, as in the Quick start; $T is an editor token).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createToken } from '../auth/tokens.js';
import { freePort, startCollector, tempDir } from '../testing/harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, '../../bin/rexmon.js');
const README = readFileSync(path.resolve(here, '../../../README.md'), 'utf8');

function blocks(): string[] {
  return [...README.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]).filter((b) => !b.includes('scripts/start.sh'));
}

function runBash(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-s'], { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(script);
  });
}

test('the README shell examples run as written and do what they say', async () => {
  const found = blocks();
  assert.ok(found.length >= 4, `README shell blocks: ${found.length}`);
  const { dir, cleanup } = await tempDir();
  // Syslog on one free port for TCP and UDP, where the examples say 5514.
  const syslogPort = await freePort();
  const c = await startCollector({ syslog: { tcp: `127.0.0.1:${syslogPort}`, udp: `127.0.0.1:${syslogPort}` } }, path.join(dir, 'data'));
  try {
    const env = {
      REXMON_URL: c.url,
      REXMON_GRAPHITE: `${c.graphiteTcp!.host}:${c.graphiteTcp!.port}`,
      T: await createToken(c.collector.db, 'readme', 'editor'),
    };
    // Each command as typed (continuation lines joined), a moment apart: a person does not send and query in the same millisecond.
    const lines = found
      .flatMap((b) => b.replace(/\\\n\s*/g, ' ').split('\n'))
      .filter((l) => l.trim() && !l.trim().startsWith('#'))
      .map((l) => l.replaceAll('http://127.0.0.1:8080', c.url).replaceAll('-P 5514', `-P ${syslogPort}`));
    const script = [
      'set -e',
      `npx() { if [ "$1" = rexmon ]; then shift; node ${JSON.stringify(BIN)} "$@"; else echo "npx $1: not in the examples" >&2; return 127; fi; }`,
      ...lines.flatMap((l) => [`echo "+ ${l.replace(/["$`\\]/g, '\\$&')}"`, l, 'sleep 0.5']),
    ].join('\n');
    const r = await runBash(script, dir, env);
    assert.equal(r.code, 0, `a README line failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /sent 1 line\(s\) to/);
    assert.match(r.stdout, /# lab\.host01\.temp\n[\s\S]*\t21\.5\n/, 'the sent value comes back from the query');
    assert.match(r.stdout, /^lab\.host01\.temp$/m, 'and is listed by rexmon series');
    for (const id of [1, 2, 3]) assert.match(r.stdout, new RegExp(`created downtime #${id} `));
    assert.doesNotMatch(r.stderr, /already over/, 'no example files a downtime in the past');
    assert.doesNotMatch(r.stdout, /"error":/, 'no API example answers an error');
    assert.match(r.stdout, /"type":"job\.state"/, 'the event example is stored and read back');
    assert.match(r.stdout, /^sent event job\.state to http/m, 'rexmon event send delivers the example');
    assert.match(r.stdout, /"source":"wrapper01","labels":\{"experiment":"nova","schedd":"s01"\},"data":\{"job":"123\.0","to":"held"\}/);
    assert.match(
      r.stdout,
      /"type":"syslog","source":"[^"]+","labels":\{"app":"sshd","facility":"auth","severity":"warn"\}/,
      'the logger example is stored as an event',
    );
  } finally {
    await c.stop();
    await cleanup();
  }
});

test('a downtime filed in the past is created with a warning from the CLI and the API', async () => {
  const { dir, cleanup } = await tempDir();
  const c = await startCollector({ auth: { anonymousWrite: true } }, path.join(dir, 'data'));
  try {
    const r = await runBash(
      `node ${JSON.stringify(BIN)} downtime add --planned --match '{host="x"}' --start 2020-01-01T08:00:00Z --duration 1h --reason late`,
      dir,
      { REXMON_URL: c.url },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: downtime #1 is already over: it will not silence anything/);
    const api = await fetch(`${c.url}/api/v1/downtimes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'planned', match: '{host="y"}', start: '2020-01-01T08:00:00Z', duration: '1h', author: 'a', reason: 'late' }),
    });
    assert.equal(api.status, 201);
    assert.deepEqual(((await api.json()) as { warnings?: string[] }).warnings, ['downtime #2 is already over: it will not silence anything']);
  } finally {
    await c.stop();
    await cleanup();
  }
});
