// The Grafana side of the reconciler, the flexible triggers and the annotation import, against a
// recorded-contract server: no Grafana runs here, so this server answers the way Grafana's HTTP API
// documentation says (paths, bodies, status codes, Bearer service-account token) and refuses anything else.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { downtimeApi } from '../testing/downtimes.js';
import { api, startCollector, tempDir, TestCollector } from '../testing/harness.js';
import { pino } from 'pino';
import { openDb } from '../db/index.js';
import { AmClient } from './alertmanager.js';
import { Reconciler } from './reconciler.js';
import { DowntimeStore } from './store.js';
import path from 'node:path';

const TOKEN = 'glsa_test_service_account_token';

interface Silence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  updatedAt: string;
}

/** Grafana 11/12 as documented: Alertmanager-compatible silences, provisioning mute timings, annotations, alerts. */
class FakeGrafana {
  silences = new Map<string, Silence>();
  muteTimings = new Map<string, { name: string; time_intervals: Record<string, unknown>[]; version: string; provenance: string }>();
  annotations: Record<string, unknown>[] = [];
  alerts: Record<string, unknown>[] = [];
  /** The notification policy tree (GET/PUT /api/v1/provisioning/policies): routes name mute timings. */
  policies: { receiver: string; routes: { receiver?: string; object_matchers?: string[][]; mute_time_intervals?: string[] }[] } = {
    receiver: 'default',
    routes: [],
  };
  /** Test hook: POSTs of these mute timings are refused with 400, as Grafana refuses an interval it cannot parse. */
  refuseMuteTimings?: (name: string) => boolean;
  requests: { method: string; path: string; body: unknown; headers: http.IncomingHttpHeaders }[] = [];
  problems: string[] = [];
  /** Test hook: GET …/api/v2/status answers 403, as for a token without the permission (otherwise 404, not served). */
  statusForbidden = false;
  server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }

  live(): Silence[] {
    return [...this.silences.values()].filter((s) => Date.parse(s.endsAt) > Date.now());
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const url = new URL(req.url!, 'http://x');
    const body = raw ? JSON.parse(raw) : undefined;
    this.requests.push({ method: req.method!, path: url.pathname + url.search, body, headers: req.headers });
    const send = (status: number, doc?: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(doc === undefined ? '' : JSON.stringify(doc));
    };
    const bad = (msg: string) => {
      this.problems.push(`${req.method} ${url.pathname}: ${msg}`);
      send(400, { message: msg });
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'Unauthorized' });
    const p = url.pathname;
    const am = '/api/alertmanager/grafana/api/v2';

    if (req.method === 'GET' && p === `${am}/silences`) {
      const now = Date.now();
      return send(
        200,
        [...this.silences.values()].map((s) => ({
          ...s,
          status: { state: Date.parse(s.endsAt) <= now ? 'expired' : Date.parse(s.startsAt) > now ? 'pending' : 'active' },
        })),
      );
    }
    if (req.method === 'POST' && p === `${am}/silences`) {
      const s = body as Silence;
      if (!Array.isArray(s?.matchers) || s.matchers.length === 0) return bad('matchers required');
      for (const m of s.matchers)
        if (typeof m.name !== 'string' || typeof m.value !== 'string' || typeof m.isRegex !== 'boolean' || typeof m.isEqual !== 'boolean')
          return bad('matcher needs name, value, isRegex, isEqual');
      if (!s.createdBy || !s.comment) return bad('createdBy and comment required');
      if (Number.isNaN(Date.parse(s.startsAt)) || Number.isNaN(Date.parse(s.endsAt))) return bad('startsAt/endsAt must be RFC 3339');
      if (Date.parse(s.endsAt) <= Date.now()) return bad("end time can't be in the past");
      const extra = Object.keys(s).filter((k) => !['id', 'matchers', 'startsAt', 'endsAt', 'createdBy', 'comment'].includes(k));
      if (extra.length) return bad(`unknown fields ${extra}`);
      let id = s.id;
      if (id) {
        const old = this.silences.get(id);
        if (!old) return send(404, { message: 'silence not found' });
        // Like Alertmanager: an update that cannot be done in place expires the old one and makes a new one.
        old.endsAt = new Date().toISOString();
        id = randomUUID();
      } else id = randomUUID();
      this.silences.set(id, { ...s, id, updatedAt: new Date().toISOString() });
      return send(202, { silenceID: id });
    }
    const del = new RegExp(`^${am}/silence/([^/]+)$`).exec(p);
    if (req.method === 'DELETE' && del) {
      const s = this.silences.get(decodeURIComponent(del[1]));
      if (!s) return send(404, { message: 'silence not found' });
      s.endsAt = new Date().toISOString();
      return send(200, { message: 'silence deleted' });
    }
    if (req.method === 'GET' && p === `${am}/alerts`) return send(200, this.alerts);
    if (req.method === 'GET' && p === `${am}/status` && this.statusForbidden) return send(403, { message: 'permission denied' });

    const mt = '/api/v1/provisioning/mute-timings';
    const checkInterval = (t: { name?: unknown; time_intervals?: unknown }) => {
      if (typeof t?.name !== 'string' || !Array.isArray(t.time_intervals)) return 'name and time_intervals required';
      for (const i of t.time_intervals as Record<string, unknown>[]) {
        const extra = Object.keys(i).filter((k) => !['times', 'weekdays', 'days_of_month', 'months', 'years', 'location'].includes(k));
        if (extra.length) return `unknown interval fields ${extra}`;
        for (const x of (i.times as { start_time: string; end_time: string }[]) ?? [])
          if (!/^\d\d:\d\d$/.test(x.start_time) || !/^\d\d:\d\d$/.test(x.end_time)) return 'times need HH:MM';
      }
      if (req.headers['x-disable-provenance'] !== 'true') return 'rexmon must send X-Disable-Provenance: true';
      return undefined;
    };
    if (req.method === 'GET' && p === mt) return send(200, [...this.muteTimings.values()]);
    if (req.method === 'POST' && p === mt) {
      if (this.refuseMuteTimings?.(body?.name)) return send(400, { message: 'invalid location' });
      const err = checkInterval(body);
      if (err) return bad(err);
      if (this.muteTimings.has(body.name)) return send(409, { message: 'a mute timing with this name already exists' });
      const t = { name: body.name, time_intervals: body.time_intervals, version: randomUUID().slice(0, 8), provenance: '' };
      this.muteTimings.set(t.name, t);
      return send(201, t);
    }
    const one = new RegExp(`^${mt}/([^/]+)$`).exec(p);
    if (one) {
      const name = decodeURIComponent(one[1]);
      const cur = this.muteTimings.get(name);
      if (!cur) return send(404, { message: 'mute timing not found' });
      if (req.method === 'PUT') {
        const err =
          checkInterval(body) ??
          (body.name !== name ? 'name in body differs from the path' : undefined) ??
          (body.version !== undefined && body.version !== cur.version ? 'version conflict' : undefined);
        if (err) return bad(err);
        const t = { ...cur, time_intervals: body.time_intervals, version: randomUUID().slice(0, 8) };
        this.muteTimings.set(name, t);
        return send(202, t);
      }
      if (req.method === 'DELETE') {
        // Grafana refuses to delete a time interval a notification policy still names.
        if (this.policies.routes.some((r) => r.mute_time_intervals?.includes(name)))
          return send(409, {
            message: 'time interval is used by one or many notification policies',
            messageId: 'alerting.notifications.time-intervals.used',
            statusCode: 409,
          });
        this.muteTimings.delete(name);
        return send(204);
      }
    }
    if (req.method === 'GET' && p === '/api/v1/provisioning/policies') return send(200, this.policies);
    if (req.method === 'PUT' && p === '/api/v1/provisioning/policies') {
      for (const r of body?.routes ?? [])
        for (const n of r.mute_time_intervals ?? []) if (!this.muteTimings.has(n)) return bad(`mute timing ${n} does not exist`);
      this.policies = body;
      return send(202, { message: 'policies updated' });
    }
    if (req.method === 'GET' && p === '/api/annotations') {
      const tags = url.searchParams.getAll('tags');
      const from = Number(url.searchParams.get('from'));
      const to = Number(url.searchParams.get('to'));
      if (!from || !to) return bad('from and to (epoch ms) expected');
      return send(
        200,
        this.annotations.filter(
          (a) => tags.every((t) => (a.tags as string[]).includes(t)) && (a.time as number) <= to && ((a.timeEnd as number) || (a.time as number)) >= from,
        ),
      );
    }
    send(404, { message: 'Not found' });
  }
}

let g: FakeGrafana;
let c: TestCollector;
let dir: { dir: string; cleanup: () => Promise<void> };

before(async () => {
  g = new FakeGrafana();
  await g.start();
  dir = await tempDir();
  c = await startCollector(
    {
      rrd: { cached: { mode: 'off' } },
      auth: { anonymousWrite: true },
      downtimes: {
        reconcileInterval: 3600,
        lookahead: 2 * 86400,
        triggerInterval: 3600,
        backoff: { initial: 0.2, max: 1 },
        grafana: {
          url: g.url,
          token: TOKEN,
          muteTimings: true,
          muteTimingsReplaceSilences: true,
          triggers: true,
          importAnnotations: true,
          importInterval: 3600,
        },
      },
    },
    dir.dir,
  );
});
after(async () => {
  await c?.stop();
  await g?.stop();
  await dir?.cleanup();
});

const { post, call } = downtimeApi(() => c.url);
const silencesOf = (id: number) => g.live().filter((s) => s.createdBy === 'rexmon' && s.comment.includes(`[rexmon:${id}:`));

test('Grafana: one-off downtimes become silences, fitting recurring ones mute timings; foreign ones untouched', async () => {
  const foreignSilence = {
    id: 'human-1',
    matchers: [{ name: 'host', value: 'x', isRegex: false, isEqual: true }],
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3600e3).toISOString(),
    createdBy: 'admin',
    comment: 'by hand',
    updatedAt: new Date().toISOString(),
  };
  g.silences.set('human-1', foreignSilence);
  g.muteTimings.set('weekends', { name: 'weekends', time_intervals: [{ weekdays: ['saturday', 'sunday'] }], version: 'v1', provenance: '' });

  const once = await post({ match: '{host="fnpc3001"}', start: 'now', end: '+1h' });
  const weekly = await post({
    match: '{service="enstore"}',
    start: 'now-1d',
    duration: '4h',
    recurrence: { rule: '0 8 * * TUE', timezone: 'America/Chicago' },
  });
  const nightly = await post({ match: '{service="dcache"}', start: 'now-1d', duration: '8h', recurrence: { rule: '0 22 * * *', timezone: 'America/Chicago' } });
  await c.collector.downtimes.syncNow();
  assert.deepEqual(g.problems, []);

  assert.equal(silencesOf(once.id).length, 1);
  assert.deepEqual(silencesOf(once.id)[0].matchers, [{ name: 'host', value: 'fnpc3001', isRegex: false, isEqual: true }]);
  assert.deepEqual(silencesOf(weekly.id), [], 'a recurring downtime written as a mute timing gets no silences');
  assert.ok(silencesOf(nightly.id).length >= 2, 'an overnight rule does not fit a mute timing: one silence per occurrence');
  assert.deepEqual(g.muteTimings.get(`rexmon-downtime-${weekly.id}`)?.time_intervals, [
    { times: [{ start_time: '08:00', end_time: '12:00' }], weekdays: ['tuesday'], location: 'America/Chicago' },
  ]);
  for (const r of g.requests) assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
  assert.ok(g.requests.some((r) => r.method === 'POST' && r.path === '/api/alertmanager/grafana/api/v2/silences'));

  // Idempotent: a second pass writes nothing.
  const writes = () => g.requests.filter((r) => r.method !== 'GET').length;
  const before = writes();
  await c.collector.downtimes.syncNow();
  assert.equal(writes(), before);

  // Edit the weekly one: the mute timing is replaced (PUT with its version).
  await call('PATCH', `/downtimes/${weekly.id}`, { duration: '5h' });
  await c.collector.downtimes.syncNow();
  assert.deepEqual((g.muteTimings.get(`rexmon-downtime-${weekly.id}`)!.time_intervals[0] as { times: unknown }).times, [
    { start_time: '08:00', end_time: '13:00' },
  ]);
  assert.ok(g.requests.some((r) => r.method === 'PUT' && r.path === `/api/v1/provisioning/mute-timings/rexmon-downtime-${weekly.id}`));

  // End and cancel: the silence expires, the mute timing is deleted.
  await call('POST', `/downtimes/${once.id}/end`);
  await call('DELETE', `/downtimes/${weekly.id}`);
  await c.collector.downtimes.syncNow();
  assert.deepEqual(silencesOf(once.id), []);
  assert.equal(g.muteTimings.has(`rexmon-downtime-${weekly.id}`), false);
  assert.deepEqual(g.problems, []);
  assert.deepEqual(g.silences.get('human-1'), foreignSilence);
  assert.deepEqual(g.muteTimings.get('weekends')?.version, 'v1');
  assert.ok(!g.requests.some((r) => r.path.includes('human-1') || r.path.endsWith('/weekends')));
});

test('Grafana: a mute timing a notification policy names cannot be deleted (409): it is made to never match, and silences are synced regardless', async () => {
  const weekly = await post({ match: '{service="tape"}', start: 'now-1d', duration: '2h', recurrence: { rule: '0 9 * * WED', timezone: 'America/Chicago' } });
  await c.collector.downtimes.syncNow();
  const name = `rexmon-downtime-${weekly.id}`;
  assert.ok(g.muteTimings.has(name));
  // The operator attaches it to the policy for that scope, as the docs of muteTimings say.
  const put = await fetch(`${g.url}/api/v1/provisioning/policies`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver: 'default', routes: [{ receiver: 'default', object_matchers: [['service', '=', 'tape']], mute_time_intervals: [name] }] }),
  });
  assert.equal(put.status, 202);

  await call('DELETE', `/downtimes/${weekly.id}`);
  const once = await post({ match: '{host="fnpc3300"}', start: 'now', end: '+1h' });
  await c.collector.downtimes.syncNow();
  assert.deepEqual(g.problems, []);
  assert.ok(
    g.requests.some((r) => r.method === 'DELETE' && r.path === `/api/v1/provisioning/mute-timings/${name}`),
    'a delete was tried',
  );
  assert.deepEqual(g.muteTimings.get(name)?.time_intervals, [{ years: ['1970'] }], 'still named by the policy: it never matches now');
  assert.equal(silencesOf(once.id).length, 1, 'silences are synced although the mute timing could not be deleted');
  const status = (await api<{ data: { ok: boolean; refused: unknown[] }[] }>(c.url, '/api/v1/downtimes/sync')).body.data[0];
  assert.equal(status.ok, true);
  assert.deepEqual(status.refused, []);
  // Again: no further PUT (it already never matches).
  const puts = () => g.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/${name}`)).length;
  const before = puts();
  await c.collector.downtimes.syncNow();
  assert.equal(puts(), before);
  // Taken off the policy: the next pass deletes it.
  g.policies = { receiver: 'default', routes: [] };
  await c.collector.downtimes.syncNow();
  assert.equal(g.muteTimings.has(name), false);
  await call('DELETE', `/downtimes/${once.id}`);
  await c.collector.downtimes.syncNow();
});

test('Grafana: a mute-timing call the server refuses does not stop silences; that downtime gets silences instead', async () => {
  // A zone Grafana does not know: the POST is refused (400); rexmon silences that downtime itself.
  const refuse = (n: string) => n.startsWith('rexmon-downtime-');
  const weekly = await post({ match: '{service="robot"}', start: 'now-1d', duration: '2h', recurrence: { rule: '0 0 * * *', timezone: 'America/Chicago' } });
  g.refuseMuteTimings = refuse;
  try {
    await c.collector.downtimes.syncNow();
    assert.ok(silencesOf(weekly.id).length >= 1, 'silences stand in for the refused mute timing');
    const status = (await api<{ data: { ok: boolean; refused: { key: string; status: number }[] }[] }>(c.url, '/api/v1/downtimes/sync')).body.data[0];
    assert.equal(status.ok, true);
    assert.deepEqual(
      status.refused.map((r) => [r.key, r.status]),
      [[`rexmon-downtime-${weekly.id}`, 400]],
    );
  } finally {
    g.refuseMuteTimings = undefined;
  }
  await c.collector.downtimes.syncNow();
  assert.ok(g.muteTimings.has(`rexmon-downtime-${weekly.id}`));
  assert.deepEqual(silencesOf(weekly.id), [], 'once the mute timing is in place, the silences go');
  await call('DELETE', `/downtimes/${weekly.id}`);
  await c.collector.downtimes.syncNow();
});

test('Grafana unreachable: reported in the sync status, retried with back-off until it answers', async () => {
  const status = async () =>
    (await api<{ data: { name: string; ok: boolean; lastError: string | null; failures: number }[] }>(c.url, '/api/v1/downtimes/sync')).body.data[0];
  await g.stop();
  await assert.rejects(c.collector.downtimes.syncNow());
  const s = await status();
  assert.equal(s.name, 'grafana');
  assert.equal(s.ok, false);
  assert.match(s.lastError!, /ECONNREFUSED|other side closed|fetch failed/);
  // Same port again: the back-off retries reach it without being asked.
  const port = Number(new URL(g.url).port);
  await new Promise<void>((r) => g.server.listen(port, '127.0.0.1', () => r()));
  const deadline = Date.now() + 10000;
  while (!(await status()).ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await status()).ok, true);
});

test('Grafana: firing Grafana alerts start flexible downtimes', async () => {
  g.alerts = [
    {
      labels: { alertname: 'DiskFull', host: 'fnpc6000', grafana_folder: 'lab' },
      startsAt: new Date(Date.now() - 60e3).toISOString(),
      endsAt: new Date(Date.now() + 3600e3).toISOString(),
      status: { state: 'active' },
      fingerprint: 'abc',
    },
  ];
  const f = await post({ match: '{host="fnpc6000"}', flexible: true, start: 'now-10m', end: '+1h', duration: '1h' });
  assert.deepEqual(await c.collector.downtimes.pollAlerts(), [f.id]);
  assert.ok(g.requests.some((r) => r.path.startsWith('/api/alertmanager/grafana/api/v2/alerts')));
  await c.collector.downtimes.syncNow();
  assert.equal(silencesOf(f.id).length, 1);
});

test('Grafana: annotations tagged downtime are imported once, with kind, scope, author and reason', async () => {
  const now = Date.now();
  g.annotations = [
    {
      id: 101,
      dashboardUID: 'abc',
      panelId: 2,
      time: now - 3600e3,
      timeEnd: now + 3600e3,
      text: 'Swapping <b>PSU</b>',
      tags: ['downtime', 'planned', 'host:fnpc7000', 'psu'],
      login: 'hank',
      email: 'hank@lab',
      created: now,
      updated: now,
    },
    { id: 102, time: now - 600e3, timeEnd: now - 600e3, text: 'dCache pool offline', tags: ['downtime', 'service=dcache'], login: 'ida' },
    { id: 103, time: now - 600e3, timeEnd: now, text: 'no scope', tags: ['downtime'], login: 'jo' },
  ];
  const ids = await c.collector.downtimes.importAnnotations();
  assert.equal(ids.length, 2);
  const got = await Promise.all(ids.map((id) => call('GET', `/downtimes/${id}`)));
  const psu = got.find((d) => d.externalId === 'grafana-annotation:101')!;
  assert.equal(psu.kind, 'planned');
  assert.equal(psu.match, '{host="fnpc7000"}');
  assert.equal(psu.author, 'hank');
  assert.equal(psu.reason, 'Swapping PSU');
  assert.deepEqual(psu.tags, ['psu', 'grafana']);
  assert.equal(psu.start, Math.floor((now - 3600e3) / 1000));
  assert.equal(psu.source, 'grafana');
  const pool = got.find((d) => d.externalId === 'grafana-annotation:102')!;
  assert.equal(pool.kind, 'unplanned');
  assert.equal(pool.end, null, 'a point annotation is an unplanned downtime still going on');
  const h = (await api<{ data: { action: string; principal: string }[] }>(c.url, `/api/v1/downtimes/${psu.id}/history`)).body.data;
  assert.deepEqual(
    h.map((e) => [e.action, e.principal]),
    [['import', 'grafana-import']],
  );
  assert.ok(g.requests.some((r) => r.path.startsWith('/api/annotations?tags=downtime')));
  // Again, and after a restart of the importer's memory: nothing new.
  assert.deepEqual(await c.collector.downtimes.importAnnotations(), []);
  await c.stop();
  c = await startCollector(
    {
      rrd: { cached: { mode: 'off' } },
      downtimes: { reconcileInterval: 3600, grafana: { url: g.url, token: TOKEN, silences: false, importAnnotations: true, importInterval: 3600 } },
    },
    dir.dir,
  );
  assert.deepEqual(await c.collector.downtimes.importAnnotations(), []);
});

test('a target whose /api/v2/status is refused (403) is checked by its silences alone: no full pass at every check', async () => {
  g.statusForbidden = true;
  // A reconciler of its own on an empty database with its own createdBy: it leaves the collector's silences alone.
  const tmp = await tempDir();
  const db = await openDb({ client: 'sqlite', filename: path.join(tmp.dir, 'status.sqlite') });
  let passes = 0;
  const client = new AmClient(g.url, '/api/alertmanager/grafana', { authorization: `Bearer ${TOKEN}` }, 5000);
  const rec = new Reconciler(
    new DowntimeStore(db),
    [{ name: 'g', kind: 'grafana', client, silences: true, muteTimings: false }],
    {
      interval: 3600,
      checkInterval: 0.1,
      probeInterval: 0.1,
      lookahead: 3600,
      kinds: ['planned'],
      createdBy: 'rexmon-status',
      backoffInitial: 1,
      backoffMax: 1,
    },
    pino({ level: 'silent' }),
    { onPass: () => passes++ },
  );
  try {
    rec.start();
    await new Promise((r) => setTimeout(r, 1500));
    const [s] = rec.status();
    assert.equal(s.ok, true);
    assert.equal(s.startedAt, null);
    assert.ok(s.lastCheck! > Date.now() / 1000 - 1, 'the silences are still checked');
    assert.equal(passes, 1, 'only the first pass: a refused status is not a failure');
  } finally {
    g.statusForbidden = false;
    await rec.stop();
    await db.destroy();
    await tmp.cleanup();
  }
});
