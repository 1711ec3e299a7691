import { DataSourceInstanceSettings } from '@grafana/data';
import { RexmonOptions } from '../types';

/** Instance settings as Grafana hands them to the DataSource constructor. */
export function testSettings(uid = 'rx', jsonData: RexmonOptions = {}): DataSourceInstanceSettings<RexmonOptions> {
  return {
    id: 1,
    uid,
    type: 'rexmon-rrd-datasource',
    name: 'rexmon',
    access: 'proxy',
    jsonData,
    meta: { id: 'rexmon-rrd-datasource' },
    readOnly: false,
  } as unknown as DataSourceInstanceSettings<RexmonOptions>;
}
