#!/usr/bin/env node
// Writes the lab's dashboards (dashboards/*.json) from one description, so every panel uses the same
// datasource, annotations and conventions. The JSON is committed; test/files.test.mjs fails when it
// differs from what this prints. Run `node dashboards/generate.mjs` after editing this file.
//   node dashboards/generate.mjs           write dashboards/*.json
//   node dashboards/generate.mjs --print   print {file: dashboard} as JSON (for the test)
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DS = { type: 'rexmon-rrd-datasource', uid: 'rexmon' };
const EXPR = { type: '__expr__', uid: '__expr__' };

// A rexmon query in code mode, as a person writes it by hand (the plugin accepts it without editorMode).
const q = (refId, expr, more = {}) => ({ refId, datasource: DS, queryType: 'timeseries', editorMode: 'code', expr, ...more });
// A server-side expression (Grafana's math on the rexmon series: works on backend datasources).
const math = (refId, expression) => ({ refId, datasource: EXPR, type: 'math', expression });

// Downtimes shade every graph: planned in blue, unplanned in orange; events as points where useful.
function annotations(match = '', events = null) {
  const list = [
    {
      builtIn: 1,
      datasource: { type: 'grafana', uid: '-- Grafana --' },
      enable: true,
      hide: true,
      iconColor: 'rgba(0, 211, 255, 1)',
      name: 'Annotations & Alerts',
      type: 'dashboard',
    },
    {
      datasource: DS,
      enable: true,
      iconColor: 'blue',
      name: 'Planned downtimes',
      target: { refId: 'Anno', queryType: 'downtimes', kind: 'planned', expr: match },
    },
    {
      datasource: DS,
      enable: true,
      iconColor: 'orange',
      name: 'Unplanned downtimes',
      target: { refId: 'Anno', queryType: 'downtimes', kind: 'unplanned', expr: match },
    },
  ];
  if (events)
    list.push({
      datasource: DS,
      enable: true,
      iconColor: 'red',
      name: events.name,
      target: { refId: 'Anno', queryType: 'events', eventType: events.type, expr: events.match },
    });
  return { list };
}

const thresholds = (amber, red) => ({
  mode: 'absolute',
  steps: [
    { color: 'green', value: null },
    { color: 'orange', value: amber },
    { color: 'red', value: red },
  ],
});

let nextId = 1;
function panel(type, title, gridPos, targets, fieldConfig = {}, options = {}, extra = {}) {
  return {
    id: nextId++,
    type,
    title,
    gridPos,
    datasource: DS,
    targets,
    fieldConfig: { defaults: { ...fieldConfig }, overrides: [] },
    options,
    ...extra,
  };
}

const timeseries = (title, gridPos, targets, unit, more = {}) =>
  panel(
    'timeseries',
    title,
    gridPos,
    targets,
    { unit, custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, spanNulls: false, showPoints: 'never' }, ...more },
    { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
  );

// A tile: red/amber/green by thresholds, except a series a downtime runs over now, which the plugin draws in the
// downtime's colour (planned blue, unplanned orange) with "(in downtime)" in its name (markDowntime).
const stat = (title, gridPos, targets, unit, th, more = {}) =>
  panel(
    'stat',
    title,
    gridPos,
    targets.map((t) => ({ ...t, markDowntime: true })),
    { unit, thresholds: th, color: { mode: 'thresholds' }, ...more },
    {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'background',
      graphMode: 'area',
      textMode: 'value_and_name',
      orientation: 'auto',
      justifyMode: 'auto',
    },
  );

const row = (title, y) => ({ id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });

// A multi-value variable with All over a label's values (the plugin's variable query; All = every value).
const labelVariable = (name, label, match) => ({
  name,
  label,
  type: 'query',
  datasource: DS,
  query: { refId: 'variable', type: 'labelValues', label: name, match },
  definition: `label_values(${match}, ${name})`,
  refresh: 2,
  multi: true,
  includeAll: true,
  current: { selected: true, text: ['All'], value: ['$__all'] },
  sort: 1,
  options: [],
});

function dashboard(uid, title, description, tags, panels, variables = [], ann = annotations(), refresh = '1m') {
  return {
    uid,
    title,
    description,
    tags: ['rexmon', ...tags],
    editable: false,
    graphTooltip: 1,
    schemaVersion: 42,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    refresh,
    annotations: ann,
    templating: { list: variables },
    links: [{ type: 'dashboards', tags: ['rexmon'], asDropdown: true, title: 'rexmon', includeVars: false, keepTime: true }],
    panels,
  };
}

function overview() {
  nextId = 1;
  return dashboard(
    'rexmon-overview',
    'rexmon: Overview',
    'At a glance: a tile per data-handling service and per host against its thresholds (green, amber, red; blue or orange with "(in downtime)" while a planned or unplanned downtime runs over it), a tile per scope in downtime now, and the downtimes running or coming.',
    ['overview'],
    [
      row('At a glance', 0),
      stat(
        'Errors per second, by service',
        { h: 5, w: 8, x: 0, y: 1 },
        [q('A', 'dh_errors_total{service=~".+"}', { fn: 'rate', agg: 'sum', by: ['service'], legendFormat: '{{service}}' })],
        'reqps',
        thresholds(0.05, 0.5),
      ),
      stat(
        'Longest queue, by service',
        { h: 5, w: 8, x: 8, y: 1 },
        [q('A', 'dh_queue_length{service=~".+"}', { agg: 'max', by: ['service'], legendFormat: '{{service}}' })],
        'short',
        thresholds(100, 1000),
      ),
      // Beside the tiles: one blue tile per scope in downtime now (with who and why in the table below).
      panel(
        'stat',
        'In downtime now',
        { h: 10, w: 8, x: 16, y: 1 },
        [{ refId: 'A', datasource: DS, queryType: 'downtimes', format: 'table', kind: '', expr: '' }],
        { color: { mode: 'fixed', fixedColor: 'blue' }, noValue: 'nothing in downtime' },
        {
          reduceOptions: { values: true, calcs: [], fields: '/^match$/' },
          colorMode: 'background',
          graphMode: 'none',
          textMode: 'value',
          orientation: 'auto',
          justifyMode: 'auto',
        },
        {
          description: 'Scopes of the downtimes running now (planned and unplanned); the table below has who, why and until when.',
          transformations: [
            {
              id: 'filterByValue',
              options: { type: 'include', match: 'all', filters: [{ fieldName: 'state', config: { id: 'equal', options: { value: 'active' } } }] },
            },
          ],
        },
      ),
      stat('Load (5 min), by host', { h: 5, w: 8, x: 0, y: 6 }, [q('A', 'host_load5{host=~".+"}', { legendFormat: '{{host}}' })], 'short', thresholds(8, 16)),
      stat(
        'Disk used, by host and mount',
        { h: 5, w: 8, x: 8, y: 6 },
        [
          q('A', 'host_disk_bytes{state="used"}', { agg: 'sum', by: ['host', 'mount'], hide: true }),
          q('B', 'host_disk_bytes{state="total"}', { agg: 'sum', by: ['host', 'mount'], hide: true }),
          math('C', '$A / $B * 100'),
        ],
        'percent',
        thresholds(80, 90),
        { max: 100, min: 0, displayName: '${__field.labels.host} ${__field.labels.mount}' },
      ),
      row('Downtimes', 11),
      panel(
        'table',
        'Active and upcoming downtimes',
        { h: 8, w: 24, x: 0, y: 12 },
        [{ refId: 'A', datasource: DS, queryType: 'downtimes', format: 'table', kind: '', expr: '' }],
        {},
        { showHeader: true, cellHeight: 'sm', sortBy: [{ displayName: 'start', desc: false }] },
        {
          fieldConfig: {
            defaults: {},
            overrides: [
              {
                matcher: { id: 'byName', options: 'kind' },
                properties: [
                  {
                    id: 'mappings',
                    value: [{ type: 'value', options: { planned: { color: 'blue', index: 0 }, unplanned: { color: 'orange', index: 1 } } }],
                  },
                  { id: 'custom.cellOptions', value: { type: 'color-background' } },
                ],
              },
              { matcher: { id: 'byName', options: 'start' }, properties: [{ id: 'unit', value: 'dateTimeAsIso' }] },
              { matcher: { id: 'byName', options: 'end' }, properties: [{ id: 'unit', value: 'dateTimeAsIso' }] },
            ],
          },
        },
      ),
    ],
  );
}

function hosts() {
  nextId = 1;
  const h = 'host=~"$host"';
  return dashboard(
    'rexmon-hosts',
    'rexmon: Hosts',
    'CPU, memory, load, disk and network from the host slurper (series host_*), for the hosts chosen in $host.',
    ['hosts'],
    [
      timeseries(
        'CPU busy',
        { h: 8, w: 12, x: 0, y: 0 },
        [q('A', `host_cpu_percent{${h}, mode!="idle"}`, { agg: 'sum', by: ['host'], legendFormat: '{{host}}' })],
        'percent',
        { min: 0, max: 100 },
      ),
      timeseries('CPU by mode', { h: 8, w: 12, x: 12, y: 0 }, [q('A', `host_cpu_percent{${h}}`, { legendFormat: '{{host}} {{mode}}' })], 'percent', { min: 0 }),
      timeseries(
        'Memory used',
        { h: 8, w: 12, x: 0, y: 8 },
        [
          q('A', `host_memory_bytes{${h}, state="used"}`, { agg: 'sum', by: ['host'], hide: true }),
          q('B', `host_memory_bytes{${h}, state="total"}`, { agg: 'sum', by: ['host'], hide: true }),
          math('C', '$A / $B * 100'),
        ],
        'percent',
        { min: 0, max: 100, displayName: '${__field.labels.host}' },
      ),
      timeseries('Load', { h: 8, w: 12, x: 12, y: 8 }, [q('A', `{__name__=~"host_load(1|5|15)", ${h}}`, { legendFormat: '{{host}} {{__name__}}' })], 'short', {
        min: 0,
      }),
      timeseries(
        'Disk used',
        { h: 8, w: 12, x: 0, y: 16 },
        [
          q('A', `host_disk_bytes{${h}, state="used"}`, { agg: 'sum', by: ['host', 'mount'], hide: true }),
          q('B', `host_disk_bytes{${h}, state="total"}`, { agg: 'sum', by: ['host', 'mount'], hide: true }),
          math('C', '$A / $B * 100'),
        ],
        'percent',
        { min: 0, max: 100, displayName: '${__field.labels.host} ${__field.labels.mount}' },
      ),
      timeseries('Disk free', { h: 8, w: 12, x: 12, y: 16 }, [q('A', `host_disk_bytes{${h}, state="free"}`, { legendFormat: '{{host}} {{mount}}' })], 'bytes', {
        min: 0,
      }),
      timeseries(
        'Network',
        { h: 8, w: 24, x: 0, y: 24 },
        [q('A', `host_network_bytes_per_second{${h}}`, { legendFormat: '{{host}} {{device}} {{direction}}' })],
        'Bps',
        { min: 0 },
      ),
    ],
    [labelVariable('host', 'Host', 'host_load1')],
    annotations(`{${h}}`),
  );
}

function dataHandling() {
  nextId = 1;
  const s = 'service=~"$service"';
  return dashboard(
    'rexmon-data-handling',
    'rexmon: Data handling',
    'Transfers, queues and errors of the data-handling services (enstore, dCache, SAM stations) as their slurpers deliver them: dh_transfer_bytes_total and dh_errors_total as raw totals (drawn as per-second rates), dh_queue_length (README "Run with Grafana").',
    ['data-handling'],
    [
      timeseries(
        'Transfer rate',
        { h: 8, w: 12, x: 0, y: 0 },
        [q('A', `dh_transfer_bytes_total{${s}}`, { fn: 'rate', agg: 'sum', by: ['service', 'direction'], legendFormat: '{{service}} {{direction}}' })],
        'Bps',
        { min: 0 },
      ),
      timeseries('Queue length', { h: 8, w: 12, x: 12, y: 0 }, [q('A', `dh_queue_length{${s}}`, { legendFormat: '{{service}} {{queue}}' })], 'short', {
        min: 0,
      }),
      timeseries(
        'Errors per second',
        { h: 8, w: 12, x: 0, y: 8 },
        [q('A', `dh_errors_total{${s}}`, { fn: 'rate', legendFormat: '{{service}} {{kind}}' })],
        'reqps',
        { min: 0 },
      ),
      timeseries(
        'Transfer rate by experiment',
        { h: 8, w: 12, x: 12, y: 8 },
        [q('A', `dh_transfer_bytes_total{${s}}`, { fn: 'rate', agg: 'sum', by: ['experiment'], legendFormat: '{{experiment}}' })],
        'Bps',
        { min: 0 },
      ),
    ],
    [labelVariable('service', 'Service', 'dh_queue_length')],
    annotations(`{${s}}`, { name: 'Data-handling errors', type: 'dh_error', match: `{${s}}` }),
  );
}

function collectorHealth() {
  nextId = 1;
  const j = 'job="rexmon"';
  return dashboard(
    'rexmon-collector',
    'rexmon: Collector health',
    'The collector\'s own /metrics, scraped into the archive by the http slurper "self" (deploy/rexmon.yaml): ingest, queues, drops, slurpers, queries, downtime sync.',
    ['collector'],
    [
      timeseries(
        'Samples in and out per second',
        { h: 8, w: 12, x: 0, y: 0 },
        [
          q('A', `rexmon_samples_received_total{${j}}`, { agg: 'sum', by: ['source'], legendFormat: 'received {{source}}' }),
          q('B', `rexmon_samples_written_total{${j}}`, { legendFormat: 'written' }),
        ],
        'short',
        { min: 0 },
      ),
      timeseries('Queue depth', { h: 8, w: 12, x: 12, y: 0 }, [q('A', `rexmon_queue_depth{${j}}`, { legendFormat: '{{processor}}' })], 'short', { min: 0 }),
      timeseries(
        'Dropped and rejected per second',
        { h: 8, w: 12, x: 0, y: 8 },
        [
          q('A', `rexmon_samples_dropped_total{${j}}`, { legendFormat: 'dropped {{source}} {{reason}}' }),
          q('B', `rexmon_samples_rejected_total{${j}}`, { legendFormat: 'rejected {{reason}}' }),
        ],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Slurper runs and errors per second',
        { h: 8, w: 12, x: 12, y: 8 },
        [
          q('A', `rexmon_slurper_runs_total{${j}}`, { legendFormat: 'runs {{slurper}} {{result}}' }),
          q('B', `rexmon_slurper_errors_total{${j}}`, { legendFormat: 'errors {{slurper}} {{kind}}' }),
        ],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Query latency (mean)',
        { h: 8, w: 12, x: 0, y: 16 },
        [
          q('A', `rexmon_query_seconds_sum{${j}}`, { fn: 'rate', hide: true }),
          q('B', `rexmon_query_seconds_count{${j}}`, { fn: 'rate', hide: true }),
          math('C', '$A / $B'),
        ],
        's',
        { min: 0, displayName: 'mean /api/v1/query time' },
      ),
      timeseries(
        'Downtime sync',
        { h: 8, w: 12, x: 12, y: 16 },
        [
          q('A', `rexmon_downtime_target_up{${j}}`, { legendFormat: 'up {{target}}' }),
          q('B', `rexmon_downtime_silences{${j}}`, { legendFormat: 'silences {{target}} {{state}}' }),
        ],
        'short',
        { min: 0 },
      ),
    ],
  );
}

// HTCondor as the condor slurper sees it (series condor_*, README "Slurpers → HTCondor"), for the experiments in
// $experiment and the schedds in $schedd.
function batchJobs() {
  nextId = 1;
  const f = 'experiment=~"$experiment", schedd=~"$schedd"';
  return dashboard(
    'rexmon-batch-jobs',
    'rexmon: Batch jobs',
    'HTCondor queues from the condor slurper (series condor_*): jobs by state per experiment, schedd and user, the held ratio and hold reasons, the oldest idle job, completions and failures, slots by state, and which schedds answer.',
    ['batch', 'jobs'],
    [
      timeseries(
        'Jobs by state, per experiment',
        { h: 8, w: 12, x: 0, y: 0 },
        [q('A', `condor_jobs{${f}}`, { agg: 'sum', by: ['experiment', 'state'], legendFormat: '{{experiment}} {{state}}' })],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Jobs by state, per schedd',
        { h: 8, w: 12, x: 12, y: 0 },
        [q('A', `condor_jobs{${f}}`, { agg: 'sum', by: ['schedd', 'state'], legendFormat: '{{schedd}} {{state}}' })],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Jobs by state, per user',
        { h: 8, w: 12, x: 0, y: 8 },
        [q('A', `condor_jobs{${f}}`, { agg: 'sum', by: ['user', 'state'], legendFormat: '{{user}} {{state}}' })],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Held ratio, per experiment',
        { h: 8, w: 12, x: 12, y: 8 },
        [
          q('A', `condor_jobs{${f}, state="held"}`, { agg: 'sum', by: ['experiment'], hide: true }),
          q('B', `condor_jobs{${f}}`, { agg: 'sum', by: ['experiment'], hide: true }),
          math('C', '$A / $B * 100'),
        ],
        'percent',
        { min: 0, max: 100, displayName: '${__field.labels.experiment}' },
      ),
      timeseries(
        'Held jobs by hold reason code',
        { h: 8, w: 12, x: 0, y: 16 },
        [q('A', `condor_jobs_held{${f}}`, { agg: 'sum', by: ['reason_code'], legendFormat: 'HoldReasonCode {{reason_code}}' })],
        'short',
        { min: 0 },
      ),
      stat(
        'Oldest idle job, per experiment',
        { h: 8, w: 12, x: 12, y: 16 },
        [q('A', `condor_oldest_idle_seconds{${f}}`, { agg: 'max', by: ['experiment'], legendFormat: '{{experiment}}' })],
        's',
        thresholds(6 * 3600, 86400),
      ),
      timeseries(
        'Completions and failures per poll',
        { h: 8, w: 12, x: 0, y: 24 },
        [
          q('A', `condor_jobs_completed{${f}}`, { agg: 'sum', by: ['experiment'], legendFormat: 'completed {{experiment}}' }),
          q('B', `condor_jobs_failed{${f}}`, { agg: 'sum', by: ['experiment'], legendFormat: 'failed {{experiment}}' }),
        ],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Slots by state',
        { h: 8, w: 12, x: 12, y: 24 },
        [q('A', 'condor_slots{pool=~".+"}', { agg: 'sum', by: ['pool', 'state'], legendFormat: '{{pool}} {{state}}' })],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Schedds answering (condor_up)',
        { h: 6, w: 24, x: 0, y: 32 },
        [q('A', 'condor_up{schedd=~".+"}', { cf: 'MIN', legendFormat: '{{schedd}}' })],
        'short',
        { min: 0, max: 1 },
      ),
    ],
    [labelVariable('experiment', 'Experiment', 'condor_jobs'), labelVariable('schedd', 'Schedd', 'condor_jobs')],
    annotations('{schedd=~"$schedd"}'),
  );
}

// Job states folded from job lifecycle events (series job_*, README "Job states"), for $experiment and $site.
function jobState() {
  nextId = 1;
  const f = 'experiment=~"$experiment", site=~"$site"';
  return dashboard(
    'rexmon-job-state',
    'rexmon: Job state',
    'Job states folded from job lifecycle events (job.submitted, job.started, ...): jobs by state per experiment and site, state transitions, finished and failed jobs, jobs flagged silent, and the latest job events as annotations.',
    ['jobs'],
    [
      timeseries(
        'Jobs by state, per experiment',
        { h: 8, w: 12, x: 0, y: 0 },
        [q('A', `job_states{${f}}`, { agg: 'sum', by: ['experiment', 'state'], legendFormat: '{{experiment}} {{state}}' })],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Jobs by state, per site',
        { h: 8, w: 12, x: 12, y: 0 },
        [q('A', `job_states{${f}}`, { agg: 'sum', by: ['site', 'state'], legendFormat: '{{site}} {{state}}' })],
        'short',
        { min: 0 },
      ),
      timeseries(
        'State transitions per interval',
        { h: 8, w: 12, x: 0, y: 8 },
        [q('A', `job_transitions{${f}}`, { agg: 'sum', by: ['from', 'to'], legendFormat: '{{from}} → {{to}}' })],
        'short',
        { min: 0 },
      ),
      timeseries(
        'Finished and failed per interval',
        { h: 8, w: 12, x: 12, y: 8 },
        [q('A', `job_transitions{${f}, to=~"finished|failed"}`, { agg: 'sum', by: ['experiment', 'to'], legendFormat: '{{experiment}} {{to}}' })],
        'short',
        { min: 0 },
      ),
      stat(
        'Silent jobs, per experiment and site',
        { h: 6, w: 12, x: 0, y: 16 },
        [q('A', `job_silent{${f}}`, { agg: 'sum', by: ['experiment', 'site'], legendFormat: '{{experiment}} {{site}}' })],
        'short',
        thresholds(1, 10),
      ),
      timeseries(
        'Silent jobs',
        { h: 6, w: 12, x: 12, y: 16 },
        [q('A', `job_silent{${f}}`, { agg: 'sum', by: ['experiment'], legendFormat: '{{experiment}}' })],
        'short',
        { min: 0 },
      ),
    ],
    [labelVariable('experiment', 'Experiment', 'job_states'), labelVariable('site', 'Site', 'job_states')],
    annotations('{site=~"$site"}', { name: 'Job events', type: '', match: '{__name__=~"job[.].+", experiment=~"$experiment", site=~"$site"}' }),
  );
}

export const DASHBOARDS = {
  'overview.json': overview,
  'hosts.json': hosts,
  'data-handling.json': dataHandling,
  'collector-health.json': collectorHealth,
  'batch-jobs.json': batchJobs,
  'job-state.json': jobState,
};

export function render() {
  return Object.fromEntries(Object.entries(DASHBOARDS).map(([file, make]) => [file, JSON.stringify(make(), null, 2) + '\n']));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = render();
  if (process.argv.includes('--print')) process.stdout.write(JSON.stringify(out));
  else for (const [file, text] of Object.entries(out)) writeFileSync(join(dirname(fileURLToPath(import.meta.url)), file), text);
}
