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
  // Listening on every address while only loopback may send is almost always a forgotten allow-list.
  for (const [key, l] of [
    ['graphite', c.graphite],
    ['syslog', c.syslog],
  ] as const) {
    const open = [l.tcp, l.udp].filter((a): a is string => typeof a === 'string' && !isLoopback(a));
    if (open.length && !l.allow && l.tls?.clientCerts !== 'required')
      out.push(`${key} listens on ${open.join(' and ')} but takes senders from loopback only: set ${key}.allow to the senders' CIDR ranges`);
  }
  return out;
}
