import { buildSelector, escapeRegex, interpolateQuery, interpolateSelector } from './interpolate';
import { RexmonQuery } from './types';
import { TestTemplateSrv } from './test/templateSrv';

const srv = new TestTemplateSrv([
  { name: 'host', current: ['fnpc3001', 'fnpc.3003'], options: ['fnpc3001', 'fnpc3002', 'fnpc.3003'], multi: true },
  { name: 'one', current: 'fnpc3002', options: ['fnpc3001', 'fnpc3002'] },
  { name: 'all', current: ['$__all'], options: ['$__all', 'a', 'b+c'], multi: true, includeAll: true },
  { name: 'customall', current: '$__all', options: ['$__all', 'a', 'b'], includeAll: true, allValue: '.*' },
  { name: 'metrics', current: ['cpu_usage', 'disk_free'], options: ['cpu_usage', 'disk_free'], multi: true },
  { name: 'groups', current: ['host', 'state'], options: ['host', 'state'], multi: true },
  { name: 'quote', current: 'say "hi"\\', options: [] },
  { name: 'quotes', current: `it's "x"`, options: [] },
]);

function q(patch: Partial<RexmonQuery>): RexmonQuery {
  return { refId: 'A', queryType: 'timeseries', editorMode: 'builder', ...patch };
}

describe('escapeRegex', () => {
  it('escapes regex syntax but not characters a u-flag regex rejects escaped', () => {
    expect(escapeRegex('a.b*c+(d)|[e]{f}^$?/\\')).toBe('a\\.b\\*c\\+\\(d\\)\\|\\[e\\]\\{f\\}\\^\\$\\?\\/\\\\');
    expect(escapeRegex('fnpc-01_x')).toBe('fnpc-01_x');
    expect(() => new RegExp(`^(?:${escapeRegex('a-b.c/d')})$`, 'u')).not.toThrow();
  });
});

describe('builder filters', () => {
  it('turns a multi-value variable into an escaped alternation and = into =~', () => {
    const out = interpolateQuery(q({ metric: 'cpu_usage', labelFilters: [{ label: 'host', op: '=', value: '$host' }] }), srv);
    expect(out.labelFilters).toEqual([{ label: 'host', op: '=~', value: '(fnpc3001|fnpc\\.3003)' }]);
  });

  it('turns != into !~ and keeps =~ around the alternation', () => {
    const out = interpolateQuery(
      q({ labelFilters: [
        { label: 'host', op: '!=', value: '$host' },
        { label: 'host', op: '=~', value: '${host}-.*' },
      ] }),
      srv
    );
    expect(out.labelFilters).toEqual([
      { label: 'host', op: '!~', value: '(fnpc3001|fnpc\\.3003)' },
      { label: 'host', op: '=~', value: '(fnpc3001|fnpc\\.3003)-.*' },
    ]);
  });

  it('expands All to every value, or to the custom all value as written', () => {
    const out = interpolateQuery(
      q({ labelFilters: [
        { label: 'x', op: '=', value: '$all' },
        { label: 'y', op: '=', value: '$customall' },
      ] }),
      srv
    );
    expect(out.labelFilters).toEqual([
      { label: 'x', op: '=~', value: '(a|b\\+c)' },
      { label: 'y', op: '=~', value: '.*' },
    ]);
  });

  it('regex-escapes the literal text around a multi-value variable when = becomes =~', () => {
    const out = interpolateQuery(
      q({ labelFilters: [
        { label: 'host', op: '=', value: 'fnpc.$host' },
        { label: 'host', op: '!=', value: '[[host]]+$one' },
        { label: 'host', op: '=', value: '${host}$unknown' },
        { label: 'host', op: '=~', value: 'fnpc.$host' },
      ] }),
      srv
    );
    expect(out.labelFilters).toEqual([
      { label: 'host', op: '=~', value: 'fnpc\\.(fnpc3001|fnpc\\.3003)' },
      { label: 'host', op: '!~', value: '(fnpc3001|fnpc\\.3003)\\+fnpc3002' },
      { label: 'host', op: '=~', value: '(fnpc3001|fnpc\\.3003)\\$unknown' },
      // A regex the user wrote stays a regex.
      { label: 'host', op: '=~', value: 'fnpc.(fnpc3001|fnpc\\.3003)' },
    ]);
    // What the collector compiles matches the literal dot only.
    const re = new RegExp(`^(?:${out.labelFilters![0].value})$`, 'u');
    expect(re.test('fnpc.fnpc3001')).toBe(true);
    expect(re.test('fnpcXfnpc3001')).toBe(false);
  });

  it('leaves single-value variables and plain text as they are', () => {
    const out = interpolateQuery(q({ labelFilters: [{ label: 'host', op: '=', value: '$one' }, { label: 'mode', op: '!=', value: 'idle' }] }), srv);
    expect(out.labelFilters).toEqual([
      { label: 'host', op: '=', value: 'fnpc3002' },
      { label: 'mode', op: '!=', value: 'idle' },
    ]);
  });

  it('selects several metrics by __name__', () => {
    const out = interpolateQuery(q({ metric: '$metrics' }), srv);
    expect(out.metric).toBe('');
    expect(out.labelFilters).toEqual([{ label: '__name__', op: '=~', value: '(cpu_usage|disk_free)' }]);
  });

  it('splits a multi-value variable among the aggregation labels, and resolves step and legend variables', () => {
    const out = interpolateQuery(q({ metric: 'x', agg: 'sum', by: ['$groups', 'experiment'], step: '$one', legendFormat: '{{host}} $one' }), srv);
    expect(out.by).toEqual(['host', 'state', 'experiment']);
    expect(out.step).toBe('fnpc3002');
    expect(out.legendFormat).toBe('{{host}} fnpc3002');
  });

  it('takes scoped variables (repeated panels) first', () => {
    const out = interpolateQuery(q({ labelFilters: [{ label: 'host', op: '=', value: '$one' }] }), srv, {
      one: { text: 'r', value: 'repeat-1' },
    });
    expect(out.labelFilters![0].value).toBe('repeat-1');
  });
});

describe('hand-written selectors', () => {
  it('puts multi values as an alternation escaped for regex and for the quoted string', () => {
    expect(interpolateSelector('cpu_usage{host=~"$host"}', srv)).toBe('cpu_usage{host=~"(fnpc3001|fnpc\\\\.3003)"}');
    expect(interpolateSelector('host=~"$all"', srv)).toBe('host=~"(a|b\\\\+c)"');
  });

  it('escapes quotes and backslashes of single values', () => {
    expect(interpolateSelector('{msg="$quote"}', srv)).toBe('{msg="say \\"hi\\"\\\\"}');
    expect(interpolateSelector('{host="$one"}', srv)).toBe('{host="fnpc3002"}');
    expect(interpolateSelector('', srv)).toBe('');
  });

  it("escapes ' and \" for both quote styles the collector reads", () => {
    // The collector decodes \' and \" inside "…" and '…' alike: both give the value back.
    expect(interpolateSelector(`{msg="$quotes"}`, srv)).toBe(`{msg="it\\'s \\"x\\""}`);
    expect(interpolateSelector(`{msg='$quotes'}`, srv)).toBe(`{msg='it\\'s \\"x\\"'}`);
    expect(interpolateSelector(`{msg='$quote'}`, srv)).toBe(`{msg='say \\"hi\\"\\\\'}`);
  });
});

describe('code mode with multi-value and All variables', () => {
  const code = (expr: string, scopedVars?: Parameters<typeof interpolateQuery>[2]) =>
    interpolateQuery(q({ editorMode: 'code', expr }), srv, scopedVars).expr;

  it('turns = into =~ and != into !~ for an alternation, as the builder does', () => {
    expect(code('cpu_usage{host="$host"}')).toBe('cpu_usage{host=~"(fnpc3001|fnpc\\\\.3003)"}');
    expect(code('cpu_usage{mode!="$all", host="$one"}')).toBe('cpu_usage{mode!~"(a|b\\\\+c)", host="fnpc3002"}');
    expect(code("cpu_usage{host = '${host}'}")).toBe("cpu_usage{host =~ '(fnpc3001|fnpc\\\\.3003)'}");
    expect(code('{x="$customall"}')).toBe('{x=~".*"}');
    // A bare matcher list (no braces), as dashboards write them.
    expect(code('host="$host"')).toBe('host=~"(fnpc3001|fnpc\\\\.3003)"');
  });

  it('regex-escapes the literal text around the variable, and it still matches what = meant', () => {
    const out = code('{host="fnpc.$host"}')!;
    expect(out).toBe('{host=~"fnpc\\\\.(fnpc3001|fnpc\\\\.3003)"}');
    // The regex as the collector reads it (the quoted string decoded): the dot is literal.
    const re = new RegExp(`^(?:${out.match(/"(.*)"/)![1].replace(/\\(.)/g, '$1')})$`, 'u');
    expect(re.test('fnpc.fnpc3001')).toBe(true);
    expect(re.test('fnpc.fnpc.3003')).toBe(true);
    expect(re.test('fnpcXfnpc3001')).toBe(false);
    // Quotes in the literal text survive the round trip.
    expect(code('{msg="say \\"$host\\""}')).toBe('{msg=~"say \\"(fnpc3001|fnpc\\\\.3003)\\""}');
  });

  it('keeps = for a repeated panel (one value in scopedVars), with the value escaped', () => {
    expect(code('cpu_usage{host="$host"}', { host: { text: 'fnpc.3003', value: 'fnpc.3003' } })).toBe('cpu_usage{host="fnpc.3003"}');
    expect(code('{msg="$host"}', { host: { text: 'x', value: 'a"b' } })).toBe('{msg="a\\"b"}');
    // In a regex its value is a value: regex-escaped.
    expect(code('{host=~"$host"}', { host: { text: 'x', value: 'fnpc.3003' } })).toBe('{host=~"fnpc\\\\.3003"}');
  });

  it('selects several metrics by __name__, also inside rate()', () => {
    expect(code('$metrics{host="$one"}')).toBe('{__name__=~"(cpu_usage|disk_free)", host="fnpc3002"}');
    expect(code('$metrics')).toBe('{__name__=~"(cpu_usage|disk_free)"}');
    expect(code('rate($metrics{host="$host"})')).toBe('rate({__name__=~"(cpu_usage|disk_free)", host=~"(fnpc3001|fnpc\\\\.3003)"})');
    expect(code('$one{mode="x"}')).toBe('fnpc3002{mode="x"}');
  });

  it('refuses a multi-value variable where one value only fits, naming it', () => {
    expect(() => code('cpu_usage{$groups="x"}')).toThrow(/\$groups stands outside a quoted label value/);
  });

  it('does the same for annotation matchers', () => {
    expect(interpolateSelector('host="$host"', srv)).toBe('host=~"(fnpc3001|fnpc\\\\.3003)"');
  });
});

describe('buildSelector', () => {
  it('matches the backend', () => {
    expect(buildSelector('cpu_usage', [{ label: 'host', op: '=~', value: 'a.*' }, { label: '', op: '=', value: 'x' }])).toBe(
      'cpu_usage{host=~"a.*"}'
    );
    expect(buildSelector('odd name', [])).toBe('{__name__="odd name"}');
    expect(buildSelector('', [{ label: 'q', op: '=', value: 'a"b' }])).toBe('{q="a\\"b"}');
    expect(buildSelector(undefined, undefined)).toBe('');
  });
});
