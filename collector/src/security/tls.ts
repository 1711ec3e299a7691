// TLS for the HTTP API and the Graphite and syslog TCP listeners: certificate, key and CA read from PEM files,
// swapped into the running servers on reload (SIGHUP) without dropping connections; a bad file keeps the old ones.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { TlsConfig } from '../config/security.js';

export class TlsEndpoint {
  private context: tls.SecureContextOptions;
  private readonly servers = new Set<tls.Server>();

  /** `what` names the config key in errors, e.g. `graphite.tls`. Throws when a file cannot be read or does not fit. */
  constructor(
    readonly config: TlsConfig,
    readonly what: string,
  ) {
    this.context = this.read();
  }

  private read(): tls.SecureContextOptions {
    const file = (key: 'cert' | 'key' | 'ca') => {
      const f = path.resolve(this.config[key]!);
      try {
        return readFileSync(f);
      } catch (e) {
        throw new Error(`${this.what}.${key}: cannot read ${f}: ${(e as Error).message}`);
      }
    };
    const opts: tls.SecureContextOptions = { cert: file('cert'), key: file('key'), ...(this.config.ca ? { ca: file('ca') } : {}) };
    try {
      tls.createSecureContext(opts);
    } catch (e) {
      throw new Error(`${this.what}: the certificate, key or CA is not usable: ${(e as Error).message}`);
    }
    return opts;
  }

  /** Options for tls.createServer / https.createServer. */
  serverOptions(): tls.TlsOptions {
    return { ...this.context, requestCert: this.config.clientCerts !== 'off', rejectUnauthorized: this.config.clientCerts === 'required' };
  }

  /** Servers whose certificate reload() replaces. */
  attach<S extends tls.Server>(server: S): S {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    return server;
  }

  /** Reads the files again and serves them to new connections; throws (keeping the old ones) when they are not usable. */
  reload(): void {
    const next = this.read();
    for (const s of this.servers) s.setSecureContext(next);
    this.context = next;
  }

  /** With clientCerts optional: a sender without a certificate is fine, one whose certificate does not verify is not. */
  clientRefusal(sock: tls.TLSSocket): string | undefined {
    if (this.config.clientCerts !== 'optional' || sock.authorized) return undefined;
    const peer = sock.getPeerCertificate();
    if (!peer || Object.keys(peer).length === 0) return undefined;
    return `client certificate ${JSON.stringify(peer.subject?.CN ?? '')} refused: ${sock.authorizationError}`;
  }
}
