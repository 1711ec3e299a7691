// Parsers for what slurpers read: Graphite plaintext, JSON sample arrays, the Prometheus text format.
import { GraphiteMapper, parseGraphiteLine } from '../ingest/graphite.js';
import { checkEvent, EventInput } from '../events/model.js';
import { checkSample, Labels, Sample, ValidationError } from '../model/series.js';

export interface Parsed {
  samples: Sample[];
  errors: string[];
  /** Slurpers in events mode. */
  events?: EventInput[];
}

/**
 * Pull mode: a JSON array of events, or `{"events": [...]}`, each checked as POST /api/v1/events checks it.
 * A bad event is reported and skipped; the good ones are kept.
 */
export function parseJsonEvents(text: string, nowMs: number): Parsed {
  const out: Parsed = { samples: [], errors: [], events: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    out.errors.push(`not valid JSON: ${(e as Error).message}`);
    return out;
  }
  const list = Array.isArray(doc)
    ? doc
    : typeof doc === 'object' && doc !== null && Array.isArray((doc as { events?: unknown }).events)
      ? (doc as { events: unknown[] }).events
      : undefined;
  if (!list) {
    out.errors.push('expected a JSON array of events or {"events": [...]}');
    return out;
  }
  list.forEach((item, i) => {
    try {
      out.events!.push(checkEvent(item, nowMs, `[${i}]`));
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      out.errors.push(`${e.path ? e.path + ': ' : ''}${e.message}`);
    }
  });
  return out;
}

export function parseGraphiteText(text: string, mapper: GraphiteMapper, now: number): Parsed {
  const out: Parsed = { samples: [], errors: [] };
  text.split('\n').forEach((line, i) => {
    const r = parseGraphiteLine(line, mapper, now);
    if (!r) return;
    if ('error' in r) out.errors.push(`line ${i + 1}: ${r.error}`);
    else out.samples.push(r.sample);
  });
  return out;
}

/** A JSON array of `{name, labels?, value, time?}` (the same shape POST /api/v1/samples takes). */
export function parseJsonSamples(text: string, now: number): Parsed {
  const out: Parsed = { samples: [], errors: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    out.errors.push(`not valid JSON: ${(e as Error).message}`);
    return out;
  }
  if (!Array.isArray(doc)) {
    out.errors.push('expected a JSON array of samples');
    return out;
  }
  doc.forEach((item, i) => {
    try {
      if (typeof item !== 'object' || item === null) throw new Error('expected an object');
      out.samples.push(checkSample(item as never, now));
    } catch (e) {
      out.errors.push(`[${i}]: ${(e as Error).message}`);
    }
  });
  return out;
}

/**
 * The Prometheus text exposition format (version 0.0.4). NaN is stored as unknown, ±Inf skipped (an RRD
 * cannot hold it). Series of a `# TYPE … counter` family are marked as counters (stored as a rate).
 */
export function parsePrometheusText(text: string, now: number): Parsed {
  const out: Parsed = { samples: [], errors: [] };
  const counters = new Set<string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^#\s+TYPE\s+(\S+)\s+counter\s*$/.exec(line);
      if (type) counters.add(type[1]);
      continue;
    }
    try {
      let i = 0;
      const nameMatch = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line);
      if (!nameMatch) throw new Error('expected a metric name');
      const name = nameMatch[0];
      i = name.length;
      const labels: Labels = {};
      if (line[i] === '{') {
        i++;
        for (;;) {
          while (line[i] === ' ' || line[i] === ',') i++;
          if (line[i] === '}') {
            i++;
            break;
          }
          const ln = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(i));
          if (!ln) throw new Error('expected a label name');
          i += ln[0].length;
          if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`expected ="value" after ${ln[0]}`);
          i += 2;
          let v = '';
          while (i < line.length && line[i] !== '"') {
            if (line[i] === '\\') {
              const c = line[i + 1];
              v += c === 'n' ? '\n' : c;
              i += 2;
            } else v += line[i++];
          }
          if (line[i] !== '"') throw new Error('unterminated label value');
          i++;
          labels[ln[0]] = v;
        }
      }
      const rest = line.slice(i).trim().split(/\s+/);
      if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new Error('expected a value and an optional timestamp');
      const value = Number(rest[0]);
      if (!Number.isFinite(value) && !Number.isNaN(value)) continue; // ±Inf: no RRD value can say it
      const time = rest[1] !== undefined ? Number(rest[1]) / 1000 : now;
      if (!Number.isFinite(time)) throw new Error(`timestamp ${JSON.stringify(rest[1])} is not a number`);
      const sample = checkSample({ name, labels, value: Number.isNaN(value) ? null : value, time: Math.floor(time) }, now);
      out.samples.push(counters.has(name) ? { ...sample, counter: true } : sample);
    } catch (e) {
      out.errors.push(`line ${n + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}
