import React from 'react';
import { Input } from '@grafana/ui';

interface Props {
  'aria-label': string;
  value?: string;
  placeholder?: string;
  width?: number;
  /** Called on blur with the text (trimmed unless keepSpaces). */
  onCommit: (value: string) => void;
  keepSpaces?: boolean;
}

/** A text field that reports its value when the user leaves it, so queries run once per edit. */
export function CommitInput({ value, onCommit, keepSpaces, ...rest }: Props) {
  return (
    <Input
      {...rest}
      defaultValue={value ?? ''}
      onBlur={(e) => onCommit(keepSpaces ? e.currentTarget.value : e.currentTarget.value.trim())}
    />
  );
}
