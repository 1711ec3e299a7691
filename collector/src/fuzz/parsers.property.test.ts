// Every parser a remote party (or an operator's file) reaches, fed generated input: it answers, or refuses
// with the project's own error naming what was wrong — never a TypeError, RangeError or a hang; and what
// it accepts is safe to use: a series it yields maps to a file inside the archive root whose path can go
// on rrdcached's line protocol. The listeners themselves are fuzzed through real sockets in
// ingest.property.test.ts and syslog/framing.property.test.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, parseConfigText } from '../config/load.js';
import { checkFields } from '../downtimes/model.js';
import { checkEvent } from '../events/model.js';
import { GraphiteMapper, parseGraphiteLine } from '../ingest/graphite.js';
import { parseSelector } from '../matchers/selector.js';
import { checkSample, ValidationError } from '../model/series.js';
import { isProtocolSafePath, seriesFile } from '../rrd/naming.js';
import { parseSyslog } from '../syslog/parse.js';
import { parseDuration, parseTime } from '../util/time.js';

const RUNS = Number(process.env.REXMON_FUZZ_RUNS ?? 400);
/** A parser that takes longer than this on one input of a few KB has a pathological case (no speed claim). */
const HANG_MS = 2000;
const NOW = 1764547200;

/** Runs fn on one input: it returns, or throws an error of `kinds` with a message; the error is returned. */
function answersOrRefuses(what: string, input: unknown, fn: () => unknown, kinds: (new (...a: never[]) => Error)[] = [ValidationError]): Error | undefined {
  const t0 = performance.now();
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(
      kinds.some((k) => e instanceof k),
      `${what}: ${JSON.stringify(input)?.slice(0, 200)} threw ${(e as Error)?.name}: ${(e as Error)?.message} (not a refusal)`,
    );
    assert.ok((e as Error).message.trim().length > 0, `${what}: a refusal without a message`);
    return e as Error;
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < HANG_MS, `${what}: ${ms.toFixed(0)} ms on ${JSON.stringify(input)?.slice(0, 200)}`);
  }
}

// Text close to each grammar, with the characters that break parsers: quotes, escapes, braces, NUL,
// newlines, surrogates, long runs.
const nasty = fc.constantFrom(
  '"',
  '\\',
  '{',
  '}',
  '=',
  '~',
  '!',
  ',',
  '(',
  ')',
  '|',
  '*',
  '+',
  '?',
  '[',
  ']',
  '.',
  '..',
  '/',
  '\n',
  '\r',
  '\u0000',
  ' ',
  '\t',
  'é',
  '\ud800',
  '💥',
  'a',
  'Z',
  '0',
  '9',
  '_',
  ':',
  '-',
  '<',
  '>',
);
const soup = (max: number) =>
  fc.oneof(fc.string({ maxLength: max }), fc.string({ unit: nasty, maxLength: max }), fc.string({ unit: 'binary', maxLength: max }));

test('selectors: any text is a selector or a ValidationError naming `match`; regexes never hang (RE2)', () => {
  const ident = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/);
  const value = fc.oneof(
    soup(20),
    fc.constantFrom('(a+)+$', '(.*a){20}', '[', '\\', '(?i)x', '(?P<n>x)', '\\p{L}+', 'a{1000000}', '(' + 'a|'.repeat(300) + 'b)'),
  );
  const op = fc.constantFrom('=', '!=', '=~', '!~', '==', '~', '');
  const matcher = fc.tuple(ident, op, value).map(([k, o, v]) => `${k}${o}${JSON.stringify(v)}`);
  const selector = fc.oneof(
    soup(80),
    fc
      .tuple(fc.option(ident), fc.array(matcher, { maxLength: 4 }), fc.constantFrom('', ',', '}', '{'))
      .map(([n, ms, tail]) => `${n ?? ''}{${ms.join(',')}${tail}}`),
  );
  fc.assert(
    fc.property(selector, (text) => {
      const e = answersOrRefuses('parseSelector', text, () => parseSelector(text));
      if (e) assert.ok((e as ValidationError).path?.startsWith('match'), `path ${(e as ValidationError).path} for ${JSON.stringify(text)}`);
    }),
    { numRuns: RUNS * 3 },
  );
});

test('Graphite lines: a sample that passes checkSample and maps to a protocol-safe file inside the archive, or a refusal with a reason', () => {
  const mapper = new GraphiteMapper([
    { preset: 'collectd', prefix: 'collectd' } as never,
    { match: 'farm.*.load', name: 'load', labels: { host: '$1' } } as never,
  ]);
  const pathPart = fc.oneof(soup(12), fc.constantFrom('collectd', 'farm', 'load', '..', '.', '', 'cpu-0', 'a/b'));
  const line = fc.oneof(
    soup(120),
    fc
      .tuple(
        fc.array(pathPart, { minLength: 1, maxLength: 6 }),
        fc.oneof(soup(12), fc.double().map(String)),
        fc.oneof(soup(12), fc.integer().map(String), fc.constant('')),
      )
      .map(([p, v, t]) => `${p.join('.')} ${v} ${t}`),
  );
  const root = '/var/lib/rexmon/rrd';
  fc.assert(
    fc.property(line, (text) => {
      let r: ReturnType<typeof parseGraphiteLine>;
      answersOrRefuses('parseGraphiteLine', text, () => (r = parseGraphiteLine(text, mapper, NOW)));
      if (!r) return; // an empty line
      if ('error' in r) {
        assert.ok(r.error.length > 0);
        return;
      }
      const s = r.sample;
      checkSample({ name: s.name, labels: s.labels, value: s.value, time: s.time }, NOW); // throws if unsafe
      const rel = seriesFile(s.name, s.labels);
      const abs = path.resolve(root, rel);
      assert.ok(abs.startsWith(root + path.sep), `${JSON.stringify(text)} → ${abs}`);
      assert.ok(isProtocolSafePath(abs), `${JSON.stringify(text)} → ${JSON.stringify(abs)} not safe for rrdcached`);
    }),
    { numRuns: RUNS * 3 },
  );
});

test('HTTP sample bodies: checkSample accepts a sample whose file is inside the archive and protocol-safe, or refuses naming the field', () => {
  const labelValue = fc.oneof(soup(30), fc.anything());
  const raw = fc.record(
    {
      name: fc.oneof(soup(40), fc.anything()),
      labels: fc.oneof(fc.dictionary(soup(12), labelValue, { maxKeys: 5 }), fc.anything()),
      value: fc.oneof(fc.double(), fc.anything()),
      time: fc.oneof(fc.integer({ min: NOW - 1e6, max: NOW + 1e6 }), fc.anything()),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(raw, (r) => {
      let s: ReturnType<typeof checkSample> | undefined;
      const e = answersOrRefuses('checkSample', r, () => (s = checkSample(r as never, NOW, '[0]')));
      if (e) return assert.match((e as ValidationError).path ?? '', /^\[0\]\.(name|labels|value|time)/);
      const abs = path.resolve('/data/rrd', seriesFile(s!.name, s!.labels));
      assert.ok(abs.startsWith('/data/rrd/') && isProtocolSafePath(abs), abs);
    }),
    { numRuns: RUNS * 2 },
  );
});

test('syslog messages: any frame text parses or is refused with a reason and a message', () => {
  const pri = fc.oneof(
    fc.integer({ min: 0, max: 999 }).map((n) => `<${n}>`),
    soup(5),
  );
  const ts = fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    soup(25),
    fc.constant('-'),
    fc.constant('Dec  1 16:02:21'),
  );
  const sd = fc.oneof(
    fc.constant('-'),
    fc.tuple(soup(10), soup(10), soup(15)).map(([id, k, v]) => `[${id} ${k}="${v}"]`),
    soup(30),
  );
  const frame = fc.oneof(
    soup(200),
    fc.tuple(pri, ts, soup(12), soup(10), soup(6), soup(8), sd, soup(60)).map(([p, t, h, a, pid, m, s, msg]) => `${p}1 ${t} ${h} ${a} ${pid} ${m} ${s} ${msg}`),
    fc.tuple(pri, ts, soup(12), soup(60)).map(([p, t, h, msg]) => `${p}${t} ${h} ${msg}`),
  );
  fc.assert(
    fc.property(frame, (text) => {
      let r: ReturnType<typeof parseSyslog> | undefined;
      answersOrRefuses('parseSyslog', text, () => (r = parseSyslog(text, NOW * 1000)), []);
      if (r && 'error' in r) assert.ok(r.reason && r.error.length > 0, JSON.stringify(r));
    }),
    { numRuns: RUNS * 3 },
  );
});

test('event bodies: checkEvent accepts or refuses naming the field', () => {
  const raw = fc.oneof(
    fc.anything(),
    fc.record(
      {
        type: fc.oneof(soup(20), fc.anything()),
        source: fc.oneof(soup(20), fc.anything()),
        time: fc.oneof(fc.integer(), fc.double(), soup(25), fc.anything()),
        labels: fc.oneof(fc.dictionary(soup(10), soup(20), { maxKeys: 4 }), fc.anything()),
        data: fc.anything(),
      },
      { requiredKeys: [] },
    ),
  );
  fc.assert(
    fc.property(raw, (r) => {
      const e = answersOrRefuses('checkEvent', r, () => checkEvent(r, NOW * 1000, '[3]'));
      if (e) assert.match((e as ValidationError).path ?? '', /^\[3\]|^body$/, `${e.message} for ${JSON.stringify(r)?.slice(0, 100)}`);
    }),
    { numRuns: RUNS * 2 },
  );
});

test('downtime bodies: checkFields accepts or refuses naming the field; recurrence rules never hang', () => {
  const when = fc.oneof(
    fc.integer({ min: 0, max: 4e9 }),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    soup(25),
    fc.anything(),
  );
  const recurrence = fc.oneof(
    fc.anything(),
    fc.record(
      {
        cron: fc.oneof(fc.constantFrom('0 6 * * 2', '*/1 * * * *', '0 0 31 2 *', '* * * * * *', '@yearly', '0 0 * * 1#5'), soup(20)),
        duration: fc.oneof(fc.constantFrom('2h', '1s', '0s', '-1h', '100y'), soup(8), fc.integer()),
        timezone: fc.oneof(fc.constantFrom('Europe/Zurich', 'America/Chicago', 'UTC', 'Nowhere/Else'), soup(10)),
        until: when,
      },
      { requiredKeys: [] },
    ),
  );
  const body = fc.oneof(
    fc.anything(),
    fc.record(
      {
        kind: fc.oneof(fc.constantFrom('planned', 'unplanned'), soup(10), fc.anything()),
        match: fc.oneof(soup(40), fc.dictionary(soup(8), soup(12), { maxKeys: 3 }), fc.constant('host=~"fnpc.*"'), fc.anything()),
        start: when,
        end: fc.oneof(when, fc.constant(null)),
        reason: fc.oneof(soup(40), fc.anything()),
        author: fc.oneof(soup(20), fc.anything()),
        recurrence,
      },
      { requiredKeys: [] },
    ),
  );
  fc.assert(
    fc.property(body, (b) => {
      const e = answersOrRefuses('checkFields', b, () => checkFields(b, NOW));
      if (e) assert.ok(((e as ValidationError).path ?? '').length > 0, `no field named: ${e.message}`);
    }),
    // Found by this test: an empty key was refused naming nothing.
    { numRuns: RUNS * 2, examples: [[{ '': '' }]] },
  );
});

test('config files: any YAML is a config or a ConfigError naming the key path or the line', () => {
  const key = fc.constantFrom(
    'listen',
    'dataDir',
    'rrd',
    'pipeline',
    'graphite',
    'syslog',
    'auth',
    'events',
    'alarms',
    'notify',
    'slurpers',
    'tcp',
    'udp',
    'queueCapacity',
    'templates',
    'x',
  );
  const scalar = fc.oneof(
    fc.constantFrom('127.0.0.1:0', 'false', 'true', '-1', '1e309', '0x10', '~', '""', "'a'", '[]', '{}', '*a', '&a b', '!!binary x', '<<: *a'),
    soup(15),
  );
  const yamlish = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 3 }), key, scalar), { maxLength: 12 })
    .map((lines) => lines.map(([d, k, v]) => `${'  '.repeat(d)}${k}: ${v}`).join('\n'));
  fc.assert(
    fc.property(fc.oneof(yamlish, soup(200)), (text) => {
      const e = answersOrRefuses('parseConfigText', text, () => parseConfigText(text, 'fuzz.yaml'), [ConfigError]);
      if (e) {
        const problems = (e as ConfigError).problems;
        assert.ok(problems.length > 0 && problems.every((p) => p.trim().length > 0), e.message);
        assert.ok(e.message.startsWith('fuzz.yaml: '), 'names the file');
      }
    }),
    // Found by this test: an alias without its anchor threw the yaml library's ReferenceError.
    { numRuns: RUNS * 2, examples: [['listen: *a'], ['*"']] },
  );
});

test('times and durations in parameters: a number of seconds or a ValidationError naming the parameter', () => {
  const text = fc.oneof(
    soup(30),
    fc.constantFrom(
      'now-1h',
      'now',
      '1764547200',
      '1764547200000',
      '2026-12-01T10:00:00Z',
      '2026-12-01 10:00',
      '1e400',
      '-0',
      'now-99999999999y',
      '5m',
      '1.5h',
      'P1D',
    ),
  );
  fc.assert(
    fc.property(fc.oneof(text, fc.double()), (v) => {
      for (const [what, fn] of [
        ['parseTime', () => parseTime(v, NOW, 'from')],
        ['parseDuration', () => parseDuration(v, 'step')],
      ] as const) {
        let out: number | undefined;
        const e = answersOrRefuses(what, v, () => (out = fn()));
        if (e) assert.ok(e.message.includes(what === 'parseTime' ? 'from' : 'step') || (e as ValidationError).path, e.message);
        else assert.ok(Number.isFinite(out), `${what}(${JSON.stringify(v)}) = ${out}`);
      }
    }),
    { numRuns: RUNS * 2 },
  );
});
