// Property: whatever a sender puts in a name, a label value, a timestamp or a value, each sample is either
// stored and read back equal from its RRD file, or refused with a reason (an HTTP 400 naming it, or a
// counter in /metrics for Graphite) — and the collector keeps writing everything else (a canary series).
// Generated inputs through the real HTTP and Graphite listeners, rrdcached and rrdtool.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { seriesKey } from '../model/series.js';
import { api, rrdFetch, sendTcp, startCollector, TestCollector } from '../testing/harness.js';

let c: TestCollector;
let caseNo = 0;
let canary = 0;
const now = () => Math.floor(Date.now() / 1000);
const START = now() - 3000; // canary times: one a second from here, before any clock-relative case

before(async () => {
  // One-second rows keep every value in a row of its own: what went in must come out equal.
  c = await startCollector({
    auth: { anonymousWrite: true },
    rrd: { templates: { fine: { step: 1, heartbeat: 5, rras: [{ cf: ['LAST'], steps: 1, rows: 7200 }] } }, defaultTemplate: 'fine' },
  });
});
after(() => c.stop());

const nameChar = fc.constantFrom(...'abcxyzABZ_:.-09', '.', '..', '/', ' ', '%', 'é', ';', '=', '\n', '\u0000');
const name = fc.oneof(
  fc.string({ unit: nameChar, minLength: 1, maxLength: 30 }),
  fc.constantFrom('x..', '..', '.hidden', 'a/../b', 'cpu.load', 'x'.repeat(250)),
);
const labelValue = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', '.', '..', '/', '../', '%2E', ',', '=', '"', "'", ' ', '\\', 'é', '\u{1F600}', '\n', '\t', 'h-'), maxLength: 40 }),
  fc.string({ maxLength: 1100 }),
);
// Offsets from now, and times no archive can take.
const time = fc.oneof(
  fc.integer({ min: -3500, max: 900 }).map((d) => now() + d),
  fc.constantFrom(0, -1, 86400, 1e20, 32503680000, now() * 1000),
);
// rrdtool fetch prints 10 significant digits: beyond ±1e300 its rounding can overflow to ±inf when read back.
const value = fc.oneof(fc.double({ min: -1e300, max: 1e300, noNaN: true }), fc.integer(), fc.constantFrom(0, -0, 1e300, -1e-300, NaN));

interface Case {
  name: string;
  labels: Record<string, string>;
  time: number;
  value: number;
}
const sampleCase = fc.record({ name, labels: fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,5}$/), labelValue, { maxKeys: 3 }), time, value });

async function counters(): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n'))
    if (/^rexmon_(input_errors_total|samples_dropped_total|samples_rejected_total)\{/.test(line)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

/** The value stored at a time for a series, or undefined when the collector holds no such series. */
async function stored(s: Case & { labels: Record<string, string> }, t: number): Promise<number | null | undefined> {
  // An empty label is no label, as in Prometheus.
  const e = c.collector.catalog.get(seriesKey(s.name, Object.fromEntries(Object.entries(s.labels).filter(([, v]) => v !== ''))));
  if (!e) return undefined;
  const sec = Math.floor(t > 1e11 ? t / 1000 : t);
  return (await rrdFetch(e.file, 'LAST', sec - 1, sec, 1)).get(sec);
}

function same(got: number | null | undefined, want: number): boolean {
  if (Number.isNaN(want)) return got === null;
  if (got === null || got === undefined) return false;
  return got === want || Math.abs(got - want) <= Math.abs(want) * 1e-9;
}

async function writeCanary() {
  const t = START + ++canary;
  const r = await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify([{ name: 'canary', value: canary, time: t }]) });
  assert.equal(r.status, 202);
  return { t, v: canary };
}

test('HTTP: every generated sample is stored and read back equal, or refused with a 400 naming it', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(sampleCase, { minLength: 1, maxLength: 8 }), async (cases) => {
      const sent: { s: Case; status: number; body: unknown }[] = [];
      for (const raw of cases) {
        const s = { ...raw, labels: { ...raw.labels, case: String(++caseNo) } };
        const r = await api(c.url, '/api/v1/samples', { method: 'POST', body: JSON.stringify([{ ...s, value: Number.isNaN(s.value) ? null : s.value }]) });
        sent.push({ s, status: r.status, body: r.body });
      }
      const can = await writeCanary();
      assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
      for (const { s, status, body } of sent) {
        if (status === 400) {
          assert.match(JSON.stringify(body), /"errors":\[\{"index":0,"path":"\[0\][^"]*","message":"[^"]+"/, 'a refusal names the field and why');
          continue;
        }
        assert.equal(status, 202, JSON.stringify(body));
        // Accepted means stored: the generated times all lie within the template's 2 hours of rows.
        const got = await stored(s, s.time);
        assert.ok(same(got, s.value), `${JSON.stringify(s)} was accepted but reads back as ${got}`);
      }
      assert.equal(await stored({ name: 'canary', labels: {}, time: can.t, value: can.v }, can.t), can.v, 'the collector keeps writing');
    }),
    { numRuns: 25 },
  );
});

test('Graphite: every generated line is stored and read back equal, or refused and counted; the canary keeps being written', async () => {
  const valueText = (v: number) => (Number.isNaN(v) ? 'nan' : String(v));
  const text = fc.oneof(
    // Graphite reads -1 as "now": send 0 (refused) instead, so the line's time is the one checked.
    sampleCase
      .map((g) => ({ ...g, time: g.time === -1 ? 0 : g.time }))
      .map((s) => ({ s, line: `${s.name};case=${++caseNo} ${valueText(s.value)} ${s.time}`, label: String(caseNo) })),
    fc.constantFrom('0x10', '0b11', '', 'Infinity', '1_000', '--1', '1e', '.5', '5.', '+3', '-2e-3', 'NaN').map((v) => ({
      s: { name: 'odd_value', labels: {}, time: now() - 100, value: Number(v) },
      line: `odd_value;case=${++caseNo} ${v} ${now() - 100}`,
      label: String(caseNo),
    })),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 10 }), async (lines) => {
      const before = await counters();
      await sendTcp(c.graphiteTcp!.host, c.graphiteTcp!.port, lines.map((l) => l.line).join('\n') + '\n');
      const can = await writeCanary();
      assert.equal((await api(c.url, '/api/v1/admin/flush', { method: 'POST' })).status, 200);
      let missing = 0;
      for (const { s, label } of lines) {
        const got = await stored({ ...s, labels: { case: label } }, s.time);
        if (got === undefined) missing++;
        else if (!same(got, s.value)) assert.fail(`${JSON.stringify(s)} read back as ${got}`);
      }
      // A line whose name carries ';' or '=' splits into other tags; it then lands elsewhere or is refused.
      // Every line that is not where it should be has its count: the counters rose at least that much.
      assert.ok((await counters()) - before >= missing - lines.filter((l) => /[;=\s]/.test(l.s.name)).length, 'no line vanished silently');
      assert.equal(await stored({ name: 'canary', labels: {}, time: can.t, value: can.v }, can.t), can.v, 'the collector keeps writing');
    }),
    { numRuns: 25 },
  );
});
