// A server process for tests (Alertmanager, Prometheus) started and stopped by the PID started here:
// `up()` spawns it and waits until its readiness URL answers; `down()` stops it (SIGKILL after a grace).
import { ChildProcess, spawn } from 'node:child_process';

export interface Daemon {
  /** Nothing when it runs already (a second one could not bind the port, and would hide the first). */
  up: () => Promise<void>;
  down: (signal?: NodeJS.Signals) => Promise<void>;
}

export function testDaemon(o: { name: string; binary: string; args: string[]; readyUrl: string; readyMs: number; graceMs: number }): Daemon {
  let child: ChildProcess | undefined;
  let log = '';
  const down = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), o.graceMs);
    await exited;
    clearTimeout(t);
  };
  const up = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const c = spawn(o.binary, o.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr!.on('data', (b) => (log = (log + b).slice(-4000)));
    c.on('error', (e) => (log += `\n${e.message}`));
    const deadline = Date.now() + o.readyMs;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`${o.name} exited: ${log}`);
      const ok = await fetch(o.readyUrl).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) {
        // Stop the process started here before giving up, so none outlives the test.
        await down();
        throw new Error(`${o.name} not ready within ${o.readyMs / 1000} s: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { up, down };
}
