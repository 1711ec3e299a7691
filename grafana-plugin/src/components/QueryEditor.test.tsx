import React from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';

import { DataSource } from '../datasource';
import { RexmonQuery } from '../types';
import { installBackendSrv, Recorded } from '../test/backendSrv';
import { testSettings } from '../test/settings';
import { TestTemplateSrv } from '../test/templateSrv';
import { QueryEditor } from './QueryEditor';

const settings = testSettings('rx');

const resources: Record<string, string[]> = {
  metrics: ['cpu_usage', 'condor_jobs'],
  labels: ['__name__', 'host', 'mode'],
  'label/host/values': ['fnpc3001', 'fnpc3002'],
};

let calls: Recorded[];
let ds: DataSource;

beforeEach(() => {
  calls = installBackendSrv((req) => resources[req.url.replace('/api/datasources/uid/rx/resources/', '')] ?? new Error('collector answered 400: bad'));
  ds = new DataSource(settings, new TestTemplateSrv([{ name: 'host', current: 'fnpc3001', options: ['fnpc3001'] }]));
});

function setup(query: Partial<RexmonQuery>) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const utils = render(<QueryEditor datasource={ds} query={{ refId: 'A', ...query }} onChange={onChange} onRunQuery={onRunQuery} />);
  return { onChange, onRunQuery, ...utils };
}

/** Opens a Select by its aria-label and clicks an option. */
async function pick(selectLabel: string, option: string | RegExp) {
  const input = screen.getByLabelText(selectLabel);
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  const opt = await screen.findByRole('option', { name: option });
  fireEvent.click(opt);
}

/** Types a value that is not among the options into a Select and presses Enter. */
async function typeCustom(selectLabel: string, text: string) {
  const input = screen.getByLabelText(selectLabel);
  fireEvent.change(input, { target: { value: text } });
  await screen.findByText(new RegExp(`Custom value: ${text}`, 'i')).catch(() => undefined);
  fireEvent.keyDown(input, { key: 'Enter' });
}

function lastQuery(onChange: jest.Mock): RexmonQuery {
  return onChange.mock.calls[onChange.mock.calls.length - 1][0];
}

describe('QueryEditor', () => {
  it('picks the first metric for a new query so the panel shows data at once', async () => {
    const { onChange, onRunQuery } = setup({});
    await waitFor(() => expect(onChange).toHaveBeenCalled());
    expect(lastQuery(onChange)).toMatchObject({ refId: 'A', metric: 'cpu_usage' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('offers the collector metrics and dashboard variables, and takes a typed one', async () => {
    const { onChange } = setup({ metric: 'cpu_usage' });
    await pick('Metric', 'condor_jobs');
    expect(lastQuery(onChange).metric).toBe('condor_jobs');
    expect(calls.some((c) => c.url.endsWith('/resources/metrics'))).toBe(true);
    await pick('Metric', '$host');
    expect(lastQuery(onChange).metric).toBe('$host');
    await typeCustom('Metric', 'disk_free');
    await waitFor(() => expect(lastQuery(onChange).metric).toBe('disk_free'));
  });

  it('adds a label filter and fills it with values the collector offers for the metric', async () => {
    const { onChange, onRunQuery, rerender } = setup({ metric: 'cpu_usage' });
    fireEvent.click(screen.getByRole('button', { name: 'Add label filter' }));
    expect(lastQuery(onChange).labelFilters).toEqual([{ label: '', op: '=', value: '' }]);
    expect(onRunQuery).not.toHaveBeenCalled();

    const q: RexmonQuery = { refId: 'A', metric: 'cpu_usage', labelFilters: [{ label: '', op: '=', value: '' }] };
    rerender(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} />);
    await pick('Filter 1 label', 'host');
    expect(lastQuery(onChange).labelFilters).toEqual([{ label: 'host', op: '=', value: '' }]);
    const labelsCall = calls.find((c) => c.url.endsWith('/resources/labels'))!;
    expect(labelsCall).toMatchObject({ method: 'POST', data: { match: 'cpu_usage' } });

    const q2: RexmonQuery = { ...q, labelFilters: [{ label: 'host', op: '=', value: '' }] };
    rerender(<QueryEditor datasource={ds} query={q2} onChange={onChange} onRunQuery={onRunQuery} />);
    await pick('Filter 1 value', 'fnpc3002');
    expect(lastQuery(onChange).labelFilters).toEqual([{ label: 'host', op: '=', value: 'fnpc3002' }]);
    expect(calls.find((c) => c.url.endsWith('/resources/label/host/values'))).toMatchObject({ method: 'POST', data: { match: 'cpu_usage' } });

    await pick('Filter 1 operator', '=~');
    expect(lastQuery(onChange).labelFilters![0].op).toBe('=~');

    fireEvent.click(screen.getByRole('button', { name: 'Remove filter 1' }));
    expect(lastQuery(onChange).labelFilters).toEqual([]);
  });

  it('shows the collector error when a picker cannot load', async () => {
    resources.metrics = undefined as unknown as string[];
    setup({ metric: 'x' });
    fireEvent.keyDown(screen.getByLabelText('Metric'), { key: 'ArrowDown' });
    expect(await screen.findByText('collector answered 400: bad')).toBeInTheDocument();
    resources.metrics = ['cpu_usage', 'condor_jobs'];
  });

  it('sets consolidation, aggregation by labels, legend and step', async () => {
    const { onChange, onRunQuery, rerender } = setup({ metric: 'cpu_usage' });
    await pick('Consolidation function', 'MAX');
    expect(lastQuery(onChange).cf).toBe('MAX');
    await pick('Aggregation', 'sum');
    expect(lastQuery(onChange).agg).toBe('sum');

    rerender(<QueryEditor datasource={ds} query={{ refId: 'A', metric: 'cpu_usage', agg: 'sum', by: [] }} onChange={onChange} onRunQuery={onRunQuery} />);
    await pick('Aggregate by', 'mode');
    expect(lastQuery(onChange).by).toEqual(['mode']);

    const legend = screen.getByLabelText('Legend format');
    fireEvent.change(legend, { target: { value: '{{host}} {{mode}}' } });
    fireEvent.blur(legend);
    expect(lastQuery(onChange).legendFormat).toBe('{{host}} {{mode}}');
    const step = screen.getByLabelText('Min step');
    fireEvent.change(step, { target: { value: ' 5m ' } });
    fireEvent.blur(step);
    expect(lastQuery(onChange).step).toBe('5m');
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('switches to code mode with the builder selector filled in', () => {
    const { onChange } = setup({ metric: 'cpu_usage', labelFilters: [{ label: 'host', op: '=~', value: 'fnpc.*' }] });
    fireEvent.click(screen.getByLabelText('Code'));
    expect(lastQuery(onChange)).toMatchObject({ editorMode: 'code', expr: 'cpu_usage{host=~"fnpc.*"}' });
  });

  it('keeps dashboard variables as written when switching to code mode', () => {
    const { onChange } = setup({ metric: 'cpu_usage', labelFilters: [{ label: 'host', op: '=', value: '$host' }] });
    fireEvent.click(screen.getByLabelText('Code'));
    // Not the variable's current value (fnpc3001): the query must follow the dashboard.
    expect(lastQuery(onChange)).toMatchObject({ editorMode: 'code', expr: 'cpu_usage{host="$host"}' });
  });

  it('edits a code-mode selector', () => {
    const { onChange } = setup({ editorMode: 'code', expr: 'cpu_usage' });
    const input = screen.getByLabelText('Selector');
    fireEvent.change(input, { target: { value: 'cpu_usage{host="a"}' } });
    fireEvent.blur(input);
    expect(lastQuery(onChange).expr).toBe('cpu_usage{host="a"}');
  });

  it('edits downtime annotation queries: kind and matcher', async () => {
    const { onChange } = setup({ queryType: 'downtimes', kind: '' });
    expect(screen.queryByLabelText('Metric')).not.toBeInTheDocument();
    fireEvent.click(screen.getByLabelText('Planned'));
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'downtimes', kind: 'planned' });
    const matcher = screen.getByLabelText('Matcher');
    fireEvent.change(matcher, { target: { value: 'host=~"$host"' } });
    fireEvent.blur(matcher);
    expect(lastQuery(onChange).expr).toBe('host=~"$host"');
  });

  it('sets the function (rate, delta) in the builder and in code mode', async () => {
    const { onChange, rerender, onRunQuery } = setup({ metric: 'jobs_done_total' });
    await pick('Function', /^rate/);
    expect(lastQuery(onChange)).toMatchObject({ metric: 'jobs_done_total', fn: 'rate' });
    rerender(
      <QueryEditor datasource={ds} query={{ refId: 'A', editorMode: 'code', expr: 'x', fn: 'rate' }} onChange={onChange} onRunQuery={onRunQuery} />
    );
    expect(screen.getByText('rate')).toBeInTheDocument();
    await pick('Function', /^delta/);
    expect(lastQuery(onChange)).toMatchObject({ editorMode: 'code', expr: 'x', fn: 'delta' });
    await pick('Function', /^none/);
    expect(lastQuery(onChange).fn).toBeUndefined();
  });

  it('sets the downtimes format: table or annotation regions', async () => {
    const { onChange, onRunQuery, rerender } = setup({ queryType: 'downtimes', kind: '' });
    expect(screen.getByText('Annotations')).toBeInTheDocument();
    await pick('Format', /^Table/);
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'downtimes', format: 'table' });
    expect(onRunQuery).toHaveBeenCalled();
    rerender(<QueryEditor datasource={ds} query={{ refId: 'A', queryType: 'downtimes', format: 'table' }} onChange={onChange} onRunQuery={onRunQuery} />);
    expect(screen.getByText('Table')).toBeInTheDocument();
    await pick('Format', /^Annotations/);
    expect(lastQuery(onChange).format).toBeUndefined();
  });

  it('opens a hand-written target by what it has: expr is code mode, metric builder', () => {
    setup({ expr: 'cpu_usage{host="a"}' });
    expect(screen.getByLabelText('Selector')).toHaveValue('cpu_usage{host="a"}');
    expect(screen.queryByLabelText('Metric')).not.toBeInTheDocument();
  });

  it('opens a hand-written builder target (metric, no editorMode) in the builder', () => {
    setup({ metric: 'cpu_usage' });
    expect(screen.getByLabelText('Metric')).toBeInTheDocument();
    expect(screen.queryByLabelText('Selector')).not.toBeInTheDocument();
  });

  it('edits event annotation queries and switches query types', async () => {
    const { onChange } = setup({ queryType: 'events' });
    const type = screen.getByLabelText('Event type');
    fireEvent.change(type, { target: { value: 'job_held' } });
    fireEvent.blur(type);
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'events', eventType: 'job_held' });
    const limit = screen.getByLabelText('Event limit');
    expect(limit).toHaveAttribute('placeholder', '10000');
    fireEvent.change(limit, { target: { value: ' 500 ' } });
    fireEvent.blur(limit);
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'events', limit: 500 });
    fireEvent.change(limit, { target: { value: '' } });
    fireEvent.blur(limit);
    expect(lastQuery(onChange).limit).toBeUndefined();
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Downtimes'));
    });
    expect(lastQuery(onChange).queryType).toBe('downtimes');
  });
});
