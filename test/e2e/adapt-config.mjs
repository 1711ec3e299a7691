#!/usr/bin/env node
// For the end-to-end test: deploy/rexmon.yaml with only what a test machine needs changed, before
// deploy/render-config.mjs completes it as the container would:
//   node adapt-config.mjs IN OUT '{"port":P,"alertmanager":URL,"editorSha256":H,"slurpers":true}'
// The API on 127.0.0.1:P (the self-scrape follows), Graphite off, the Grafana target replaced by a real
// Prometheus Alertmanager, quick sync checks, an editor token for seeding; slurpers kept or (false) none.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

const [input, output, json] = process.argv.slice(2);
const o = JSON.parse(json);
const doc = parseDocument(readFileSync(input, 'utf8'));
doc.delete('dataDir'); // the test passes --data-dir
doc.setIn(['http', 'listen'], `127.0.0.1:${o.port}`);
doc.setIn(['graphite', 'tcp'], false);
doc.setIn(['graphite', 'udp'], false);
doc.setIn(['auth', 'tokens'], doc.createNode([{ name: 'seeder', role: 'editor', sha256: o.editorSha256 }]));
if (o.slurpers) {
  for (const s of doc.get('slurpers').items) {
    if (s.get('type') === 'http') s.set('url', String(s.get('url')).replace(/:8080\//, `:${o.port}/`));
    if (o.interval) s.set('interval', o.interval);
  }
} else doc.set('slurpers', doc.createNode([]));
doc.deleteIn(['downtimes', 'grafana']);
doc.setIn(['downtimes', 'alertmanagers'], doc.createNode([{ url: o.alertmanager }]));
doc.setIn(['downtimes', 'checkInterval'], 1);
doc.setIn(['downtimes', 'reconcileInterval'], 5);
writeFileSync(output, String(doc));
