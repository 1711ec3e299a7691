// dist/module.js must load as Grafana loads it: an AMD module (SystemJS's AMD support) whose
// dependencies Grafana provides (@grafana/*, react, ...) and whose export is `plugin`.
import fs from 'fs';
import path from 'path';
import { DataSourceInstanceSettings, DataSourcePlugin } from '@grafana/data';
import { testSettings } from '../../src/test/settings';

const dist = path.resolve(__dirname, '../../dist');

const provided: Record<string, unknown> = {
  '@grafana/data': require('@grafana/data'),
  '@grafana/ui': require('@grafana/ui'),
  '@grafana/runtime': require('@grafana/runtime'),
  '@emotion/css': require('@emotion/css'),
  react: require('react'),
  'react-dom': require('react-dom'),
  'react/jsx-runtime': require('react/jsx-runtime'),
  rxjs: require('rxjs'),
  'rxjs/operators': require('rxjs/operators'),
  module: { uri: 'public/plugins/rexmon-rrd-datasource/module.js' },
};

test('dist/module.js is an AMD module exporting the datasource plugin', () => {
  const code = fs.readFileSync(path.join(dist, 'module.js'), 'utf8');
  let deps: string[] | undefined;
  let factory: ((...args: unknown[]) => Record<string, unknown>) | undefined;
  const define = (d: string[], f: typeof factory) => {
    deps = d;
    factory = f;
  };
  (define as unknown as { amd: object }).amd = {};
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function('define', code)(define);
  expect(deps).toBeDefined();
  const missing = deps!.filter((d) => !(d in provided));
  expect(missing).toEqual([]);
  expect(deps).toEqual(expect.arrayContaining(['@grafana/data', '@grafana/runtime', '@grafana/ui', 'react']));

  const exports = factory!(...deps!.map((d) => provided[d]));
  const plugin = exports.plugin as DataSourcePlugin;
  expect(plugin).toBeInstanceOf(DataSourcePlugin);
  expect(plugin.components.ConfigEditor).toBeDefined();
  expect(plugin.components.QueryEditor).toBeDefined();

  const ds = new plugin.DataSourceClass(testSettings() as unknown as DataSourceInstanceSettings);
  expect(ds.annotations).toBeDefined();
  expect(ds.variables).toBeDefined();
});
