#!/usr/bin/env node
// Alarm mail for 1,000 / 10,000 / 50,000 notices at once (an evaluation pass where that many series change),
// grouped by rule and host (10 hosts, at most 1,000 notices a mail), through a real collector's notifier (SQLite
// outbox) to a real SMTP server on loopback. Prints: accept() (every notice durable in SQL), then until the last
// mail is received, beside two baselines: the same rows inserted with one plain knex transaction, and the same
// mails (same texts) sent straight with nodemailer, no outbox.
// Usage: node bench/notify.mjs [--sizes 1000,10000,50000]
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { Collector } from '../collector/dist/app.js';
import { configSchema } from '../collector/dist/config/schema.js';
import { startSmtp } from '../collector/dist/testing/smtp.js';
import { tmp } from './lib.mjs';

const { values: opt } = parseArgs({ options: { sizes: { type: 'string', default: '1000,10000,50000' } } });
const SIZES = opt.sizes.split(',').map(Number);
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const GROUP_WAIT = 0.2;

function notices(n) {
  const at = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) => {
    const labels = { host: `fnpc${i % 10}`, job: `j${i}` };
    return {
      instance: { rule: 'bench', series: `up{host="${labels.host}",job="${labels.job}"}`, name: 'up', labels, state: 'CRITICAL', value: null, bound: null, since: at, evaluatedAt: at, summary: `${labels.host} stopped reporting`, muted: false },
      from: 'OK',
      to: 'CRITICAL',
      at,
      reason: 'change',
    };
  });
}

const rows = [];
for (const n of SIZES) {
  const smtp = await startSmtp();
  const t = tmp('rexmon-bench-notify-');
  const config = configSchema.parse({
    dataDir: t.dir,
    http: { listen: '127.0.0.1:0' },
    graphite: { tcp: false, udp: false },
    slurpers: [],
    log: { level: 'warn' },
    rrd: { cached: { mode: 'off' } },
    wal: { enabled: false },
    notify: {
      smtp: { host: smtp.host, port: smtp.port, starttls: 'off' },
      to: ['ops@lab.example'],
      groupBy: ['rule', 'host'],
      groupWait: GROUP_WAIT,
      maxPerMail: 1000,
      pollInterval: 0.05,
    },
  });
  const c = new Collector(config);
  await c.start();
  const list = notices(n);
  const t0 = performance.now();
  await c.notifier.accept(list);
  const accepted = performance.now() - t0;
  const expected = 10 * Math.ceil(n / 10 / 1000);
  while (smtp.mails.length < expected) await new Promise((r) => setTimeout(r, 10));
  const delivered = performance.now() - t0;
  const listed = smtp.mails.reduce((k, m) => k + m.body.split('\n').filter((l) => l.startsWith('CRITICAL up{')).length, 0);
  if (listed !== n) throw new Error(`${listed} of ${n} notices in the mails`);

  // Baseline 1: the same rows, one plain transaction (what any durable queue in this database costs at least).
  const raw = list.map((x) => ({ kind: 'alarm', group_key: 'x', group_label: 'x', recipients: '[]', payload: JSON.stringify(x), due_at: 0, created_at: 0 }));
  await c.db.raw('CREATE TABLE notify_notices_bench_copy AS SELECT * FROM notify_notices WHERE 0');
  const t1 = performance.now();
  await c.db.transaction(async (trx) => {
    for (let i = 0; i < raw.length; i += 200) await trx('notify_notices_bench_copy').insert(raw.slice(i, i + 200));
  });
  const rawInsert = performance.now() - t1;

  // Baseline 2: the same mails straight through nodemailer, one after the other (no outbox, no grouping).
  const mails = smtp.mails.slice();
  const transport = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true });
  const t2 = performance.now();
  for (const m of mails) await transport.sendMail({ from: 'rexmon@localhost', to: m.to, subject: m.subject, text: m.body });
  const direct = performance.now() - t2;
  transport.close();

  rows.push({ n, mails: mails.length, accepted, delivered, rawInsert, direct });
  await c.stop();
  await smtp.stop();
  t.cleanup();
}

console.log(`notices | mails | accept() durable | last mail received (incl. ${GROUP_WAIT} s group wait) | baseline: plain insert | baseline: same mails, nodemailer direct`);
console.log('---|---|---|---|---|---');
for (const r of rows) console.log(`${r.n.toLocaleString('en')} | ${r.mails} | ${s(r.accepted)} | ${s(r.delivered)} | ${s(r.rawInsert)} | ${s(r.direct)}`);
