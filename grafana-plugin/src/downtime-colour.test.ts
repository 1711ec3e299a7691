// A tile's series in downtime (the backend's markDowntime, pkg/plugin/query.go) carries a fixed colour in its field
// config. Grafana fills a panel's defaults (here: colour by thresholds, 90 = red) only where the field's own config is
// empty; this runs @grafana/data's own applyFieldOverrides and display processor to show the series stays blue at 97%.
import {
  applyFieldOverrides,
  createTheme,
  FieldColorModeId,
  FieldConfigOptionsRegistry,
  FieldConfigPropertyItem,
  FieldType,
  ThresholdsMode,
  toDataFrame,
} from '@grafana/data';

// The two standard options this needs, as Grafana registers them (value passed through unchanged).
const option = (id: string): FieldConfigPropertyItem =>
  ({
    id,
    path: id,
    name: id,
    process: (v: unknown) => v,
    shouldApply: () => true,
    override: () => null,
    editor: () => null,
  }) as unknown as FieldConfigPropertyItem;
const registry = new FieldConfigOptionsRegistry(() => [option('color'), option('thresholds'), option('displayName')]);

function tileColour(fieldConfig: Record<string, unknown>): { color?: string; title?: string } {
  const frame = toDataFrame({
    fields: [
      { name: 'time', type: FieldType.time, values: [1, 2] },
      { name: 'disk_used_pct', type: FieldType.number, values: [96, 97], labels: { host: 'a' }, config: fieldConfig },
    ],
  });
  const [out] = applyFieldOverrides({
    data: [frame],
    fieldConfig: {
      defaults: {
        color: { mode: FieldColorModeId.Thresholds },
        thresholds: {
          mode: ThresholdsMode.Absolute,
          steps: [
            { value: -Infinity, color: 'green' },
            { value: 90, color: 'red' },
          ],
        },
      },
      overrides: [],
    },
    fieldConfigRegistry: registry,
    replaceVariables: (s: string) => s,
    theme: createTheme(),
  });
  const field = out.fields[1];
  const shown = field.display!(97);
  return { color: shown.color, title: field.config.displayNameFromDS };
}

test('a series in downtime stays the downtime colour over the panel thresholds; others turn red', () => {
  const theme = createTheme();
  const red = theme.visualization.getColorByName('red');
  const blue = theme.visualization.getColorByName('blue');
  expect(tileColour({})).toEqual({ color: red, title: undefined });
  expect(tileColour({ color: { mode: 'fixed', fixedColor: 'blue' }, displayNameFromDS: 'a (in downtime)' })).toEqual({
    color: blue,
    title: 'a (in downtime)',
  });
});
