// The files Grafana and Docker load, checked against their documented formats (no Grafana or Docker
// engine runs here): provisioning (apiVersion 1), dashboards (classic JSON, schemaVersion 42),
// alerting (groups, contactPoints, policies, templates), docker-compose.yml against the Compose
// specification's JSON schema (vendored), the Dockerfile against scripts/, and the dashboard generator.
// Run: node --test test/  (npm test runs it)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, mkdtempSync, rmSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const read = (p) => readFileSync(path.join(root, p), 'utf8');
const yaml = (p) => YAML.parse(read(p));
const plugin = JSON.parse(read('grafana-plugin/src/plugin.json'));
const compose = yaml('docker-compose.yml');
const grafanaEnv = compose.services.grafana.environment;

// Panel types Grafana 12 ships (public/app/plugins/panel) — no external panel plugin is installed.
const GRAFANA_PANELS = new Set([
  'alertlist',
  'annolist',
  'barchart',
  'bargauge',
  'candlestick',
  'canvas',
  'dashlist',
  'datagrid',
  'flamegraph',
  'gauge',
  'geomap',
  'gettingstarted',
  'heatmap',
  'histogram',
  'logs',
  'news',
  'nodeGraph',
  'piechart',
  'stat',
  'state-timeline',
  'status-history',
  'table',
  'text',
  'timeseries',
  'traces',
  'trend',
  'welcome',
  'xychart',
  'row',
]);
// Grafana's own variables, usable in any query (README "Run with Grafana" says which rexmon reads).
const GRAFANA_VARS = new Set([
  '__interval',
  '__interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__rate_interval',
  '__from',
  '__to',
  '__dashboard',
  '__org',
  '__user',
  '__timeFilter',
]);

const DS_REF = { type: plugin.id, uid: 'rexmon' };

function walk(v, fn, at = '') {
  fn(v, at);
  if (Array.isArray(v)) v.forEach((x, i) => walk(x, fn, `${at}[${i}]`));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, fn, at ? `${at}.${k}` : k);
}

// Composes a volume's target for a host path (./x) in the grafana service.
function mountTarget(service, hostPath) {
  const v = compose.services[service].volumes.find((m) => m.split(':')[0] === hostPath);
  return v && v.split(':')[1];
}

describe('provisioning', () => {
  test('the datasource: the plugin, a fixed uid, the collector as Grafana reaches it, the token from the environment', () => {
    const f = yaml('provisioning/datasources/rexmon.yaml');
    assert.equal(f.apiVersion, 1);
    assert.equal(f.datasources.length, 1);
    const ds = f.datasources[0];
    for (const k of ['name', 'type', 'uid', 'access']) assert.ok(ds[k], `datasources[0].${k} is required`);
    assert.equal(ds.type, plugin.id);
    assert.equal(ds.uid, 'rexmon');
    assert.equal(ds.access, 'proxy');
    const url = new URL(ds.jsonData.url);
    assert.ok(compose.services[url.hostname], `jsonData.url host ${url.hostname} is a compose service`);
    assert.ok(compose.services[url.hostname].expose.includes(url.port), `the collector exposes ${url.port}`);
    const m = /^\$\{?(\w+)\}?$/.exec(ds.secureJsonData.apiToken);
    assert.ok(m, 'secureJsonData.apiToken is an environment variable');
    assert.ok(m[1] in grafanaEnv, `${m[1]} is set in the grafana service`);
    assert.equal(compose.services.collector.environment[m[1]], grafanaEnv[m[1]], 'the collector gets the same token');
  });

  test('the dashboard provider loads dashboards/ with folders from the files', () => {
    const f = yaml('provisioning/dashboards/rexmon.yaml');
    assert.equal(f.apiVersion, 1);
    const [p] = f.providers;
    assert.ok(p.name && p.type === 'file' && p.options?.path);
    assert.equal(p.options.foldersFromFilesStructure, true);
    assert.ok(!p.folder && !p.folderUid, 'foldersFromFilesStructure needs folder and folderUid empty');
    assert.equal(mountTarget('grafana', './dashboards'), p.options.path);
  });

  test('provisioning/alerting is alerts/, mounted where the link points in the container', () => {
    assert.equal(realpathSync(path.join(root, 'provisioning/alerting')), path.join(root, 'alerts'));
    assert.equal(mountTarget('grafana', './provisioning'), '/etc/grafana/provisioning');
    assert.equal(mountTarget('grafana', './alerts'), '/etc/grafana/alerts');
    for (const f of readdirSync(path.join(root, 'alerts'))) assert.match(f, /\.ya?ml$/, `Grafana reads only YAML/JSON there: ${f}`);
  });

  test("the plugin's development provisioning does not contradict the root one", () => {
    const dev = yaml('grafana-plugin/provisioning/datasources/datasources.yml').datasources[0];
    const prod = yaml('provisioning/datasources/rexmon.yaml').datasources[0];
    for (const k of ['name', 'uid', 'type', 'access']) assert.equal(dev[k], prod[k], k);
    assert.ok(dev.secureJsonData.apiToken.startsWith('$'), 'the dev token also comes from the environment');
  });
});

describe('alerting files', () => {
  const files = readdirSync(path.join(root, 'alerts')).map((f) => [f, yaml(`alerts/${f}`)]);
  const all = (key) => files.flatMap(([f, d]) => (d[key] ?? []).map((x) => [f, x]));

  test('apiVersion 1 and only the keys Grafana reads', () => {
    const keys = new Set([
      'apiVersion',
      'groups',
      'contactPoints',
      'policies',
      'templates',
      'muteTimes',
      'deleteRules',
      'deleteContactPoints',
      'resetPolicies',
      'deleteTemplates',
      'deleteMuteTimes',
    ]);
    for (const [f, d] of files) {
      assert.equal(d.apiVersion, 1, f);
      for (const k of Object.keys(d)) assert.ok(keys.has(k), `${f}: unknown key ${k}`);
    }
  });

  test('every $ is an environment variable the grafana service sets, or a literal $$', () => {
    for (const [f] of files) {
      const text = read(`alerts/${f}`).replace(/^\s*#.*$/gm, '');
      for (const m of text.replace(/\$\$/g, '').matchAll(/\$\{?(\w*)/g))
        assert.ok(m[1] in grafanaEnv, `${f}: $${m[1]} is no variable of the grafana service (write $$ for a literal $)`);
    }
  });

  test('rule groups: the fields of a provisioned rule, queries on the rexmon uid or expressions', () => {
    const uids = new Set();
    const groups = all('groups');
    assert.ok(groups.length >= 3);
    for (const [f, g] of groups) {
      for (const k of ['orgId', 'name', 'folder', 'interval', 'rules']) assert.ok(g[k] !== undefined, `${f}: group needs ${k}`);
      assert.match(g.interval, /^\d+[smh]$/);
      for (const r of g.rules) {
        const at = `${f} ${r.uid}`;
        for (const k of ['uid', 'title', 'condition', 'data', 'for', 'noDataState', 'execErrState', 'labels', 'annotations'])
          assert.ok(r[k] !== undefined, `${at}: needs ${k}`);
        assert.ok(r.uid.length <= 40 && /^[a-zA-Z0-9_-]+$/.test(r.uid), `${at}: uid`);
        assert.ok(!uids.has(r.uid), `${at}: duplicate uid`);
        uids.add(r.uid);
        assert.ok(['OK', 'NoData', 'Alerting', 'KeepLast'].includes(r.noDataState), `${at}: noDataState`);
        assert.ok(['OK', 'Error', 'Alerting', 'KeepLast'].includes(r.execErrState), `${at}: execErrState`);
        assert.match(r.for, /^\d+[smh]$/);
        const refs = r.data.map((q) => q.refId);
        assert.ok(refs.includes(r.condition), `${at}: condition ${r.condition} is a refId`);
        for (const q of r.data) {
          assert.equal(q.model.refId, q.refId, `${at}: model.refId`);
          assert.ok(['rexmon', '__expr__'].includes(q.datasourceUid), `${at}: ${q.refId} on ${q.datasourceUid}`);
          if (q.datasourceUid === 'rexmon') assert.ok(q.relativeTimeRange?.from > 0, `${at}: ${q.refId} needs relativeTimeRange`);
          else assert.ok(['reduce', 'math', 'threshold', 'classic_conditions', 'resample'].includes(q.model.type), `${at}: ${q.refId} type`);
        }
        assert.ok(r.annotations.summary, `${at}: a summary naming the series`);
      }
    }
    assert.ok(uids.size >= 5);
  });

  test('contact point, policy and template refer to each other', () => {
    const cps = all('contactPoints').map(([, c]) => c);
    const names = new Set(cps.map((c) => c.name));
    const email = cps.flatMap((c) => c.receivers).find((r) => r.type === 'email');
    assert.ok(email?.uid && email.settings.addresses, 'an e-mail receiver with addresses');
    assert.match(email.settings.addresses, /^\$\w+$/, 'addresses from the environment');
    const policies = all('policies').map(([, p]) => p);
    assert.equal(policies.length, 1);
    const receivers = [];
    walk(policies[0], (v, at) => at.endsWith('receiver') && receivers.push(v));
    for (const r of receivers) assert.ok(names.has(r), `policy receiver ${r} is a contact point`);
    const defined = new Set(all('templates').flatMap(([, t]) => [...t.template.matchAll(/define "([^"]+)"/g)].map((m) => m[1])));
    for (const m of JSON.stringify(cps).matchAll(/template \\"([^"\\]+)\\"/g)) assert.ok(defined.has(m[1]), `template ${m[1]} is defined`);
    for (const [f, t] of all('templates')) assert.ok(!t.template.includes('$'), `${f}: templates avoid $ (Grafana would expand it)`);
  });
});

describe('dashboards', () => {
  const files = readdirSync(path.join(root, 'dashboards')).filter((f) => f.endsWith('.json'));

  test('the six dashboards, equal to what dashboards/generate.mjs makes', async () => {
    assert.deepEqual(files.sort(), ['batch-jobs.json', 'collector-health.json', 'data-handling.json', 'hosts.json', 'job-state.json', 'overview.json']);
    const { render } = await import(path.join(root, 'dashboards/generate.mjs'));
    for (const [f, text] of Object.entries(render()))
      assert.equal(read(`dashboards/${f}`), text, `${f} differs from the generator: run node dashboards/generate.mjs`);
  });

  for (const f of files) {
    test(`${f}: Grafana's fields, datasource refs on the rexmon uid, defined variables, Grafana 12 panel types`, () => {
      const d = JSON.parse(read(`dashboards/${f}`));
      for (const k of ['uid', 'title', 'schemaVersion', 'panels', 'time', 'templating', 'annotations']) assert.ok(d[k] !== undefined, `${f}: ${k}`);
      assert.ok(d.uid.length <= 40);
      assert.equal(d.schemaVersion, 42);
      assert.ok(!('id' in d) || d.id === null, 'no database id in a provisioned dashboard');
      const vars = new Set(d.templating.list.map((v) => v.name));
      const ids = new Set();
      const panels = d.panels.flatMap((p) => (p.type === 'row' ? [p, ...(p.panels ?? [])] : [p]));
      assert.ok(panels.some((p) => p.type !== 'row'));
      for (const p of panels) {
        assert.ok(GRAFANA_PANELS.has(p.type), `${p.title}: panel type ${p.type}`);
        assert.ok(!ids.has(p.id), `${p.title}: duplicate id`);
        ids.add(p.id);
        for (const k of ['h', 'w', 'x', 'y']) assert.equal(typeof p.gridPos?.[k], 'number', `${p.title}: gridPos.${k}`);
        assert.ok(p.gridPos.x + p.gridPos.w <= 24);
        if (p.type === 'row') continue;
        assert.deepEqual(p.datasource, DS_REF, `${p.title}: panel datasource`);
        assert.ok(p.targets.length > 0);
        const refIds = new Set(p.targets.map((t) => t.refId));
        assert.equal(refIds.size, p.targets.length, `${p.title}: refIds unique`);
        for (const t of p.targets) {
          if (t.datasource.uid === '__expr__') {
            for (const m of t.expression.matchAll(/\$(\w+)/g)) assert.ok(refIds.has(m[1]), `${p.title}: expression reads ${m[1]}`);
          } else assert.deepEqual(t.datasource, DS_REF, `${p.title}: target ${t.refId}`);
        }
      }
      const rexmonAnn = d.annotations.list.filter((a) => !a.builtIn);
      assert.ok(rexmonAnn.some((a) => a.target.queryType === 'downtimes' && a.target.kind === 'planned' && a.enable));
      assert.ok(rexmonAnn.some((a) => a.target.queryType === 'downtimes' && a.target.kind === 'unplanned' && a.enable));
      const colors = rexmonAnn.filter((a) => a.target.queryType === 'downtimes').map((a) => a.iconColor);
      assert.equal(new Set(colors).size, colors.length, 'planned and unplanned shaded differently');
      for (const a of rexmonAnn) assert.deepEqual(a.datasource, DS_REF);
      for (const v of d.templating.list) if (v.type === 'query') assert.deepEqual(v.datasource, DS_REF, `variable ${v.name}`);
      // Every $name in a query, annotation or variable is a dashboard variable or one of Grafana's.
      walk({ p: panels.map((p) => p.targets ?? []), a: rexmonAnn, v: d.templating.list.map((v) => v.query) }, (v, at) => {
        if (typeof v !== 'string' || at.endsWith('expression')) return;
        for (const m of v.matchAll(/\$\{?(\w+)/g)) assert.ok(vars.has(m[1]) || GRAFANA_VARS.has(m[1]), `${at}: $${m[1]} is not defined`);
      });
    });
  }
});

describe('docker-compose.yml and the Dockerfile', () => {
  test('validates against the Compose specification (test/vendor/compose-spec.json)', () => {
    const Ajv = require('ajv');
    const addFormats = require('ajv-formats');
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    // The schema names its meta-schema https://json-schema.org/draft-07/schema (ajv knows it as http://…#).
    ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-07.json'), 'https://json-schema.org/draft-07/schema');
    const validate = ajv.compile(JSON.parse(read('test/vendor/compose-spec.json')));
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
    assert.equal(validate({ services: { grafana: { image: 'x', portz: [] } } }), false, 'the schema refuses an unknown key');
  });

  test('Grafana OSS pinned to a version the plugin declares; the plugin mounted read-only and allowed unsigned', () => {
    const g = compose.services.grafana;
    const m = /^grafana\/grafana:(\d+)\.(\d+)\.(\d+)$/.exec(g.image);
    assert.ok(m, `pinned OSS image, got ${g.image}`);
    const min = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(plugin.dependencies.grafanaDependency);
    const v = m.slice(1).map(Number);
    const need = min.slice(1).map(Number);
    assert.ok(v[0] * 1e6 + v[1] * 1e3 + v[2] >= need[0] * 1e6 + need[1] * 1e3 + need[2], `${g.image} satisfies ${plugin.dependencies.grafanaDependency}`);
    assert.ok(v[0] > 12 || (v[0] === 12 && v[1] >= 4), '≥ 12.4');
    assert.ok(g.volumes.includes(`./grafana-plugin/dist:/var/lib/grafana/plugins/${plugin.id}:ro`));
    assert.equal(g.environment.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS, plugin.id);
    assert.match(JSON.stringify(g.healthcheck.test), /\/api\/health/);
  });

  test('only Grafana publishes a port; the collector has a named data volume and a /readyz health check', () => {
    for (const [name, s] of Object.entries(compose.services)) if (name !== 'grafana') assert.ok(!s.ports, `${name} publishes no port`);
    const c = compose.services.collector;
    const data = c.volumes.find((v) => v.endsWith(':/var/lib/rexmon'));
    assert.ok(data && compose.volumes[data.split(':')[0]] !== undefined, 'a named volume for the data');
    assert.equal(yaml('deploy/rexmon.yaml').dataDir, '/var/lib/rexmon');
    assert.match(JSON.stringify(c.healthcheck.test), /\/readyz/);
    assert.equal(c.depends_on['grafana-init'].condition, 'service_completed_successfully');
    assert.equal(compose.services['grafana-init'].depends_on.grafana.condition, 'service_healthy');
    const tokenFile = yaml('deploy/rexmon.yaml').downtimes.grafana.tokenFile;
    assert.equal(compose.services['grafana-init'].environment.TOKEN_FILE, tokenFile);
    assert.ok(c.volumes.some((v) => v.startsWith('grafana-token:') && tokenFile.startsWith(v.split(':')[1])));
  });

  test('the Dockerfile installs what scripts/ install, builds as they do, and runs as a non-root user', () => {
    const df = read('Dockerfile');
    const stages = df.split(/^FROM /m).slice(1);
    const final = stages[stages.length - 1];
    const aptOf = (text) =>
      [...text.matchAll(/apt-get install[^\n]*?((?:\s+(?:-\S+|[a-z0-9.+-]+))+)/g)].flatMap((m) =>
        m[1]
          .trim()
          .split(/\s+/)
          .filter((w) => !w.startsWith('-')),
      );
    const ensured = (f) => [...read(f).matchAll(/^ensure_apt (.+)$/gm)].flatMap((m) => m[1].trim().split(/\s+/));
    const runtime = ensured('scripts/start.sh');
    assert.ok(runtime.length > 0);
    for (const p of runtime) assert.ok(aptOf(final).includes(p), `the image installs ${p} (scripts/start.sh does)`);
    // .ci/run → npm test → scripts/test-all.sh: its packages are in the image or test-only, said here.
    const testOnly = new Set([
      'postgresql',
      'prometheus-alertmanager',
      'prometheus',
      'prometheus-node-exporter',
      'collectd-core',
      'chromium',
      'rsyslog',
      'python3',
      'python3-venv',
      'iproute2',
      'apache2-utils',
    ]);
    assert.match(read('.ci/run'), /npm test/);
    for (const p of ensured('scripts/test-all.sh'))
      assert.ok(aptOf(final).includes(p) || testOnly.has(p), `${p} (scripts/test-all.sh) is neither in the image nor listed as test-only`);
    // ensure_npm: Node ≥ the engines field, npm ci; start.sh: the collector's build.
    const node = /^node:(\d+)-bookworm/.exec(stages[0]);
    assert.ok(node && Number(node[1]) >= Number(/\d+/.exec(JSON.parse(read('package.json')).engines.node)[0]), 'Debian 12 with Node ≥ engines');
    assert.ok(
      stages.every((s) => s.startsWith(`node:${node[1]}-bookworm`)),
      'one base in every stage',
    );
    assert.match(read('scripts/ensure-deps.sh'), /npm ci/);
    assert.match(df, /RUN npm ci/);
    assert.match(read('scripts/start.sh'), /npm run --silent build -w collector/);
    assert.match(df, /npm run --silent build -w collector/);
    const user = [...final.matchAll(/^USER (\S+)/gm)].pop();
    assert.ok(user && user[1] !== 'root' && user[1] !== '0', 'runs as a non-root user');
    assert.match(final, /HEALTHCHECK[\s\S]*\/readyz/);
  });

  test('the container scripts parse as POSIX sh (the image runs them with /bin/sh, dash on Debian) and are executable', () => {
    for (const f of ['deploy/collector-entrypoint.sh', 'deploy/grafana-init.sh']) {
      const r = spawnSync('sh', ['-n', path.join(root, f)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
      assert.match(read(f), /^#!\/bin\/sh\n/, `${f}: #!/bin/sh`);
      assert.ok(statSync(path.join(root, f)).mode & 0o100, `${f} is executable`);
    }
    assert.ok(compose.services['grafana-init'].entrypoint[0] === '/opt/rexmon/deploy/grafana-init.sh');
  });

  test('deploy/render-config.mjs completes deploy/rexmon.yaml into a config the collector accepts; a bad token is refused by name', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rexmon-render-'));
    try {
      const out = path.join(dir, 'rexmon.yaml');
      const token = 'a-test-viewer-token-0123456789';
      execFileSync('node', [path.join(root, 'deploy/render-config.mjs'), path.join(root, 'deploy/rexmon.yaml'), out], {
        env: { ...process.env, REXMON_VIEWER_TOKEN: token },
      });
      const cfg = YAML.parse(readFileSync(out, 'utf8'));
      const sha = execFileSync('sha256sum', { input: token }).toString().split(' ')[0];
      assert.deepEqual(cfg.auth.tokens, [{ name: 'grafana', role: 'viewer', sha256: sha }]);
      const self = cfg.slurpers.find((s) => s.name === 'self');
      assert.equal(self.headers.authorization, `Bearer ${token}`);
      assert.ok(!cfg.slurpers.find((s) => s.type === 'host').headers);
      const check = spawnSync('node', [path.join(root, 'collector/bin/rexmon.js'), 'check-config', out], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stderr);
      for (const bad of ['', 'short', 'has space in it 0123456789']) {
        const r = spawnSync('node', [path.join(root, 'deploy/render-config.mjs'), path.join(root, 'deploy/rexmon.yaml'), out], {
          env: { ...process.env, REXMON_VIEWER_TOKEN: bad },
          encoding: 'utf8',
        });
        assert.equal(r.status, 2, `token ${JSON.stringify(bad)}`);
        assert.match(r.stderr, /REXMON_VIEWER_TOKEN/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
