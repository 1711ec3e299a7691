// Runs an executable (no shell) and reads Graphite lines or a JSON array from its stdout:
// the lab's existing shell slurpers plug in unchanged.
import { startChild } from './child.js';
import { GraphiteMapper } from '../ingest/graphite.js';
import { parseGraphiteText, parseJsonEvents, parseJsonSamples, Parsed } from './parse.js';

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
  opts: { timeoutSeconds: number; env: Record<string, string>; format: 'graphite' | 'json' | 'auto'; mapper: GraphiteMapper; mode?: 'samples' | 'events' },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let overflow = false;
    const child = startChild(argv, opts, (code, signal) => {
      const timedOut = child.timedOut();
      const now = Math.floor(Date.now() / 1000);
      // A run cut short by a timeout may end mid-line: drop the unfinished last line.
      const text = timedOut || overflow ? stdout.slice(0, stdout.lastIndexOf('\n') + 1) : stdout;
      const trimmed = text.trimStart();
      const json = opts.format === 'json' || (opts.format === 'auto' && trimmed.startsWith('['));
      const parsed =
        opts.mode === 'events'
          ? trimmed === ''
            ? { samples: [], errors: [], events: [] }
            : parseJsonEvents(text, Date.now())
          : trimmed === ''
            ? { samples: [], errors: [] }
            : json
              ? parseJsonSamples(text, now)
              : parseGraphiteText(text, opts.mapper, now);
      if (overflow) parsed.errors.push(`output larger than ${MAX_OUTPUT} bytes; the command was killed`);
      resolve({ ...parsed, exitCode: code, signal, timedOut, stderr: child.stderr().trim(), spawnError: child.spawnError() });
    });
    child.stdout.on('data', (d: string) => {
      if (stdout.length + d.length > MAX_OUTPUT) {
        overflow = true;
        child.kill('SIGKILL');
      } else stdout += d;
    });
  });
}
