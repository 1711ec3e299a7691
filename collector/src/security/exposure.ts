// What the collector warns about at start when it listens beyond loopback without protection.
import type { Config } from '../config/schema.js';
import { isLoopback } from '../util/net.js';

export function exposureWarnings(c: Config, anonymousRead: boolean): string[] {
  const out: string[] = [];
  if (!c.http.tls && !isLoopback(c.http.listen)) {
    if (anonymousRead || c.auth.anonymousWrite)
      out.push(
        `HTTP API on ${c.http.listen} without TLS and without auth (auth.anonymousRead/anonymousWrite on): anyone who reaches it can use it; configure http.tls and API tokens`,
      );
    else out.push(`HTTP API on ${c.http.listen} without TLS: API tokens and data cross the network in clear text; configure http.tls`);
  }
  return out;
}
