// Runs an executable (no shell) and reads Graphite lines or a JSON array from its stdout:
// the lab's existing shell slurpers plug in unchanged.
import { spawn } from 'node:child_process';
import { GraphiteMapper } from '../ingest/graphite.js';
import { parseGraphiteText, parseJsonSamples, Parsed } from './parse.js';

export interface CommandResult extends Parsed {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stderr: string;
  spawnError?: string;
}

const MAX_OUTPUT = 64 * 1024 * 1024;

export function runCommand(
  argv: string[],
  opts: { timeoutSeconds: number; env: Record<string, string>; format: 'graphite' | 'json' | 'auto'; mapper: GraphiteMapper },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    // Its own process group, so a timeout also ends what a shell script started (a `sleep` holding stdout open).
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: string | undefined;
    let overflow = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (stdout.length + d.length > MAX_OUTPUT) {
        overflow = true;
        killGroup('SIGKILL');
      } else stdout += d;
    });
    child.stderr.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 2000).unref();
    }, opts.timeoutSeconds * 1000);
    child.on('error', (e) => (spawnError = e.message));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const now = Math.floor(Date.now() / 1000);
      // A run cut short by a timeout may end mid-line: drop the unfinished last line.
      const text = timedOut || overflow ? stdout.slice(0, stdout.lastIndexOf('\n') + 1) : stdout;
      const trimmed = text.trimStart();
      const json = opts.format === 'json' || (opts.format === 'auto' && trimmed.startsWith('['));
      const parsed = trimmed === '' ? { samples: [], errors: [] } : json ? parseJsonSamples(text, now) : parseGraphiteText(text, opts.mapper, now);
      if (overflow) parsed.errors.push(`output larger than ${MAX_OUTPUT} bytes; the command was killed`);
      resolve({ ...parsed, exitCode: code, signal, timedOut, stderr: stderr.trim(), spawnError });
    });
  });
}
