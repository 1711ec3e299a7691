// Example event handler: runs a configured command for each event (no shell), the event as JSON on stdin and
// REXMON_EVENT_TYPE / REXMON_EVENT_SOURCE / REXMON_EVENT_TIME (Unix ms) in its environment.
//   events.handlers: [{ name: page, module: collector/dist/handlers/run-command.js, types: [disk.error],
//                       timeout: 30, options: { command: [/usr/local/bin/page-oncall, --quiet] } }]
// A non-zero exit fails the call (counted in rexmon_event_processor_failed_total); the timeout kills the command.
import { execFile } from 'node:child_process';
import type { EventInput } from '../events/model.js';
import type { HandlerContext } from '../events/handlers.js';

export default function handle(event: EventInput, ctx: HandlerContext): Promise<void> {
  const argv = ctx.options.command;
  if (!Array.isArray(argv) || !argv.length || !argv.every((a) => typeof a === 'string'))
    throw new Error('run-command: options.command must be a non-empty list of strings (the executable, then its arguments)');
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0],
      argv.slice(1),
      {
        signal: ctx.signal,
        killSignal: 'SIGKILL',
        maxBuffer: 1024 * 1024,
        env: { ...process.env, REXMON_EVENT_TYPE: event.type, REXMON_EVENT_SOURCE: event.source, REXMON_EVENT_TIME: String(event.time) },
      },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${argv[0]} failed: ${err.message}${stderr ? `: ${String(stderr).trim().slice(-300)}` : ''}`));
        if (String(stdout).trim()) ctx.log.info(`${argv[0]}: ${String(stdout).trim().slice(-300)}`);
        resolve();
      },
    );
    child.stdin?.on('error', () => {}); // a command that does not read stdin
    child.stdin?.end(JSON.stringify(event) + '\n');
  });
}
