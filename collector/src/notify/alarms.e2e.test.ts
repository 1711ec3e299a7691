// Alarm mail end to end: values written into real RRD files (rrdcached), the real evaluator deciding states,
// the notifier mailing a real SMTP server on loopback. Evaluations run at chosen times, so the mails follow
// from the values alone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { postSamples } from '../alarms/testing.js';
import { downtimeApi } from '../testing/downtimes.js';
import { startCollector, TestCollector, waitFor } from '../testing/harness.js';
import { startSmtp, TestSmtp } from '../testing/smtp.js';
import { fmtTime } from './render.js';

let c: TestCollector;
let smtp: TestSmtp;
// Two hours back, on a minute: every value lies inside the 1-minute RRA and before the clock.
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 7200;
const at = (i: number) => base + 60 * i;

before(async () => {
  smtp = await startSmtp();
  c = await startCollector({
    auth: { anonymousWrite: true },
    alarms: {
      interval: 3600,
      downtimeCheckInterval: 0.2,
      rules: [
        {
          name: 'disk',
          match: 'disk_used_pct{host="fnpc1"}',
          warning: 80,
          critical: 90,
          clear: { warning: 75, critical: 85 },
          for: '2m',
          summary: '{{ $labels.host }} disk {{ $value }}% > {{ $bound }} ({{ $state }})',
        },
        { name: 'full', match: 'disk_used_pct{host="fnpc2"}', critical: 90, summary: '{{ $labels.host }} {{ $labels.mount }} is full' },
      ],
    },
    notify: {
      smtp: { host: smtp.host, port: smtp.port, starttls: 'off', timeout: 2 },
      from: 'rexmon <rexmon@lab.example>',
      to: ['ops@lab.example'],
      downtimeNotices: ['downtimes@lab.example'],
      downtimeCheckInterval: 0.2,
      groupWait: 0,
      pollInterval: 0.05,
      statusUrl: 'http://status.lab.example/',
    },
  });
});
after(async () => {
  await c?.stop();
  await smtp?.stop();
});

const alarmMails = () => smtp.mails.filter((m) => m.to.includes('ops@lab.example'));
const settle = () => new Promise((r) => setTimeout(r, 400));

test('values crossing thresholds with `for` and hysteresis: exactly one mail per state change', async () => {
  const values = [50, 82, 83, 84, 78, 92, 88, 91, 86, 84, 76, 74, 81, 70, 81, 82];
  await postSamples(
    c.url,
    values.map((v, i) => ({ name: 'disk_used_pct', labels: { host: 'fnpc1', mount: '/' }, value: v, time: at(i + 1) })),
  );
  const counts: number[] = [];
  for (let i = 0; i < values.length; i++) {
    await c.collector.alarms.evaluate(at(i + 1));
    // What the evaluator handed over is in SQL; when it is a mail, wait for it before the next step.
    await waitFor('the outbox empty', async () => {
      const s = await c.collector.notifier!.outbox.stats();
      return s.waitingNotices === 0 && s.byStatus.pending === 0 && s.byStatus.sending === 0;
    });
    counts.push(alarmMails().length);
  }
  await settle();
  // Mails after steps 4 (WARNING after 2m above 80), 8 (CRITICAL after 2m above 90), 10 (back under 85), 12 (under 75).
  assert.deepEqual(counts, [0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4]);
  const s = 'disk_used_pct{host="fnpc1",mount="/"}';
  const mails = alarmMails();
  assert.deepEqual(
    mails.map((m) => m.subject),
    [`[rexmon] WARNING disk: ${s}`, `[rexmon] CRITICAL disk: ${s}`, `[rexmon] WARNING disk: ${s}`, `[rexmon] OK disk: ${s}`],
  );
  const body = (state: string, summary: string, value: number, bound: number, from: string, t: number) =>
    [
      `${state} disk: ${s}`,
      '',
      `${state} ${s}`,
      `  ${summary}`,
      `  value ${value}, bound ${bound}`,
      `  ${from} -> ${state} at ${fmtTime(t)}`,
      '  rule disk',
      '',
      'Status page: http://status.lab.example/',
      '',
    ].join('\n');
  assert.equal(mails[0].body, body('WARNING', 'fnpc1 disk 84% > 80 (WARNING)', 84, 80, 'OK', at(4)));
  assert.equal(mails[1].body, body('CRITICAL', 'fnpc1 disk 91% > 90 (CRITICAL)', 91, 90, 'WARNING', at(8)));
  assert.equal(mails[2].body.split('\n').slice(4, 6).join('\n'), `  value 84, bound 80\n  CRITICAL -> WARNING at ${fmtTime(at(10))}`);
  assert.equal(mails[3].body.split('\n').slice(4, 6).join('\n'), `  value 74, bound 75\n  WARNING -> OK at ${fmtTime(at(12))}`);
});

test('a planned downtime silences a CRITICAL series, then ends with the problem still there: exactly one mail, at the end', async () => {
  const before = alarmMails().length;
  const dt = downtimeApi(() => c.url);
  const d = await dt.post({ match: '{host="fnpc2"}', start: base - 60, end: Math.floor(Date.now() / 1000) + 3600, reason: 'RAID rebuild' });
  await waitFor('the downtime start notice', async () => smtp.mails.some((m) => m.subject === `[rexmon] Downtime #${d.id} started: {host="fnpc2"} (planned)`));
  await postSamples(
    c.url,
    [95, 96, 97].map((v, i) => ({ name: 'disk_used_pct', labels: { host: 'fnpc2', mount: '/data' }, value: v, time: at(i + 1) })),
  );
  for (let i = 1; i <= 3; i++) await c.collector.alarms.evaluate(at(i));
  const inst = c.collector.alarms.view.current({ rule: 'full' });
  assert.equal(inst.length, 1);
  assert.equal(inst[0].state, 'CRITICAL');
  assert.equal(inst[0].muted, true);
  await settle();
  assert.equal(alarmMails().length, before, 'nothing is mailed inside the planned downtime');

  await dt.call('POST', `/downtimes/${d.id}/end`);
  const s = 'disk_used_pct{host="fnpc2",mount="/data"}';
  await waitFor('the mail at the end', async () => alarmMails().length > before);
  // The evaluator's downtime timer keeps running (every 0.2 s): nothing more is owed, nothing more is sent.
  await settle();
  await settle();
  const mine = alarmMails().slice(before);
  assert.deepEqual(
    mine.map((m) => m.subject),
    [`[rexmon] CRITICAL (downtime ended) full: ${s}`],
  );
  assert.match(mine[0].body, /\n {2}fnpc2 \/data is full\n {2}value 97, bound 90\n {2}CRITICAL since .* UTC; the downtime that muted it ended at .* UTC\n/);
  await waitFor('the downtime end notice', async () => smtp.mails.some((m) => m.subject === `[rexmon] Downtime #${d.id} ended: {host="fnpc2"} (planned)`));
});
