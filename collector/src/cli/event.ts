// `rexmon event send TYPE key=value ...`: one event through the event client, for shells and job wrappers.
// The event is checked here first (exit 2 naming what is wrong); delivery waits at most --timeout.
import { Command, InvalidArgumentError, Option } from 'commander';
import { EventClient } from '../client/events.js';
import { checkEvent, EventValue } from '../events/model.js';
import { ValidationError } from '../model/series.js';
import { parseTime } from '../util/time.js';
import { UsageError } from './usage.js';

/** `key=value` → [key, value]; the key is checked by the event model later. */
function pair(arg: string, what: string): [string, string] {
  const i = arg.indexOf('=');
  if (i <= 0) throw new UsageError(`${what} ${JSON.stringify(arg)} must be key=value`);
  return [arg.slice(0, i), arg.slice(i + 1)];
}

/** Data values written as a number prints (`bytes=1048576`, not `job=123.0`) or true/false are sent as such. */
function dataValue(v: string): EventValue {
  if (v === 'true' || v === 'false') return v === 'true';
  if (v.trim() !== '' && String(Number(v)) === v) return Number(v);
  return v;
}

export function eventCommands(program: Command, apiOptions: (c: Command) => Command) {
  const event = program.command('event').description('events (key/value records with a type, a source and a time)');
  apiOptions(
    event
      .command('send')
      .description('send one event: labels as key=value, data with --data key=value; exit 0 once the collector has it')
      .argument('<type>', 'event type, e.g. job.state')
      .argument('[labels...]', 'labels, e.g. experiment=nova host=fnpc01'),
  )
    .option('--source <source>', 'who sends it (default: this host name)')
    .option('--time <time>', 'when it happened: ISO 8601, Unix seconds/ms, now-5m (default now)', (v) => {
      try {
        return String(Math.round(parseTime(v, Date.now() / 1000, 'time', 'local') * 1000));
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message.replace(/^time: /, ''));
      }
    })
    .option('--data <key=value>', 'a data field (repeatable); numbers and true/false are sent as such', (v, all: string[] = []) => [...all, v])
    .addOption(new Option('--timeout <seconds>', 'give up delivering after this long (collector away or busy)').default('10'))
    .action(async (type: string, labelArgs: string[], o: { url: string; token?: string; source?: string; time?: string; data?: string[]; timeout: string }) => {
      const timeout = Number(o.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout ${JSON.stringify(o.timeout)} must be a positive number of seconds`);
      const labels = Object.fromEntries(labelArgs.map((a) => pair(a, 'label')));
      const data = Object.fromEntries((o.data ?? []).map((a) => pair(a, '--data')).map(([k, v]) => [k, dataValue(v)]));
      const time = o.time === undefined ? undefined : Number(o.time);
      try {
        // The client would drop a bad event with a log line; here the caller is told, with exit 2.
        checkEvent({ type, source: o.source ?? 'cli', time, labels, data }, Date.now());
      } catch (e) {
        if (e instanceof ValidationError) throw new UsageError(`${e.path ? e.path + ': ' : ''}${e.message}`);
        throw e;
      }
      const said: string[] = [];
      const client = new EventClient({
        url: o.url,
        token: o.token,
        source: o.source,
        batchSize: 1,
        flushInterval: 3600_000,
        requestTimeout: Math.min(5000, timeout * 1000),
        maxBackoff: 2000,
        log: (m) => said.push(m),
      });
      client.send(type, labels, { time, data });
      // Busy (503/429) is waited out within --timeout; away is tried again until then too.
      const deadline = Date.now() + timeout * 1000;
      let st = client.stats();
      while (st.buffered > 0 && Date.now() < deadline) {
        await client.flush(deadline - Date.now());
        st = client.stats();
        if (st.buffered > 0) await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
      }
      st = await client.close(0);
      // The first thing the client said is the cause (away, refused); the closing note follows from it.
      const why = said[0]?.replace(/ \(further drops.*$/, '') ?? 'no answer';
      if (st.sent === 1) return void console.log(`sent event ${type} to ${o.url}`);
      if (st.dropped.rejected) throw new Error(`the collector refused the event: ${why}`);
      throw new Error(`event not delivered within ${timeout} s: ${why} (is \`rexmon start\` running? see --url)`);
    });
}
