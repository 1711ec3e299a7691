import { CoreApp, DataQueryRequest, dateTime } from '@grafana/data';
import { lastValueFrom } from 'rxjs';

import { DataSource } from './datasource';
import { RexmonQuery, RexmonVariableQuery } from './types';
import { parseVariableQueryString, RexmonVariableSupport } from './variables';
import { installBackendSrv, Recorded } from './test/backendSrv';
import { testSettings } from './test/settings';
import { TestTemplateSrv } from './test/templateSrv';

const settings = testSettings('rexmon-uid', { url: 'http://127.0.0.1:8080' });

const srv = new TestTemplateSrv([
  { name: 'experiment', current: ['nova', 'mu2e'], options: ['nova', 'mu2e', 'dune'], multi: true, includeAll: true },
  { name: 'host', current: 'fnpc3001', options: ['fnpc3001'] },
]);

const resources: Record<string, unknown> = {
  metrics: ['cpu_usage', 'condor_jobs'],
  labels: ['__name__', 'host', 'schedd'],
  'label/schedd/values': ['s01', 's02'],
};

function answer(req: Recorded): unknown {
  const m = req.url.match(/^\/api\/datasources\/uid\/rexmon-uid\/resources\/(.*)$/);
  if (m) {
    return resources[m[1]] ?? new Error(`no resource ${m[1]}`);
  }
  if (req.url.startsWith('/api/ds/query')) {
    return { results: { A: { frames: [] } } };
  }
  return new Error(`unexpected ${req.url}`);
}

describe('DataSource', () => {
  let calls: Recorded[];
  let ds: DataSource;
  beforeEach(() => {
    calls = installBackendSrv(answer);
    ds = new DataSource(settings, srv);
  });

  it('starts new queries with defaults that show data: AVERAGE, builder, time series', () => {
    expect(ds.getDefaultQuery(CoreApp.Dashboard)).toMatchObject({ queryType: 'timeseries', editorMode: 'builder', cf: 'AVERAGE' });
    expect(ds.annotations.getDefaultQuery!()).toMatchObject({ queryType: 'downtimes', kind: '' });
  });

  it('runs only queries that select something', () => {
    expect(ds.filterQuery({ refId: 'A', metric: 'cpu' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', metric: '' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', metric: 'cpu', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', labelFilters: [{ label: 'host', op: '=', value: 'a' }] })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', editorMode: 'code', expr: ' ' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', editorMode: 'code', expr: '{host="a"}' })).toBe(true);
    expect(ds.filterQuery({ refId: 'Anno', queryType: 'downtimes' })).toBe(true);
  });

  it('runs hand-written targets (provisioned JSON without editorMode): expr is code mode, metric builder', () => {
    expect(ds.filterQuery({ refId: 'A', expr: 'cpu_usage{host="a"}' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'timeseries', expr: '{host=~"$experiment"}' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', expr: '  ' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: 'timeseries', metric: 'cpu_usage' })).toBe(true);
    // An explicit mode still decides: a builder query with a left-over expr needs its metric.
    expect(ds.filterQuery({ refId: 'A', editorMode: 'builder', expr: 'cpu_usage', metric: '' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: 'downtimes', format: 'table', kind: '', expr: '' })).toBe(true);
    expect(ds.lookupSelector({ refId: 'A', expr: '{host="$host"}' })).toBe('{host="fnpc3001"}');
    // The editors look up labels of the selector inside rate(…).
    expect(ds.lookupSelector({ refId: 'A', expr: 'rate(jobs{host="$host"})' })).toBe('jobs{host="fnpc3001"}');
  });

  it('sends the interpolated query to the backend through /api/ds/query', async () => {
    const query: RexmonQuery = {
      refId: 'A',
      queryType: 'timeseries',
      metric: 'condor_jobs',
      labelFilters: [{ label: 'experiment', op: '=', value: '$experiment' }],
      cf: 'MAX',
      agg: 'sum',
      by: ['schedd'],
      fn: 'rate',
      legendFormat: '{{schedd}}',
    };
    const range = { from: dateTime(1795300000000), to: dateTime(1795303600000), raw: { from: 'now-1h', to: 'now' } };
    await lastValueFrom(
      ds.query({ targets: [query], range, intervalMs: 15000, maxDataPoints: 800, scopedVars: {} } as unknown as DataQueryRequest<RexmonQuery>)
    );
    const post = calls.find((c) => c.url.startsWith('/api/ds/query'))!;
    const body = post.data as { queries: RexmonQuery[]; from: string; to: string };
    expect(body.from).toBe('1795300000000');
    expect(body.queries[0]).toMatchObject({
      refId: 'A',
      metric: 'condor_jobs',
      labelFilters: [{ label: 'experiment', op: '=~', value: '(nova|mu2e)' }],
      cf: 'MAX',
      agg: 'sum',
      by: ['schedd'],
      fn: 'rate',
      legendFormat: '{{schedd}}',
      maxDataPoints: 800,
      intervalMs: 15000,
    });
  });

  it('interpolates the annotation matcher', () => {
    const out = ds.applyTemplateVariables({ refId: 'Anno', queryType: 'downtimes', kind: 'planned', expr: 'experiment=~"$experiment"' }, {});
    expect(out).toMatchObject({ queryType: 'downtimes', kind: 'planned', expr: 'experiment=~"(nova|mu2e)"' });
  });

  it('asks the backend for metrics, label names and values with the matcher', async () => {
    expect(await ds.getMetrics()).toEqual(['cpu_usage', 'condor_jobs']);
    expect(await ds.getLabelNames('cpu_usage')).toEqual(['host', 'schedd']);
    expect(calls[1]).toMatchObject({ url: '/api/datasources/uid/rexmon-uid/resources/labels', method: 'POST', data: { match: 'cpu_usage' } });
    expect(await ds.getLabelValues('schedd', '{experiment="nova"}')).toEqual(['s01', 's02']);
    expect(calls[2]).toMatchObject({ method: 'POST', data: { match: '{experiment="nova"}' } });
  });

  it('builds the look-up selector from the other filters of a builder query', () => {
    const q: RexmonQuery = {
      refId: 'A',
      metric: 'condor_jobs',
      labelFilters: [
        { label: 'experiment', op: '=', value: '$experiment' },
        { label: 'schedd', op: '=', value: 's01' },
      ],
    };
    expect(ds.lookupSelector(q, 1)).toBe('condor_jobs{experiment=~"(nova|mu2e)"}');
    expect(ds.lookupSelector(q)).toBe('condor_jobs{experiment=~"(nova|mu2e)", schedd="s01"}');
    expect(ds.lookupSelector({ refId: 'A', editorMode: 'code', expr: '{host="$host"}' })).toBe('{host="fnpc3001"}');
  });

  it('gives template variable values for a label among matching series', async () => {
    const vq: RexmonVariableQuery = { refId: 'v', type: 'labelValues', label: 'schedd', match: '{experiment=~"$experiment"}' };
    const res = await lastValueFrom(
      (ds.variables as RexmonVariableSupport).query({ targets: [vq], scopedVars: {} } as unknown as DataQueryRequest<RexmonVariableQuery>)
    );
    expect(res.data).toEqual([
      { text: 's01', value: 's01' },
      { text: 's02', value: 's02' },
    ]);
    expect(calls[0]).toMatchObject({
      url: '/api/datasources/uid/rexmon-uid/resources/label/schedd/values',
      method: 'POST',
      data: { match: '{experiment=~"(nova|mu2e)"}' },
    });
    expect(await ds.metricFindQuery({ refId: 'v', type: 'metrics' })).toHaveLength(2);
    expect(await ds.metricFindQuery('label_names()')).toEqual([
      { text: 'host', value: 'host' },
      { text: 'schedd', value: 'schedd' },
    ]);
    await expect(ds.metricFindQuery({ refId: 'v', type: 'labelValues' })).rejects.toThrow('Choose the label');
  });

  it('reads Prometheus-style variable query strings', () => {
    expect(parseVariableQueryString('label_values(host)')).toMatchObject({ type: 'labelValues', label: 'host', match: '' });
    expect(parseVariableQueryString('label_values({experiment="$experiment"}, schedd)')).toMatchObject({
      type: 'labelValues',
      label: 'schedd',
      match: '{experiment="$experiment"}',
    });
    expect(parseVariableQueryString('metrics(cpu_usage)')).toMatchObject({ type: 'metrics', match: 'cpu_usage' });
    expect(() => parseVariableQueryString('select 1')).toThrow('Cannot read variable query');
  });
});
