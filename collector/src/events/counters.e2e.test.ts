// Counting rules into real RRD files, and pull mode (events from a real command and a real HTTP server).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseConfigText } from '../config/load.js';
import { api, rrdFetch, startCollector, TestCollector, tempDir, waitFor } from '../testing/harness.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

async function collector(overrides: Record<string, unknown>): Promise<TestCollector> {
  const c = await startCollector({ auth: { anonymousWrite: true }, ...overrides });
  cleanups.push(() => c.stop());
  return c;
}

const fileOf = (c: TestCollector, name: string, labels: Record<string, string>) =>
  c.collector.catalog.find([{ matchers: [], text: '' }]).find((e) => e.name === name && JSON.stringify(e.labels) === JSON.stringify(labels))?.file;

test('counting rules: file.delivered per station per interval, and bytes summed from a key, in real RRD files; 0 for an interval without events', async () => {
  const c = await collector({
    rrd: { minFreeBytes: 0, templates: { fine: { step: 2, heartbeat: 20, rras: [{ cf: ['LAST'], steps: 1, rows: 3600 }] } }, defaultTemplate: 'fine' },
    events: {
      counters: [
        { type: 'file.delivered', metric: 'files_delivered', by: ['station'], interval: 2 },
        { type: 'file.*', metric: 'bytes_delivered', by: ['station', 'source'], interval: 2, sum: 'bytes' },
        // A label value that is no valid series label: counted as a problem, never pushed.
        { type: 'bad.label', metric: 'bad_labels', by: ['host'], interval: 2 },
      ],
    },
  });
  // An interval that has just begun, so all events fall in it and it ends within a few seconds.
  let now = Date.now();
  if (now % 2000 > 1500) {
    await new Promise((r) => setTimeout(r, 2000 - (now % 2000) + 10));
    now = Date.now();
  }
  const start = Math.floor(now / 2000) * 2;
  const ev = (station: string, bytes: unknown, type = 'file.delivered') => ({
    type,
    source: 'door1',
    time: start * 1000 + 100,
    labels: { station },
    data: { bytes },
  });
  const r = await api(c.url, '/api/v1/events', {
    method: 'POST',
    body: JSON.stringify([
      ev('fnpc1', 10),
      ev('fnpc1', 20),
      ev('fnpc1', 30),
      ev('fnpc2', 5),
      ev('fnpc2', 'lots'),
      ev('fnpc2', 7, 'file.failed'),
      { type: 'bad.label', source: 'x', data: { host: 'a\nb' } },
    ]),
  });
  assert.equal(r.status, 202);
  const end = start + 2;
  // The next interval (no events) is pushed too: its value is 0 for every series seen.
  await waitFor('two intervals pushed', async () => Math.floor(Date.now() / 1000) >= end + 2 + 3, 15000);
  await c.collector.pipeline.flush();
  const value = async (name: string, labels: Record<string, string>, t: number) => {
    const file = fileOf(c, name, labels);
    assert.ok(file, `${name} ${JSON.stringify(labels)} has a file`);
    return (await rrdFetch(file, 'LAST', t - 2, t, 2)).get(t);
  };
  assert.equal(await value('files_delivered', { station: 'fnpc1' }, end), 3);
  assert.equal(await value('files_delivered', { station: 'fnpc2' }, end), 2);
  assert.equal(await value('files_delivered', { station: 'fnpc1' }, end + 2), 0);
  assert.equal(await value('bytes_delivered', { source: 'door1', station: 'fnpc1' }, end), 60);
  assert.equal(await value('bytes_delivered', { source: 'door1', station: 'fnpc2' }, end), 12, '5 delivered + 7 failed; "lots" is not a number');
  assert.equal(await value('bytes_delivered', { source: 'door1', station: 'fnpc2' }, end + 2), 0);
  assert.equal(fileOf(c, 'bad_labels', { host: 'a\nb' }), undefined);
  const m = await (await fetch(`${c.url}/metrics`)).text();
  assert.match(m, /rexmon_event_counter_problems_total\{metric="bytes_delivered",kind="bad_value"\} 1\b/);
  assert.match(m, /rexmon_event_counter_problems_total\{metric="bad_labels",kind="invalid_series"\} 1\b/);
});

test('pull mode: a command and an HTTP server print events; they are checked like the API and queued; a bad one is reported', async () => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const out = path.join(dir, 'events.json');
  writeFileSync(
    out,
    JSON.stringify({
      events: [
        { type: 'transfer.done', source: 'fts', labels: { link: 'fnal-cern' }, data: { files: 12 } },
        { type: 'bad type!', source: 'fts' },
      ],
    }),
  );
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify([{ type: 'pool.state', source: 'dcache', time: 1795300000, data: { state: 'offline' } }]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as net.AddressInfo).port;
  const c = await collector({
    rrd: { cached: { mode: 'off' } },
    slurpers: [
      { type: 'command', name: 'fts', command: ['/bin/cat', out], mode: 'events', interval: 3600, timeout: 10, labels: { site: 'fnal' } },
      { type: 'http', name: 'dcache', url: `http://127.0.0.1:${port}/events`, mode: 'events', interval: 3600, timeout: 10 },
    ],
  });
  type E = { type: string; source: string; time: number; labels: Record<string, string>; data: Record<string, unknown> };
  const got = await waitFor('both pulled events stored', async () => {
    const r = await api<{ data: E[] }>(c.url, '/api/v1/events');
    return r.body.data.length >= 2 && r.body.data;
  });
  const byType = Object.fromEntries(got.map((e) => [e.type, e]));
  assert.deepEqual(Object.keys(byType).sort(), ['pool.state', 'transfer.done']);
  assert.deepEqual(byType['transfer.done'].labels, { link: 'fnal-cern', site: 'fnal' });
  assert.deepEqual(byType['transfer.done'].data, { files: 12 });
  assert.equal(byType['pool.state'].time, 1795300000000, 'Unix seconds, as the API reads them');
  const status = c.collector.slurpers.status();
  const fts = status.find((s) => s.name === 'fts')!;
  assert.equal(fts.last?.events, 1);
  assert.equal(fts.last?.errors, 1);
  assert.match(fts.last?.message ?? '', /\[1\]\.type: type "bad type!" must be/);
  assert.equal(status.find((s) => s.name === 'dcache')!.last?.events, 1);
  assert.equal(fts.last?.samples, 0, 'events mode makes no samples');
});

test('config: a bad counting rule or handler entry names the path and what was expected', () => {
  const bad = (events: object) => {
    try {
      parseConfigText(JSON.stringify({ events }), 'rexmon.yaml');
      return 'accepted';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.match(bad({ counters: [{ type: 'x', metric: 'has space' }] }), /events\.counters\.0\.metric.*: a metric name/);
  assert.match(bad({ counters: [{ type: 'x', metric: 'ok', by: ['not-a-label'] }] }), /events\.counters\.0\.by\.0.*: a label name/);
  assert.match(bad({ counters: [{ type: 'x', metric: 'ok', interval: 0 }] }), /events\.counters\.0\.interval.*: must be at least 1 s/);
  assert.match(bad({ handlers: [{ name: 'h', module: 'x.js', match: '{a=' }] }), /events\.handlers\.0\.match/);
  assert.match(bad({ handlers: [{ name: 'h', module: 'x.js', timeout: 0 }] }), /events\.handlers\.0\.timeout.*: must be more than 0/);
  assert.match(bad({ handlers: [{ name: 'h', module: 'x.js', typo: 1 }] }), /events\.handlers\.0.*: unknown key "typo"/);
  assert.match(
    bad({
      handlers: [
        { name: 'h', module: 'a.js' },
        { name: 'h', module: 'b.js' },
      ],
    }),
    /events\.handlers\.1\.name.*: duplicate handler name "h"/,
  );
  assert.match(bad({ queue: 0 }), /events\.queue/);
  assert.equal(bad({ handlers: [{ name: 'h', module: 'a.js', types: ['disk.*'], match: '{station=~"fn.*"}' }] }), 'accepted');
});
