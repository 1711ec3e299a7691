// The built-in status page: every alarm at a glance, downtimes, slurper and collector health, small graphs of
// what is in trouble. Server-rendered HTML, no script (it refreshes itself with a meta tag); every text escaped.
import type { AlarmInstance, AlarmState } from '../alarms/types.js';

export interface PageDowntime {
  id: number;
  kind: 'planned' | 'unplanned';
  match: string;
  author: string;
  reason: string;
  active: boolean;
  /** Unix seconds: the running occurrence's start, or the next one's. */
  start: number;
  end: number | null;
  recurring: boolean;
}

export interface PageSlurper {
  name: string;
  type: string;
  schedule: string;
  running: boolean;
  runs: number;
  failedRuns: number;
  last?: { at: number; seconds: number; result: string; samples: number; errors: number; message?: string };
}

export interface CollectorHealth {
  queues: { name: string; depth: number; capacity?: number }[];
  /** Samples dropped or refused since start, by where and why. */
  dropped: { source: string; reason: string; count: number }[];
  /** What keeps input from being stored now; empty when all is well. */
  problems: string[];
}

/** What the page shows, gathered by the API from the stages' small interfaces, so the page depends on none. */
export interface StatusFacts {
  version: string;
  startedAt: number;
  /** Unix seconds the page describes. */
  now: number;
  series: number;
  countsByName: ReadonlyMap<string, number>;
  /** Undefined when no alarm evaluator runs (no rules configured). */
  alarms?: AlarmInstance[];
  downtimes: PageDowntime[];
  /** Set when the downtimes could not be read. */
  downtimesError?: string;
  slurpers: PageSlurper[];
  health: CollectorHealth;
}

export interface PageOptions {
  /** Seconds between the page's own reloads. */
  refresh: number;
  maxAlarms: number;
  maxGraphs: number;
  maxNames: number;
  /** Seconds of history in the small graphs. */
  graphRange: number;
}

export const PAGE_DEFAULTS: PageOptions = { refresh: 30, maxAlarms: 500, maxGraphs: 12, maxNames: 500, graphRange: 6 * 3600 };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const SEVERITY: Record<AlarmState, number> = { CRITICAL: 0, WARNING: 1, UNKNOWN: 2, OK: 3 };
const ICON_CLASS: Record<AlarmState, string> = { CRITICAL: 'crit', WARNING: 'warn', UNKNOWN: 'unknown', OK: 'ok' };

function utc(t: number): string {
  return new Date(t * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

/** "3 min", "2 h 5 min", "4 d 3 h": how long, at a glance. */
export function span(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86400)} d${s % 86400 >= 3600 ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
}

const ago = (now: number, t: number) => `<time datetime="${new Date(t * 1000).toISOString()}" title="${utc(t)}">${span(now - t)} ago</time>`;
const at = (t: number) => `<time datetime="${new Date(t * 1000).toISOString()}">${utc(t)}</time>`;

function value(v: number | null): string {
  if (v === null) return 'no data';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/**
 * Held: bad but inside a downtime that mutes it (every planned one; unplanned ones only when so configured). Shown
 * blue, not red; a bad series in an unplanned downtime that does not mute keeps its colour, the downtime noted.
 */
const held = (a: AlarmInstance) => a.state !== 'OK' && !!a.downtime && a.muted;

/** Bad ones first (held ones after those that are not), then by how long they have been so. */
function order(a: AlarmInstance, b: AlarmInstance): number {
  const bad = (x: AlarmInstance) => (x.state === 'OK' ? 2 : held(x) ? 1 : 0);
  return bad(a) - bad(b) || SEVERITY[a.state] - SEVERITY[b.state] || a.since - b.since || a.series.localeCompare(b.series);
}

function icon(a: AlarmInstance): string {
  const dt = held(a);
  const cls = dt ? 'dt' : ICON_CLASS[a.state];
  const label = dt ? `${a.state} (in ${a.downtime!.kind} downtime)` : a.state;
  return `<span class="icon ${cls}" role="img" aria-label="${esc(label)}" title="${esc(label)}"></span>`;
}

function downtimeCell(a: AlarmInstance, now: number): string {
  const d = a.downtime;
  if (!d) return '';
  const until = d.end === null ? 'until ended' : `until ${at(d.end)} (${span(d.end - now)} left)`;
  return `${esc(d.kind)} downtime <a href="/api/v1/downtimes/${d.id}">#${d.id}</a> ${until}, by ${esc(d.author)}: ${esc(d.reason)}${a.muted ? ' · notifications held' : ''}`;
}

export function graphUrl(a: AlarmInstance, now: number, range: number, width = 300, height = 80): string {
  const q = new URLSearchParams({ match: a.series, from: String(now - range), to: String(now), width: String(width), height: String(height), title: a.series });
  q.set('rule', a.rule); // the rule's bounds drawn as threshold lines
  return `/api/v1/graph.png?${q}`;
}

function alarmsSection(f: StatusFacts, o: PageOptions): string {
  if (f.alarms === undefined)
    return '<section id="alarms"><h2>Alarms</h2><p class="none">No alarm rules are configured (see <code>alarms.rules</code> in the config).</p></section>';
  const all = [...f.alarms].sort(order);
  const count = (s: AlarmState) => all.filter((a) => a.state === s && !held(a)).length;
  const inDt = all.filter(held).length;
  const summary = (['CRITICAL', 'WARNING', 'UNKNOWN', 'OK'] as const)
    .map((s) => `<li class="sum"><span class="icon ${ICON_CLASS[s]}" role="img" aria-label="${s}"></span> ${count(s)} ${s}</li>`)
    .concat(`<li class="sum"><span class="icon dt" role="img" aria-label="held by a downtime"></span> ${inDt} bad, held by a downtime</li>`)
    .join('');
  const shown = all.slice(0, o.maxAlarms);
  const hidden = all.length - shown.length;
  const rows = shown
    .map(
      (a) => `<tr class="alarm ${held(a) ? 'in-downtime' : ICON_CLASS[a.state]}" data-series="${esc(a.series)}" data-rule="${esc(a.rule)}">
<td class="st">${icon(a)} <span class="state">${a.state}</span></td><td class="series">${esc(a.series)}${a.summary ? `<div class="summary">${esc(a.summary)}</div>` : ''}</td>
<td>${esc(a.rule)}</td><td class="value">${value(a.value)}</td><td>${a.bound === null ? '' : value(a.bound)}</td><td>${ago(f.now, a.since)}</td><td>${downtimeCell(a, f.now)}</td></tr>`,
    )
    .join('');
  const more = hidden
    ? `<p class="hidden-note">${hidden} more alarm${hidden === 1 ? '' : 's'} not shown (the ${o.maxAlarms} worst are listed; ${all.slice(o.maxAlarms).filter((a) => a.state !== 'OK').length} of the hidden are not OK). Narrow with <a href="/api/v1/alarms">/api/v1/alarms</a>.</p>`
    : '';
  const table = all.length
    ? `<table><thead><tr><th>state</th><th>series</th><th>rule</th><th>value</th><th>bound</th><th>since</th><th>downtime</th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="none">No series matches any alarm rule yet.</p>';
  const last = all.reduce((m, a) => Math.max(m, a.evaluatedAt), 0);
  const evaluated = last ? `<p class="meta">Last evaluated ${ago(f.now, last)}.</p>` : '';
  return `<section id="alarms"><h2>Alarms</h2><ul class="summary-bar">${summary}</ul>${evaluated}${table}${more}</section>`;
}

function graphsSection(f: StatusFacts, o: PageOptions): string {
  const trouble = (f.alarms ?? []).filter((a) => a.state !== 'OK').sort(order);
  if (trouble.length === 0) return '';
  const shown = trouble.slice(0, o.maxGraphs);
  const hidden = trouble.length - shown.length;
  const figs = shown
    .map((a) => {
      const alt = `${a.state} ${a.series}`;
      return `<figure><a href="${esc(graphUrl(a, f.now, o.graphRange * 4, 900, 250))}"><img src="${esc(graphUrl(a, f.now, o.graphRange))}" alt="${esc(alt)}" loading="lazy"></a><figcaption>${icon(a)} ${esc(a.series)}</figcaption></figure>`;
    })
    .join('');
  const more = hidden ? `<p class="hidden-note">${hidden} more series in trouble not graphed.</p>` : '';
  return `<section id="graphs"><h2>In trouble, last ${span(o.graphRange)}</h2><div class="graphs">${figs}</div>${more}</section>`;
}

function downtimesSection(f: StatusFacts): string {
  const row = (d: PageDowntime) =>
    `<tr class="downtime ${d.kind}" data-id="${d.id}"><td><a href="/api/v1/downtimes/${d.id}">#${d.id}</a></td><td><span class="kind ${d.kind}">${d.kind}</span>${d.recurring ? ' (recurring)' : ''}</td><td><code>${esc(d.match)}</code></td>
<td>${d.active ? `since ${at(d.start)}` : `${at(d.start)} (in ${span(d.start - f.now)})`}</td><td>${d.end === null ? 'open-ended' : `${at(d.end)}${d.active ? ` (${span(d.end - f.now)} left)` : ''}`}</td><td>${esc(d.author)}</td><td>${esc(d.reason)}</td></tr>`;
  const table = (list: PageDowntime[], empty: string, startHead: string) =>
    list.length
      ? `<table><thead><tr><th>id</th><th>kind</th><th>scope</th><th>${startHead}</th><th>until</th><th>author</th><th>reason</th></tr></thead><tbody>${list.map(row).join('')}</tbody></table>`
      : `<p class="none">${empty}</p>`;
  if (f.downtimesError)
    return `<section id="downtimes"><h2>Downtimes</h2><p class="problems"><span class="icon crit" role="img" aria-label="problem"></span> Cannot read the downtimes: ${esc(f.downtimesError)}</p></section>`;
  const active = f.downtimes.filter((d) => d.active);
  const upcoming = f.downtimes.filter((d) => !d.active);
  return `<section id="downtimes"><h2>Downtimes</h2><h3>Active (${active.length})</h3>${table(active, 'No downtime is running.', 'start')}
<h3>Upcoming (${upcoming.length})</h3>${table(upcoming, 'None scheduled in the next 7 days.', 'starts')}</section>`;
}

function slurpersSection(f: StatusFacts): string {
  if (f.slurpers.length === 0) return '<section id="slurpers"><h2>Slurpers</h2><p class="none">No slurpers are configured.</p></section>';
  const rows = f.slurpers
    .map((s) => {
      const l = s.last;
      const cls = !l ? 'unknown' : l.result === 'ok' && l.errors === 0 ? 'ok' : l.result === 'ok' ? 'warn' : 'crit';
      const label = !l ? 'not run yet' : l.result === 'ok' && l.errors ? `ok with ${l.errors} error(s)` : l.result;
      return `<tr class="slurper ${cls}" data-name="${esc(s.name)}"><td><span class="icon ${cls}" role="img" aria-label="${esc(label)}"></span> ${esc(s.name)}</td><td>${esc(s.type)}</td><td>${esc(s.schedule)}</td>
<td>${l ? `${ago(f.now, l.at)} (${l.seconds.toFixed(2)} s)${s.running ? ', running now' : ''}` : s.running ? 'running now' : 'never'}</td><td class="result">${esc(label)}</td><td>${l ? l.samples : ''}</td><td>${s.runs} / ${s.failedRuns}</td><td class="message">${l?.message ? esc(l.message) : ''}</td></tr>`;
    })
    .join('');
  return `<section id="slurpers"><h2>Slurpers</h2><table><thead><tr><th>slurper</th><th>type</th><th>schedule</th><th>last run</th><th>last result</th><th>samples</th><th>runs / failed</th><th>last error</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function healthSection(f: StatusFacts): string {
  const h = f.health;
  const queues = h.queues
    .map((q) => `<tr data-queue="${esc(q.name)}"><td>${esc(q.name)}</td><td>${q.depth}${q.capacity ? ` of ${q.capacity}` : ''}</td></tr>`)
    .join('');
  const dropped = h.dropped.filter((d) => d.count > 0);
  const drops = dropped.length
    ? `<table><thead><tr><th>source</th><th>reason</th><th>samples</th></tr></thead><tbody>${dropped
        .map((d) => `<tr class="drop"><td>${esc(d.source)}</td><td>${esc(d.reason)}</td><td>${d.count}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p class="none">No samples dropped since start.</p>';
  const problems = h.problems.length
    ? `<ul class="problems">${h.problems.map((p) => `<li><span class="icon crit" role="img" aria-label="problem"></span> ${esc(p)}</li>`).join('')}</ul>`
    : '<p class="fine"><span class="icon ok" role="img" aria-label="OK"></span> Storing input normally.</p>';
  return `<section id="collector"><h2>Collector</h2>${problems}<h3>Queues</h3><table><thead><tr><th>processor</th><th>samples waiting</th></tr></thead><tbody>${queues}</tbody></table>
<h3>Dropped</h3>${drops}</section>`;
}

function namesSection(f: StatusFacts, o: PageOptions): string {
  const all = [...f.countsByName.entries()].sort();
  const rows = all
    .slice(0, o.maxNames)
    .map(([n, c]) => `<tr><td>${esc(n)}</td><td>${c}</td></tr>`)
    .join('');
  const hidden = all.length - Math.min(all.length, o.maxNames);
  const more = hidden
    ? `<p class="hidden-note">${hidden} more metric name${hidden === 1 ? '' : 's'} not shown; <a href="/api/v1/series">/api/v1/series</a> lists them.</p>`
    : '';
  return `<section id="metrics"><h2>Metrics (${all.length} names, ${f.series} series)</h2><details${all.length <= 30 ? ' open' : ''}><summary>names and series counts</summary><table><thead><tr><th>metric</th><th>series</th></tr></thead><tbody>${rows}</tbody></table></details>${more}</section>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em;margin:0}h2{margin-top:1.4em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.st{white-space:nowrap}.icon{display:inline-block;width:.9em;height:.9em;border-radius:50%;vertical-align:middle;border:1px solid #0003}
.icon.crit{background:#d62728}.icon.warn{background:#ff9f1c}.icon.unknown{background:#9e9e9e}.icon.ok{background:#2ca02c}
.icon.dt{background:#5b8fd9;border-radius:2px}tr.crit td.value{color:#b00;font-weight:bold}tr.in-downtime{color:#555;background:#f1f5fc}
.summary-bar{list-style:none;padding:0;display:flex;gap:1.2em;font-size:1.1em}.summary{color:#666;font-size:.9em}
.graphs{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-size:.85em;max-width:400px;overflow-wrap:anywhere}
.kind.planned{background:#aec7e8;padding:0 4px}.kind.unplanned{background:#ffbb78;padding:0 4px}.hidden-note{font-weight:bold;color:#a15c00}
.none,.meta{color:#666}code{font-size:.9em}`;

export function statusPage(f: StatusFacts, opts: Partial<PageOptions> = {}): string {
  const o = { ...PAGE_DEFAULTS, ...opts };
  const worst = (f.alarms ?? []).filter((a) => a.state !== 'OK' && !held(a)).sort(order)[0];
  const title = worst ? `${worst.state} · rexmon` : 'rexmon status';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${o.refresh}"><meta name="viewport" content="width=device-width">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><header><h1>rexmon collector ${esc(f.version)}</h1>
<p class="meta">As of ${at(f.now)} · up ${span(f.now - f.startedAt)} · ${f.series} series · reloads every ${o.refresh} s ·
<a href="/metrics">/metrics</a> · <a href="/api/v1/openapi.json">API (OpenAPI)</a></p></header>
${alarmsSection(f, o)}
${graphsSection(f, o)}
${downtimesSection(f)}
${slurpersSection(f)}
${healthSection(f)}
${namesSection(f, o)}
</body></html>`;
}
