// The collector's log: JSON lines for files, pipes and log collectors; readable lines on a terminal.
import { createRequire } from 'node:module';
import pino, { DestinationStream, Logger } from 'pino';

export type LogFormat = 'auto' | 'json' | 'pretty';

/** `auto` is pretty exactly when stdout is a terminal; REXMON_LOG_FORMAT (scripts/start.sh sets it) wins over the config. */
export function chooseLogFormat(configured: LogFormat, stdoutIsTTY: boolean, env: string | undefined = process.env.REXMON_LOG_FORMAT): 'json' | 'pretty' {
  const f = env === 'json' || env === 'pretty' || env === 'auto' ? env : configured;
  if (f === 'auto') return stdoutIsTTY ? 'pretty' : 'json';
  return f;
}

type PrettyFactory = (opts: Record<string, unknown>) => DestinationStream;

/** pino-pretty as a stream on the main thread: synchronous, so a line written just before exit is not lost. */
function prettyStream(colorize: boolean): DestinationStream {
  const load = createRequire(import.meta.url)('pino-pretty') as PrettyFactory | { default: PrettyFactory };
  const pretty = typeof load === 'function' ? load : load.default;
  return pretty({ colorize, sync: true, destination: 1, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

export function createLogger(opts: { level: string; format: LogFormat }): Logger {
  const options = { level: opts.level, base: { service: 'rexmon' } };
  const isTTY = process.stdout.isTTY === true;
  if (chooseLogFormat(opts.format, isTTY) === 'json') return pino(options);
  let stream: DestinationStream;
  try {
    stream = prettyStream(isTTY);
  } catch (e) {
    // A missing pretty-printer must not stop the collector: JSON lines, and say why.
    const log = pino(options);
    log.warn({ err: e }, 'readable log lines need the npm package pino-pretty; writing JSON lines');
    return log;
  }
  return pino(options, stream);
}
