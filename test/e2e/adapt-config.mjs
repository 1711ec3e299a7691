#!/usr/bin/env node
// For the end-to-end test: deploy/rexmon.yaml with only what a test machine needs changed, before
// deploy/render-config.mjs completes it as the container would:
//   node adapt-config.mjs IN OUT '{"port":P,"alertmanager":URL,"editorSha256":H,"slurpers":true}'
// The API on 127.0.0.1:P (the self-scrape follows), Graphite off, the Grafana target replaced by a real
// Prometheus Alertmanager, quick sync checks, an editor token for seeding; slurpers kept or (false) none;
// with condorStandin, a condor slurper running it; condor_* and job_* series at a 5 s step.
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
  if (o.condorStandin) {
    // The stand-in HTCondor (jobs_seed_test.go): schedd01 and schedd02 answer, schedd03 does not.
    const tool = (t) => ['node', o.condorStandin, t];
    doc.get('slurpers').add(
      doc.createNode({
        type: 'condor',
        name: 'condor',
        interval: o.interval ?? '60s',
        schedds: ['schedd01.fnal.gov', 'schedd02.fnal.gov', 'schedd03.fnal.gov'],
        pools: ['cm.fnal.gov'],
        condorQ: tool('q'),
        condorHistory: tool('history'),
        condorStatus: tool('status'),
      }),
    );
  }
} else doc.set('slurpers', doc.createNode([]));
// Condor and job series are written only by the live run: a 5 s step makes their first rows readable in seconds.
if (o.interval) doc.setIn(['jobs', 'interval'], o.interval);
doc.setIn(
  ['rrd', 'templates', 'e2e-fast'],
  doc.createNode({ step: 5, type: 'GAUGE', rras: [{ cf: ['AVERAGE', 'MIN', 'MAX', 'LAST'], steps: 1, rows: 4320 }] }),
);
for (const match of ['condor_*', 'job_*']) doc.getIn(['rrd', 'rules']).add(doc.createNode({ match, template: 'e2e-fast' }));
doc.deleteIn(['downtimes', 'grafana']);
doc.setIn(['downtimes', 'alertmanagers'], doc.createNode([{ url: o.alertmanager }]));
doc.setIn(['downtimes', 'checkInterval'], 1);
doc.setIn(['downtimes', 'reconcileInterval'], 5);
writeFileSync(output, String(doc));
