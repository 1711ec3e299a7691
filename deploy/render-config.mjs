#!/usr/bin/env node
// Completes deploy/rexmon.yaml from the environment, for the collector container's entrypoint:
//   node render-config.mjs IN OUT      (REXMON_VIEWER_TOKEN must be set)
// Adds the viewer token's SHA-256 to auth.tokens (the token itself never sits in a file) and the same
// token as the Authorization header of every http slurper that scrapes this collector's /metrics.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: render-config.mjs IN OUT');
  process.exit(2);
}
const token = process.env.REXMON_VIEWER_TOKEN ?? '';
// What Grafana sends as a Bearer token and what the collector accepts: no spaces, no quotes.
if (!/^[A-Za-z0-9._~+/=-]{16,}$/.test(token)) {
  console.error('REXMON_VIEWER_TOKEN must be set to at least 16 characters of A-Z a-z 0-9 . _ ~ + / = - (e.g. `openssl rand -hex 24`)');
  process.exit(2);
}
const doc = parseDocument(readFileSync(input, 'utf8'));
const sha256 = createHash('sha256').update(token).digest('hex');
const tokens = doc.getIn(['auth', 'tokens']);
if (tokens && typeof tokens === 'object' && 'items' in tokens) tokens.add(doc.createNode({ name: 'grafana', role: 'viewer', sha256 }, { flow: true }));
else doc.setIn(['auth', 'tokens'], doc.createNode([{ name: 'grafana', role: 'viewer', sha256 }]));
const listen = String(doc.getIn(['http', 'listen']) ?? '127.0.0.1:8080');
const port = listen.slice(listen.lastIndexOf(':') + 1);
for (const s of doc.get('slurpers')?.items ?? []) {
  const url = s.get('url');
  if (s.get('type') === 'http' && typeof url === 'string' && new RegExp(`^http://(127\\.0\\.0\\.1|localhost):${port}/`).test(url)) {
    s.setIn(['headers', 'authorization'], `Bearer ${token}`);
  }
}
writeFileSync(output, String(doc), { mode: 0o600 });
