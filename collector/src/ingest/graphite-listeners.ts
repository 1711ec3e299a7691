// Graphite plaintext over TCP (backpressure: the socket is paused while the pipeline is full)
// and UDP (no way to push back: dropped with a counter).
import dgram from 'node:dgram';
import net from 'node:net';
import { Logger } from 'pino';
import { Metrics } from '../metrics/metrics.js';
import { Sample } from '../model/series.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { GraphiteMapper, parseGraphiteLine } from './graphite.js';
import { LineSplitter } from './lines.js';
import { splitHostPort } from '../util/net.js';
import { DrainableConnection, ingestServer, listenDraining, RateLimitedLog } from '../util/tcp-listener.js';
import { AllowList } from '../security/allow.js';
import type { TlsEndpoint } from '../security/tls.js';
import type { SeriesGate } from '../limits/series.js';
import { LOOPBACK } from '../config/security.js';

export interface ListenerDeps {
  pipeline: Pipeline;
  metrics: Metrics;
  mapper: GraphiteMapper;
  log: Logger;
  maxLineLength: number;
  /** New-series limits; absent: none. */
  gate?: SeriesGate;
  /** Senders allowed (TCP and UDP); default loopback. */
  allow?: AllowList;
}

/** Logs the first bad lines of each source in full, then only counts (a broken sender must not flood the log). */
class ErrorReporter {
  private logged = 0;
  constructor(
    private readonly source: string,
    private readonly deps: ListenerDeps,
  ) {}
  report(peer: string, msg: string) {
    this.deps.metrics.invalidLines.inc({ source: this.source });
    if (this.logged++ < 100) this.deps.log.warn({ source: this.source, peer }, `bad line: ${msg}`);
  }
}

export interface TcpOptions {
  /** Seconds a busy connection may keep sending once close() began. */
  drainTimeout: number;
  /** Connections beyond this are refused (closed at once) with a counter and a log line. */
  maxConnections: number;
  /** The listener speaks TLS. */
  tls?: TlsEndpoint;
}

export interface GraphiteTcp {
  address(): net.AddressInfo;
  /**
   * Stops accepting, hangs up on idle connections, lets busy ones send for up to drainTimeout, then cuts
   * them. Resolves once every line read so far is in the pipeline (or counted as dropped).
   */
  close(): Promise<void>;
}

/** A connection with no data for this long, no half line and nothing waiting for the pipeline is idle. */
const IDLE_MS = 250;

type Conn = DrainableConnection;

export async function startGraphiteTcp(listen: string, deps: ListenerDeps, opts: TcpOptions): Promise<GraphiteTcp> {
  const errors = new ErrorReporter('graphite_tcp', deps);
  const conns = new Set<Conn>();
  const policy = {
    allow: deps.allow ?? new AllowList(LOOPBACK),
    tls: opts.tls,
    onRefused: (reason: string) => deps.metrics.ingestRefused.inc({ listener: 'graphite_tcp', reason }),
  };
  const server = ingestServer('Graphite TCP', policy, deps.log, (sock) => {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.setEncoding('utf8');
    let batch: Sample[] = [];
    // New series in the lines just read are held to the limits (the earlier part of the batch passed already).
    const gate = (from: number) => {
      if (!deps.gate || batch.length === from) return;
      const r = deps.gate.admit(from === 0 ? batch : batch.slice(from), 'graphite_tcp', sock.remoteAddress ?? '?');
      if (!r.refused) return;
      batch.length = from;
      for (const s of r.admitted) batch.push(s);
    };
    let waiting: Promise<void> | undefined;
    let lastData = Date.now();
    // A line without a timestamp takes its chunk's arrival second (one clock read a chunk, not a line).
    let nowSeconds = Math.floor(lastData / 1000);
    // Not a promise raced against each wait: every Promise.race leaves a reaction on a promise that never settles,
    // one per wait for queue space for as long as the connection lives.
    let gaveUp = false;
    let wake: (() => void) | undefined;
    const giveUpNow = () => {
      gaveUp = true;
      wake?.();
    };
    const splitter = new LineSplitter(
      deps.maxLineLength,
      (line) => {
        const r = parseGraphiteLine(line, deps.mapper, nowSeconds);
        if (!r) return;
        if ('error' in r) errors.report(peer, r.error);
        else batch.push(r.sample);
      },
      (prefix) => errors.report(peer, `line longer than ${deps.maxLineLength} bytes refused: ${JSON.stringify(prefix)}…`),
    );
    // Hands the batch to the pipeline; while it is full, the socket stays paused (TCP pushes back on the sender).
    const deliver = () => {
      if (waiting || batch.length === 0) return;
      if (deps.pipeline.push(batch, 'graphite_tcp')) return void (batch = []);
      sock.pause();
      waiting = (async () => {
        while (!deps.pipeline.push(batch, 'graphite_tcp')) {
          await new Promise<void>((r) => {
            wake = r;
            void deps.pipeline.waitForSpace(batch.length).then(r);
          });
          wake = undefined;
          if (gaveUp) {
            deps.metrics.dropped.inc({ source: 'graphite_tcp', reason: 'shutdown' }, batch.length);
            deps.log.warn({ peer }, `${batch.length} samples dropped at shutdown: the queue stayed full`);
            break;
          }
        }
        batch = [];
        waiting = undefined;
        if (sock.destroyed) conns.delete(conn);
        else sock.resume();
      })();
    };
    const conn: Conn = {
      idle: (now) => !waiting && !splitter.midLine && now - lastData >= IDLE_MS,
      cut: async (g) => {
        conns.delete(conn);
        if (splitter.midLine) {
          // A half line would be a wrong value (`x 12` of `x 123`): drop it, counted.
          deps.metrics.dropped.inc({ source: 'graphite_tcp', reason: 'shutdown' });
          deps.log.warn({ peer }, 'connection cut at shutdown in the middle of a line; that line is dropped');
        }
        sock.destroy();
        void g.then(giveUpNow);
        await waiting;
      },
    };
    conns.add(conn);
    sock.on('data', (chunk: string) => {
      lastData = Date.now();
      nowSeconds = Math.floor(lastData / 1000);
      const from = batch.length;
      splitter.push(chunk);
      gate(from);
      deliver();
    });
    sock.on('end', () => {
      nowSeconds = Math.floor(Date.now() / 1000);
      const from = batch.length;
      splitter.end();
      gate(from);
      deliver();
    });
    // A sender gone while its lines wait for queue space stays listed, so close() waits for those lines.
    sock.on('close', () => waiting || conns.delete(conn));
    sock.on('error', (e) => deps.log.debug({ peer, err: e.message }, 'graphite tcp connection error'));
  });
  return listenDraining(server, listen, conns, {
    maxConnections: opts.maxConnections,
    drainTimeout: opts.drainTimeout,
    log: deps.log,
    onRefused: () => deps.metrics.refusedConnections.inc({ listener: 'graphite_tcp' }),
    refusedMessage: (n, peer) =>
      `Graphite TCP: ${n} connection(s) refused (last from ${peer}): ${opts.maxConnections} are open, the limit (graphite.maxConnections, bounded by the open-file limit)`,
  });
}

export async function startGraphiteUdp(listen: string, deps: ListenerDeps): Promise<dgram.Socket> {
  const errors = new ErrorReporter('graphite_udp', deps);
  const { host, port } = splitHostPort(listen);
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const allow = deps.allow ?? new AllowList(LOOPBACK);
  const refusals = new RateLimitedLog(deps.log, 10_000);
  sock.on('message', (msg, rinfo) => {
    const peer = `${rinfo.address}:${rinfo.port}`;
    if (!allow.allows(rinfo.address)) {
      deps.metrics.ingestRefused.inc({ listener: 'graphite_udp', reason: 'not_allowed' });
      return refusals.warn((n) => `Graphite UDP: ${n} datagram(s) refused (last from ${peer}): address not in the allow-list (${allow.ranges.join(', ')})`);
    }
    let batch: Sample[] = [];
    const now = Math.floor(Date.now() / 1000);
    const splitter = new LineSplitter(
      deps.maxLineLength,
      (line) => {
        const r = parseGraphiteLine(line, deps.mapper, now);
        if (!r) return;
        if ('error' in r) errors.report(peer, r.error);
        else batch.push(r.sample);
      },
      (prefix) => errors.report(peer, `line longer than ${deps.maxLineLength} bytes refused: ${JSON.stringify(prefix)}…`),
    );
    splitter.push(msg.toString('utf8'));
    splitter.end();
    if (deps.gate && batch.length) batch = deps.gate.admit(batch, 'graphite_udp', rinfo.address).admitted;
    if (batch.length && !deps.pipeline.push(batch, 'graphite_udp')) deps.metrics.dropped.inc({ source: 'graphite_udp', reason: 'queue_full' }, batch.length);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => resolve());
  });
  try {
    sock.setRecvBufferSize(8 * 1024 * 1024); // bursts from many slurpers; the kernel caps it at rmem_max
  } catch {
    /* keep the default */
  }
  return sock;
}
