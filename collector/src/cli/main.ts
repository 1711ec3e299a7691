// The `rexmon` command line: start the collector, and the API's operations for shell users.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { alarmCommands } from '../alarms/cli.js';
import { Collector, openDatabase } from '../app.js';
import { AuditLog, cliRequester } from '../audit/index.js';
import { userCommands } from '../auth/cli.js';
import { createToken, Role } from '../auth/tokens.js';
import { Catalog } from '../catalog/catalog.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { downtimeCommands } from '../downtimes/cli.js';
import { compilePattern, importTree, PRESETS } from '../importer/importer.js';
import { jobCommands } from '../jobs/cli.js';
import { parseSelector } from '../matchers/selector.js';
import { formatSeries, SeriesRef } from '../model/series.js';
import { RrdArchive } from '../rrd/archive.js';
import { parseDuration, parseTime } from '../util/time.js';
import { VERSION } from '../version.js';
import { ApiClient } from './client.js';
import { eventCommands } from './event.js';
import { sendCommand } from './send.js';
import { USAGE_EXIT, UsageError } from './usage.js';

const asTime = (v: string) => {
  try {
    // Times without an offset are the caller's: read in this machine's zone, sent as Unix seconds.
    return String(Math.floor(parseTime(v, Date.now() / 1000, 'time', 'local')));
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^time: /, ''));
  }
};
const asSelector = (v: string) => {
  try {
    parseSelector(v);
    return v;
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^match: /, ''));
  }
};

function apiOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'collector URL').env('REXMON_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--token <token>', 'API token').env('REXMON_TOKEN'));
}

function client(opts: { url: string; token?: string }) {
  return new ApiClient(opts.url, opts.token);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('rexmon')
    .description('rexmon: slurpers and pushed samples into an RRD archive, with downtimes and Grafana')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError();
  let exitCode = 0;

  program
    .command('start')
    .description('run the collector (HTTP API, Graphite listeners, slurpers) until SIGINT/SIGTERM')
    .option('-c, --config <file>', 'YAML config file (default: built-in defaults)')
    .option('-d, --data-dir <dir>', 'data directory (SQLite file, RRD archive)')
    .option('-l, --listen <host:port>', 'HTTP API address, e.g. 127.0.0.1:8080')
    .action(async (o: { config?: string; dataDir?: string; listen?: string }) => {
      const config = loadConfig(o.config, { dataDir: o.dataDir, listen: o.listen });
      const collector = new Collector(config);
      try {
        await collector.start();
      } catch (e) {
        // Stop whatever did start (rrdcached, pipes, database) so the process can exit.
        await collector.stop().catch(() => {});
        throw e;
      }
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (sig: string) => {
          if (stopping) return;
          stopping = true;
          collector.log.info(`${sig}: draining queues and stopping`);
          collector.stop().then(resolve, (e) => {
            collector.log.error({ err: e }, 'error while stopping');
            exitCode = 1;
            resolve();
          });
        };
        // A second signal must not kill the process midway through writing out the queues.
        const onSignal = (sig: string) => (stopping ? collector.log.warn(`${sig}: already stopping (SIGKILL stops at once, losing the queues)`) : stop(sig));
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        // SIGHUP: TLS certificates (after a renewal), the config again (auth settings apply at once, the rest is
        // named as waiting for a restart) and the users file.
        process.on('SIGHUP', () => {
          if (stopping) return;
          collector.reloadTls();
          let next;
          try {
            next = loadConfig(o.config, { dataDir: o.dataDir, listen: o.listen });
          } catch (e) {
            collector.log.error(`SIGHUP: config not reloaded: ${(e as Error).message}`);
            collector.audit
              .record({
                who: 'collector',
                via: 'system',
                from: 'local',
                action: 'config.reload-refused',
                target: 'config',
                details: { error: (e as Error).message },
              })
              .catch(() => {});
            return;
          }
          collector.reload(next).catch(() => {});
        });
      });
      // Everything is stopped and written: a handle left open (a stuck client socket) must not keep the process alive.
      setTimeout(() => {
        collector.log.warn('handles still open 2 s after stop; exiting anyway');
        process.exit(exitCode);
      }, 2000).unref();
    });

  program
    .command('check-config')
    .description('validate a config file; prints every problem with its key path and line')
    .argument('<file>', 'YAML config file')
    .action((file: string) => {
      loadConfig(file);
      console.log(`${file}: OK`);
    });

  apiOptions(
    program
      .command('series')
      .description('list series matching a selector')
      .argument('[matcher]', 'series selector, e.g. cpu_usage{host=~"fnpc.*"}', asSelector),
  )
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'print JSON')
    .action(async (matcher: string | undefined, o: { url: string; token?: string; limit: string; json?: boolean }) => {
      const list = await client(o).request<SeriesRef[]>('GET', '/series', { match: matcher, limit: o.limit });
      if (o.json) console.log(JSON.stringify(list, null, 2));
      else for (const s of list) console.log(formatSeries(s));
    });

  apiOptions(program.command('query').description('read series over a time range').argument('<matcher>', 'series selector', asSelector))
    // The defaults are computed now but shown as written (help would otherwise print today's Unix seconds).
    .addOption(new Option('--from <time>', 'start: ISO 8601, Unix seconds/ms, now-1h').argParser(asTime).default(asTime('now-1h'), 'now-1h'))
    .addOption(new Option('--to <time>', 'end').argParser(asTime).default(asTime('now'), 'now'))
    .option('--step <duration>', 'resolution, e.g. 60 or 5m', (v) => {
      try {
        return String(parseDuration(v, 'step'));
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    })
    .addOption(new Option('--cf <cf>', 'consolidation function').choices(['AVERAGE', 'MIN', 'MAX', 'LAST']).default('AVERAGE'))
    .addOption(new Option('--agg <fn>', 'aggregate across series').choices(['sum', 'avg', 'min', 'max', 'count']))
    .option('--by <labels>', 'group the aggregation by these labels (comma-separated)')
    .option('--json', 'print JSON')
    .action(
      async (
        matcher: string,
        o: { url: string; token?: string; from: string; to: string; step?: string; cf: string; agg?: string; by?: string; json?: boolean },
      ) => {
        const r = await client(o).request<{ series: { name: string; labels: Record<string, string>; timestamps: number[]; values: (number | null)[] }[] }>(
          'GET',
          '/query',
          {
            match: matcher,
            from: o.from,
            to: o.to,
            step: o.step,
            cf: o.cf,
            agg: o.agg,
            by: o.by,
          },
        );
        if (o.json) return void console.log(JSON.stringify(r, null, 2));
        for (const s of r.series) {
          console.log(`# ${formatSeries(s)}`);
          s.timestamps.forEach((t, i) => console.log(`${new Date(t * 1000).toISOString()}\t${s.values[i] ?? 'null'}`));
        }
      },
    );

  program
    .command('import')
    .description('adopt an existing RRD tree (collectd, Ganglia, or a path pattern) as read-only series')
    .argument('<dir>', 'root of the RRD tree')
    .addOption(new Option('--preset <name>', 'known layout').choices(Object.keys(PRESETS)))
    .option('--pattern <pattern>', 'path pattern, e.g. "{cluster}/{host}/{__name__}.rrd"')
    .option('--name <metric>', 'metric name for every file (with --pattern without {__name__})')
    .option('--follow-outside', 'follow symbolic links that lead out of DIR (default: skipped, and listed)')
    .option('-c, --config <file>', 'config file (for the database and data dir)')
    .option('-d, --data-dir <dir>', 'data directory')
    .action(async (dir: string, o: { preset?: string; pattern?: string; name?: string; followOutside?: boolean; config?: string; dataDir?: string }) => {
      if (!o.preset === !o.pattern) throw new UsageError('give exactly one of --preset or --pattern');
      const pattern = o.preset ? PRESETS[o.preset] : compilePattern(o.pattern!, o.name);
      const config = loadConfig(o.config, { dataDir: o.dataDir });
      const db = await openDatabase(config);
      const archive = new RrdArchive({ root: path.resolve(config.dataDir, config.rrd.archive), rrdtool: config.rrd.rrdtool, writers: 1, readers: 2 });
      try {
        const catalog = new Catalog(db, path.resolve(config.dataDir, config.rrd.archive));
        await catalog.refresh();
        let last = 0;
        const report = await importTree(
          dir,
          pattern,
          catalog,
          archive,
          (done, total) => {
            if (Date.now() - last < 1000 && done < total) return;
            last = Date.now();
            process.stderr.write(`import: ${done}/${total} files\n`);
          },
          { followOutside: o.followOutside },
        );
        for (const s of report.skipped.slice(0, 50)) console.error(`skipped ${s.file}: ${s.reason}`);
        if (report.skipped.length > 50) console.error(`... and ${report.skipped.length - 50} more skipped`);
        console.log(`imported ${report.series} series from ${report.matched} of ${report.files} files under ${dir}; ${report.skipped.length} skipped`);
        if (report.matched === 0) exitCode = 1;
      } finally {
        await archive.close();
        await db.destroy();
      }
    });

  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('create an API token and print it (shown once; only its hash is stored)')
    .addOption(new Option('--role <role>', 'viewer, editor or admin').choices(['viewer', 'editor', 'admin']).makeOptionMandatory())
    .option('--name <name>', 'who or what uses it', 'cli')
    .option('-c, --config <file>', 'config file (for the database and data dir)')
    .option('-d, --data-dir <dir>', 'data directory')
    .action(async (o: { role: Role; name: string; config?: string; dataDir?: string }) => {
      const config = loadConfig(o.config, { dataDir: o.dataDir });
      const db = await openDatabase(config);
      try {
        console.log(await createToken(db, o.name, o.role));
        await new AuditLog(db).record({ ...cliRequester(), action: 'token.create', target: `token ${o.name}`, details: { role: o.role } });
      } finally {
        await db.destroy();
      }
    });

  userCommands(program);
  sendCommand(program);
  eventCommands(program, apiOptions);
  downtimeCommands(program, apiOptions, client);
  alarmCommands(program, apiOptions, client);
  jobCommands(program, apiOptions, client);

  try {
    await program.parseAsync(argv);
  } catch (e) {
    // Commander exits 1 on its own errors (missing argument, unknown option or command, a value its parser
    // refused) and 0 after --help or --version; the README promises 2 for every wrong argument.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : USAGE_EXIT;
    if (e instanceof ConfigError) {
      console.error(e.message);
      return USAGE_EXIT;
    }
    if (e instanceof UsageError || (e instanceof Error && e.message.startsWith('pattern'))) {
      console.error(`rexmon: ${e.message}`);
      return USAGE_EXIT;
    }
    throw e;
  }
  return exitCode;
}
