// The status page in Debian's headless Chromium (playwright-core, JavaScript off: the page needs none) against a
// real collector: real slurpers, real downtimes in SQLite, graphs from rrdtool; what a person sees is asserted and
// a screenshot kept under collector/test-artifacts/. Alarms come from real rules evaluated over the written values.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Browser, chromium } from 'playwright-core';
import { createToken } from '../auth/tokens.js';
import { downtimeApi } from '../testing/downtimes.js';
import { api, run, startCollector, tempDir, TestCollector } from '../testing/harness.js';

const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts');
const CHROMIUM = process.env.REXMON_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let c: TestCollector;
let browser: Browser;
const now = Math.floor(Date.now() / 1000);
const base = Math.floor(now / 60) * 60 - 3 * 3600;
const hostile = '<img src=x onerror=alert(1)>';
let downtimeId = 0;

// Real rules over real data: the last value of each host's disk decides (fnpc4 stopped reporting two hours ago).
const RULES = [{ name: 'disk_full', match: 'disk_used_pct', warning: 80, critical: 95, summary: 'disk on {{ $labels.host }} is {{ $value }}% full' }];
const LAST: Record<string, number> = { fnpc1: 97, fnpc2: 99, fnpc3: 85, fnpc4: 50, fnpc5: 40, [hostile]: 81 };

before(async () => {
  c = await startCollector({
    auth: { anonymousWrite: true },
    alarms: { interval: 3600, rules: RULES },
    slurpers: [
      { type: 'command', name: 'echo-ok', interval: 3600, command: ['/bin/sh', '-c', 'echo "lab.temp 21 $(date +%s)"'], format: 'graphite' },
      { type: 'command', name: 'broken', interval: 3600, command: ['/bin/sh', '-c', 'echo oops >&2; exit 3'] },
    ],
  });
  const samples = [];
  for (const [host, last] of Object.entries(LAST))
    for (let t = base; t < (host === 'fnpc4' ? now - 7200 : now - 60); t += 60)
      samples.push({ name: 'disk_used_pct', labels: { host }, value: t < now - 5400 ? 60 : last, time: t });
  assert.equal((await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) })).status, 202);
  assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
  const dt = downtimeApi(() => c.url);
  downtimeId = (await dt.post({ match: '{host="fnpc2"}', start: now - 3600, end: now + 7200, reason: 'disk swap' })).id;
  await dt.post({ match: '{host="fnpc1"}', start: now - 1800, end: now + 3600, kind: 'unplanned', author: 'bob', reason: 'power cut in rack 4' });
  await dt.post({ match: '{service="dcache"}', start: now + 2 * 86400, end: now + 2 * 86400 + 3600, author: 'carol <b>', reason: 'dCache upgrade <i>now</i>' });
  // Two evaluations, 25 minutes ago and now: the states hold since the first.
  await c.collector.alarms.evaluate(now - 1500);
  await c.collector.alarms.evaluate(now);
  // Both slurpers have run once (at start).
  const deadline = Date.now() + 10000;
  while (c.collector.slurpers.status().some((s) => !s.last) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});
after(async () => {
  await browser?.close();
  await c?.stop();
});

test('status page in Chromium without JavaScript: icons, values, downtimes, slurpers, collector health, graphs; screenshot kept', async () => {
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  const res = await page.goto(c.url + '/');
  assert.equal(res!.status(), 200);
  assert.equal(await page.getAttribute('meta[http-equiv="refresh"]', 'content'), '30');
  assert.equal(await page.title(), 'CRITICAL · rexmon');

  const row = (host: string) => page.locator(`tr.alarm[data-series=${JSON.stringify(`disk_used_pct{host=${JSON.stringify(host)}}`)}]`);
  const iconOf = async (host: string) => {
    const icon = row(host).locator('.icon');
    return { label: await icon.getAttribute('aria-label'), colour: await icon.evaluate((e) => getComputedStyle(e).backgroundColor) };
  };
  assert.deepEqual(await iconOf('fnpc1'), { label: 'CRITICAL', colour: 'rgb(214, 39, 40)' });
  assert.deepEqual(await iconOf('fnpc3'), { label: 'WARNING', colour: 'rgb(255, 159, 28)' });
  assert.deepEqual(await iconOf('fnpc4'), { label: 'UNKNOWN', colour: 'rgb(158, 158, 158)' });
  assert.deepEqual(await iconOf('fnpc5'), { label: 'OK', colour: 'rgb(44, 160, 44)' });
  // In downtime: not red, and says so with the downtime's id, author, reason and end.
  assert.deepEqual(await iconOf('fnpc2'), { label: 'CRITICAL (in planned downtime)', colour: 'rgb(91, 143, 217)' });
  const dtText = await row('fnpc2').innerText();
  assert.match(dtText, new RegExp(`planned downtime #${downtimeId} until .*\\((2 h|1 h 59 min) left\\), by alice: disk swap · notifications held`));
  // fnpc1 is in an unplanned downtime, which does not mute by default: still red, the downtime noted.
  assert.match(await row('fnpc1').innerText(), /unplanned downtime #\d+ until .*, by bob: power cut in rack 4$/);
  assert.doesNotMatch(await row('fnpc1').innerText(), /notifications held/);
  assert.match(await row('fnpc1').innerText(), /CRITICAL\s+disk_used_pct\{host="fnpc1"\}\s+disk on fnpc1 is 97% full\s+disk_full\s+97\s+95\s+25 min ago/);
  assert.match(await row('fnpc4').innerText(), /UNKNOWN[\s\S]*no data/);
  assert.match(await row('fnpc5').innerText(), /OK\s+disk_used_pct\{host="fnpc5"\}\s+disk on fnpc5 is 40% full\s+disk_full\s+40\s/);
  // Order: bad and not muted first, worst first; the muted one after them; OK last.
  const order = await page
    .locator('tr.alarm')
    .evaluateAll((rows) => rows.map((r) => r.querySelector('.state')!.textContent + ' ' + r.getAttribute('data-series')));
  assert.deepEqual(order.slice(0, 2), ['CRITICAL disk_used_pct{host="fnpc1"}', 'WARNING disk_used_pct{host="<img src=x onerror=alert(1)>"}']);
  assert.equal(order.at(-1), 'OK disk_used_pct{host="fnpc5"}');
  assert.equal(order.at(-2), 'CRITICAL disk_used_pct{host="fnpc2"}');
  // The hostile label is text, not markup.
  assert.equal(await page.locator('td.series img').count(), 0);
  assert.ok((await page.locator('#alarms').innerText()).includes(hostile));
  assert.match(await page.locator('#alarms').innerText(), /Last evaluated \d+ s ago\./);
  assert.match(await page.locator('.summary-bar').innerText(), /1 CRITICAL\s+2 WARNING\s+1 UNKNOWN\s+1 OK\s+1 bad, held by a downtime/);

  // Graphs for the five in trouble, each a real PNG from rrdtool (loaded with JavaScript off).
  const imgs = page.locator('#graphs img');
  assert.equal(await imgs.count(), 5);
  for (let i = 0; i < 5; i++) {
    await imgs.nth(i).evaluate((img: HTMLImageElement) => (img.complete ? undefined : new Promise((r) => img.addEventListener('load', r, { once: true }))));
    assert.ok((await imgs.nth(i).evaluate((img: HTMLImageElement) => img.naturalWidth)) > 300, `graph ${i} loaded`);
  }
  const src = new URL((await imgs.first().getAttribute('src'))!, c.url);
  assert.equal(src.pathname, '/api/v1/graph.png');
  assert.equal(src.searchParams.get('match'), 'disk_used_pct{host="fnpc1"}');
  assert.equal(src.searchParams.get('rule'), 'disk_full');

  // Downtimes: active ones with until when, the upcoming one with when it starts.
  const active = await page.locator('#downtimes table').first().innerText();
  assert.match(active, /planned\s+\{host="fnpc2"\}.*alice\s+disk swap/s);
  assert.match(active, /unplanned\s+\{host="fnpc1"\}.*\((59 min|1 h) left\)\s+bob\s+power cut in rack 4/s);
  assert.match(await page.locator('#downtimes').innerText(), /Upcoming \(1\)[\s\S]*\(in (2 d|1 d 23 h)\)[\s\S]*carol <b>\s+dCache upgrade <i>now<\/i>/);
  assert.equal(await page.locator('#downtimes b, #downtimes i').count(), 0);

  // Slurpers: the good one ok with its samples, the broken one red with its error.
  const ok = page.locator('tr.slurper[data-name="echo-ok"]');
  assert.equal(await ok.locator('.icon').getAttribute('aria-label'), 'ok');
  assert.match(await ok.innerText(), /echo-ok\s+command\s+every 3600 s\s+\d+ s ago .*\s+ok\s+1\s+1 \/ 0/);
  const broken = page.locator('tr.slurper[data-name="broken"]');
  assert.equal(await broken.locator('.icon').evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(214, 39, 40)');
  assert.match(await broken.innerText(), /error\s+0\s+1 \/ 1\s+exited with 3: oops/);

  // Collector health: the writer's queue and its capacity; nothing dropped.
  assert.match(await page.locator('#collector').innerText(), /Storing input normally[\s\S]*rrd\S*\s+\d+ of \d+[\s\S]*No samples dropped since start/);

  await mkdir(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, 'status-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  await ctx.close();
});

test('status page: more alarms, graphs and names than fit says how many are hidden, the worst listed first', async () => {
  const small = await startCollector({
    auth: { anonymousWrite: true },
    alarms: { interval: 3600, rules: [{ name: 'load', match: 'load', warning: 10, critical: 20 }] },
    web: { maxAlarms: 10, maxGraphs: 2, maxNames: 1 },
  });
  try {
    const samples = [];
    for (let i = 0; i < 30; i++)
      for (let t = now - 600; t < now - 60; t += 60)
        samples.push({ name: 'load', labels: { node: `n${String(i).padStart(2, '0')}` }, value: i === 29 ? 25 : i >= 26 ? 15 : 1, time: t });
    samples.push({ name: 'other_metric', labels: {}, value: 1, time: now - 120 });
    assert.equal((await api(small.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify(samples) })).status, 202);
    assert.equal((await api(small.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
    await small.collector.alarms.evaluate(now);
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(small.url + '/');
    assert.equal(await page.locator('tr.alarm').count(), 10);
    // The critical one is listed first, then the three warnings, however the series sort.
    const states = await page.locator('tr.alarm .state').allInnerTexts();
    assert.deepEqual(states.slice(0, 5), ['CRITICAL', 'WARNING', 'WARNING', 'WARNING', 'OK']);
    assert.equal(await page.locator('tr.alarm').first().getAttribute('data-series'), 'load{node="n29"}');
    assert.match(await page.locator('#alarms .hidden-note').innerText(), /^20 more alarms not shown \(the 10 worst are listed; 0 of the hidden are not OK\)/);
    assert.equal(await page.locator('#graphs img').count(), 2);
    assert.match(await page.locator('#graphs .hidden-note').innerText(), /^2 more series in trouble not graphed/);
    assert.match(await page.locator('#metrics .hidden-note').innerText(), /^1 more metric name not shown/);
    await ctx.close();
  } finally {
    await small.stop();
  }
});

test('status page with anonymous read off: Chromium with the token as Basic credentials sees the page and its graphs', async () => {
  const locked = await startCollector({ auth: { anonymousRead: false } });
  try {
    const token = await createToken(locked.collector.db, 'wall-screen', 'viewer');
    // Without credentials Chromium gets the Basic challenge (headless, it cannot prompt, so the load fails).
    const anon = await browser.newContext({ javaScriptEnabled: false });
    await assert.rejects((await anon.newPage()).goto(locked.url + '/'), /ERR_INVALID_AUTH_CREDENTIALS/);
    await anon.close();
    const ctx = await browser.newContext({ javaScriptEnabled: false, httpCredentials: { username: 'screen', password: token } });
    const page = await ctx.newPage();
    assert.equal((await page.goto(locked.url + '/'))!.status(), 200);
    assert.match(await page.locator('#alarms').innerText(), /No alarm rules are configured/);
    const wrong = await browser.newContext({ javaScriptEnabled: false, httpCredentials: { username: 'screen', password: 'not-a-token' } });
    // A wrong token is refused: Chromium tries it once, then shows the 401.
    assert.equal((await (await wrong.newPage()).goto(locked.url + '/'))!.status(), 401);
    await wrong.close();
    await ctx.close();
  } finally {
    await locked.stop();
  }
});

test('status page with anonymous read off: Chromium logs in as a user of the htpasswd file (made by the real htpasswd); a wrong password is refused', async () => {
  const t = await tempDir();
  const users = path.join(t.dir, 'users');
  await run('htpasswd', ['-cbB', users, 'operator', 'operator-password']);
  const locked = await startCollector({ auth: { anonymousRead: false, users: { file: users } } }, path.join(t.dir, 'data'));
  try {
    const ctx = await browser.newContext({ javaScriptEnabled: false, httpCredentials: { username: 'operator', password: 'operator-password' } });
    const page = await ctx.newPage();
    assert.equal((await page.goto(locked.url + '/'))!.status(), 200);
    assert.match(await page.locator('h1').innerText(), /rexmon collector/);
    await ctx.close();
    const wrong = await browser.newContext({ javaScriptEnabled: false, httpCredentials: { username: 'operator', password: 'operator-passw0rd' } });
    const res = await (await wrong.newPage()).goto(locked.url + '/');
    assert.equal(res!.status(), 401);
    assert.match(res!.headers()['www-authenticate'] ?? '', /^Basic realm="rexmon"/);
    await wrong.close();
  } finally {
    await locked.stop();
    await t.cleanup();
  }
});

test('status page: when the downtimes cannot be read it says so and still shows the rest', async () => {
  const broken = await startCollector();
  try {
    // A real SQLite failure: the table is gone.
    await broken.collector.db.schema.dropTable('downtime_history');
    await broken.collector.db.schema.dropTable('downtimes');
    const res = await fetch(broken.url + '/');
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /Cannot read the downtimes: [^<]*no such table: downtimes/);
    assert.match(html, /<h2>Collector<\/h2>/);
  } finally {
    await broken.stop();
  }
});
