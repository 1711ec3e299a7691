// What the plaintext TCP listeners (Graphite, syslog) share: a connection limit whose refusals are counted and
// logged at most every 10 s, and a stop that drains each connection's parsed input within a bounded time.
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { AllowList } from '../security/allow.js';
import type { TlsEndpoint } from '../security/tls.js';
import { splitHostPort } from './net.js';

/**
 * Pending connections the kernel may queue before accept(): many slurpers reconnecting at once (after a
 * collector restart) overflow node's default of 511 and wait for SYN retries. Linux caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;
/** Who may send to a listener: an address allow-list, and TLS when configured. */
export interface SenderPolicy {
  allow: AllowList;
  tls?: TlsEndpoint;
  /** Counts one refused connection or datagram: not_allowed (address), tls_handshake, client_cert. */
  onRefused: (reason: 'not_allowed' | 'tls_handshake' | 'client_cert') => void;
}

/**
 * A TCP server (TLS when the policy has it) that hands `onConnection` only sockets from allowed addresses (checked
 * before any TLS handshake) whose client certificate, if any, verified. Refusals are counted and logged at most every 10 s.
 */
export function ingestServer(name: string, policy: SenderPolicy, log: Logger, onConnection: (sock: net.Socket) => void): net.Server {
  const refusals = new RateLimitedLog(log, 10_000);
  const refuse = (reason: 'not_allowed' | 'tls_handshake' | 'client_cert', peer: string, why: string) => {
    policy.onRefused(reason);
    refusals.warn((n) => `${name}: ${n} connection(s) refused (last from ${peer}): ${why}`);
  };
  const allowed = (sock: net.Socket) => {
    if (policy.allow.allows(sock.remoteAddress)) return true;
    refuse('not_allowed', `${sock.remoteAddress}:${sock.remotePort}`, `address not in the allow-list (${policy.allow.ranges.join(', ')})`);
    sock.destroy();
    return false;
  };
  if (!policy.tls) return net.createServer((sock) => allowed(sock) && onConnection(sock));
  const endpoint = policy.tls;
  const server = endpoint.attach(
    tls.createServer(endpoint.serverOptions(), (sock) => {
      const why = endpoint.clientRefusal(sock);
      if (!why) return onConnection(sock);
      refuse('client_cert', `${sock.remoteAddress}:${sock.remotePort}`, why);
      sock.destroy();
    }),
  );
  // Before the TLS handshake: a refused address costs no handshake.
  server.prependListener('connection', (raw: net.Socket) => void allowed(raw));
  server.on('tlsClientError', (err, sock) => {
    if (sock.destroyed && !policy.allow.allows(sock.remoteAddress)) return; // refused above already
    refuse('tls_handshake', `${sock.remoteAddress}:${sock.remotePort}`, `TLS handshake failed: ${err.message}`);
  });
  return server;
}

export interface DrainableConnection {
  idle(now: number): boolean;
  /** Closes the socket; resolves when its parsed input is handed over (or dropped when `giveUp` fires). */
  cut(giveUp: Promise<void>): Promise<void>;
}

export interface TcpListener {
  address: () => net.AddressInfo;
  close: () => Promise<void>;
}

/**
 * Limits `server` to `maxConnections` (each refusal counted by `onRefused`, logged by `refusedMessage(n)` at most
 * every 10 s), listens on `listen`, and returns a close that cuts idle connections at once and the rest at
 * `drainTimeout` seconds, then waits for their input at most another `drainTimeout`.
 */
export async function listenDraining(
  server: net.Server,
  listen: string,
  conns: Set<DrainableConnection>,
  opts: { maxConnections: number; drainTimeout: number; log: Logger; onRefused: () => void; refusedMessage: (n: number, peer: string) => string },
): Promise<TcpListener> {
  server.maxConnections = opts.maxConnections;
  const refusals = new RateLimitedLog(opts.log, 10_000);
  server.on('drop', (d) => {
    opts.onRefused();
    refusals.warn((n) => opts.refusedMessage(n, `${d?.remoteAddress}:${d?.remotePort}`));
  });
  const { host, port } = splitHostPort(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  return {
    address: () => server.address() as net.AddressInfo,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      const deadline = Date.now() + opts.drainTimeout * 1000;
      let giveUpNow!: () => void;
      const giveUp = new Promise<void>((r) => (giveUpNow = r));
      const cuts: Promise<void>[] = [];
      for (;;) {
        const now = Date.now();
        for (const c of [...conns]) if (now >= deadline || c.idle(now)) cuts.push(c.cut(giveUp));
        if (conns.size === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // Input already read waits for queue space for one more drainTimeout at most: the exit stays bounded.
      const timer = setTimeout(giveUpNow, opts.drainTimeout * 1000);
      await Promise.all(cuts);
      clearTimeout(timer);
      await closed;
    },
  };
}

/** One log line per period at most, saying how many events it stands for. */
export class RateLimitedLog {
  private count = 0;
  private last = 0;
  constructor(
    private readonly log: Logger,
    private readonly periodMs: number,
  ) {}
  warn(msg: (count: number) => string) {
    this.count++;
    const now = Date.now();
    if (now - this.last < this.periodMs) return;
    this.log.warn(msg(this.count));
    this.count = 0;
    this.last = now;
  }
}
