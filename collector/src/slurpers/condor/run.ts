// Runs one HTCondor tool (no shell) and hands each ClassAd of its `-json` output to a callback as it
// arrives; a call that times out is killed by the process group of the PID we spawned.
import { startChild } from '../child.js';
import { ObjectArraySplitter } from './json-stream.js';

export type CallFailure = 'spawn' | 'timeout' | 'invalid_json' | 'exit';

export interface CallResult {
  /** Absent when the call answered completely (exit 0, a whole JSON array or nothing). */
  failure?: CallFailure;
  message?: string;
  ads: number;
  /** Most characters held for one unfinished ClassAd. */
  maxHeld: number;
}

export function runJson(
  argv: string[],
  opts: { timeoutSeconds: number; env: Record<string, string> },
  onAd: (ad: Record<string, unknown>) => void,
): Promise<CallResult> {
  return new Promise((resolve) => {
    const splitter = new ObjectArraySplitter(onAd);
    let jsonError: string | undefined;
    const child = startChild(argv, opts, (code, signal) => {
      const done = (failure?: CallFailure, message?: string) => resolve({ failure, message, ads: splitter.count, maxHeld: splitter.maxHeld });
      const stderr = child.stderr().trim();
      const tail = stderr ? `: ${stderr.slice(-500)}` : '';
      const spawnError = child.spawnError();
      if (spawnError) return done('spawn', `cannot run ${JSON.stringify(argv[0])}: ${spawnError}`);
      if (child.timedOut()) return done('timeout', `timed out after ${opts.timeoutSeconds} s and was killed (${splitter.count} ClassAd(s) read, not used)`);
      if (jsonError) return done('invalid_json', `invalid JSON: ${jsonError}`);
      if (code !== 0) return done('exit', `exited with ${signal ?? code}${tail}`);
      try {
        splitter.end();
      } catch (e) {
        return done('invalid_json', `invalid JSON: ${(e as Error).message}`);
      }
      done();
    });
    child.stdout.on('data', (d: string) => {
      if (jsonError) return;
      try {
        splitter.push(d);
      } catch (e) {
        // The rest cannot be trusted: stop reading and end the call.
        jsonError = (e as Error).message;
        child.kill('SIGKILL');
      }
    });
  });
}
