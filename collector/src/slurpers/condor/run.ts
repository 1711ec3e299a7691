// Runs one HTCondor tool (no shell) and hands each ClassAd of its `-json` output to a callback as it
// arrives; a call that times out is killed by the process group of the PID we spawned.
import { spawn } from 'node:child_process';
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
    // Its own process group, so a timeout also ends what a wrapper script started.
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const splitter = new ObjectArraySplitter(onAd);
    let stderr = '';
    let timedOut = false;
    let spawnError: string | undefined;
    let jsonError: string | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (jsonError) return;
      try {
        splitter.push(d);
      } catch (e) {
        // The rest cannot be trusted: stop reading and end the call.
        jsonError = (e as Error).message;
        killGroup('SIGKILL');
      }
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
      const done = (failure?: CallFailure, message?: string) => resolve({ failure, message, ads: splitter.count, maxHeld: splitter.maxHeld });
      const tail = stderr.trim() ? `: ${stderr.trim().slice(-500)}` : '';
      if (spawnError) return done('spawn', `cannot run ${JSON.stringify(argv[0])}: ${spawnError}`);
      if (timedOut) return done('timeout', `timed out after ${opts.timeoutSeconds} s and was killed (${splitter.count} ClassAd(s) read, not used)`);
      if (jsonError) return done('invalid_json', `invalid JSON: ${jsonError}`);
      if (code !== 0) return done('exit', `exited with ${signal ?? code}${tail}`);
      try {
        splitter.end();
      } catch (e) {
        return done('invalid_json', `invalid JSON: ${(e as Error).message}`);
      }
      done();
    });
  });
}
