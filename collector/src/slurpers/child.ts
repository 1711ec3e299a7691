// One child process of a slurper: no shell, its own process group (so a timeout also ends what a wrapper script
// started, e.g. a `sleep` holding stdout open), SIGTERM at the timeout and SIGKILL 2 s later, the end of stderr kept.
import { spawn } from 'node:child_process';

export interface SlurperChild {
  /** The child's stdout, as text. */
  stdout: NodeJS.ReadableStream;
  /** Signals the whole process group of the PID spawned here. */
  kill(sig: NodeJS.Signals): void;
  timedOut(): boolean;
  /** The last 4,000 characters of stderr. */
  stderr(): string;
  /** Why it could not be started, if it could not. */
  spawnError(): string | undefined;
}

export function startChild(
  argv: string[],
  opts: { timeoutSeconds: number; env: Record<string, string> },
  onClose: (code: number | null, signal: NodeJS.Signals | null) => void,
): SlurperChild {
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const kill = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  let stderr = '';
  let timedOut = false;
  let spawnError: string | undefined;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const timer = setTimeout(() => {
    timedOut = true;
    kill('SIGTERM');
    setTimeout(() => kill('SIGKILL'), 2000).unref();
  }, opts.timeoutSeconds * 1000);
  child.on('error', (e) => (spawnError = e.message));
  child.on('close', (code, signal) => {
    clearTimeout(timer);
    onClose(code, signal);
  });
  return { stdout: child.stdout, kill, timedOut: () => timedOut, stderr: () => stderr, spawnError: () => spawnError };
}
