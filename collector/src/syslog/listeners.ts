// Syslog over TCP (RFC 6587: octet-counted and LF-framed, per frame; backpressure: the socket is paused while
// the pipeline or the event buffer is full) and UDP (RFC 5426: one message per datagram; no way to push back:
// dropped with a counter). The connection shape (limit, drain on close) is the Graphite listener's.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { EventInput } from '../events/index.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Sample } from '../model/series.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { splitHostPort } from '../util/net.js';
import { DrainableConnection, ingestServer, listenDraining, RateLimitedLog } from '../util/tcp-listener.js';
import { AllowList } from '../security/allow.js';
import type { TlsEndpoint } from '../security/tls.js';
import type { SeriesGate } from '../limits/series.js';
import { LOOPBACK } from '../config/security.js';
import type { EventSink } from './event-sink.js';
import { FrameSplitter } from './framing.js';
import type { SyslogMapper } from './mapping.js';
import { parseSyslog, RefusalReason } from './parse.js';

export interface SyslogCounters {
  messages: Counter<'listener' | 'format'>;
  refused: Counter<'listener' | 'reason'>;
  unmapped: Counter<'listener'>;
  mappingErrors: Counter<'listener'>;
  eventsDropped: Counter<'listener' | 'reason'>;
}

export interface SyslogDeps {
  pipeline: Pipeline;
  sink: EventSink;
  mapper: SyslogMapper;
  metrics: Metrics;
  counters: SyslogCounters;
  log: Logger;
  maxMessageSize: number;
  /** New-series limits; absent: none. */
  gate?: SeriesGate;
  /** Senders allowed (TCP and UDP); default loopback. */
  allow?: AllowList;
}

type Listener = 'syslog_tcp' | 'syslog_udp';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Frames → samples and events of one connection or datagram; bad frames counted and (the first 100) logged. */
class FrameHandler {
  samples: Sample[] = [];
  events: EventInput[] = [];
  private logged = 0;

  constructor(
    private readonly listener: Listener,
    private readonly deps: SyslogDeps,
    private readonly peer: string,
  ) {}

  refused(reason: RefusalReason, error: string) {
    this.deps.counters.refused.inc({ listener: this.listener, reason });
    this.deps.metrics.invalidLines.inc({ source: this.listener }); // beside Graphite's bad lines, for one alert on all input
    if (this.logged++ < 100) this.deps.log.warn({ listener: this.listener, peer: this.peer, reason }, `syslog frame refused: ${error}`);
  }

  frame(payload: Buffer) {
    let text: string;
    try {
      text = utf8.decode(payload);
    } catch {
      return this.refused('invalid_utf8', `frame of ${payload.length} bytes is not valid UTF-8`);
    }
    const r = parseSyslog(text, Date.now());
    if ('reason' in r) return this.refused(r.reason, r.error);
    this.deps.counters.messages.inc({ listener: this.listener, format: r.msg.format });
    let mapped;
    try {
      mapped = this.deps.mapper.map(r.msg, this.peer.replace(/:\d+$/, ''));
    } catch (e) {
      this.deps.counters.mappingErrors.inc({ listener: this.listener });
      return void (this.logged++ < 100 && this.deps.log.warn({ peer: this.peer }, `syslog message not stored: ${(e as Error).message}`));
    }
    if (mapped.unmapped) this.deps.counters.unmapped.inc({ listener: this.listener });
    if (mapped.errors.length) {
      this.deps.counters.mappingErrors.inc({ listener: this.listener }, mapped.errors.length);
      if (this.logged++ < 100) this.deps.log.warn({ peer: this.peer }, `syslog mapping: ${mapped.errors.join('; ')}`);
    }
    const host = this.peer.replace(/:\d+$/, '');
    const samples = this.deps.gate && mapped.samples.length ? this.deps.gate.admit(mapped.samples, this.listener, host).admitted : mapped.samples;
    for (const s of samples) this.samples.push(s);
    if (mapped.event) this.events.push(mapped.event);
  }
}

export interface TcpOptions {
  drainTimeout: number;
  maxConnections: number;
  /** The listener speaks TLS. */
  tls?: TlsEndpoint;
}

export interface SyslogTcp {
  address(): net.AddressInfo;
  /** As the Graphite listener: stop accepting, hang up idle connections, let busy ones drain, hand over what was read. */
  close(): Promise<void>;
}

const IDLE_MS = 250;
/** An octet-counted frame at the end of what arrived is passed on when nothing follows within this time. */
const LOOKAHEAD_MS = 50;

type Conn = DrainableConnection;

export async function startSyslogTcp(listen: string, deps: SyslogDeps, opts: TcpOptions): Promise<SyslogTcp> {
  const conns = new Set<Conn>();
  const policy = {
    allow: deps.allow ?? new AllowList(LOOPBACK),
    tls: opts.tls,
    onRefused: (reason: string) => deps.metrics.ingestRefused.inc({ listener: 'syslog_tcp', reason }),
  };
  const server = ingestServer('syslog TCP', policy, deps.log, (sock) => {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    const h = new FrameHandler('syslog_tcp', deps, peer);
    const splitter = new FrameSplitter(deps.maxMessageSize, h);
    let waiting: Promise<void> | undefined;
    let lastData = Date.now();
    let lookahead: NodeJS.Timeout | undefined;
    let giveUpNow!: () => void;
    const giveUp = new Promise<boolean>((r) => (giveUpNow = () => r(true)));
    const taken = () => {
      if (h.samples.length && !deps.pipeline.push(h.samples, 'syslog_tcp')) return false;
      h.samples = [];
      if (h.events.length && !deps.sink.offer(h.events)) return false;
      h.events = [];
      return true;
    };
    // While the pipeline or the event buffer is full, the socket stays paused (TCP pushes back on the sender).
    const deliver = () => {
      if (waiting || taken()) return;
      sock.pause();
      waiting = (async () => {
        while (!taken()) {
          const room = h.samples.length ? deps.pipeline.waitForSpace(h.samples.length) : deps.sink.room();
          if (await Promise.race([room.then(() => false), giveUp])) {
            deps.metrics.dropped.inc({ source: 'syslog_tcp', reason: 'shutdown' }, h.samples.length);
            deps.counters.eventsDropped.inc({ listener: 'syslog_tcp', reason: 'shutdown' }, h.events.length);
            deps.log.warn({ peer }, `${h.samples.length} samples and ${h.events.length} events dropped at shutdown: the queue stayed full`);
            h.samples = [];
            h.events = [];
            break;
          }
        }
        waiting = undefined;
        if (sock.destroyed) conns.delete(conn);
        else sock.resume();
      })();
    };
    const conn: Conn = {
      idle: (now) => !waiting && splitter.empty && now - lastData >= IDLE_MS,
      cut: async (g) => {
        conns.delete(conn);
        clearTimeout(lookahead);
        splitter.flush();
        if (!splitter.empty) {
          // Half a frame would be a cut message: drop it, counted.
          deps.counters.refused.inc({ listener: 'syslog_tcp', reason: 'shutdown' });
          deps.log.warn({ peer }, 'connection cut at shutdown in the middle of a frame; that frame is dropped');
        }
        deliver();
        sock.destroy();
        void g.then(giveUpNow);
        await waiting;
      },
    };
    conns.add(conn);
    sock.on('data', (chunk: Buffer) => {
      lastData = Date.now();
      clearTimeout(lookahead);
      if (splitter.push(chunk))
        lookahead = setTimeout(() => {
          splitter.flush();
          deliver();
        }, LOOKAHEAD_MS);
      deliver();
    });
    sock.on('end', () => {
      clearTimeout(lookahead);
      splitter.end();
      deliver();
    });
    sock.on('close', () => {
      clearTimeout(lookahead);
      if (!waiting) conns.delete(conn);
    });
    sock.on('error', (e) => deps.log.debug({ peer, err: e.message }, 'syslog tcp connection error'));
  });
  return listenDraining(server, listen, conns, {
    maxConnections: opts.maxConnections,
    drainTimeout: opts.drainTimeout,
    log: deps.log,
    onRefused: () => deps.metrics.refusedConnections.inc({ listener: 'syslog_tcp' }),
    refusedMessage: (n, peer) =>
      `syslog TCP: ${n} connection(s) refused (last from ${peer}): ${opts.maxConnections} are open, the limit (syslog.maxConnections, bounded by the open-file limit)`,
  });
}

export async function startSyslogUdp(listen: string, deps: SyslogDeps): Promise<dgram.Socket> {
  const { host, port } = splitHostPort(listen);
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const allow = deps.allow ?? new AllowList(LOOPBACK);
  const refusals = new RateLimitedLog(deps.log, 10_000);
  sock.on('message', (msg, rinfo) => {
    if (!allow.allows(rinfo.address)) {
      deps.metrics.ingestRefused.inc({ listener: 'syslog_udp', reason: 'not_allowed' });
      return refusals.warn(
        (n) => `syslog UDP: ${n} datagram(s) refused (last from ${rinfo.address}:${rinfo.port}): address not in the allow-list (${allow.ranges.join(', ')})`,
      );
    }
    const h = new FrameHandler('syslog_udp', deps, `${rinfo.address}:${rinfo.port}`);
    // One message per datagram (RFC 5426); some senders end it with a LF (or NUL), which is not part of it.
    let end = msg.length;
    while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d || msg[end - 1] === 0)) end--;
    if (end > deps.maxMessageSize) h.refused('oversize', `datagram of ${end} bytes refused (syslog.maxMessageSize ${deps.maxMessageSize})`);
    else if (end > 0) h.frame(msg.subarray(0, end));
    if (h.samples.length && !deps.pipeline.push(h.samples, 'syslog_udp'))
      deps.metrics.dropped.inc({ source: 'syslog_udp', reason: 'queue_full' }, h.samples.length);
    if (h.events.length && !deps.sink.offer(h.events)) deps.counters.eventsDropped.inc({ listener: 'syslog_udp', reason: 'queue_full' }, h.events.length);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => resolve());
  });
  try {
    sock.setRecvBufferSize(8 * 1024 * 1024); // bursts from many senders; the kernel caps it at rmem_max
  } catch {
    /* keep the default */
  }
  return sock;
}
