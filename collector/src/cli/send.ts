// `rexmon send`: Graphite plaintext lines to a collector, for shells without nc. Lines are checked here with
// the collector's own parser first (Graphite has no answer to say a line was refused).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Command, Option } from 'commander';
import { GraphiteMapper, parseGraphiteLine } from '../ingest/graphite.js';
import { splitHostPort } from '../util/net.js';
import { UsageError } from './usage.js';

export function sendCommand(program: Command) {
  program
    .command('send')
    .description('send Graphite plaintext lines ("path value [timestamp]") to a collector over TCP; from stdin when none are given')
    .argument('[lines...]', 'lines, e.g. "lab.host01.temp 21.5"')
    .addOption(new Option('--graphite <host:port>', "the collector's Graphite TCP listener").env('REXMON_GRAPHITE').default('127.0.0.1:2003'))
    .action(async (args: string[], o: { graphite: string }) => {
      const lines = (args.length ? args : readFileSync(0, 'utf8').split('\n')).map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
      const mapper = new GraphiteMapper([]);
      const now = Math.floor(Date.now() / 1000);
      lines.forEach((l, i) => {
        const r = parseGraphiteLine(l, mapper, now);
        if (r && 'error' in r) throw new UsageError(`line ${i + 1} would be refused: ${r.error}`);
      });
      let host: string, port: number;
      try {
        ({ host, port } = splitHostPort(o.graphite));
      } catch (e) {
        throw new UsageError(`--graphite: ${(e as Error).message}`);
      }
      await new Promise<void>((resolve, reject) => {
        const sock = net.createConnection({ host, port }, () => sock.end(lines.map((l) => l + '\n').join('')));
        sock.once('error', (e) => reject(new Error(`cannot send to ${o.graphite}: ${e.message} (is \`rexmon start\` running? see --graphite)`)));
        sock.once('close', (hadError) => hadError || resolve());
      });
      console.log(`sent ${lines.length} line(s) to ${o.graphite}`);
    });
}
