// One syslog message (RFC 5424 or RFC 3164) → its fields, or why it is refused.
// nsyslog-parser decodes the PRI, tells the two formats apart and reads their timestamps. It is built to
// "extract as much as possible, without throwing", so it takes anything: measured on 0.10.1, it drops the
// first SD element when its SD-ID has no '@' (logger's `[timeQuality …]`), cuts SD values at an escaped
// quote, shifts every field when a hostname holds ':', takes `<13>1 notatime …` with the time of arrival,
// reads the words of a tagless RFC 3164 message as app/pid/msgid, and returns `{ err }` for PRI > 191.
// So the header fields and structured data are read here by the RFCs' grammar, and anything else refused.
import nsyslog from 'nsyslog-parser';

export type RefusalReason = 'octet_count' | 'oversize' | 'invalid_utf8' | 'missing_fields' | 'malformed';

export interface SdElement {
  id: string;
  params: [string, string][];
}

export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164';
  facility: string;
  severity: string;
  /** Unix milliseconds: the message's own time, or the time of arrival when it has none (RFC 5424 `-`). */
  time: number;
  /** Absent when the sender gave none (RFC 5424 `-`). */
  hostname?: string;
  app?: string;
  procid?: string;
  msgid?: string;
  sd: SdElement[];
  message: string;
}

export type ParseResult = { msg: SyslogMessage } | { reason: RefusalReason; error: string };

const show = (s: string) => JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
const refuse = (reason: RefusalReason, error: string) => ({ reason, error });

/** PRINTUSASCII (RFC 5424 §6): header fields are 33..126 only. */
const PRINTUSASCII = /^[\x21-\x7e]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const PRI = /^<(\d{1,3})>/;
/** RFC 5424 §6.2 field lengths. */
const FIELDS: [keyof SyslogMessage & string, number][] = [
  ['hostname', 255],
  ['app', 48],
  ['procid', 128],
  ['msgid', 32],
];

/** Parses one frame's text (no framing, no trailing newline). `nowMs` stands in for a missing time. */
export function parseSyslog(text: string, nowMs: number): ParseResult {
  const pri = PRI.exec(text);
  if (!pri) return refuse('missing_fields', `no <PRI> at the start: ${show(text)}`);
  if (Number(pri[1]) > 191) return refuse('malformed', `PRI ${pri[1]} is above 191 (facility 23, severity 7)`);
  const lib = nsyslog(text, { cef: false, leef: false, fields: false, pid: false, generateTimestamp: false });
  if ('err' in lib) return refuse('malformed', `unreadable header: ${show(text)}`);
  const facility = lib.facility!;
  const severity = lib.level!;
  const rest = text.slice(pri[0].length);
  if (lib.type === 'RFC5424') return parse5424(rest, facility, severity, lib.ts, nowMs);
  if (lib.type === 'BSD') return parse3164(rest, facility, severity, lib.ts, nowMs);
  return refuse(
    'missing_fields',
    `neither an RFC 5424 header (<PRI>1 TIME HOST APP PROCID MSGID SD) nor an RFC 3164 one (<PRI>Mmm dd hh:mm:ss HOST): ${show(text)}`,
  );
}

function parse5424(rest: string, facility: string, severity: string, ts: Date | undefined, nowMs: number): ParseResult {
  // VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, each followed by one SP, then SD [SP MSG].
  let pos = 0;
  const next = (): string | undefined => {
    if (pos >= rest.length) return undefined;
    const sp = rest.indexOf(' ', pos);
    const tok = sp < 0 ? rest.slice(pos) : rest.slice(pos, sp);
    pos = sp < 0 ? rest.length : sp + 1;
    return tok;
  };
  const version = next()!;
  if (version !== '1') return refuse('malformed', `syslog version ${show(version)} is not 1 (RFC 5424)`);
  const time = next();
  if (time === undefined) return refuse('missing_fields', 'RFC 5424 header ends after the version: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD missing');
  let ms = nowMs;
  if (time !== '-') {
    if (!RFC3339.test(time) || !ts || Number.isNaN(ts.getTime())) return refuse('malformed', `timestamp ${show(time)} is not RFC 3339 (or "-")`);
    ms = ts.getTime();
  }
  const msg: SyslogMessage = { format: 'rfc5424', facility, severity, time: ms, sd: [], message: '' };
  for (const [field, max] of FIELDS) {
    const tok = next();
    if (tok === undefined || tok === '')
      return refuse('missing_fields', `RFC 5424 header has no ${field.toUpperCase()} field (use "-" for none)${tok === '' ? ': two spaces in a row' : ''}`);
    if (tok.length > max || !PRINTUSASCII.test(tok)) return refuse('malformed', `${field} ${show(tok)} must be 1 to ${max} printable ASCII characters`);
    if (tok !== '-') (msg as unknown as Record<string, string>)[field] = tok;
  }
  if (pos >= rest.length) return refuse('missing_fields', 'RFC 5424 header has no STRUCTURED-DATA field (use "-" for none)');
  const sd = parseSd(rest, pos);
  if ('error' in sd) return refuse('malformed', sd.error);
  msg.sd = sd.elements;
  pos = sd.end;
  if (pos < rest.length) {
    if (rest[pos] !== ' ') return refuse('malformed', `expected a space after the structured data, got ${show(rest.slice(pos, pos + 20))}`);
    // A UTF-8 message may start with a BOM (RFC 5424 §6.4); it is not part of the text.
    // Relays put RFC 3164's space after the tag in front (rsyslog's %msg%): surrounding blanks are no content.
    msg.message = rest
      .slice(pos + 1)
      .replace(/^\uFEFF/, '')
      .trim();
  }
  return { msg };
}

/** SD-NAME: 1 to 32 PRINTUSASCII except '=', SP, ']', '"'. */
const sdNameChar = (c: string) => c > ' ' && c <= '~' && c !== '=' && c !== ']' && c !== '"';

function parseSd(s: string, start: number): { elements: SdElement[]; end: number } | { error: string } {
  if (s[start] === '-') return { elements: [], end: start + 1 };
  if (s[start] !== '[') return { error: `structured data must be "-" or [SD-ID param="value" ...], got ${show(s.slice(start, start + 20))}` };
  const elements: SdElement[] = [];
  let i = start;
  const name = (what: string): string | { error: string } => {
    let j = i;
    while (j < s.length && sdNameChar(s[j])) j++;
    const n = s.slice(i, j);
    if (n.length === 0 || n.length > 32) return { error: `${what} ${show(n)} must be 1 to 32 printable ASCII characters without '=', ' ', ']', '"'` };
    i = j;
    return n;
  };
  while (s[i] === '[') {
    i++;
    const id = name('SD-ID');
    if (typeof id !== 'string') return id;
    if (elements.some((e) => e.id === id)) return { error: `SD-ID ${show(id)} appears twice (RFC 5424 §6.3.2)` };
    const params: [string, string][] = [];
    while (s[i] === ' ') {
      i++;
      const p = name(`parameter name in [${id}]`);
      if (typeof p !== 'string') return p;
      if (s[i] !== '=' || s[i + 1] !== '"') return { error: `parameter ${show(p)} in [${id}] must be followed by ="value"` };
      i += 2;
      let v = '';
      for (;;) {
        if (i >= s.length) return { error: `value of ${show(p)} in [${id}] has no closing quote` };
        const c = s[i];
        if (c === '"') break;
        // Only '"', '\' and ']' are escaped; a backslash before anything else stays as it is (RFC 5424 §6.3.3).
        if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === ']')) {
          v += s[i + 1];
          i += 2;
        } else if (c === ']') {
          return { error: `unescaped ']' in the value of ${show(p)} in [${id}]` };
        } else {
          v += c;
          i++;
        }
      }
      i++;
      params.push([p, v]);
    }
    if (s[i] !== ']') return { error: `[${id}: expected a space and a parameter, or ']', got ${show(s.slice(i, i + 20))}` };
    i++;
    elements.push({ id, params });
  }
  return { elements, end: i };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** RFC 3164 §4.1.2: `Mmm dd hh:mm:ss HOSTNAME ` (day space-padded); the year is not sent. */
const BSD_HEADER = /^([A-Z][a-z]{2}) ( \d|\d{2}|\d) (\d{2}):(\d{2}):(\d{2}) (\S+)(?: |$)/;
/** The TAG: up to 32 (many senders: 48) alphanumerics-ish, then `[pid]` and/or ':' (RFC 3164 §4.1.3). */
const BSD_TAG = /^([^\s:[\]]{1,48})(?:\[([^\]\s]{1,128})\])?:(?: |$)/;

function parse3164(rest: string, facility: string, severity: string, ts: Date | undefined, nowMs: number): ParseResult {
  const h = BSD_HEADER.exec(rest);
  if (!h || !MONTHS.includes(h[1])) return refuse('malformed', `RFC 3164 header is not "Mmm dd hh:mm:ss HOSTNAME": ${show(rest)}`);
  const [day, hh, mm, ss] = [Number(h[2]), Number(h[3]), Number(h[4]), Number(h[5])];
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || !ts || Number.isNaN(ts.getTime()))
    return refuse('malformed', `RFC 3164 timestamp ${show(rest.slice(0, 15))} is not a valid date and time`);
  let ms = ts.getTime();
  // No year on the wire: nsyslog-parser takes this year; a message from late December read in early January is last year's.
  if (ms > nowMs + 86400_000) {
    const d = new Date(ms);
    d.setFullYear(d.getFullYear() - 1);
    ms = d.getTime();
  }
  // Local senders often leave the hostname out (`<13>Oct 11 22:14:15 su[77]: …`): a tag where it should be is the tag.
  const noHost = BSD_TAG.test(h[6] + ' ');
  const hostname = noHost ? undefined : h[6];
  if (hostname !== undefined && (hostname.length > 255 || !PRINTUSASCII.test(hostname)))
    return refuse('malformed', `hostname ${show(hostname)} must be printable ASCII`);
  const msg: SyslogMessage = { format: 'rfc3164', facility, severity, time: ms, sd: [], message: '' };
  if (hostname !== undefined) msg.hostname = hostname;
  const body = noHost ? rest.slice(h[0].length - h[6].length - (h[0].endsWith(' ') ? 1 : 0)) : rest.slice(h[0].length);
  const tag = BSD_TAG.exec(body);
  if (tag) {
    msg.app = tag[1];
    if (tag[2] !== undefined) msg.procid = tag[2];
    msg.message = body.slice(tag[0].length).trim();
  } else {
    msg.message = body.trim();
  }
  return { msg };
}

const KV = /(?:^|\s)([A-Za-z_][A-Za-z0-9_.:-]{0,99})=("(?:[^"\\]|\\.)*"|[^\s"]*)/g;

/** `key=value` pairs of a message (logfmt style: values bare or in double quotes with \" escapes). */
export function keyValues(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of message.matchAll(KV)) {
    const v = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, '$1') : m[2];
    if (!out.has(m[1])) out.set(m[1], v);
  }
  return out;
}
