// Syslog messages → samples and events, by the configured mappings. A message no mapping takes is "unmapped":
// counted, and by default stored as an event of type `syslog`, so nothing sent is invisible.
import { RE2JS } from 're2js';
import type { SyslogMappingConfig } from '../config/schema.js';
import { EventInput, checkEvent } from '../events/index.js';
import { MAX_DATA_BYTES, MAX_DATA_KEYS } from '../events/model.js';
import { parseGraphiteNumber } from '../ingest/graphite.js';
import { checkLabels, checkMetricName, Labels, Sample } from '../model/series.js';
import { globToRegExp } from '../util/glob.js';
import { keyValues, SyslogMessage } from './parse.js';

export interface Mapped {
  samples: Sample[];
  event?: EventInput;
  /** No mapping took the message. */
  unmapped: boolean;
  /** Mapped values refused (bad name or label, missing or non-numeric value), one message each. */
  errors: string[];
}

interface Rule {
  matches(m: SyslogMessage): boolean;
  /** Candidate values with the variables to name them by, one set per source (an SD element, the message). */
  sources(m: SyslogMessage): { vars: Map<string, string> }[];
  values?: string[];
  name: string;
  labels: [string, string][];
  event: boolean;
}

export class SyslogMapper {
  private readonly rules: Rule[];

  constructor(
    mappings: SyslogMappingConfig[],
    private readonly storeUnmapped: boolean,
  ) {
    this.rules = mappings.map(compile);
  }

  /** `peer` is the source of a message without a hostname. */
  map(m: SyslogMessage, peer: string): Mapped {
    const out: Mapped = { samples: [], unmapped: true, errors: [] };
    let event = false;
    const t = Math.floor(m.time / 1000);
    for (const r of this.rules) {
      if (!r.matches(m)) continue;
      for (const { vars } of r.sources(m)) {
        out.unmapped = false;
        const expand = (s: string, key: string) => s.replace(/\$\{([A-Za-z0-9_.:@-]+)\}/g, (_, v: string) => (v === 'key' ? key : (vars.get(v) ?? '')));
        const keys = r.values ?? [...vars.keys()].filter((k) => !HEADER_VARS.has(k) && isNumber(vars.get(k)!));
        for (const key of keys) {
          const raw = vars.get(key);
          const value = raw === undefined ? undefined : parseGraphiteNumber(raw.trim());
          if (value === undefined) {
            out.errors.push(
              raw === undefined
                ? `value ${JSON.stringify(key)} is missing`
                : `value ${JSON.stringify(key)}=${JSON.stringify(raw.slice(0, 40))} is not a number`,
            );
            continue;
          }
          try {
            const labels: Labels = {};
            for (const [k, v] of r.labels) labels[k] = expand(v, key);
            out.samples.push({ name: checkMetricName(expand(r.name, key)), labels: checkLabels(labels), value, time: t });
          } catch (e) {
            out.errors.push(`${(e as Error).message} (value ${JSON.stringify(key)})`);
          }
        }
      }
      event ||= r.event;
    }
    if (event || (out.unmapped && this.storeUnmapped)) out.event = toEvent(m, peer);
    return out;
  }
}

/** Names every source offers besides its own values; never taken as values unless `values` names them. */
const HEADER_VARS = new Set(['app', 'hostname', 'msgid', 'procid', 'facility', 'severity', 'sdid']);

const isNumber = (s: string) => {
  const n = parseGraphiteNumber(s.trim());
  return n !== undefined && !Number.isNaN(n);
};

function header(m: SyslogMessage): Map<string, string> {
  const v = new Map<string, string>([
    ['facility', m.facility],
    ['severity', m.severity],
  ]);
  if (m.app) v.set('app', m.app);
  if (m.hostname) v.set('hostname', m.hostname);
  if (m.msgid) v.set('msgid', m.msgid);
  if (m.procid) v.set('procid', m.procid);
  return v;
}

/** Own values first, then the header: a param named `app` does not hide the app-name… unless asked by name. */
function withHeader(m: SyslogMessage, own: Iterable<[string, string]>): Map<string, string> {
  const v = header(m);
  for (const [k, x] of own) if (!v.has(k)) v.set(k, x);
  return v;
}

function compile(c: SyslogMappingConfig): Rule {
  const glob = (g: string | undefined) => (g === undefined ? undefined : globToRegExp(g));
  const f = {
    app: glob(c.match.app),
    hostname: glob(c.match.hostname),
    msgid: glob(c.match.msgid),
    facility: glob(c.match.facility),
    severity: glob(c.match.severity),
  };
  const sdMatch = glob(c.match.sdId);
  const fits = (re: RegExp | undefined, v: string | undefined) => !re || (v !== undefined && re.test(v));
  const matches = (m: SyslogMessage) =>
    fits(f.app, m.app) &&
    fits(f.hostname, m.hostname) &&
    fits(f.msgid, m.msgid) &&
    fits(f.facility, m.facility) &&
    fits(f.severity, m.severity) &&
    (!sdMatch || m.sd.some((e) => sdMatch.test(e.id)));
  let sources: Rule['sources'];
  if (c.sd !== undefined) {
    const re = globToRegExp(c.sd);
    sources = (m) =>
      m.sd
        .filter((e) => re.test(e.id))
        .map((e) => {
          const vars = withHeader(m, e.params);
          vars.set('sdid', e.id);
          return { vars };
        });
  } else if (c.kv) {
    sources = (m) => {
      const kv = keyValues(m.message);
      return kv.size ? [{ vars: withHeader(m, kv) }] : [];
    };
  } else {
    // RE2: linear time whatever the message, so a sender cannot stall the listener with a crafted line.
    const re = RE2JS.compile(c.regex!);
    const groups = Object.keys(re.namedGroups());
    sources = (m) => {
      const x = re.matcher(m.message);
      if (!x.find()) return [];
      const own: [string, string][] = [];
      for (const g of groups) {
        const v = x.group(g);
        if (v !== null) own.push([g, v]);
      }
      return [{ vars: withHeader(m, own) }];
    };
  }
  return { matches, sources, values: c.values, name: c.name, labels: Object.entries(c.labels), event: c.event };
}

/**
 * The message as an event: type `syslog`, source its hostname (else the sender's address), labels app, facility,
 * severity, msgid; data the message, the procid and the SD params as `SD-ID.name`. Data is bounded
 * (events.MAX_DATA_BYTES): a longer message is cut, and `truncated` says how long it was.
 */
export function toEvent(m: SyslogMessage, peer: string): EventInput {
  const labels: Labels = { facility: m.facility, severity: m.severity };
  if (m.app) labels.app = m.app;
  if (m.msgid) labels.msgid = m.msgid;
  const data: Record<string, string | number> = { message: m.message };
  if (m.procid) data.procid = m.procid;
  for (const e of m.sd) for (const [k, v] of e.params) if (Object.keys(data).length < MAX_DATA_KEYS - 1) data[`${e.id}.${k}`.slice(0, 100)] = v;
  let bytes = Buffer.byteLength(JSON.stringify(data));
  if (bytes > MAX_DATA_BYTES) {
    data.truncated = m.message.length;
    // SD params go first: the message is what an operator reads.
    for (const k of Object.keys(data).reverse()) {
      if (k === 'message' || k === 'truncated' || k === 'procid') continue;
      if (Buffer.byteLength(JSON.stringify(data)) <= MAX_DATA_BYTES - 64) break;
      delete data[k];
    }
    bytes = Buffer.byteLength(JSON.stringify(data));
    if (bytes > MAX_DATA_BYTES) {
      // Cut by characters until it fits; JSON escapes make bytes and characters differ, so measure again.
      let text = m.message;
      while (Buffer.byteLength(JSON.stringify({ ...data, message: text })) > MAX_DATA_BYTES) text = text.slice(0, Math.floor(text.length * 0.9) - 1);
      data.message = text;
    }
  }
  // Header fields are printable ASCII (parse.ts), so checkEvent only refuses what the message text cannot hold.
  return checkEvent({ type: 'syslog', source: (m.hostname ?? peer).slice(0, 200), time: m.time, labels, data }, Date.now());
}
