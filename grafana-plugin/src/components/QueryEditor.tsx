import React, { useEffect } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Button, IconButton, InlineField, InlineFieldRow, InlineSwitch, RadioButtonGroup, Select, Stack } from '@grafana/ui';

import { DataSource } from '../datasource';
import { buildSelector } from '../interpolate';
import {
  AGGREGATIONS,
  Aggregation,
  CONSOLIDATION_FUNCTIONS,
  ConsolidationFunction,
  DEFAULT_QUERY,
  DowntimeFormat,
  editorModeOf,
  LabelFilter,
  MATCH_OPS,
  MAX_EVENTS,
  MatchOp,
  QueryType,
  RexmonOptions,
  RexmonQuery,
  SeriesFunction,
} from '../types';
import { CommitInput } from './CommitInput';
import { LazyMultiSelect, LazySelect } from './LazySelect';

type Props = QueryEditorProps<DataSource, RexmonQuery, RexmonOptions>;

const QUERY_TYPES: Array<SelectableValue<QueryType>> = [
  { label: 'Time series', value: 'timeseries' },
  { label: 'Downtimes', value: 'downtimes', description: 'Planned and unplanned downtimes as regions' },
  { label: 'Events', value: 'events', description: 'Events as point annotations' },
];
const EDITOR_MODES: Array<SelectableValue<'builder' | 'code'>> = [
  { label: 'Builder', value: 'builder' },
  { label: 'Code', value: 'code' },
];
const KINDS: Array<SelectableValue<'' | 'planned' | 'unplanned'>> = [
  { label: 'All', value: '' },
  { label: 'Planned', value: 'planned' },
  { label: 'Unplanned', value: 'unplanned' },
];
const FUNCTIONS: Array<SelectableValue<SeriesFunction>> = [
  { label: 'none', value: '' },
  { label: 'rate', value: 'rate', description: 'Per second change between rows; a counter reset gives no value' },
  { label: 'delta', value: 'delta', description: 'Change between rows (sign kept)' },
];
const FORMATS: Array<SelectableValue<DowntimeFormat>> = [
  { label: 'Annotations', value: 'annotations', description: 'Regions on graphs (annotation queries)' },
  { label: 'Table', value: 'table', description: 'One table of the downtimes active now or starting soon' },
];
const CF_OPTIONS = CONSOLIDATION_FUNCTIONS.map((cf) => ({ label: cf, value: cf }));
const AGG_OPTIONS: Array<SelectableValue<Aggregation>> = [
  { label: 'none', value: '' },
  ...AGGREGATIONS.map((a) => ({ label: a, value: a })),
];
const OP_OPTIONS = MATCH_OPS.map((op) => ({ label: op, value: op }));

const LABEL_WIDTH = 16;

export function QueryEditor({ datasource, query, onChange, onRunQuery }: Props) {
  // A hand-written target without editorMode opens in the mode it runs in.
  const q: RexmonQuery = { ...DEFAULT_QUERY, ...query, editorMode: editorModeOf(query) };
  const queryType = q.queryType ?? 'timeseries';
  const variables = datasource.variableNames();

  const change = (patch: Partial<RexmonQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };

  // A new panel shows data at once: pick the first metric the collector has.
  useEffect(() => {
    if (queryType !== 'timeseries' || q.editorMode === 'code' || q.metric || q.labelFilters?.length) {
      return;
    }
    let cancelled = false;
    datasource
      .getMetrics()
      .then((metrics) => {
        if (!cancelled && metrics.length > 0) {
          change({ metric: metrics[0] });
        }
      })
      .catch(() => {
        /* the metric picker shows the error when opened */
      });
    return () => {
      cancelled = true;
    };
    // Only when the editor opens on an empty query.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<QueryType>
            options={QUERY_TYPES}
            value={queryType}
            onChange={(v) => change({ queryType: v })}
          />
        </InlineField>
        {queryType === 'timeseries' && (
          <InlineField label="Editor">
            <RadioButtonGroup<'builder' | 'code'>
              options={EDITOR_MODES}
              value={q.editorMode ?? 'builder'}
              onChange={(v) => change({ editorMode: v, expr: v === 'code' && !q.expr ? buildSelector(q.metric, q.labelFilters) : q.expr }, false)}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      {queryType === 'timeseries' && <TimeSeriesFields q={q} datasource={datasource} variables={variables} change={change} />}
      {queryType === 'downtimes' && (
        <InlineFieldRow>
          <InlineField label="Kind" labelWidth={LABEL_WIDTH}>
            <RadioButtonGroup options={KINDS} value={q.kind ?? ''} onChange={(v) => change({ kind: v })} />
          </InlineField>
          <InlineField label="Format" tooltip="Annotations: regions on graphs. Table: downtimes active now or starting before the range's end or within 7 days">
            <Select<DowntimeFormat>
              aria-label="Format"
              width={16}
              options={FORMATS}
              value={q.format === 'table' ? 'table' : 'annotations'}
              onChange={(v) => change({ format: v.value === 'table' ? 'table' : undefined })}
            />
          </InlineField>
          <MatcherField q={q} change={change} placeholder='host=~"$host"' />
        </InlineFieldRow>
      )}
      {queryType === 'events' && (
        <InlineFieldRow>
          <InlineField label="Event type" labelWidth={LABEL_WIDTH} tooltip="Only events of this type; empty for all">
            <CommitInput
              aria-label="Event type"
              width={24}
              value={q.eventType}
              placeholder="all types"
              onCommit={(eventType) => change({ eventType })}
            />
          </InlineField>
          <InlineField
            label="Limit"
            tooltip={`At most this many events (up to ${MAX_EVENTS}, the default); when more matched, the panel says how many were shown`}
          >
            <CommitInput
              aria-label="Event limit"
              width={10}
              value={q.limit === undefined ? '' : String(q.limit)}
              placeholder={String(MAX_EVENTS)}
              onCommit={(v) => change({ limit: v === '' ? undefined : /^\d+$/.test(v) ? Number(v) : v })}
            />
          </InlineField>
          <MatcherField q={q} change={change} placeholder='source=~"$host"' />
        </InlineFieldRow>
      )}
    </Stack>
  );
}

function MatcherField({ q, change, placeholder }: { q: RexmonQuery; change: (p: Partial<RexmonQuery>) => void; placeholder: string }) {
  return (
    <InlineField label="Matcher" tooltip="Label matchers selecting the series concerned; empty for all. Variables allowed." grow>
      <CommitInput aria-label="Matcher" value={q.expr} placeholder={placeholder} onCommit={(expr) => change({ expr })} />
    </InlineField>
  );
}

interface FieldsProps {
  q: RexmonQuery;
  datasource: DataSource;
  variables: string[];
  change: (patch: Partial<RexmonQuery>, run?: boolean) => void;
}

function TimeSeriesFields({ q, datasource, variables, change }: FieldsProps) {
  const filters = q.labelFilters ?? [];
  const setFilter = (i: number, patch: Partial<LabelFilter>, run = true) => {
    const next = filters.map((f, j) => (j === i ? { ...f, ...patch } : f));
    change({ labelFilters: next }, run);
  };
  return (
    <>
      {q.editorMode === 'code' ? (
        <InlineFieldRow>
          <InlineField label="Selector" labelWidth={LABEL_WIDTH} grow tooltip='e.g. cpu_usage{host=~"fnpc.*", mode!="idle"}'>
            <CommitInput
              aria-label="Selector"
              value={q.expr}
              placeholder='cpu_usage{host=~"fnpc.*"}'
              onCommit={(expr) => change({ expr })}
            />
          </InlineField>
        </InlineFieldRow>
      ) : (
        <>
          <InlineFieldRow>
            <InlineField label="Metric" labelWidth={LABEL_WIDTH}>
              <LazySelect
                aria-label="Metric"
                width={40}
                value={q.metric}
                placeholder="Choose a metric"
                load={() => datasource.getMetrics()}
                extra={variables}
                onChange={(metric) => change({ metric })}
              />
            </InlineField>
          </InlineFieldRow>
          {filters.map((f, i) => (
            <InlineFieldRow key={i}>
              <InlineField label={i === 0 ? 'Label filters' : ''} labelWidth={LABEL_WIDTH}>
                <LazySelect
                  aria-label={`Filter ${i + 1} label`}
                  width={20}
                  value={f.label}
                  placeholder="label"
                  load={() => datasource.getLabelNames(datasource.lookupSelector(q, i))}
                  onChange={(label) => setFilter(i, { label }, !!f.value)}
                />
              </InlineField>
              <Select<MatchOp>
                aria-label={`Filter ${i + 1} operator`}
                width={8}
                options={OP_OPTIONS}
                value={f.op || '='}
                onChange={(v) => setFilter(i, { op: v.value ?? '=' })}
              />
              <LazySelect
                aria-label={`Filter ${i + 1} value`}
                width={30}
                value={f.value}
                placeholder="value"
                load={() => (f.label ? datasource.getLabelValues(f.label, datasource.lookupSelector(q, i)) : Promise.resolve([]))}
                extra={variables}
                onChange={(value) => setFilter(i, { value })}
              />
              <IconButton
                name="times"
                aria-label={`Remove filter ${i + 1}`}
                onClick={() => change({ labelFilters: filters.filter((_, j) => j !== i) })}
              />
            </InlineFieldRow>
          ))}
          <InlineFieldRow>
            <InlineField label={filters.length === 0 ? 'Label filters' : ''} labelWidth={LABEL_WIDTH}>
              <Button
                variant="secondary"
                size="sm"
                icon="plus"
                aria-label="Add label filter"
                onClick={() => change({ labelFilters: [...filters, { label: '', op: '=', value: '' }] }, false)}
              >
                Filter
              </Button>
            </InlineField>
          </InlineFieldRow>
        </>
      )}
      <InlineFieldRow>
        <InlineField label="Consolidation" labelWidth={LABEL_WIDTH} tooltip="Which RRA consolidation function to read">
          <Select<ConsolidationFunction>
            aria-label="Consolidation function"
            width={14}
            options={CF_OPTIONS}
            value={q.cf ?? 'AVERAGE'}
            onChange={(v) => change({ cf: v.value })}
          />
        </InlineField>
        <InlineField
          label="Function"
          tooltip="Per series, before aggregating: rate for counters stored raw (per second; a counter reset gives no value), delta for the change between rows. In code mode rate(<selector>) does the same."
        >
          <Select<SeriesFunction>
            aria-label="Function"
            width={10}
            options={FUNCTIONS}
            value={q.fn ?? ''}
            onChange={(v) => change({ fn: v.value || undefined })}
          />
        </InlineField>
        <InlineField label="Aggregate" tooltip="Combine the series into one per group">
          <Select<Aggregation>
            aria-label="Aggregation"
            width={12}
            options={AGG_OPTIONS}
            value={q.agg ?? ''}
            onChange={(v) => change({ agg: v.value ?? '' })}
          />
        </InlineField>
        {q.agg ? (
          <InlineField label="by" tooltip="Labels to group by; none = one series in all">
            <LazyMultiSelect
              aria-label="Aggregate by"
              width={30}
              value={q.by ?? []}
              placeholder="(all together)"
              load={() => datasource.getLabelNames(datasource.lookupSelector(q))}
              extra={variables}
              onChange={(by) => change({ by })}
            />
          </InlineField>
        ) : null}
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Legend" labelWidth={LABEL_WIDTH} tooltip="e.g. {{host}} {{state}}; empty: name and labels">
          <CommitInput
            aria-label="Legend format"
            width={30}
            value={q.legendFormat}
            placeholder="{{host}}"
            keepSpaces
            onCommit={(legendFormat) => change({ legendFormat })}
          />
        </InlineField>
        <InlineField label="Min step" tooltip="Seconds or a duration (60, 5m, 1h); empty: automatic from the panel width">
          <CommitInput aria-label="Min step" width={10} value={q.step} placeholder="auto" onCommit={(step) => change({ step })} />
        </InlineField>
        <InlineField
          label="Mark downtimes"
          tooltip="A series a downtime runs over now is drawn blue (planned) or orange (unplanned) with (in downtime) in its name, whatever the thresholds say: for at-a-glance tiles"
        >
          <InlineSwitch
            aria-label="Mark downtimes"
            value={!!q.markDowntime}
            onChange={(e) => change({ markDowntime: e.currentTarget.checked || undefined })}
          />
        </InlineField>
      </InlineFieldRow>
    </>
  );
}
