// GET /api/v1/graph.png against a real collector, real rrdtool and a real SQLite downtime store: the PNG is
// decoded and its pixels checked where the planned and unplanned downtimes are, and where none is.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { HttpError } from '../api/http-error.js';
import { createToken } from '../auth/tokens.js';
import { parseSelector } from '../matchers/selector.js';
import { downtimeApi } from '../testing/downtimes.js';
import { api, startCollector, TestCollector } from '../testing/harness.js';
import { decodePng, Image, rgb } from '../testing/png.js';
import { COLOURS, GRAPH_LIMITS, GraphRenderer, legend } from './graph.js';

let c: TestCollector;
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 3 * 3600;
const end = base + 7200;
const planned = { start: base + 1800, end: base + 3600 };
const unplanned = { start: base + 4800, end: base + 6000 };

before(async () => {
  c = await startCollector({
    auth: { anonymousWrite: true },
    alarms: { interval: 3600, rules: [{ name: 'hot', match: 'room_temp', warning: 30, critical: 45 }] },
  });
  const samples = [];
  for (const host of ['a', 'b', 'c:d'])
    for (let i = 0; i <= 120; i++) samples.push({ name: 'room_temp', labels: { host }, value: 20 + (i % 30), time: base + i * 60 });
  for (let i = 0; i < 21; i++) samples.push({ name: 'many', labels: { i: String(i) }, value: i, time: base });
  const r = await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
  const dt = downtimeApi(() => c.url);
  await dt.post({ match: '{host="a"}', start: planned.start, end: planned.end });
  await dt.post({ match: '{host="a"}', start: unplanned.start, end: unplanned.end, kind: 'unplanned', reason: 'power cut' });
});
after(() => c.stop());

interface Area {
  left: number;
  top: number;
  width: number;
  height: number;
  start: number;
  end: number;
  min: number;
  max: number;
}

async function graph(query: string): Promise<{ status: number; img: Image; area: Area; drawn: string; type: string | null }> {
  const res = await fetch(`${c.url}/api/v1/graph.png?${query}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200, body.toString());
  const area = Object.fromEntries(
    res.headers
      .get('x-rexmon-graph-area')!
      .split('; ')
      .map((kv) => kv.split('='))
      .map(([k, v]) => [k, Number(v)]),
  ) as unknown as Area;
  return { status: res.status, img: decodePng(body), area, drawn: res.headers.get('x-rexmon-graph')!, type: res.headers.get('content-type') };
}

const xAt = (a: Area, t: number) => Math.round(a.left + ((t - a.start) / (a.end - a.start)) * a.width);
const yAt = (a: Area, v: number) => Math.round(a.top + a.height - ((v - a.min) / (a.max - a.min)) * a.height);
const same = (p: [number, number, number], q: [number, number, number]) => p.every((v, i) => v === q[i]);
/** How many pixels of the plot's column at x have exactly this colour. */
function columnCount(img: Image, a: Area, x: number, colour: string): number {
  const want = rgb(colour);
  let n = 0;
  for (let y = a.top; y < a.top + a.height; y++) if (same(img.pixel(x, y), want)) n++;
  return n;
}

test('graph.png: planned downtime shaded in its colour, unplanned in another, nothing outside the windows', async () => {
  const g = await graph(`match=${encodeURIComponent('room_temp{host="a"}')}&from=${base}&to=${end}&width=400&height=100`);
  assert.equal(g.type, 'image/png');
  assert.equal(g.area.width, 400);
  assert.equal(g.area.height, 100);
  assert.equal(g.area.start, base);
  assert.match(g.drawn, /series=1; planned=1; unplanned=1; hidden=0/);
  const mid = (w: { start: number; end: number }) => (w.start + w.end) / 2;
  // Inside: most of the column is the shade (the line and grid take a few pixels).
  for (const t of [planned.start + 300, mid(planned), planned.end - 300]) {
    const x = xAt(g.area, t);
    assert.ok(columnCount(g.img, g.area, x, COLOURS.planned) > g.area.height * 0.7, `planned shade at x=${x} (t=${t})`);
    assert.equal(columnCount(g.img, g.area, x, COLOURS.unplanned), 0);
  }
  for (const t of [unplanned.start + 300, mid(unplanned), unplanned.end - 300]) {
    const x = xAt(g.area, t);
    assert.ok(columnCount(g.img, g.area, x, COLOURS.unplanned) > g.area.height * 0.7, `unplanned shade at x=${x} (t=${t})`);
    assert.equal(columnCount(g.img, g.area, x, COLOURS.planned), 0);
  }
  // Outside: before, between and after the windows, neither shade.
  for (const t of [base + 600, planned.end + 300, unplanned.start - 300, unplanned.end + 300, end - 300]) {
    const x = xAt(g.area, t);
    assert.equal(columnCount(g.img, g.area, x, COLOURS.planned), 0, `no planned shade at t=${t}`);
    assert.equal(columnCount(g.img, g.area, x, COLOURS.unplanned), 0, `no unplanned shade at t=${t}`);
  }
  // The edges lie where the downtime starts and ends, to within the 60 s step (~3 px here).
  const px = 400 / 7200;
  const firstShaded = [...Array(400).keys()].map((i) => g.area.left + i).find((x) => columnCount(g.img, g.area, x, COLOURS.planned) > 50)!;
  assert.ok(Math.abs(firstShaded - xAt(g.area, planned.start)) <= Math.ceil(60 * px) + 1, `planned shade starts at x=${firstShaded}`);
});

test('graph.png: a series outside the downtime scope is not shaded; threshold lines are drawn at their values', async () => {
  for (const q of ['crit=45&warn=30', 'rule=hot']) await thresholds(q);
  // A bound above every value still shows: the value axis reaches it.
  const high = await graph(`match=${encodeURIComponent('room_temp{host="b"}')}&from=${base}&to=${end}&crit=500`);
  assert.ok(high.area.max >= 500, `value axis reaches the bound (max ${high.area.max})`);
});

async function thresholds(lines: string) {
  const g = await graph(`match=${encodeURIComponent('room_temp{host="b"}')}&from=${base}&to=${end}&${lines}`);
  assert.match(g.drawn, /planned=0; unplanned=0/);
  for (let x = g.area.left; x < g.area.left + g.area.width; x += 7) {
    assert.equal(columnCount(g.img, g.area, x, COLOURS.planned), 0);
    assert.equal(columnCount(g.img, g.area, x, COLOURS.unplanned), 0);
  }
  // Rows at the bounds carry the threshold colours across most of the plot.
  for (const [v, colour] of [
    [45, COLOURS.crit],
    [30, COLOURS.warn],
  ] as const) {
    const y = yAt(g.area, v);
    let n = 0;
    for (const dy of [-1, 0, 1]) for (let x = g.area.left; x < g.area.left + g.area.width; x++) if (same(g.img.pixel(x, y + dy), rgb(colour))) n++;
    assert.ok(n > g.area.width * 0.6, `${lines}: threshold ${v} drawn in ${colour} near y=${y} (${n} px)`);
  }
}

test('graph.png: a label with a colon and a series key in the legend render; legend text is escaped for rrdtool', async () => {
  const g = await graph(`match=${encodeURIComponent('room_temp{host="c:d"}')}&from=${base}&to=${end}&title=${encodeURIComponent('a "quoted": title')}`);
  assert.ok(g.img.width > 400);
  assert.equal(legend('a:b'), 'a\\:b');
  assert.equal(legend('ends with \\'), 'ends with \\ ');
  assert.equal(legend('code \\l'), 'code \\l ');
  assert.equal(legend('say "hi"\nnow'), "say 'hi' now");
});

test('graph.png: bad parameters are 400 naming the parameter; no match is 404; reads need a token when anonymous read is off', async () => {
  const m = encodeURIComponent('room_temp{host="a"}');
  const cases: [string, string, RegExp][] = [
    ['', 'match', /match is required/],
    ['match=room_temp{', 'match', /./],
    [`match=${m}&width=5`, 'width', /width must be an integer from 100 to 2000/],
    [`match=${m}&width=abc`, 'width', /width/],
    [`match=${m}&height=100000`, 'height', /height must be an integer from 40 to 1000/],
    [`match=${m}&from=yesterday`, 'from', /./],
    [`match=${m}&from=${end}&to=${base}`, 'to', /after/],
    [`match=${m}&cf=MEDIAN`, 'cf', /cf must be one of AVERAGE, MIN, MAX, LAST/],
    [`match=${m}&crit=high`, 'crit', /crit must be a number/],
    [`match=${m}&warn=1&warn=2`, 'warn', /given 2 times/],
    [`match=${m}&title=${'x'.repeat(201)}`, 'title', /longer than 200/],
    [`match=${m}&rule=nope`, 'rule', /no alarm rule named "nope"/],
    [`match=${encodeURIComponent('room_temp')}&width=400&to=${end}&from=0`, 'from', /longer than/],
  ];
  for (const [q, param, msg] of cases) {
    const r = await api(c.url, `/api/v1/graph.png?${q}`);
    assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error!.path, param, q);
    assert.match(r.body.error!.message, msg, q);
  }
  const many = await api(c.url, `/api/v1/graph.png?match=${encodeURIComponent('many')}`);
  assert.equal(many.status, 400);
  assert.equal(many.body.error!.path, 'match');
  assert.match(many.body.error!.message, /more than 20 series/);
  const none = await api(c.url, `/api/v1/graph.png?match=${encodeURIComponent('nothing_here')}`);
  assert.equal(none.status, 404);
  assert.equal(none.body.error!.path, 'match');
});

test('graph.png and the page need read access when anonymous read is off; a browser gets the Basic prompt', async () => {
  const locked = await startCollector({ auth: { anonymousRead: false } });
  try {
    const token = await createToken(locked.collector.db, 'viewer', 'viewer');
    for (const path of ['/', `/api/v1/graph.png?match=x`]) {
      const res = await fetch(locked.url + path);
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="rexmon"/, path);
    }
    const basic = `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`;
    const page = await fetch(locked.url + '/', { headers: { authorization: basic } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /rexmon collector/);
    const wrong = await fetch(locked.url + '/', { headers: { authorization: `Basic ${Buffer.from('anyone:nope').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    const bearer = await fetch(`${locked.url}/api/v1/graph.png?match=x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 404); // past auth: no such series
  } finally {
    await locked.stop();
  }
});

test('the renderer bounds its work: windows beyond the limit are counted, a render past its time budget is 503', async () => {
  const col = c.collector;
  const sources = {
    find: (sel: Parameters<typeof col.catalog.find>[0], limit: number) => col.catalog.find(sel, limit),
    flush: async () => {},
    downtimes: (series: { name: string; labels: Record<string, string> }[], from: number, to: number) => col.downtimes.windows(series, from, to),
    graph: (file: string, args: string[]) => col.archive.graph(file, args),
  };
  const req = {
    selectors: [parseSelector('room_temp{host="a"}')],
    matchText: 'room_temp{host="a"}',
    from: base,
    to: end,
    width: 400,
    height: 100,
    cf: 'AVERAGE' as const,
  };
  const tmpDir = path.join(c.dataDir, 'tmp');
  const one = await new GraphRenderer(sources, tmpDir, { ...GRAPH_LIMITS, maxWindows: 1 }).render(req);
  assert.deepEqual(one.windows, { unplanned: 1, planned: 0, hidden: 1 });
  assert.equal(decodePng(one.png).width, Number(one.info.get('image_width')));
  await assert.rejects(
    new GraphRenderer(sources, tmpDir, { ...GRAPH_LIMITS, budgetMs: 0 }).render(req),
    (e: HttpError) => e.status === 503 && /longer than 0 s/.test(e.message),
  );
  // Every temporary image is removed, also the one whose answer came too late.
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(
    (await readdir(tmpDir)).filter((f) => f.endsWith('.png')),
    [],
  );
});
