import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, RadioButtonGroup } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { RexmonOptions, RexmonQuery, RexmonVariableQuery, VariableQueryType } from '../types';
import { CommitInput } from './CommitInput';
import { LazySelect } from './LazySelect';
import { parseVariableQueryString } from '../variables';

type Props = QueryEditorProps<DataSource, RexmonQuery, RexmonOptions, RexmonVariableQuery>;

const TYPES: Array<SelectableValue<VariableQueryType>> = [
  { label: 'Label values', value: 'labelValues' },
  { label: 'Label names', value: 'labelNames' },
  { label: 'Metrics', value: 'metrics' },
];

/** e.g. the values of schedd among the series that match {experiment=~"$experiment"}. */
export function VariableQueryEditor({ datasource, query, onChange }: Props) {
  const q = toVariableQuery(query);
  const update = (patch: Partial<RexmonVariableQuery>) => onChange({ ...q, ...patch });
  return (
    <>
      <InlineFieldRow>
        <InlineField label="Values of" labelWidth={14}>
          <RadioButtonGroup<VariableQueryType> options={TYPES} value={q.type} onChange={(type) => update({ type })} />
        </InlineField>
        {q.type === 'labelValues' && (
          <InlineField label="Label">
            <LazySelect
              aria-label="Variable label"
              width={24}
              value={q.label}
              placeholder="e.g. host"
              load={() => datasource.getLabelNames(datasource.interpolateMatch(q.match))}
              onChange={(label) => update({ label })}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Matcher" labelWidth={14} grow tooltip='Only series that match, e.g. {experiment=~"$experiment"}; empty for all'>
          <CommitInput
            aria-label="Variable matcher"
            value={q.match}
            placeholder='{experiment=~"$experiment"}'
            onCommit={(match) => update({ match })}
          />
        </InlineField>
      </InlineFieldRow>
    </>
  );
}

/**
 * The editor's query: dashboards saved with a string query (`label_values(host)`, as typed or
 * from other datasources) are read with parseVariableQueryString; text it cannot read is kept
 * as the matcher rather than dropped.
 */
function toVariableQuery(query: RexmonVariableQuery | string): RexmonVariableQuery {
  if (typeof query === 'string') {
    try {
      return parseVariableQueryString(query);
    } catch {
      return { refId: 'variable', type: 'labelValues', match: query.trim() };
    }
  }
  return { refId: query.refId ?? 'variable', type: query.type ?? 'labelValues', label: query.label, match: query.match };
}
