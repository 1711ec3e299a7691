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

export interface ListenerDeps {
  pipeline: Pipeline;
  metrics: Metrics;
  mapper: GraphiteMapper;
  log: Logger;
  maxLineLength: number;
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

export async function startGraphiteTcp(listen: string, deps: ListenerDeps): Promise<net.Server> {
  const errors = new ErrorReporter('graphite_tcp', deps);
  const server = net.createServer((sock) => {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.setEncoding('utf8');
    let batch: Sample[] = [];
    let waiting = false;
    const splitter = new LineSplitter(
      deps.maxLineLength,
      (line) => {
        const r = parseGraphiteLine(line, deps.mapper, Math.floor(Date.now() / 1000));
        if (!r) return;
        if ('error' in r) errors.report(peer, r.error);
        else batch.push(r.sample);
      },
      (prefix) => errors.report(peer, `line longer than ${deps.maxLineLength} bytes refused: ${JSON.stringify(prefix)}…`),
    );
    // Hands the batch to the pipeline; while it is full, the socket stays paused (TCP pushes back on the sender).
    const deliver = async () => {
      if (waiting || batch.length === 0) return;
      while (!deps.pipeline.push(batch, 'graphite_tcp')) {
        waiting = true;
        sock.pause();
        await deps.pipeline.waitForSpace();
      }
      batch = [];
      if (waiting) {
        waiting = false;
        sock.resume();
      }
    };
    sock.on('data', (chunk: string) => {
      splitter.push(chunk);
      void deliver();
    });
    sock.on('end', () => {
      splitter.end();
      void deliver();
    });
    sock.on('error', (e) => deps.log.debug({ peer, err: e.message }, 'graphite tcp connection error'));
  });
  const { host, port } = splitHostPort(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export async function startGraphiteUdp(listen: string, deps: ListenerDeps): Promise<dgram.Socket> {
  const errors = new ErrorReporter('graphite_udp', deps);
  const { host, port } = splitHostPort(listen);
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => {
    const peer = `${rinfo.address}:${rinfo.port}`;
    const batch: Sample[] = [];
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
    if (!deps.pipeline.push(batch, 'graphite_udp')) deps.metrics.dropped.inc({ source: 'graphite_udp', reason: 'queue_full' }, batch.length);
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
