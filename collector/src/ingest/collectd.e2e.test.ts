// A real collectd sends to rexmon with write_graphite and writes its own RRD tree with the rrdtool plugin at
// the same time: the live series (mapping preset `collectd`) and the imported tree (`--preset collectd`)
// have the same names and labels, so both line up in one graph. Its `nan` first values are unknown, not errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { importTree, PRESETS } from '../importer/importer.js';
import { startCollector, tempDir, waitFor } from '../testing/harness.js';

test('collectd write_graphite and an imported collectd tree give the same series', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  const live = await startCollector({ graphite: { tcp: '127.0.0.1:0', udp: false, mappings: [{ preset: 'collectd', prefix: 'collectd' }] } });
  const imported = await startCollector({ graphite: { tcp: false, udp: false } });
  const conf = path.join(dir, 'collectd.conf');
  await writeFile(
    conf,
    `Hostname "node1.example.org"
FQDNLookup false
Interval 1
BaseDir "${dir}"
PIDFile "${dir}/collectd.pid"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin load
LoadPlugin memory
LoadPlugin interface
LoadPlugin rrdtool
LoadPlugin write_graphite
<Plugin interface>
  Interface "lo"
</Plugin>
<Plugin rrdtool>
  DataDir "${dir}/rrd"
</Plugin>
<Plugin write_graphite>
  <Node "rexmon">
    Host "${live.graphiteTcp!.host}"
    Port "${live.graphiteTcp!.port}"
    Protocol "tcp"
    Prefix "collectd."
  </Node>
</Plugin>
`,
  );
  const collectd = spawn('collectd', ['-f', '-C', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  collectd.stderr!.on('data', (d) => (stderr += d));
  try {
    const keys = (c: typeof live) =>
      c.collector.catalog
        .find([{ matchers: [], text: '' }])
        .map((e) => e.key)
        .sort();
    // interface's if_octets has two DS (rx, tx): the multi-DS case; its first rate is nan.
    await waitFor(
      'collectd series',
      async () => keys(live).some((k) => k.startsWith('collectd_interface_if_octets')) && keys(live).some((k) => k.startsWith('collectd_memory_memory')),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    collectd.kill('SIGTERM');
    await new Promise((r) => collectd.once('exit', r));

    const report = await importTree(path.join(dir, 'rrd'), PRESETS.collectd, imported.collector.catalog, imported.collector.archive);
    assert.ok(report.series > 5, `imported ${report.series} series: ${JSON.stringify(report.skipped)}`);
    const liveKeys = keys(live);
    assert.deepEqual(
      keys(imported).filter((k) => !liveKeys.includes(k)),
      [],
      'every imported series also arrives live, under the same name and labels',
    );
    assert.ok(liveKeys.includes('collectd_load_load{ds="shortterm",host="node1.example.org"}'), liveKeys.join('\n'));
    assert.ok(liveKeys.includes('collectd_memory_memory{host="node1.example.org",type_instance="used"}'), liveKeys.join('\n'));
    const metrics = await (await fetch(`${live.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /^rexmon_input_errors_total\{source="graphite_tcp"\}/m, 'no line was refused');
    assert.match(metrics, /^rexmon_samples_unknown_total\{source="graphite_tcp"\} [1-9]/m, "collectd's nan values counted as unknown");
  } finally {
    if (collectd.exitCode === null && collectd.signalCode === null) {
      collectd.kill('SIGKILL');
      await new Promise((r) => collectd.once('exit', r));
    }
    await live.stop();
    await imported.stop();
    await cleanup();
    if (stderr.includes('Error')) console.error(stderr.slice(0, 2000));
  }
});
