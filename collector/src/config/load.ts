// Loads and validates the YAML config; every error names the file, the key path, the line and what was expected.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import { Config, configSchema } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseConfigText(text: string, file: string): Config {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${msg}`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (e) {
    // The yaml library resolves aliases here, and throws a plain ReferenceError for one without its anchor.
    throw new ConfigError(file, [(e as Error).message]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(file, ['the top level must be a mapping of keys']);
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    file,
    result.error.issues.map((issue) => {
      const keyPath = issue.path.map(String);
      const node = doc.getIn(issue.path as (string | number)[], true);
      const at = isNode(node) && node.range ? ` (line ${lc.linePos(node.range[0]).line})` : '';
      return `${keyPath.length ? keyPath.join('.') : '(top level)'}${at}: ${describe(issue)}`;
    }),
  );
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return issue.message;
}

export function loadConfig(file: string | undefined, overrides: { dataDir?: string; listen?: string } = {}): Config {
  let config: Config;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(file, [`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
    }
    config = parseConfigText(text, file);
  } else {
    config = configSchema.parse({});
  }
  if (overrides.dataDir) config.dataDir = overrides.dataDir;
  if (overrides.listen) {
    const r = configSchema.shape.http.safeParse({ listen: overrides.listen });
    if (!r.success) throw new ConfigError('--listen', [`${JSON.stringify(overrides.listen)}: expected HOST:PORT, e.g. 127.0.0.1:8080`]);
    config.http.listen = overrides.listen;
  }
  return config;
}
