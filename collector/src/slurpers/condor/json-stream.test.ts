// The array splitter against JSON.parse: any chunking of any array of objects gives the same objects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ObjectArraySplitter } from './json-stream.js';

function split(chunks: string[]) {
  const got: unknown[] = [];
  const s = new ObjectArraySplitter((o) => got.push(o));
  for (const c of chunks) s.push(c);
  s.end();
  return { got, splitter: s };
}

/** condor_q's own layout: `[`, one attribute per line, `,` on a line of its own between ads. */
function condorLayout(ads: object[]) {
  return ads.length ? `[\n${ads.map((a) => JSON.stringify(a, null, 2)).join('\n,\n')}\n]\n` : '';
}

const tricky = fc.oneof(fc.string(), fc.constantFrom('}', '{', '"', '\\', '\\"}', '],[', '\u00e9\u{1F600}', '\\u0041'));
const ad = fc.dictionary(
  fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), tricky),
  fc.oneof(
    tricky,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tricky, { maxLength: 3 }),
    fc.dictionary(tricky, tricky, { maxKeys: 2 }),
  ),
  { maxKeys: 6 },
);

test('json-stream: any array of objects, cut anywhere, gives what JSON.parse gives', () => {
  fc.assert(
    fc.property(fc.array(ad, { maxLength: 8 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (ads, pretty, cuts) => {
      const text = pretty ? condorLayout(ads) : JSON.stringify(ads);
      const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...at].map((a, i, all) => text.slice(a, all[i + 1] ?? text.length));
      assert.deepEqual(split(chunks).got, text === '' ? [] : JSON.parse(text));
    }),
    { numRuns: 2000 },
  );
});

test('json-stream: a backslash at the very end of a chunk escapes the first character of the next', () => {
  const text = JSON.stringify([{ a: 'x"}y', b: '\\' }, { c: 1 }]);
  for (let i = 0; i <= text.length; i++) assert.deepEqual(split([text.slice(0, i), text.slice(i)]).got, [{ a: 'x"}y', b: '\\' }, { c: 1 }], `cut at ${i}`);
});

test('json-stream: empty output and [] are an empty queue; broken input says where', () => {
  assert.deepEqual(split(['']).got, []);
  assert.deepEqual(split([' \n']).got, []);
  assert.deepEqual(split(['[', ' ]\n']).got, []);
  const bad: [string, RegExp][] = [
    ['[{"a":1},', /ended inside the JSON array after 1 object/],
    ['[{"a":1}', /ended inside the JSON array after 1 object/],
    ['[{"a":', /ended inside/],
    ['{"a":1}', /unexpected "\{" at character 0 .*expected "\["/],
    ['[1,2]', /unexpected "1" at character 1 .*expected an object or "\]"/],
    ['[{"a":1} {"b":2}]', /unexpected "\{" at character 9 \(after 1 object\(s\)\): expected "," or "\]"/],
    ['[{"a":1},]', /expected an object/],
    ['[{"a":1}]x', /expected nothing after "\]"/],
    ['[{"a":01}]', /object 1: /],
    ['[{"a":1},{"b":tru}]', /object 2: /],
    ['Error: communication error\n', /unexpected "E" at character 0/],
  ];
  for (const [text, re] of bad) assert.throws(() => split([text]), re, text);
});

test('json-stream: memory is bounded by the largest object, not the array', () => {
  const one = { JobStatus: 2, Owner: 'alice', AcctGroup: 'group_nova.prod', RequestCpus: 1, RequestMemory: 2000, QDate: 1764547200 };
  const objLen = JSON.stringify(one, null, 2).length;
  let n = 0;
  const s = new ObjectArraySplitter(() => n++);
  s.push('[\n');
  const chunk = Array.from({ length: 1000 }, () => JSON.stringify(one, null, 2)).join('\n,\n');
  for (let i = 0; i < 50; i++) {
    // Cut mid-object on purpose: 65,536-character pieces as a pipe delivers them.
    const piece = (i ? '\n,\n' : '') + chunk;
    for (let k = 0; k < piece.length; k += 65536) s.push(piece.slice(k, k + 65536));
  }
  s.push('\n]\n');
  s.end();
  assert.equal(n, 50000);
  assert.ok(s.maxHeld <= objLen, `held ${s.maxHeld} characters at most (one object is ${objLen})`);
  assert.throws(() => new ObjectArraySplitter(() => {}, 100).push(`[{"a":"${'x'.repeat(200)}`), /object 1 is larger than 100 characters/);
});
