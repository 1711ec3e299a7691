// Test certificates made by the openssl CLI: a CA, server certificates for 127.0.0.1/localhost, a client
// certificate it signed, and one from a CA nobody trusts. Also a reader for one figure of /metrics.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './harness.js';

export interface Pki {
  dir: string;
  ca: string;
  /** Two server certificates (with keys) from the same CA: the second replaces the first on reload. */
  server: { cert: string; key: string };
  server2: { cert: string; key: string };
  client: { cert: string; key: string };
  /** Signed by a CA the collector does not trust. */
  rogue: { cert: string; key: string };
}

async function ca(dir: string, name: string) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key };
}

async function leaf(dir: string, name: string, signer: { cert: string; key: string }, ext: string) {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const extFile = path.join(dir, `${name}.ext`);
  await writeFile(extFile, ext);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    signer.cert,
    '-CAkey',
    signer.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    extFile,
  ]);
  return { cert, key };
}

export async function makePki(dir: string): Promise<Pki> {
  const root = await ca(dir, 'test-ca');
  const other = await ca(dir, 'rogue-ca');
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  return {
    dir,
    ca: root.cert,
    server: await leaf(dir, 'server', root, serverExt),
    server2: await leaf(dir, 'server2', root, serverExt),
    client: await leaf(dir, 'slurper-client', root, clientExt),
    rogue: await leaf(dir, 'rogue-client', other, clientExt),
  };
}

/** The value of one series of /metrics (0 when absent), e.g. metricValue(text, 'rexmon_ingest_refused_total', {listener: 'graphite_tcp'}). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
