// The log's format: JSON lines into files and pipes, readable lines on a terminal (a real pty from
// util-linux `script`), and REXMON_LOG_FORMAT over the config (scripts/start.sh sets pretty).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort, tempDir } from '../testing/harness.js';
import { chooseLogFormat } from './log.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));

test('the format: auto is pretty on a terminal only; json and pretty are kept; REXMON_LOG_FORMAT wins', () => {
  assert.equal(chooseLogFormat('auto', true, undefined), 'pretty');
  assert.equal(chooseLogFormat('auto', false, undefined), 'json');
  assert.equal(chooseLogFormat('json', true, undefined), 'json');
  assert.equal(chooseLogFormat('pretty', false, undefined), 'pretty');
  assert.equal(chooseLogFormat('auto', false, 'pretty'), 'pretty');
  assert.equal(chooseLogFormat('pretty', true, 'json'), 'json');
  assert.equal(chooseLogFormat('auto', true, 'auto'), 'pretty');
  assert.equal(chooseLogFormat('json', true, 'nonsense'), 'json', 'an unknown value is ignored');
});

/** `rexmon start` for about 3 s (then SIGTERM from timeout, which then exits 124), stdout on a pty (`script`) or a pipe; all it printed. */
async function startBriefly(onTerminal: boolean, env: Record<string, string> = {}): Promise<string> {
  const t = await tempDir();
  try {
    const cfg = path.join(t.dir, 'rexmon.yaml');
    await writeFile(cfg, 'graphite: {tcp: false, udp: false}\nslurpers: []\nrrd: {cached: {mode: "off"}}\n');
    const args = [
      '--foreground',
      '-s',
      'TERM',
      '3',
      process.execPath,
      BIN,
      'start',
      '--config',
      cfg,
      '--data-dir',
      t.dir,
      '--listen',
      `127.0.0.1:${await freePort()}`,
    ];
    const [cmd, argv] = onTerminal ? ['script', ['-q', '-e', '-c', ['timeout', ...args].map((a) => `'${a}'`).join(' '), '/dev/null']] : ['timeout', args];
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 124, `stopped by timeout's SIGTERM (exit 124), not before; output:\n${out}`);
    return out;
  } finally {
    await t.cleanup();
  }
}

test('on a terminal the log is readable lines; into a pipe JSON lines; REXMON_LOG_FORMAT=pretty makes a pipe readable', { timeout: 60000 }, async () => {
  const tty = await startBriefly(true);
  const plain = tty.replace(/\x1b\[[0-9;]*m/g, '');
  assert.match(plain, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: rexmon collector \S+ listening on http:\/\/127\.0\.0\.1:\d+\r?$/m, tty);
  assert.match(plain, /INFO: rexmon collector stopped/);
  assert.doesNotMatch(plain, /^\{"level"/m, 'no JSON on a terminal');

  const piped = await startBriefly(false);
  const lines = piped.trim().split('\n');
  for (const l of lines) assert.equal(typeof JSON.parse(l).msg, 'string', `a JSON line: ${l}`);
  assert.ok(lines.some((l) => /listening on/.test(JSON.parse(l).msg)));

  const forced = await startBriefly(false, { REXMON_LOG_FORMAT: 'pretty' });
  assert.match(forced, /^\[[^\]]+\] INFO: rexmon collector \S+ listening on/m);
  assert.doesNotMatch(forced, /\x1b\[/, 'no colours into a pipe');
});
