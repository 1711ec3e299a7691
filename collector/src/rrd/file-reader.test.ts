// The direct reader answers what the real `rrdtool xport` answers: generated templates, data with gaps and
// unknowns, and queries before, across and after the data, compared value by value with xport on the same
// files; files it cannot read are left to xport; reads while a writer updates the file stay consistent.
import assert from 'node:assert/strict';
import { copyFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { RrdTemplate } from '../config/schema.js';
import { tempDir } from '../testing/harness.js';
import { CF, ReadSpec, RrdArchive, UpdateJob } from './archive.js';
import { readDirect } from './file-reader.js';
import { FileReaders } from './file-readers.js';
import { RrdtoolPipe } from './pipe.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let archive: RrdArchive;
let files = 0;
before(async () => {
  tmp = await tempDir();
  // xport on the pipes is the reference: this archive reads nothing directly unless asked to.
  archive = new RrdArchive({ root: tmp.dir, rrdtool: 'rrdtool', writers: 1, readers: 1, directRead: false });
});
after(async () => {
  await archive.close();
  await tmp.cleanup();
});

const CFS: CF[] = ['AVERAGE', 'MIN', 'MAX', 'LAST'];
const NOW = Math.floor(Date.now() / 1000);

const template = fc.record({
  step: fc.constantFrom(1, 10, 60, 300),
  type: fc.constantFrom('GAUGE', 'DDERIVE'),
  rras: fc.array(
    fc.record({
      cf: fc.subarray(CFS, { minLength: 1 }),
      steps: fc.constantFrom(1, 2, 3, 5, 12),
      rows: fc.integer({ min: 5, max: 300 }),
      xff: fc.constantFrom(0, 0.5, 0.99),
    }),
    { minLength: 1, maxLength: 4 },
  ),
}) as fc.Arbitrary<RrdTemplate>;

/** Points: gaps of 1–3 steps (sometimes longer than the heartbeat), values with unknowns among them. */
const points = fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { freq: 6 })), {
  minLength: 1,
  maxLength: 400,
});

async function makeFile(tpl: RrdTemplate, start: number, pts: [number, number | null][]): Promise<{ file: string; last: number }> {
  const file = path.join(tmp.dir, `f${files++}.rrd`);
  await archive.create(file, tpl, start);
  const times: number[] = [];
  const values: number[] = [];
  let t = start;
  let counter = 0;
  for (const [gap, v] of pts) {
    t += gap * tpl.step;
    // A DDERIVE is fed a running total, so its stored rates are ordinary numbers.
    counter += Math.abs(v ?? 0);
    times.push(t);
    values.push(v === null ? NaN : tpl.type === 'DDERIVE' ? counter : v);
  }
  const job: UpdateJob = { file, times, values, from: 0, to: times.length };
  const errors = await archive.update([job]);
  assert.equal(errors.size, 0, JSON.stringify([...errors.values()]));
  return { file, last: t };
}

/** Equal as xport prints them: NaN where xport says null, else within xport's 11 significant digits. */
function sameValue(direct: number, xport: number): boolean {
  if (Number.isNaN(direct) || Number.isNaN(xport)) return Number.isNaN(direct) && Number.isNaN(xport);
  const scale = Math.pow(10, Math.floor(Math.log10(Math.abs(xport) || 1)));
  return Math.abs(direct - xport) <= 5.0001e-11 * scale;
}

async function compare(specs: { file: string; ds: string }[], cf: CF, from: number, to: number, step: number, maxRows: number) {
  const what = JSON.stringify({ specs: specs.map((s) => path.basename(s.file)), cf, from, to, step, maxRows });
  let want;
  try {
    want = await archive.xport(specs, cf, from, to, step, maxRows);
  } catch (e) {
    // Whatever xport refuses (no RRA for the CF, ...) the reader leaves to it.
    assert.equal(readDirect(specs, cf, from, to, step, maxRows), undefined, `${what}: xport failed (${(e as Error).message}) but the reader answered`);
    return;
  }
  const got = readDirect(specs, cf, from, to, step, maxRows);
  assert.ok(got, `${what}: the reader gave up on a file xport reads`);
  assert.equal(got.start, want.start, `${what}: start`);
  assert.equal(got.step, want.step, `${what}: step`);
  got.columns.forEach((col, i) => {
    assert.equal(col.length, want.columns[i].length, `${what}: rows of series ${i}`);
    col.forEach((v, r) => assert.ok(sameValue(v, want.columns[i][r]), `${what}: series ${i} row ${r}: direct ${v}, xport ${want.columns[i][r]}`));
  });
}

const query = fc.record({
  fromOffset: fc.integer({ min: -3000, max: 3000 }),
  span: fc.integer({ min: 1, max: 200000 }),
  step: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 7200 })),
  maxRows: fc.integer({ min: 10, max: 2000 }),
  cf: fc.constantFrom(...CFS),
});

test('one series: the same rows, times and values as xport, for generated templates, data and queries', async () => {
  await fc.assert(
    fc.asyncProperty(template, points, fc.array(query, { minLength: 1, maxLength: 6 }), async (tpl, pts, queries) => {
      const start = NOW - 400000 - (NOW % 60);
      const { file, last } = await makeFile(tpl, start, pts);
      for (const q of queries) {
        // Anchored near the data: before it, across it, and after its last update.
        const anchor = q.fromOffset < 0 ? start : last;
        const from = anchor + q.fromOffset * tpl.step;
        await compare([{ file, ds: 'value' }], q.cf, from, from + q.span, q.step, q.maxRows);
      }
    }),
    { numRuns: 60 },
  );
});

test('several series of different templates in one read: the common step is their greatest common divisor, as in xport', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(template, points), { minLength: 2, maxLength: 3 }), query, async (series, q) => {
      const start = NOW - 400000 - (NOW % 3600);
      const made = [];
      for (const [tpl, pts] of series) made.push(await makeFile(tpl, start, pts));
      const last = Math.max(...made.map((m) => m.last));
      const from = (q.fromOffset < 0 ? start : last) + q.fromOffset * 10;
      await compare(
        made.map((m) => ({ file: m.file, ds: 'value' })),
        q.cf,
        from,
        from + q.span,
        q.step,
        q.maxRows,
      );
    }),
    { numRuns: 40 },
  );
});

test('files the reader does not know are left to xport, which names the error as before', async () => {
  const tpl: RrdTemplate = { step: 60, type: 'GAUGE', rras: [{ cf: ['AVERAGE'], steps: 1, rows: 100, xff: 0.5 }] };
  const start = NOW - 7200;
  const { file } = await makeFile(tpl, start, [[1, 1]]);
  const read = (f: string, ds = 'value', cf: CF = 'AVERAGE') => readDirect([{ file: f, ds }], cf, start, NOW, 60, 200);
  assert.ok(read(file), 'a good file is read');
  const garbage = path.join(tmp.dir, 'garbage.rrd');
  await writeFile(garbage, Buffer.alloc(5000, 7));
  const short = path.join(tmp.dir, 'short.rrd');
  await copyFile(file, short);
  await truncate(short, 1000);
  const cases: [string, () => unknown][] = [
    ['not an RRD file', () => read(garbage)],
    ['a file cut short', () => read(short)],
    ['a missing file', () => read(path.join(tmp.dir, 'missing.rrd'))],
    ['a data source the file does not have', () => read(file, 'other')],
  ];
  for (const [what, r] of cases) assert.equal(r(), undefined, what);
  // Through the archive the same reads still end in xport's own words.
  const failures: string[] = [];
  const direct = new RrdArchive({ root: tmp.dir, rrdtool: 'rrdtool', writers: 1, readers: 1, onDirectReadFailure: (m) => failures.push(m) });
  try {
    // A read the reader thread cannot take (here: a spec that cannot be posted to it) is answered by xport, and counted.
    const odd = { file, ds: 'value', note: () => 'not cloneable' } as unknown as ReadSpec;
    const viaXport = await direct.read([odd], 'AVERAGE', start, NOW, 60, 200);
    assert.equal(failures.length, 1);
    assert.match(failures[0], /could not be cloned/);
    assert.deepEqual(viaXport.columns, (await archive.xport([{ file, ds: 'value' }], 'AVERAGE', start, NOW, 60, 200)).columns);
    // Files it does not know are no failure: they go to xport without a count.
    await assert.rejects(direct.read([{ file: garbage, ds: 'value' }], 'AVERAGE', start, NOW, 60, 200), /not an RRD file|is not an RRD/i);
    await assert.rejects(direct.read([{ file: file, ds: 'other' }], 'AVERAGE', start, NOW, 60, 200), /No DS called 'other'/);
    const ok = await direct.read([{ file, ds: 'value' }], 'AVERAGE', start, NOW, 60, 200);
    const ref = await archive.xport([{ file, ds: 'value' }], 'AVERAGE', start, NOW, 60, 200);
    assert.deepEqual(ok.timestamps, ref.timestamps);
    assert.equal(failures.length, 1);
  } finally {
    await direct.close();
  }
});

test('reads while a writer updates the file show every value at its own time (no torn reads)', async () => {
  // value = its own timestamp at a 1 s step: a read that mixed an old row pointer with a new last update (or the
  // other way round) would show values beside the wrong times. The writer updates far more often than any file
  // is written here (rrdcached: once per flush; the pipes: once per batch), so reads meet updates often; a read
  // that gives up (undefined) would go to xport.
  const tpl: RrdTemplate = { step: 1, type: 'GAUGE', heartbeat: 10, rras: [{ cf: ['AVERAGE'], steps: 1, rows: 300, xff: 0.5 }] };
  const start = NOW - 100000;
  const { file } = await makeFile(tpl, start, [[1, start + 1]]);
  const writer = new RrdtoolPipe();
  const readers = new FileReaders(2);
  let t = start + 1;
  let writing = true;
  const write = (async () => {
    while (writing && t < NOW - 10) {
      let line = `update ${file}`;
      for (let k = 1; k <= 5; k++) line += ` ${t + k}:${t + k}`;
      await writer.run(line);
      t += 5;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let answered = 0;
  let gaveUp = 0;
  let values = 0;
  try {
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      const end = t;
      const r = await readers.read([{ file, ds: 'value' }], 'AVERAGE', end - 250, end, 1, 1000);
      if (!r) {
        gaveUp++;
        continue;
      }
      r.columns[0].forEach((v, i) => {
        if (Number.isNaN(v)) return;
        values++;
        const time = r.start + i * r.step;
        assert.equal(v, time, `read ${answered}: row at ${time} holds ${v}`);
      });
      answered++;
    }
  } finally {
    writing = false;
    await write;
    await writer.close();
    await readers.close();
  }
  assert.ok(answered > 100 && values > answered * 100, `${answered} reads answered (${gaveUp} gave up), ${values} values checked`);
});
