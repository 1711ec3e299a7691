import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { DataSource } from '../datasource';
import { RexmonVariableQuery } from '../types';
import { installBackendSrv, Recorded } from '../test/backendSrv';
import { testSettings } from '../test/settings';
import { TestTemplateSrv } from '../test/templateSrv';
import { VariableQueryEditor } from './VariableQueryEditor';

const settings = testSettings('rx');

describe('VariableQueryEditor', () => {
  let calls: Recorded[];
  let ds: DataSource;
  beforeEach(() => {
    calls = installBackendSrv(() => ['__name__', 'experiment', 'schedd']);
    ds = new DataSource(settings, new TestTemplateSrv([{ name: 'experiment', current: ['nova', 'dune'], options: ['nova', 'dune'], multi: true }]));
  });

  function setup(query: Partial<RexmonVariableQuery>) {
    const onChange = jest.fn();
    render(<VariableQueryEditor datasource={ds} query={{ refId: 'v', type: 'labelValues', ...query } as RexmonVariableQuery} onChange={onChange} onRunQuery={jest.fn()} />);
    return onChange;
  }

  it('picks the label among those of the series the matcher selects', async () => {
    const onChange = setup({ match: '{experiment=~"$experiment"}' });
    fireEvent.keyDown(screen.getByLabelText('Variable label'), { key: 'ArrowDown' });
    fireEvent.click(await screen.findByRole('option', { name: 'schedd' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', type: 'labelValues', label: 'schedd', match: '{experiment=~"$experiment"}' });
    expect(calls[0]).toMatchObject({ url: '/api/datasources/uid/rx/resources/labels', method: 'POST', data: { match: '{experiment=~"(nova|dune)"}' } });
  });

  it('reads a string query such as label_values(host) instead of dropping it on the first edit', () => {
    const onChange = jest.fn();
    const query = 'label_values({experiment="nova"}, host)' as unknown as RexmonVariableQuery;
    render(<VariableQueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={jest.fn()} />);
    expect(screen.getByLabelText('Variable matcher')).toHaveValue('{experiment="nova"}');
    fireEvent.click(screen.getByLabelText('Label names'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'variable', type: 'labelNames', label: 'host', match: '{experiment="nova"}' });
  });

  it('keeps a string query it cannot read as the matcher', () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor datasource={ds} query={'{host=~"fnpc.*"}' as unknown as RexmonVariableQuery} onChange={onChange} onRunQuery={jest.fn()} />);
    fireEvent.click(screen.getByLabelText('Metrics'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'variable', type: 'metrics', match: '{host=~"fnpc.*"}' });
  });

  it('edits the matcher and the kind of values', () => {
    const onChange = setup({ label: 'host' });
    const m = screen.getByLabelText('Variable matcher');
    fireEvent.change(m, { target: { value: ' {experiment="nova"} ' } });
    fireEvent.blur(m);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ match: '{experiment="nova"}', label: 'host' }));
    fireEvent.click(screen.getByLabelText('Label names'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ type: 'labelNames' }));
    fireEvent.click(screen.getByLabelText('Metrics'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ type: 'metrics' }));
  });
});
