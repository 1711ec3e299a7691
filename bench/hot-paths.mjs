#!/usr/bin/env node
// The per-sample hot paths of ingest, each beside its baseline in the same process: a Graphite line read by the
// common-line reader against the general parser (what every line went through before), and a batch encoded for
// the write-ahead log in binary against the JSON records of earlier versions. Best of --runs passes over --series
// distinct series (one line / sample each), baseline and new interleaved, so a pause of the shared machine does not count.
// Usage: node bench/hot-paths.mjs [--series 20000] [--runs 15]
import { parseArgs } from 'node:util';
import { GraphiteMapper, parseGeneralLine, parseGraphiteLine } from '../collector/dist/ingest/graphite.js';
import { LineSplitter } from '../collector/dist/ingest/lines.js';
import { encodeJson, encodeSamples } from '../collector/dist/wal/sample-codec.js';
import { positiveIntegers } from './lib.mjs';

const { values: opt } = parseArgs({ options: { series: { type: 'string', default: '20000' }, runs: { type: 'string', default: '15' } } });
const { series: SERIES, runs: RUNS } = positiveIntegers(opt, ['series', 'runs']);

const id = (s) => `s${String(s).padStart(6, '0')}`;
const mapping = [{ match: 'sus.*.value', name: 'sus_value', labels: { id: '$1' } }];
// 64 KB chunks, as a socket hands them over; 10 rounds of every series.
const chunks = [];
for (let k = 0; k < 10; k++) {
  let text = '';
  for (let s = 0; s < SERIES; s++) text += `sus.${id(s)}.value ${s + k / 1000} ${1764547200 + k}\n`;
  for (let i = 0; i < text.length; i += 65536) chunks.push(text.slice(i, i + 65536));
}

/** Best ns per item of each run, the runs interleaved (a, b, a, b, …) so that a slow spell hits both alike. */
function bestNsPer(...runs) {
  const best = runs.map(() => Infinity);
  for (let r = 0; r < RUNS; r++)
    runs.forEach((run, i) => {
      const t0 = performance.now();
      const n = run();
      best[i] = Math.min(best[i], ((performance.now() - t0) * 1e6) / n);
    });
  return best;
}

function parseRun(parse) {
  const mapper = new GraphiteMapper(mapping);
  let batch = [];
  const splitter = new LineSplitter(
    1000,
    (line) => {
      const r = parse(line, mapper, 1764547200);
      if (r && 'sample' in r) batch.push(r.sample);
    },
    () => {},
  );
  return () => {
    let n = 0;
    for (const c of chunks) {
      splitter.push(c);
      n += batch.length;
      batch = [];
    }
    return n;
  };
}

// Samples as the Graphite listener makes them: a series' samples share one name and labels object.
const mapper = new GraphiteMapper(mapping);
const samples = Array.from({ length: SERIES }, (_, s) => {
  const { name, labels } = mapper.series(`sus.${id(s)}.value`);
  return { name, labels, value: s + 0.123, time: 1764547200 };
});
const encodeRun = (encode) => () => (encode({ source: 'graphite_tcp', samples }), samples.length);

const [general, common] = bestNsPer(parseRun(parseGeneralLine), parseRun(parseGraphiteLine));
const [json, binary] = bestNsPer(encodeRun(encodeJson), encodeRun(encodeSamples));
const bytes = (encode) => (encode({ source: 'graphite_tcp', samples }).length / SERIES).toFixed(1);

console.log(`hot paths: ${SERIES.toLocaleString('en')} series, best of ${RUNS} runs\n`);
console.log('| path | baseline (same run) | now | now ÷ baseline |');
console.log('|---|---|---|---|');
console.log(
  `| Graphite line → sample | general parser ${general.toFixed(0)} ns | common-line reader ${common.toFixed(0)} ns | ${(common / general).toFixed(2)} |`,
);
console.log(
  `| write-ahead log, encode a sample | JSON ${json.toFixed(0)} ns (${bytes(encodeJson)} B) | binary ${binary.toFixed(0)} ns (${bytes(encodeSamples)} B) | ${(binary / json).toFixed(2)} |`,
);
