import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, Input, SecretInput, Stack, Text } from '@grafana/ui';

import { RexmonOptions, RexmonSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<RexmonOptions, RexmonSecureJsonData>;

/** Collector URL (jsonData.url) and API token (secureJsonData.apiToken, never sent back to browsers). */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;

  const onURLChange = (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, url: e.target.value.trim() } });

  const onTokenChange = (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, apiToken: e.target.value } });

  const onTokenReset = () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, apiToken: false },
      secureJsonData: { ...secureJsonData, apiToken: '' },
    });

  return (
    <Stack direction="column" gap={1}>
      <InlineField
        label="Collector URL"
        labelWidth={18}
        interactive
        tooltip="Base URL of the rexmon collector's HTTP API, as Grafana's server reaches it"
        required
        invalid={!!jsonData.url && !/^https?:\/\/[^/]+/.test(jsonData.url)}
        error="Expected http(s)://host:port"
      >
        <Input
          id="config-editor-url"
          aria-label="Collector URL"
          width={48}
          value={jsonData.url ?? ''}
          placeholder="http://127.0.0.1:8080"
          onChange={onURLChange}
        />
      </InlineField>
      <InlineField
        label="API token"
        labelWidth={18}
        interactive
        tooltip="A viewer token from the collector's auth.tokens; empty for anonymous read access"
      >
        <SecretInput
          id="config-editor-api-token"
          aria-label="API token"
          width={48}
          isConfigured={!!secureJsonFields?.apiToken}
          value={secureJsonData?.apiToken ?? ''}
          placeholder="viewer token (optional on localhost)"
          onReset={onTokenReset}
          onChange={onTokenChange}
        />
      </InlineField>
      <Text variant="bodySmall" color="secondary">
        Save &amp; test checks that Grafana&apos;s server reaches the collector and that it accepts the token.
      </Text>
    </Stack>
  );
}
