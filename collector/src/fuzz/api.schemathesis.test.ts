// The HTTP API fuzzed from its own OpenAPI document by schemathesis (PyPI, in a virtualenv that
// scripts/test-all.sh makes): examples, boundary values, random requests and stateful sequences (create a
// downtime, then read, edit and end it) against a real collector on loopback with anonymous read off. It
// must end with no 5xx, no status, content type, header or body the document does not describe, a 405
// naming the methods for a method a path does not take, and every route refusing a request without its
// token. Left out: whether every schema-valid request is accepted and every invalid one refused — the
// selector and time grammars are richer than JSON Schema says; parsers.property.test.ts covers them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createToken } from '../auth/tokens.js';
import { startCollector, TestCollector } from '../testing/harness.js';

const ST = process.env.REXMON_SCHEMATHESIS ?? `${process.env.HOME}/.cache/rexmon/schemathesis/bin/st`;
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'unsupported_method',
  'ignored_auth',
  'missing_required_header',
  'use_after_free',
  'ensure_resource_availability',
];

let c: TestCollector;
let admin: string;

before(async () => {
  assert.ok(existsSync(ST), `schemathesis is not installed at ${ST}: run npm test (scripts/test-all.sh installs it) or set REXMON_SCHEMATHESIS`);
  c = await startCollector({ auth: { anonymousRead: false } });
  admin = await createToken(c.collector.db, 'fuzz', 'admin');
});
after(() => c?.stop());

test('schemathesis over every operation of the OpenAPI document: no 5xx, nothing the document does not describe', { timeout: 600_000 }, async () => {
  const args = [
    'run',
    `${c.url}/api/v1/openapi.json`,
    '--url',
    `${c.url}/api/v1`,
    '-H',
    `Authorization: Bearer ${admin}`,
    '--checks',
    CHECKS.join(','),
    '--max-examples',
    process.env.REXMON_FUZZ_EXAMPLES ?? '20',
    '--seed',
    process.env.REXMON_FUZZ_SEED ?? '20261201',
    '--no-color',
  ];
  const out: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    // In the collector's temp dir: schemathesis keeps a cache (.schemathesis/) where it runs.
    const p = spawn(ST, args, { cwd: c.dataDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SCHEMATHESIS_HOOKS: '' } });
    p.stdout.on('data', (d) => out.push(String(d)));
    p.stderr.on('data', (d) => out.push(String(d)));
    p.on('error', reject);
    p.on('close', resolve);
  });
  const text = out.join('');
  assert.equal(code, 0, text.slice(-8000));
  const tested = /Tested: (\d+)/.exec(text);
  const selected = /Selected: (\d+)\/(\d+)/.exec(text);
  assert.ok(selected && tested && Number(tested[1]) === Number(selected[2]), `every operation tested:\n${text.slice(-3000)}`);
  assert.doesNotMatch(text, new RegExp(admin), 'the token never appears in the output');
});
