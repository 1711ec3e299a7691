// The event queue in a real collector (SQLite file, rrdtool, handler modules from files): a store stalled by
// a real SQLite lock holds up neither samples nor handlers; a full queue answers 503 and takes nothing;
// handlers that throw or hang are counted; the shipped examples mail (real SMTP server) and run a command.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { api, rrdFetch, startCollector, TestCollector, tempDir, waitFor } from '../testing/harness.js';
import { startSmtp, TestSmtp } from '../testing/smtp.js';

const HANDLERS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../handlers');
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

async function collector(overrides: Record<string, unknown>): Promise<TestCollector> {
  const c = await startCollector({ rrd: { cached: { mode: 'off' }, minFreeBytes: 0 }, auth: { anonymousWrite: true }, ...overrides });
  cleanups.push(() => c.stop());
  return c;
}

/** A handler module in a temp dir: `body` is the function's code, with (event, ctx) in scope. */
async function handlerModule(name: string, body: string): Promise<string> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const file = path.join(dir, `${name}.mjs`);
  writeFileSync(file, `import { appendFileSync } from 'node:fs';\nexport default async function (event, ctx) {\n${body}\n}\n`);
  return file;
}

const postEvents = (c: TestCollector, events: object[]) =>
  api<{ data?: { accepted: number }; error?: { message: string; processor?: string } }>(c.url, '/api/v1/events', {
    method: 'POST',
    body: JSON.stringify(events),
  });
const stored = async (c: TestCollector, q = '') =>
  (await api<{ data: { data: Record<string, unknown>; type: string }[] }>(c.url, `/api/v1/events?limit=10000${q}`)).body.data;
const metrics = async (c: TestCollector) => (await fetch(`${c.url}/metrics`)).text();
function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}
const fileOf = (c: TestCollector, name: string, labels: Record<string, string> = {}) =>
  c.collector.catalog
    .find([{ matchers: [], text: '' }])
    .find((e) => e.name === name && Object.entries(labels).every(([k, v]) => e.labels[k] === v) && Object.keys(e.labels).length === Object.keys(labels).length)
    ?.file;

test('a store stalled by a real SQLite lock: 202s go on, samples reach the RRD, a handler takes every event; a full queue is 503 and takes nothing; all stored after the lock', async () => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const seen = path.join(dir, 'seen.txt');
  const recorder = await handlerModule('recorder', `appendFileSync(${JSON.stringify(seen)}, event.data.i + '\\n');`);
  const c = await collector({
    events: { queue: 20, handlers: [{ name: 'recorder', module: recorder, queue: 1000 }] },
    rrd: { minFreeBytes: 0, templates: { fine: { step: 1, heartbeat: 10, rras: [{ cf: ['LAST'], steps: 1, rows: 3600 }] } }, defaultTemplate: 'fine' },
  });
  const t0 = Math.floor(Date.now() / 1000) - 100;
  const samples = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ name: 'iso_probe', value: from + i, time: t0 + from + i }));
  // The series exists before the lock (a new series is a catalog row in the same database).
  assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples(0, 5)) })).status, 202);
  await c.collector.pipeline.flush();

  const lock = new Database(path.join(c.dataDir, 'rexmon.sqlite'), { fileMustExist: true });
  lock.exec('BEGIN EXCLUSIVE');
  let locked = true;
  cleanups.push(() => {
    if (locked) lock.exec('ROLLBACK');
    lock.close();
  });
  const ev = (i: number) => ({ type: 'file.delivered', source: 'door1', labels: { station: 'fnpc1' }, data: { i } });
  for (let b = 0; b < 3; b++) {
    const r = await postEvents(
      c,
      [0, 1, 2, 3, 4].map((k) => ev(b * 5 + k)),
    );
    assert.equal(r.status, 202, JSON.stringify(r.body));
  }
  // The handler took all 15 while the store could not write one.
  await waitFor('the handler to see 15 events', async () => existsSync(seen) && readFileSync(seen, 'utf8').trim().split('\n').length === 15);
  await waitFor('the store to retry', async () => metric(await metrics(c), 'rexmon_event_processor_retries_total', 'processor="store"') > 0);
  assert.equal(metric(await metrics(c), 'rexmon_event_processor_queue_depth', 'processor="store"'), 15);
  assert.equal((await stored(c)).length, 0, 'nothing stored while locked (reads go on: WAL mode)');

  // Samples flow past the stalled store into the RRD file.
  assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples(5, 5)) })).status, 202);
  await c.collector.pipeline.flush();
  const got = await rrdFetch(fileOf(c, 'iso_probe')!, 'LAST', t0, t0 + 9, 1);
  assert.deepEqual(
    [5, 6, 7, 8, 9].map((i) => got.get(t0 + i)),
    [5, 6, 7, 8, 9],
  );

  // 15 of 20 in the store's queue: a batch of 10 is refused whole, also by the handler that had room.
  const full = await postEvents(
    c,
    Array.from({ length: 10 }, (_, k) => ev(100 + k)),
  );
  assert.equal(full.status, 503);
  assert.match(full.body.error!.message, /queue of event processor "store" is full \(15 of 20\); nothing was taken/);
  assert.equal(full.body.error!.processor, 'store');
  assert.equal((await postEvents(c, [ev(200)])).status, 202, 'one more still fits (16 of 20)');
  const again = await fetch(`${c.url}/api/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: 5 }, (_, k) => ev(300 + k))),
  });
  await again.text();
  assert.equal(again.status, 503);
  assert.equal(again.headers.get('retry-after'), '1');
  const m = await metrics(c);
  assert.equal(metric(m, 'rexmon_event_processor_dropped_total', 'processor="store",reason="queue_full"'), 15);
  assert.equal(metric(m, 'rexmon_events_refused_total', 'reason="queue_full"'), 15);
  assert.equal(metric(m, 'rexmon_event_processor_queued_total', 'processor="handler:recorder"'), 16, 'the refused batches reached no queue');

  lock.exec('COMMIT');
  locked = false;
  const all = await waitFor('every accepted event stored', async () => {
    const s = await stored(c);
    return s.length >= 16 && s;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await stored(c)).length, 16);
  assert.deepEqual(
    all.map((e) => Number(e.data.i)).sort((a, b) => a - b),
    [...Array.from({ length: 15 }, (_, i) => i), 200],
  );
  assert.equal(readFileSync(seen, 'utf8').trim().split('\n').length, 16);
  assert.equal(metric(await metrics(c), 'rexmon_event_processor_queue_depth', 'processor="store"'), 0);
});

test('handlers: one that throws and one that hangs are counted and timed out; the others get every event', async () => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const seen = path.join(dir, 'seen.txt');
  const c = await collector({
    events: {
      handlers: [
        { name: 'thrower', module: await handlerModule('thrower', `throw new Error('handler bug ' + event.data.i);`) },
        { name: 'hanger', module: await handlerModule('hanger', `await new Promise(() => {});`), timeout: 0.2, concurrency: 2 },
        {
          name: 'recorder',
          module: await handlerModule('recorder', `appendFileSync(${JSON.stringify(seen)}, event.type + ' ' + event.data.i + '\\n');`),
          types: ['disk.*'],
          match: '{station=~"fn.*"}',
        },
      ],
    },
  });
  const r = await postEvents(c, [
    { type: 'disk.error', source: 'smartd', labels: { station: 'fnpc1' }, data: { i: 1 } },
    { type: 'disk.error', source: 'smartd', labels: { station: 'other' }, data: { i: 2 } },
    { type: 'job.state', source: 'schedd', labels: { station: 'fnpc1' }, data: { i: 3 } },
    { type: 'disk.smart', source: 'smartd', labels: { station: 'fnpc2' }, data: { i: 4 } },
  ]);
  assert.equal(r.status, 202);
  await waitFor(
    'the hanger to time out four times',
    async () => metric(await metrics(c), 'rexmon_event_processor_failed_total', 'processor="handler:hanger",reason="timeout"') === 4,
  );
  const m = await metrics(c);
  assert.equal(metric(m, 'rexmon_event_processor_failed_total', 'processor="handler:thrower",reason="error"'), 4);
  assert.equal(readFileSync(seen, 'utf8'), 'disk.error 1\ndisk.smart 4\n', 'types and selector chose the events');
  assert.equal((await stored(c)).length, 4);
  assert.ok(await c.collector.events.dispatcher.drain(2000), 'no slot is left taken');
});

test('examples: mail-admin mails the station admin on disk.error through notify.smtp (real SMTP server); run-command runs a real command', async () => {
  const smtp: TestSmtp = await startSmtp();
  cleanups.push(() => smtp.stop());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const out = path.join(dir, 'command.out');
  const c = await collector({
    notify: { smtp: { host: smtp.host, port: smtp.port, starttls: 'off', timeout: 2 }, from: 'rexmon <rexmon@lab.example>' },
    events: {
      handlers: [
        {
          name: 'disk-mail',
          module: path.join(HANDLERS, 'mail-admin.js'),
          types: ['disk.error'],
          options: { admins: { fnpc7: 'admin7@lab.example' }, default: 'ops@lab.example' },
        },
        {
          name: 'script',
          module: path.join(HANDLERS, 'run-command.js'),
          types: ['disk.error'],
          options: { command: ['/bin/sh', '-c', 'printf "%s %s\\n" "$REXMON_EVENT_TYPE" "$REXMON_EVENT_SOURCE" >> "$0"; cat >> "$0"', out] },
        },
        { name: 'failing', module: path.join(HANDLERS, 'run-command.js'), types: ['disk.error'], options: { command: ['/bin/false'] } },
      ],
    },
  });
  const r = await postEvents(c, [
    { type: 'disk.error', source: 'smartd@fnpc7', labels: { station: 'fnpc7' }, data: { device: 'sda', errors: 3 } },
    { type: 'disk.error', source: 'smartd@fnpc9', labels: { station: 'fnpc9' }, data: { device: 'sdb' } },
    { type: 'job.state', source: 'schedd', labels: { station: 'fnpc7' } },
  ]);
  assert.equal(r.status, 202);
  await waitFor('two mails', async () => smtp.mails.length === 2);
  await c.collector.events.dispatcher.drain(5000);
  const byTo = Object.fromEntries(smtp.mails.map((m) => [m.envelope.to.join(','), m]));
  assert.deepEqual(Object.keys(byTo).sort(), ['admin7@lab.example', 'ops@lab.example']);
  assert.equal(byTo['admin7@lab.example'].subject, '[rexmon] disk.error on fnpc7');
  assert.match(byTo['admin7@lab.example'].body, /^disk\.error from smartd@fnpc7 at .*Z\n\n {2}station: fnpc7\n {2}device: sda\n {2}errors: 3\n/);
  assert.match(byTo['admin7@lab.example'].from, /rexmon@lab\.example/);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.ok(lines.includes('disk.error smartd@fnpc7'));
  const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { source: string; data: object });
  assert.deepEqual(json.map((e) => e.source).sort(), ['smartd@fnpc7', 'smartd@fnpc9']);
  assert.equal(metric(await metrics(c), 'rexmon_event_processor_failed_total', 'processor="handler:failing",reason="error"'), 2);
  assert.equal(metric(await metrics(c), 'rexmon_event_processor_processed_total', 'processor="handler:script"'), 2);
});

test('bad handler config stops the start and names it', async () => {
  const missing = await startCollector({ events: { handlers: [{ name: 'x', module: '/nonexistent/handler.js' }] } }).then(
    () => 'started',
    (e: Error) => e.message,
  );
  assert.match(missing, /events\.handlers\[0\]\.module: cannot load \/nonexistent\/handler\.js/);
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const empty = path.join(dir, 'empty.mjs');
  writeFileSync(empty, 'export const x = 1;\n');
  const noFn = await startCollector({ events: { handlers: [{ name: 'x', module: empty }] } }).then(
    () => 'started',
    (e: Error) => e.message,
  );
  assert.match(noFn, /events\.handlers\[0\]\.module: .*empty\.mjs exports no function/);
});
