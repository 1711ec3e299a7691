// Every series the validator accepts gets a file that stays in the root, passes the protocol check, differs
// from every other series' file, and that a real rrdcached (with -B, as we run it) takes UPDATE and FLUSH for.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkLabels, checkMetricName, Labels, seriesKey } from '../model/series.js';
import { tempDir } from '../testing/harness.js';
import { createArgs } from './archive.js';
import { RrdcachedClient, RrdcachedProcess } from './cached.js';
import { isProtocolSafePath, resolveInside, seriesFile } from './naming.js';
import { arg, RrdtoolPipe } from './pipe.js';

const chars = (s: string) => [...s];
const LETTERS = chars('abcXYZ_');
// Dots weighted heavily: runs of them are what rrdcached refuses ("../").
const NAME_REST = fc.constantFrom(...LETTERS, ...chars('09:-'), '.', '.', '.', '.');
const metricName = fc
  .tuple(fc.constantFrom(...LETTERS, ':'), fc.string({ unit: NAME_REST, maxLength: 60 }), fc.boolean())
  .map(([first, rest, long]) => (first + rest + (long ? 'x'.repeat(150) : '')).slice(0, 200));
const valueUnit = fc.oneof(
  fc.constantFrom('.', '..', '/', '../', '%', '%2E', ',', '=', ' ', '"', "'", ':', '\\', 'é', '\u{1F600}', '\ud800', '\udc00', 'h-', 'a'),
  fc.string({ unit: 'grapheme', maxLength: 1 }),
);
const labelValue = fc.oneof(fc.string({ unit: valueUnit, maxLength: 40 }), fc.string({ unit: valueUnit, minLength: 300, maxLength: 1024 }));
const labels = fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/), labelValue, { maxKeys: 4 });

test('generated series get distinct, protocol-safe files inside the root that rrdcached writes and flushes', async () => {
  const tmp = await tempDir();
  const root = path.join(tmp.dir, 'archive');
  await mkdir(root);
  const cached = new RrdcachedProcess('rrdcached', root, path.join(tmp.dir, 'rrdcached'), 300, () => {});
  await cached.start();
  const client = new RrdcachedClient(cached.address);
  const pipe = new RrdtoolPipe('rrdtool');
  const tpl = { type: 'GAUGE' as const, step: 60, rras: [{ cf: ['AVERAGE' as const], xff: 0.5, steps: 1, rows: 10 }] };
  const fileOf = new Map<string, string>();
  const keyOf = new Map<string, string>();
  const now = Math.floor(Date.now() / 1000);
  let updates = 0;
  try {
    await fc.assert(
      fc.asyncProperty(metricName, labels, async (rawName, rawLabels) => {
        let name: string;
        let ls: Labels;
        try {
          name = checkMetricName(rawName);
          ls = checkLabels(rawLabels);
        } catch {
          return fc.pre(false); // only what the validator accepts
        }
        const key = seriesKey(name, ls);
        const rel = seriesFile(name, ls);
        if (fileOf.has(key)) assert.equal(fileOf.get(key), rel, 'one series, one file');
        assert.equal(keyOf.get(rel) ?? key, key, `two series share ${rel}`);
        fileOf.set(key, rel);
        keyOf.set(rel, key);
        const abs = resolveInside(root, rel);
        assert.ok(abs.startsWith(root + path.sep), abs);
        assert.ok(isProtocolSafePath(abs), abs);
        await mkdir(path.dirname(abs), { recursive: true });
        await pipe.run(['create', arg(abs), ...createArgs(tpl, now - 600)].join(' '));
        const t = now - 600 + ++updates; // a later time for every update: a series tried again (re-created) takes it too
        assert.equal((await client.command(`UPDATE ${rel} ${t}:1`)).status, 0, `UPDATE ${rel}`);
        assert.equal((await client.command(`FLUSH ${rel}`)).status, 0, `FLUSH ${rel}`);
      }),
      { numRuns: 300 },
    );
    assert.ok(keyOf.size > 100, `only ${keyOf.size} distinct series were tried`);
  } finally {
    await client.close();
    await pipe.close();
    await cached.stop();
    await tmp.cleanup();
  }
});
