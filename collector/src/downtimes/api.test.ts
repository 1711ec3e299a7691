// The downtime API and CLI against a real collector (in-process, free loopback port, SQLite file).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { hashToken } from '../auth/tokens.js';
import { api, startCollector, TestCollector } from '../testing/harness.js';

const EDITOR = 'rxm_editor_token';
const VIEWER = 'rxm_viewer_token';
const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));
let c: TestCollector;

before(async () => {
  c = await startCollector({
    rrd: { cached: { mode: 'off' } },
    auth: {
      tokens: [
        { name: 'ops', role: 'editor', sha256: hashToken(EDITOR) },
        { name: 'wall', role: 'viewer', sha256: hashToken(VIEWER) },
      ],
    },
  });
});
after(async () => {
  await c?.stop();
});

type D = { id: number; state: string; end: number | null; version: number; match: string; kind: string };
const post = (body: unknown, token = EDITOR) => api<{ data: D }>(c.url, '/api/v1/downtimes', { method: 'POST', body: JSON.stringify(body), token });
const base = { kind: 'planned', match: '{host="fnpc3001"}', author: 'alice', reason: 'disk swap' };

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, REXMON_URL: c.url, REXMON_TOKEN: EDITOR, REXMON_USER: 'erin', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

test('writes need an editor token; reads are open on loopback', async () => {
  assert.equal((await post(base, '')).status, 401);
  const v = await post({ ...base, start: 'now', end: '+1h' }, VIEWER);
  assert.equal(v.status, 403);
  assert.match(v.body.error!.message, /needs editor/);
  const ok = await post({ ...base, start: 'now', end: '+1h' });
  assert.equal(ok.status, 201);
  assert.equal((await api(c.url, `/api/v1/downtimes/${ok.body.data.id}`)).status, 200);
  assert.equal((await api(c.url, `/api/v1/downtimes/${ok.body.data.id}`, { method: 'DELETE' })).status, 401);
  assert.equal((await api(c.url, `/api/v1/downtimes/${ok.body.data.id}/end`, { method: 'POST', token: VIEWER })).status, 403);
});

test('bad input: 400 naming the field; unknown ids: 404', async () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ start: 'now', end: 'now-1h' }, 'end', /end must be after start/],
    [{ match: 'host="x"', start: 'now', end: '+1h' }, 'match', /expected/],
    [{ match: '{host=~"(("}', start: 'now', end: '+1h' }, 'match', /invalid regular expression/],
    [{ duration: '4h', recurrence: { rule: '0 8 * * TUE', timezone: 'Europe/Atlantis' } }, 'recurrence.timezone', /unknown time zone/],
    [{ duration: '4h', recurrence: { rule: 'every tuesday', timezone: 'UTC' } }, 'recurrence.rule', /not a cron rule/],
    [{ author: undefined, start: 'now', end: '+1h' }, 'author', /author is required/],
    [{ reason: '', start: 'now', end: '+1h' }, 'reason', /reason is required/],
    [{ start: 'now' }, 'end', /planned downtime/],
    [{ start: 'tomorrow', end: '+1h' }, 'start', /not a time/],
  ];
  for (const [body, path, re] of cases) {
    const r = await post({ ...base, ...body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error!.path, path, r.body.error!.message);
    assert.match(r.body.error!.message, re);
  }
  const raw = await api(c.url, '/api/v1/downtimes', { method: 'POST', body: '{"kind":', token: EDITOR });
  assert.equal(raw.status, 400);
  assert.equal(raw.body.error!.path, 'body');
  for (const [method, path] of [
    ['GET', '/api/v1/downtimes/999999'],
    ['PATCH', '/api/v1/downtimes/999999'],
    ['DELETE', '/api/v1/downtimes/999999'],
    ['POST', '/api/v1/downtimes/999999/end'],
    ['GET', '/api/v1/downtimes/999999/history'],
    ['GET', '/api/v1/downtimes/nope'],
  ]) {
    const r = await api(c.url, path, { method, token: EDITOR, body: method === 'PATCH' ? '{"reason":"x"}' : undefined });
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.match(r.body.error!.message, /no downtime with id/);
  }
  const bad = await api(c.url, '/api/v1/downtimes?state=sleeping');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error!.path, 'state');
});

test('lifecycle: create, edit, history, end early, cancel', async () => {
  const created = await post({ ...base, start: 'now-10m', duration: '2h', tags: ['disk'] });
  assert.equal(created.status, 201);
  const id = created.body.data.id;
  assert.equal(created.body.data.state, 'active');
  const patched = await api<{ data: D }>(c.url, `/api/v1/downtimes/${id}`, { method: 'PATCH', token: EDITOR, body: JSON.stringify({ end: '+3h', by: 'bob' }) });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.data.version, 2);
  const conflict = await api(c.url, `/api/v1/downtimes/${id}`, { method: 'PATCH', token: EDITOR, body: JSON.stringify({ reason: 'x', version: 1 }) });
  assert.equal(conflict.status, 409);
  const badPatch = await api(c.url, `/api/v1/downtimes/${id}`, { method: 'PATCH', token: EDITOR, body: JSON.stringify({ match: '{host=' }) });
  assert.equal(badPatch.status, 400);
  assert.equal(badPatch.body.error!.path, 'match');
  const ended = await api<{ data: D }>(c.url, `/api/v1/downtimes/${id}/end`, { method: 'POST', token: EDITOR });
  assert.equal(ended.status, 200);
  assert.equal(ended.body.data.state, 'ended');
  assert.equal((await api(c.url, `/api/v1/downtimes/${id}/end`, { method: 'POST', token: EDITOR })).status, 409);
  const h = await api<{ data: { action: string; actor: string; principal: string; changes: Record<string, unknown> }[] }>(
    c.url,
    `/api/v1/downtimes/${id}/history`,
  );
  assert.deepEqual(
    h.body.data.map((e) => [e.action, e.actor, e.principal]),
    [
      ['create', 'alice', 'ops'],
      ['update', 'bob', 'ops'],
      ['end', 'ops', 'ops'],
    ],
  );
  assert.ok('end' in h.body.data[1].changes);

  const later = await post({ ...base, start: '+1d', duration: '1h' });
  assert.equal(later.body.data.state, 'scheduled');
  const early = await api(c.url, `/api/v1/downtimes/${later.body.data.id}/end`, { method: 'POST', token: EDITOR });
  assert.equal(early.status, 409);
  assert.match(early.body.error!.message, /cancel it instead/);
  const cancelled = await api<{ data: D }>(c.url, `/api/v1/downtimes/${later.body.data.id}?by=carol`, { method: 'DELETE', token: EDITOR });
  assert.equal(cancelled.body.data.state, 'cancelled');
  assert.equal((await api(c.url, `/api/v1/downtimes/${later.body.data.id}`, { method: 'DELETE', token: EDITOR })).status, 409);
});

test('filters, "is this series in downtime?", and annotations with each occurrence separately', async () => {
  const host = await post({ ...base, match: '{host="fnpc4000"}', start: 'now-1h', end: '+1h' });
  const svc = await post({ ...base, kind: 'unplanned', match: '{service=~"enstore|dcache"}', start: 'now-30m', end: null });
  const weekly = await post({
    ...base,
    match: '{host="fnpc4001"}',
    start: '2025-01-01T00:00:00Z',
    duration: '4h',
    recurrence: { rule: '0 8 * * TUE', timezone: 'America/Chicago' },
  });
  assert.equal(weekly.status, 201, JSON.stringify(weekly.body));

  const list = async (q: string) => (await api<{ data: D[] }>(c.url, `/api/v1/downtimes?${q}`)).body.data.map((d) => d.id);
  assert.ok((await list('kind=unplanned')).includes(svc.body.data.id));
  assert.ok(!(await list('kind=unplanned')).includes(host.body.data.id));
  const forHost = await list(`match=${encodeURIComponent('{host="fnpc4000"}')}&state=active`);
  assert.ok(forHost.includes(host.body.data.id));
  assert.ok(forHost.includes(svc.body.data.id), 'a service scope could cover the host’s series');
  assert.ok(!forHost.includes(weekly.body.data.id));
  const inMarch = await list('from=2025-03-10T00:00:00Z&to=2025-03-12T00:00:00Z');
  assert.deepEqual(inMarch, [weekly.body.data.id]);

  const active = async (series: string) =>
    (await api<{ data: { inDowntime: boolean; downtimes: D[] } }>(c.url, `/api/v1/downtimes/active?series=${encodeURIComponent(series)}`)).body.data;
  const a = await active('condor_jobs{host="fnpc4000",state="idle"}');
  assert.equal(a.inDowntime, true);
  assert.deepEqual(
    a.downtimes.map((d) => d.id),
    [host.body.data.id],
  );
  assert.deepEqual(
    (await active('dcache_pool_free{service="dcache"}')).downtimes.map((d) => d.id),
    [svc.body.data.id],
  );
  assert.equal((await active('cpu{host="elsewhere"}')).inDowntime, false);
  const bad = await api(c.url, `/api/v1/downtimes/active?series=${encodeURIComponent('cpu{host=~"x.*"}')}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error!.path, 'series');
  const at = await api<{ data: { downtimes: D[] } }>(
    c.url,
    `/api/v1/downtimes/active?series=${encodeURIComponent('x{host="fnpc4001"}')}&at=2025-03-11T14:00:00Z`,
  );
  assert.deepEqual(
    at.body.data.downtimes.map((d) => d.id),
    [weekly.body.data.id],
  );

  type Anno = { id: string; time: number; timeEnd: number; title: string; text: string; tags: string[] };
  const from = Date.parse('2025-03-01T00:00:00Z');
  const to = Date.parse('2025-03-19T00:00:00Z');
  const ann = await api<{ data: Anno[] }>(c.url, `/api/v1/annotations?from=${from}&to=${to}&match=${encodeURIComponent('{host="fnpc4001"}')}`);
  assert.equal(ann.status, 200);
  assert.deepEqual(
    ann.body.data.map((x) => [x.time, x.timeEnd]),
    [
      [Date.parse('2025-03-04T14:00:00Z'), Date.parse('2025-03-04T18:00:00Z')],
      [Date.parse('2025-03-11T13:00:00Z'), Date.parse('2025-03-11T17:00:00Z')],
      [Date.parse('2025-03-18T13:00:00Z'), Date.parse('2025-03-18T17:00:00Z')],
    ],
  );
  const first = ann.body.data[0];
  assert.deepEqual(Object.keys(first).sort(), ['id', 'tags', 'text', 'time', 'timeEnd', 'title']);
  assert.equal(first.id, `downtime-${weekly.body.data.id}-${Date.parse('2025-03-04T14:00:00Z') / 1000}`);
  assert.deepEqual(first.tags, ['downtime', 'planned', 'recurring', 'host=fnpc4001']);
  assert.match(first.title, /Planned downtime \{host="fnpc4001"\}/);
  assert.match(first.text, /disk swap/);
  const now = Date.now();
  const open = await api<{ data: Anno[] }>(c.url, `/api/v1/annotations?from=${now - 3600e3}&to=${now}&kind=unplanned`);
  const svcAnn = open.body.data.find((x) => x.id === `downtime-${svc.body.data.id}`)!;
  assert.ok(svcAnn.tags.includes('unplanned') && svcAnn.tags.includes('service=~enstore|dcache'));
  assert.ok(svcAnn.timeEnd >= now - 1000, 'an open downtime reaches to now');
  assert.ok(open.body.data.every((x) => x.tags.includes('unplanned')));
  const rev = await api(c.url, `/api/v1/annotations?from=${now}&to=${now - 1000}`);
  assert.equal(rev.status, 400);
  assert.equal((await api(c.url, `/api/v1/annotations?kind=meteor`)).status, 400);
});

test('every downtime route is in the OpenAPI document', async () => {
  const doc = (await api<{ paths: Record<string, Record<string, unknown>> }>(c.url, '/api/v1/openapi.json')).body;
  const want: [string, string][] = [
    ['/downtimes', 'get'],
    ['/downtimes', 'post'],
    ['/downtimes/active', 'get'],
    ['/downtimes/sync', 'get'],
    ['/downtimes/{id}', 'get'],
    ['/downtimes/{id}', 'patch'],
    ['/downtimes/{id}', 'delete'],
    ['/downtimes/{id}/end', 'post'],
    ['/downtimes/{id}/history', 'get'],
    ['/annotations', 'get'],
  ];
  for (const [p, m] of want) assert.ok(doc.paths[p]?.[m], `${m.toUpperCase()} ${p} documented`);
});

test('CLI: rexmon downtime add|list|show|end|cancel with relative times', async () => {
  const add = await cli([
    'downtime',
    'add',
    '--planned',
    '--match',
    '{host="fnpc5000"}',
    '--start',
    'now',
    '--end',
    '+2h',
    '--reason',
    'kernel update',
    '--json',
  ]);
  assert.equal(add.code, 0, add.stderr);
  const d = JSON.parse(add.stdout);
  assert.equal(d.author, 'erin');
  assert.equal(d.state, 'active');
  assert.ok(Math.abs(d.end - d.start - 7200) <= 1);

  const rec = await cli([
    'downtime',
    'add',
    '--planned',
    '--match',
    '{service="enstore"}',
    '--every',
    '0 8 * * TUE',
    '--tz',
    'America/Chicago',
    '--duration',
    '4h',
    '--reason',
    'tape maintenance',
    '--author',
    'frank',
  ]);
  assert.equal(rec.code, 0, rec.stderr);
  assert.match(rec.stdout, /created downtime #\d+ \(planned, scheduled\)/);
  assert.match(rec.stdout, /every "0 8 \* \* TUE" America\/Chicago for 4h/);

  const list = await cli(['downtime', 'list', '--active']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+KIND\s+STATE/m);
  assert.match(list.stdout, new RegExp(`^${d.id}\\s+planned\\s+active\\s+\\{host="fnpc5000"\\}`, 'm'));
  assert.doesNotMatch(list.stdout, /tape maintenance/);

  const end = await cli(['downtime', 'end', String(d.id), '--by', 'gina']);
  assert.equal(end.code, 0, end.stderr);
  assert.match(end.stdout, /ended downtime/);
  const show = await cli(['downtime', 'show', String(d.id)]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /downtime #\d+ {2}planned {2}ended/);
  assert.match(show.stdout, /history:\n.*create\s+erin.*\n.*end\s+gina \(via ops\)/);

  const recId = /#(\d+)/.exec(rec.stdout)![1];
  const cancel = await cli(['downtime', 'cancel', recId]);
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.match(cancel.stdout, /cancelled/);

  const badMatch = await cli(['downtime', 'add', '--planned', '--match', '{host=', '--end', '+1h', '--reason', 'x']);
  assert.notEqual(badMatch.code, 0);
  assert.match(badMatch.stderr, /--match <selector>' argument '\{host=' is invalid/);
  const badZone = await cli([
    'downtime',
    'add',
    '--planned',
    '--match',
    '{host="a"}',
    '--every',
    '0 8 * * *',
    '--tz',
    'Nowhere/Land',
    '--duration',
    '1h',
    '--reason',
    'x',
  ]);
  assert.equal(badZone.code, 1);
  assert.match(badZone.stderr, /recurrence.timezone: unknown time zone "Nowhere\/Land".*\(HTTP 400\)/);
  const missing = await cli(['downtime', 'show', '987654']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no downtime with id "987654" \(HTTP 404\)/);
  const neither = await cli(['downtime', 'add', '--match', '{host="a"}', '--end', '+1h', '--reason', 'x']);
  assert.notEqual(neither.code, 0);
  assert.match(neither.stderr, /--planned or --unplanned/);
});

test('API: metric names in a scope, too-frequent rules, version on POST and end: null with a duration are 400s naming the field', async () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ match: 'cpu{host="a"}', start: 'now', end: '+1h' }, 'match', /cannot name a metric/],
    [{ match: '{__name__="cpu",host="a"}', start: 'now', end: '+1h' }, 'match', /cannot name a metric/],
    [{ match: '{host=~"a(?!b)"}', start: 'now', end: '+1h' }, 'match', /Go RE2/],
    [{ duration: '1m', recurrence: { rule: '* * * * *', timezone: 'UTC' } }, 'recurrence.rule', /at least 1 h apart/],
    [{ start: 'now', end: '+1h', version: 1 }, 'version', /PATCH/],
    [{ kind: 'unplanned', start: 'now', end: null, duration: '2h' }, 'duration', /not both/],
    [{ start: 'now', duration: '1000000y' }, 'duration', /10 years/],
    [{ start: 'now', end: 9e15 }, 'end', /9999/],
  ];
  for (const [body, path, re] of cases) {
    const r = await post({ ...base, ...body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error!.path, path, r.body.error!.message);
    assert.match(r.body.error!.message, re);
  }
});

test('annotations say when occurrences were cut (meta.truncated); range filters stop at the first occurrence', async () => {
  type Anno = { id: string; time: number };
  const hourly = await post({
    ...base,
    match: '{host="fnpc8000"}',
    start: '2025-01-01T00:00:00Z',
    duration: '10m',
    recurrence: { rule: '0 * * * *', timezone: 'UTC' },
  });
  assert.equal(hourly.status, 201, JSON.stringify(hourly.body));
  const q = (from: string, to: string, limit: number) =>
    api<{ data: Anno[]; meta: { truncated: boolean; limit: number } }>(
      c.url,
      `/api/v1/annotations?from=${from}&to=${to}&limit=${limit}&match=${encodeURIComponent('{host="fnpc8000"}')}`,
    );
  const cut = await q('2025-01-01T00:00:00Z', '2025-01-03T00:00:00Z', 10);
  assert.equal(cut.status, 200);
  assert.equal(cut.body.data.length, 10);
  assert.deepEqual(cut.body.meta, { truncated: true, limit: 10 });
  assert.equal(cut.body.data[0].time, Date.parse('2025-01-01T00:00:00Z'));
  const whole = await q('2025-01-01T00:00:00Z', '2025-01-01T05:00:00Z', 10);
  assert.deepEqual([whole.body.data.length, whole.body.meta.truncated], [5, false]);
  // Never-ending hourly downtimes listed over a century: each needs only its first occurrence in range.
  for (let i = 0; i < 4; i++)
    assert.equal(
      (
        await post({
          ...base,
          match: `{host="fnpc81${i}"}`,
          start: '2025-01-01T00:00:00Z',
          duration: '10m',
          recurrence: { rule: '0 * * * *', timezone: 'UTC' },
        })
      ).status,
      201,
    );
  const t0 = Date.now();
  const list = await api<{ data: { id: number }[]; meta: { truncated: boolean } }>(
    c.url,
    '/api/v1/downtimes?from=2030-01-01T00:00:00Z&to=2130-01-01T00:00:00Z',
  );
  const ms = Date.now() - t0;
  assert.equal(list.status, 200);
  assert.ok(list.body.data.some((d) => d.id === hourly.body.data.id));
  assert.equal(list.body.meta.truncated, false);
  assert.ok(ms < 1500, `listing took ${ms} ms`);
});

test('CLI: list --active with --state (or --all) is refused with exit code 2', async () => {
  for (const args of [
    ['--active', '--state', 'scheduled'],
    ['--active', '--all'],
    ['--all', '--state', 'ended'],
  ]) {
    const r = await cli(['downtime', 'list', ...args]);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, /cannot be used together/);
  }
  assert.equal((await cli(['downtime', 'list', '--state', 'ended'])).code, 0);
});

test('CLI output: an ended open downtime shows when it ended, history shows dates, query --help shows now-1h', async () => {
  const add = await cli(['downtime', 'add', '--unplanned', '--match', '{host="fnpc6000"}', '--start', 'now-10m', '--reason', 'power supply']);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /window: +\S+ \S+ – open/);
  const id = /#(\d+)/.exec(add.stdout)![1];
  const end = await cli(['downtime', 'end', id, '--by', 'gina']);
  assert.equal(end.code, 0, end.stderr);
  assert.doesNotMatch(end.stdout, /– open/, end.stdout);
  assert.match(end.stdout, /window: +\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z – \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z \(ended\)/);
  const show = await cli(['downtime', 'show', id]);
  assert.equal(show.code, 0, show.stderr);
  const history = show.stdout.slice(show.stdout.indexOf('history:'));
  assert.doesNotMatch(history, /\b\d{10}\b/, `no raw Unix seconds in the history:\n${history}`);
  assert.match(history, /create .*start=\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z/);
  assert.match(history, /end +gina .*endedAt: null → \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z/);

  const help = await cli(['query', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--from <time> .*\(default: now-1h\)/);
  assert.match(help.stdout, /--to <time> .*\(default: now\)/);
  assert.doesNotMatch(help.stdout, /default: "?\d{10}/);
});

test("times without an offset: the CLI reads them in the caller's zone (date alone at local midnight), the API asks for an offset", async () => {
  const chicago = { TZ: 'America/Chicago' };
  const add = await cli(
    ['downtime', 'add', '--planned', '--match', '{host="fnpc6001"}', '--start', '2030-01-15T08:00', '--end', '2030-01-16', '--reason', 'zones', '--json'],
    chicago,
  );
  assert.equal(add.code, 0, add.stderr);
  const d = JSON.parse(add.stdout);
  assert.equal(d.start, Date.parse('2030-01-15T14:00:00Z') / 1000, '08:00 in Chicago');
  assert.equal(d.end, Date.parse('2030-01-16T06:00:00Z') / 1000, 'midnight in Chicago, not UTC');
  const withOffset = await cli(
    ['downtime', 'add', '--planned', '--match', '{host="fnpc6001"}', '--start', '2030-01-15T08:00Z', '--duration', '1h', '--reason', 'z', '--json'],
    chicago,
  );
  assert.equal(withOffset.code, 0, withOffset.stderr);
  assert.equal(JSON.parse(withOffset.stdout).start, Date.parse('2030-01-15T08:00:00Z') / 1000, 'an offset given is kept');

  const zoneless = await post({ ...base, start: '2030-01-15T08:00', end: '2030-01-15T09:00:00+01:00' });
  assert.equal(zoneless.status, 400, JSON.stringify(zoneless.body));
  assert.match(zoneless.body.error!.message, /start: "2030-01-15T08:00" has no UTC offset/);
  const dateOnly = await api(c.url, '/api/v1/downtimes?from=2030-01-15');
  assert.equal(dateOnly.status, 400);
  assert.match(dateOnly.body.error!.message, /from: "2030-01-15" has no UTC offset/);
  const offset = await post({ ...base, start: '2030-01-15T08:00-06:00', end: '2030-01-15T09:00-06:00' });
  assert.equal(offset.status, 201, JSON.stringify(offset.body));
});
