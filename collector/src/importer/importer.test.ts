// `rexmon import` on RRD trees made with rrdtool in collectd and Ganglia layouts, then queried through the API.
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { api, rrdFetch, run, startCollector, tempDir, TestCollector } from '../testing/harness.js';
import { compilePattern } from './importer.js';

const BIN = fileURLToPath(new URL('../../bin/rexmon.js', import.meta.url));
const base = Math.floor(Date.now() / 1000 / 60) * 60 - 7200;
let tree: { dir: string; cleanup: () => Promise<void> };
let data: { dir: string; cleanup: () => Promise<void> };

async function makeRrd(rel: string, dss: string[], values: number[][], root = tree.dir) {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await run('rrdtool', [
    'create',
    file,
    '--start',
    String(base - 60),
    '--step',
    '60',
    ...dss.map((d) => `DS:${d}:GAUGE:120:U:U`),
    'RRA:AVERAGE:0.5:1:600',
    'RRA:MAX:0.5:1:600',
  ]);
  await run('rrdtool', ['update', file, ...values.map((row, i) => `${base + i * 60}:${row.join(':')}`)]);
  return file;
}

before(async () => {
  tree = await tempDir('rexmon-tree-');
  data = await tempDir('rexmon-data-');
  await makeRrd('collectd/fnpc3001/cpu-0/cpu-idle.rrd', ['value'], [[90], [91], [92]]);
  await makeRrd(
    'collectd/fnpc3001/load/load.rrd',
    ['shortterm', 'midterm', 'longterm'],
    [
      [1, 2, 3],
      [1.5, 2.5, 3.5],
      [2, 3, 4],
    ],
  );
  await makeRrd(
    'collectd/fnpc3002/interface-eth0/if_octets.rrd',
    ['rx', 'tx'],
    [
      [100, 200],
      [110, 210],
      [120, 220],
    ],
  );
  await makeRrd('ganglia/nova/node1.fnal.gov/load_one.rrd', ['sum'], [[0.5], [0.6], [0.7]]);
  await makeRrd(
    'ganglia/nova/__SummaryInfo__/load_one.rrd',
    ['sum', 'num'],
    [
      [5, 10],
      [6, 10],
      [7, 10],
    ],
  );
  await makeRrd('ganglia/nova/bad host/load_one.rrd', ['sum'], [[1], [1], [1]]);
  await writeFile(path.join(tree.dir, 'ganglia/nova/node1.fnal.gov/corrupt.rrd'), 'not an rrd');
});
after(async () => {
  await tree.cleanup();
  await data.cleanup();
});

test('collectd preset: one series per DS, labels from the path', async () => {
  const { stdout, stderr } = await run('node', [BIN, 'import', path.join(tree.dir, 'collectd'), '--preset', 'collectd', '--data-dir', data.dir]);
  assert.match(stdout, /imported 6 series from 3 of 3 files/);
  assert.match(stderr, /import: 3\/3 files/, 'progress is shown');
});

test('ganglia preset: DS sum; bad paths and broken files are skipped with the reason', async () => {
  const { stdout, stderr } = await run('node', [BIN, 'import', path.join(tree.dir, 'ganglia'), '--preset', 'ganglia', '--data-dir', data.dir]);
  assert.match(stdout, /imported 3 series from 2 of 4 files/);
  assert.match(stderr, /skipped nova\/bad host\/load_one.rrd: path has characters/);
  assert.match(stderr, /skipped nova\/node1.fnal.gov\/corrupt.rrd: not a readable RRD/);
});

test('bad import arguments are refused with a clear message', async () => {
  await assert.rejects(
    run('node', [BIN, 'import', tree.dir, '--data-dir', data.dir]),
    (e: { stderr: string; code: number }) => e.code === 2 && /exactly one of --preset or --pattern/.test(e.stderr),
  );
  await assert.rejects(run('node', [BIN, 'import', tree.dir, '--preset', 'munin', '--data-dir', data.dir]), (e: { stderr: string }) =>
    /Allowed choices are collectd, ganglia/.test(e.stderr),
  );
  assert.throws(() => compilePattern('{cluster}/{host}/x.rrd'), /needs \{__name__\} or a fixed metric name/);
  assert.throws(() => compilePattern('{a-b}/{__name__}.rrd'), /not a valid label name/);
});

test('custom pattern with ** and a fixed name', async () => {
  const p = compilePattern('**/{cluster}/{host}/load_one.rrd', 'load_one');
  const m = p.re.exec('ganglia/nova/node1/load_one.rrd');
  assert.deepEqual({ ...m!.groups }, { cluster: 'nova', host: 'node1' });
  assert.deepEqual(p.toSeries(m!.groups!, 'sum', 1), { name: 'load_one', labels: { cluster: 'nova', host: 'node1' } });
});

test('imported series are queried like native ones and equal rrdtool fetch', async () => {
  let c: TestCollector | undefined;
  try {
    c = await startCollector({}, data.dir);
    const series = (await api<{ data: { name: string; labels: Record<string, string> }[] }>(c.url, '/api/v1/series?match={__name__=~"collectd_.*|ganglia_.*"}'))
      .body.data;
    const keys = series.map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort();
    assert.deepEqual(keys, [
      'collectd_cpu_cpu{"host":"fnpc3001","plugin_instance":"0","type_instance":"idle"}',
      'collectd_interface_if_octets{"ds":"rx","host":"fnpc3002","plugin_instance":"eth0"}',
      'collectd_interface_if_octets{"ds":"tx","host":"fnpc3002","plugin_instance":"eth0"}',
      'collectd_load_load{"ds":"longterm","host":"fnpc3001"}',
      'collectd_load_load{"ds":"midterm","host":"fnpc3001"}',
      'collectd_load_load{"ds":"shortterm","host":"fnpc3001"}',
      'ganglia_load_one{"cluster":"nova","ds":"num","host":"__SummaryInfo__"}',
      'ganglia_load_one{"cluster":"nova","ds":"sum","host":"__SummaryInfo__"}',
      'ganglia_load_one{"cluster":"nova","host":"node1.fnal.gov"}',
    ]);
    const q = await api<{ data: { series: { timestamps: number[]; values: (number | null)[] }[] } }>(
      c.url,
      `/api/v1/query?match=collectd_interface_if_octets{ds="rx"}&from=${base - 60}&to=${base + 180}&step=60&cf=MAX`,
    );
    assert.equal(q.status, 200, JSON.stringify(q.body));
    const s = q.body.data.series[0];
    const times = [base, base + 60, base + 120];
    assert.deepEqual(
      times.map((t) => s.values[s.timestamps.indexOf(t)]),
      [100, 110, 120],
    );
    const fetched = await rrdFetch(path.join(tree.dir, 'collectd/fnpc3002/interface-eth0/if_octets.rrd'), 'MAX', base - 60, base + 120);
    assert.deepEqual(
      times.map((t) => fetched.get(t)),
      [100, 110, 120],
      'rx is the first DS column of rrdtool fetch',
    );
    // rrdtool 1.7 answers a CF the file lacks with the closest it has (here AVERAGE) rather than failing.
    const missingCf = await api<{ data: { series: { values: (number | null)[] }[] } }>(
      c.url,
      `/api/v1/query?match=ganglia_load_one{host="node1.fnal.gov"}&from=${base - 60}&to=${base + 180}&step=60&cf=LAST`,
    );
    assert.equal(missingCf.status, 200);
    assert.ok(missingCf.body.data.series[0].values.includes(0.6));
    // Imported trees are read-only: a sample aimed at one is refused with a counter, the file untouched.
    await c.collector.pipeline.push([{ name: 'ganglia_load_one', labels: { cluster: 'nova', host: 'node1.fnal.gov' }, value: 99, time: base + 600 }], 'test');
    await c.collector.pipeline.flush();
    assert.match(await (await fetch(`${c.url}/metrics`)).text(), /rexmon_samples_rejected_total\{reason="readonly"\} 1/);
  } finally {
    await c?.stop();
  }
});

test(
  'symbolic links are followed inside the tree (no loops), outside only with --follow-outside; dangling links and a FIFO are skipped with the reason',
  { timeout: 60000 },
  async () => {
    const t = await tempDir('rexmon-links-');
    const own = await tempDir('rexmon-links-data-');
    try {
      const root = path.join(t.dir, 'tree');
      const outside = path.join(t.dir, 'outside');
      await makeRrd('nova/h1/load_one.rrd', ['sum'], [[1], [2], [3]], root);
      await makeRrd('h9/load_one.rrd', ['sum'], [[9], [9], [9]], outside);
      await mkdir(path.join(root, 'nova/h2'));
      await symlink('../h1/load_one.rrd', path.join(root, 'nova/h2/load_one.rrd')); // a link to an RRD in the tree
      await symlink('nova', path.join(root, 'mirror')); // a linked directory in the tree
      await symlink('..', path.join(root, 'nova/h1/up')); // a loop
      await mkdir(path.join(root, 'nova/h3'));
      await symlink(path.join(t.dir, 'nothing-here.rrd'), path.join(root, 'nova/h3/gone.rrd')); // dangling
      await mkdir(path.join(root, 'nova/h4'));
      await run('mkfifo', [path.join(root, 'nova/h4/pipe.rrd')]);
      await mkdir(path.join(root, 'nova/h5'));
      await symlink(path.join(outside, 'h9/load_one.rrd'), path.join(root, 'nova/h5/load_one.rrd')); // a file outside
      await symlink(outside, path.join(root, 'ext')); // a directory outside

      const r = await run('node', [BIN, 'import', root, '--preset', 'ganglia', '--data-dir', own.dir]);
      assert.match(r.stdout, /imported 4 series from 4 of 10 files under .*; 9 skipped/, r.stdout + r.stderr);
      assert.match(r.stderr, /skipped nova\/h3\/gone.rrd: symbolic link that leads nowhere \(ENOENT\)/);
      assert.match(r.stderr, /skipped nova\/h4\/pipe.rrd: a FIFO, not an RRD file/);
      assert.match(r.stderr, /skipped mirror\/h4\/pipe.rrd: a FIFO/);
      assert.match(r.stderr, /skipped nova\/h1\/up: symbolic link loop/);
      assert.match(r.stderr, /skipped nova\/h5\/load_one.rrd: symbolic link to .*outside\/h9\/load_one.rrd, outside the tree \(--follow-outside follows it\)/);
      assert.match(r.stderr, /skipped ext: symbolic link to .*outside, outside the tree/);

      const c = await startCollector({}, own.dir);
      try {
        const series = (await api<{ data: { labels: Record<string, string> }[] }>(c.url, '/api/v1/series?match=ganglia_load_one')).body.data;
        assert.deepEqual(
          series.map((s) => `${s.labels.cluster}/${s.labels.host}`).sort(),
          ['mirror/h1', 'mirror/h2', 'nova/h1', 'nova/h2'],
          'the linked file and the linked directory are imported under their own paths',
        );
      } finally {
        await c.stop();
      }

      const f = await run('node', [BIN, 'import', root, '--preset', 'ganglia', '--follow-outside', '--data-dir', own.dir]);
      assert.match(f.stdout, /imported 7 series from 7 of 11 files under .*; 6 skipped/, f.stdout + f.stderr);
      assert.doesNotMatch(f.stderr, /outside the tree/);
    } finally {
      await own.cleanup();
      await t.cleanup();
    }
  },
);
