// The syslog parser and the TCP framing on exact inputs: what nsyslog-parser gets wrong is read right here,
// and each bad frame is refused alone with its reason while the frames around it come through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfigText } from '../config/load.js';
import { FrameSplitter } from './framing.js';
import { SyslogMapper, toEvent } from './mapping.js';
import { keyValues, parseSyslog, RefusalReason, SyslogMessage } from './parse.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const ok = (line: string): SyslogMessage => {
  const r = parseSyslog(line, NOW);
  assert.ok('msg' in r, `${line}: ${JSON.stringify(r)}`);
  return r.msg;
};
const bad = (line: string) => {
  const r = parseSyslog(line, NOW);
  assert.ok('reason' in r, `${line} should be refused: ${JSON.stringify(r)}`);
  return r;
};

test('RFC 5424: header fields, NILVALUEs, several SD elements with escapes, a BOM before the message', () => {
  assert.deepEqual(
    ok('<165>1 2026-12-01T11:59:00.5+01:00 host.example.org app 1234 ID47 [timeQuality tzKnown="1"][ex@32473 a="x \\"q\\" \\]y\\\\" b=""] \uFEFFhello'),
    {
      format: 'rfc5424',
      facility: 'local4',
      severity: 'notice',
      time: Date.UTC(2026, 11, 1, 10, 59, 0, 500),
      hostname: 'host.example.org',
      app: 'app',
      procid: '1234',
      msgid: 'ID47',
      sd: [
        { id: 'timeQuality', params: [['tzKnown', '1']] },
        {
          id: 'ex@32473',
          params: [
            ['a', 'x "q" ]y\\'],
            ['b', ''],
          ],
        },
      ],
      message: 'hello',
    },
  );
  // Every field nil: a valid (empty) message, at the time of arrival.
  assert.deepEqual(ok('<13>1 - - - - - -'), { format: 'rfc5424', facility: 'user', severity: 'notice', time: NOW, sd: [], message: '' });
  // A ':' in the hostname (IPv6) shifts nothing.
  assert.equal(ok('<13>1 2026-12-01T11:00:00Z fe80::1 a - - - m').hostname, 'fe80::1');
  // A backslash before another character stays.
  assert.deepEqual(ok('<13>1 - h a - - [x p="C:\\dir"]').sd, [{ id: 'x', params: [['p', 'C:\\dir']] }]);
});

test('RFC 3164: tag with and without pid, no tag, and a December message read in January is last year', () => {
  const m = ok("<34>Oct 11 22:14:15 mymachine su[77]: 'su root' failed");
  assert.deepEqual([m.facility, m.severity, m.hostname, m.app, m.procid, m.message], ['auth', 'crit', 'mymachine', 'su', '77', "'su root' failed"]);
  assert.equal(new Date(m.time).getMonth(), 9);
  const notag = ok('<13>Dec  1 11:00:00 myhost the job finished ok');
  assert.equal(notag.app, undefined, 'words of the message are not app, pid, msgid');
  assert.equal(notag.message, 'the job finished ok');
  const local = ok('<13>Dec  1 11:00:00 su[77]: no hostname');
  assert.deepEqual([local.hostname, local.app, local.procid, local.message], [undefined, 'su', '77', 'no hostname']);
  const jan = Date.UTC(2027, 0, 1, 0, 10);
  const r = parseSyslog('<13>Dec 31 23:59:00 h a: x', jan);
  assert.ok('msg' in r);
  assert.equal(new Date(r.msg.time).getFullYear(), new Date(jan).getFullYear() - 1);
});

test('bad messages: each refused with its reason and a message naming what is wrong', () => {
  const cases: [string, RefusalReason, RegExp][] = [
    ['no pri at all', 'missing_fields', /no <PRI>/],
    ['<13>', 'missing_fields', /neither an RFC 5424/],
    ['<13>just words', 'missing_fields', /neither an RFC 5424/],
    ['<13>1 - host app', 'missing_fields', /no PROCID/],
    ['<13>1 - host app - -', 'missing_fields', /no STRUCTURED-DATA/],
    ['<13>1 - host  app - - -', 'missing_fields', /two spaces/],
    ['<192>1 - - - - - -', 'malformed', /PRI 192 is above 191/],
    ['<13>2 - - - - - -', 'malformed', /version "2"/],
    ['<13>1 yesterday h a - - -', 'malformed', /timestamp "yesterday"/],
    ['<13>1 2026-13-45T99:00:00Z h a - - -', 'malformed', /not RFC 3339/],
    ['<13>1 - h a - - [x a="1"', 'malformed', /\[x/],
    ['<13>1 - h a - - [x a=1]', 'malformed', /="value"/],
    ['<13>1 - h a - - [x a="1"]msg', 'malformed', /space after the structured data/],
    ['<13>1 - h a - - [x a="1"][x b="2"]', 'malformed', /appears twice/],
    ['<13>1 - h a - - [x a="]"]', 'malformed', /unescaped '\]'/],
    [`<13>1 - h ${'a'.repeat(49)} - - -`, 'malformed', /app .* 1 to 48/],
    ['<13>Foo 12 10:00:00 h a: x', 'malformed', /RFC 3164 header/],
    ['<13>Dec 41 10:00:00 h a: x', 'malformed', /not a valid date/],
  ];
  for (const [line, reason, msg] of cases) {
    const r = bad(line);
    assert.equal(r.reason, reason, line);
    assert.match(r.error, msg, line);
  }
});

test('key=value pairs: bare and quoted values, first one wins', () => {
  assert.deepEqual(
    [...keyValues('done bytes=10 user="a b \\"c\\"" x= bytes=11 =3 a.b=1')],
    [
      ['bytes', '10'],
      ['user', 'a b "c"'],
      ['x', ''],
      ['a.b', '1'],
    ],
  );
});

test('mapping: names and labels are checked as for every other input; unmapped messages become events', () => {
  const mapper = new SyslogMapper(
    [
      { match: { app: 'm*' }, sd: 'v@1', name: 'm_${key}', labels: { host: '${hostname}' }, event: false },
      { match: { app: 'bad' }, kv: true, name: 'x/${key}', labels: {}, event: false },
      { match: { app: 'lbl' }, kv: true, name: 'ok_${key}', labels: { l: '${note}' }, values: ['n', 'missing'], event: true },
    ],
    true,
  );
  const m1 = ok('<13>1 2026-12-01T11:00:00Z h1 meter - - [v@1 a="1.5" b="nan" s="text"][w@1 c="3"] x');
  assert.deepEqual(mapper.map(m1, '10.0.0.1'), {
    samples: [{ name: 'm_a', labels: { host: 'h1' }, value: 1.5, time: Date.UTC(2026, 11, 1, 11) / 1000 }],
    unmapped: false,
    errors: [],
  });
  const m2 = mapper.map(ok('<13>1 - h bad - - - v=1'), 'p');
  assert.equal(m2.samples.length, 0);
  assert.match(m2.errors[0], /metric name "x\/v" is invalid/);
  const m3 = mapper.map(ok('<13>1 - h lbl - - - n=2 note=a'), 'p');
  assert.deepEqual(
    m3.samples.map((s) => [s.name, s.labels, s.value]),
    [['ok_n', { l: 'a' }, 2]],
  );
  assert.deepEqual(m3.errors, ['value "missing" is missing']);
  assert.equal(m3.event?.type, 'syslog');
  const un = mapper.map(ok('<13>1 - - other - - - hi'), '10.0.0.9');
  assert.equal(un.unmapped, true);
  assert.deepEqual(un.event, {
    type: 'syslog',
    source: '10.0.0.9',
    time: NOW,
    labels: { app: 'other', facility: 'user', severity: 'notice' },
    data: { message: 'hi' },
  });
});

test('a message longer than an event holds is stored cut, with its length', () => {
  const long = 'x'.repeat(10000);
  const e = toEvent(ok(`<13>1 - h a - - [s@1 k="v"] ${long}`), 'p');
  assert.equal(e.data.truncated, 10000);
  assert.ok(Buffer.byteLength(JSON.stringify(e.data)) <= 4096);
  assert.ok(long.startsWith(String(e.data.message)) && String(e.data.message).length > 3500);
});

/** Splits `input` fed in pieces of `chunk` bytes; returns the frames and refusals in order. */
function split(input: Buffer, chunk: number, max = 200): string[] {
  const out: string[] = [];
  const s = new FrameSplitter(max, { frame: (b) => out.push(b.toString('utf8')), refused: (r) => out.push(`!${r}`) });
  for (let i = 0; i < input.length; i += chunk) s.push(input.subarray(i, i + chunk));
  s.end();
  return out;
}
const oc = (m: string) => `${Buffer.byteLength(m)} ${m}`;

test('framing: octet-counted and LF-framed frames mixed on one stream, in any chunking', () => {
  const a = '<13>1 - h a - - - one';
  const b = '<13>Dec  1 10:00:00 h b: two';
  const c = '<13>1 - h c - - - três';
  const input = Buffer.from(oc(a) + b + '\n' + oc(c) + oc(a) + b + '\r\n' + b);
  for (const chunk of [1, 3, 7, 1000]) assert.deepEqual(split(input, chunk), [a, b, c, a, b, b], `chunk ${chunk}`);
});

test('framing: each bad frame is refused alone, the frames around it survive', () => {
  const a = '<13>1 - h a - - - before';
  const z = '<13>1 - h z - - - after jobs=5';
  const cases: [string, string[]][] = [
    // count too long: swallows the start of the next frame
    [oc(a) + `${Buffer.byteLength(a) + 10} ${a}` + oc(z), [a, '!octet_count', z]],
    // count too short: the byte after it starts no frame
    [oc(a) + `${Buffer.byteLength(a) - 5} ${a}` + oc(z), [a, '!octet_count', z]],
    // count with no <PRI> behind it
    [oc(a) + '9 garbage!' + oc(z), [a, '!octet_count', z]],
    // count too short, the message ending in digits right before the next count (`…jobs=5` then `24 <13>…`)
    [oc(a) + `${Buffer.byteLength(z) - 3} ${z}` + oc(a), [a, '!octet_count', a]],
    // oversize, octet-counted and LF-framed
    [oc(a) + oc('<13>1 - h a - - - ' + 'x'.repeat(300)) + oc(z), [a, '!oversize', z]],
    [a + '\n<13>1 - h a - - - ' + 'y'.repeat(300) + '\n' + z + '\n', [a, '!oversize', z]],
    // a count that ends the stream early
    [oc(a) + '150 <13>1 - h', [a, '!octet_count']],
  ];
  for (const [input, want] of cases)
    for (const chunk of [1, 5, 4096]) assert.deepEqual(split(Buffer.from(input), chunk), want, `${JSON.stringify(input.slice(0, 80))} by ${chunk}`);
});

test('framing: a complete octet-counted frame waits for the byte after it, or for flush()', () => {
  const out: string[] = [];
  const s = new FrameSplitter(100, { frame: (b) => out.push(b.toString()), refused: (r) => out.push(r) });
  assert.equal(s.push(Buffer.from('9 <13>1 x')), false, 'incomplete');
  assert.equal(s.push(Buffer.from('yz')), true, 'complete, waiting for what follows');
  assert.deepEqual(out, []);
  s.flush();
  assert.deepEqual(out, ['<13>1 xyz']);
  assert.ok(s.empty);
  // A count with no <PRI> behind it is refused at once, not after the bytes it announced.
  s.push(Buffer.from('90 oops'));
  assert.deepEqual(out, ['<13>1 xyz', 'octet_count']);
});

function configProblems(text: string): string[] {
  try {
    parseConfigText(text, 'rexmon.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail(`no error for ${text}`);
}

test('config: syslog is off by default; a bad address or mapping names its key', () => {
  const c = parseConfigText('', 'rexmon.yaml');
  assert.equal(c.syslog.tcp, false);
  assert.equal(c.syslog.udp, false);
  assert.equal(c.syslog.unmapped, 'event');
  const p = configProblems(
    [
      'syslog:',
      '  tcp: localhost',
      '  mappings:',
      '    - {name: a}',
      '    - {name: b, kv: true, sd: x}',
      "    - {name: c, regex: '(unclosed'}",
      "    - {name: d, regex: 'no groups'}",
      '    - {name: e, kv: true, labels: {"bad-label": x}}',
      '    - {name: f, kv: true, match: {appname: x}}',
    ].join('\n'),
  ).join('\n');
  assert.match(p, /syslog\.tcp \(line 2\): expected HOST:PORT/);
  assert.match(p, /syslog\.mappings\.0 \(line 4\): needs exactly one of sd, kv, regex .* got none/);
  assert.match(p, /syslog\.mappings\.1 \(line 5\): needs exactly one of sd, kv, regex .* got sd, kv/);
  assert.match(p, /syslog\.mappings\.2\.regex .*not a valid RE2 regex/);
  assert.match(p, /syslog\.mappings\.3\.regex .*has no named group/);
  assert.match(p, /syslog\.mappings\.4\.labels\.bad-label \(line 8\)/);
  assert.match(p, /syslog\.mappings\.5\.match .*appname/);
});
