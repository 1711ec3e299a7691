import React, { useState } from 'react';
import { SelectableValue } from '@grafana/data';
import { MultiSelect, Select } from '@grafana/ui';

interface CommonProps {
  /** Loads the choices when the menu opens (from the collector, through the backend). */
  load: () => Promise<string[]>;
  /** Offered too, e.g. dashboard variables. */
  extra?: string[];
  placeholder?: string;
  width?: number;
  'aria-label': string;
  inputId?: string;
}

function toOptions(values: string[]): Array<SelectableValue<string>> {
  return [...new Set(values)].map((v) => ({ label: v, value: v }));
}

function useLazyOptions(load: () => Promise<string[]>, extra: string[] = []) {
  const [options, setOptions] = useState<string[] | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const onOpen = () => {
    setLoading(true);
    setError(undefined);
    load()
      .then((values) => setOptions(values))
      .catch((e: unknown) => {
        setOptions([]);
        setError(errorMessage(e));
      })
      .finally(() => setLoading(false));
  };
  return {
    onOpenMenu: onOpen,
    isLoading: loading,
    noOptionsMessage: error ?? (options === undefined ? 'Loading…' : 'Nothing found'),
    // On error the list stays empty so that the message shows.
    options: error ? [] : toOptions([...(options ?? []), ...extra]),
  };
}

/** Grafana's fetch errors carry the backend's {"message"} in data. */
export function errorMessage(e: unknown): string {
  const err = e as { data?: { message?: string }; message?: string; statusText?: string };
  return err?.data?.message ?? err?.message ?? err?.statusText ?? String(e);
}

/** One value, picked from choices loaded on demand, or typed. */
export function LazySelect(props: CommonProps & { value?: string; onChange: (v: string) => void; isClearable?: boolean }) {
  const lazy = useLazyOptions(props.load, props.extra);
  const value = props.value ? { label: props.value, value: props.value } : null;
  return (
    <Select<string>
      {...lazy}
      aria-label={props['aria-label']}
      inputId={props.inputId}
      value={value}
      placeholder={props.placeholder}
      width={props.width}
      allowCustomValue
      isClearable={props.isClearable}
      onChange={(v) => props.onChange(v?.value ?? '')}
    />
  );
}

/** Several values, e.g. the labels to aggregate by. */
export function LazyMultiSelect(props: CommonProps & { value: string[]; onChange: (v: string[]) => void }) {
  const lazy = useLazyOptions(props.load, props.extra);
  return (
    <MultiSelect<string>
      {...lazy}
      aria-label={props['aria-label']}
      inputId={props.inputId}
      value={props.value.map((v) => ({ label: v, value: v }))}
      placeholder={props.placeholder}
      width={props.width}
      allowCustomValue
      onChange={(vs) => props.onChange(vs.map((v) => v.value!).filter((v) => v !== undefined))}
    />
  );
}
