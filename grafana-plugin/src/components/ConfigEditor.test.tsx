import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';

import { RexmonOptions, RexmonSecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';

function options(patch: Partial<DataSourceSettings<RexmonOptions, RexmonSecureJsonData>> = {}) {
  return {
    id: 1,
    uid: 'rx',
    orgId: 1,
    name: 'rexmon',
    type: 'rexmon-rrd-datasource',
    access: 'proxy',
    url: '',
    jsonData: {},
    secureJsonFields: {},
    readOnly: false,
    ...patch,
  } as DataSourceSettings<RexmonOptions, RexmonSecureJsonData>;
}

describe('ConfigEditor', () => {
  it('stores the collector URL in jsonData.url', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={options()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('Collector URL'), { target: { value: ' http://collector:8080 ' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { url: 'http://collector:8080' } }));
  });

  it('flags a URL without scheme', () => {
    render(<ConfigEditor options={options({ jsonData: { url: 'collector:8080' } })} onOptionsChange={jest.fn()} />);
    expect(screen.getByText('Expected http(s)://host:port')).toBeInTheDocument();
  });

  it('keeps the API token in secureJsonData only', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={options({ jsonData: { url: 'http://c:8080' } })} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('API token'), { target: { value: 's3cret' } });
    const saved = onOptionsChange.mock.calls[0][0];
    expect(saved.secureJsonData).toEqual({ apiToken: 's3cret' });
    expect(JSON.stringify(saved.jsonData)).not.toContain('s3cret');
  });

  it('shows a saved token as configured and resets it', () => {
    const onOptionsChange = jest.fn();
    render(
      <ConfigEditor options={options({ jsonData: { url: 'http://c:8080' }, secureJsonFields: { apiToken: true } })} onOptionsChange={onOptionsChange} />
    );
    expect(screen.getByDisplayValue('configured')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ secureJsonFields: { apiToken: false }, secureJsonData: { apiToken: '' } })
    );
  });
});
