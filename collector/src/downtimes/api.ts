// /api/v1/downtimes and /api/v1/annotations. Reads need viewer, writes editor; errors name the field.
import express, { Request, Router } from 'express';
import { HttpError } from '../api/http-error.js';
import { extraPaths } from '../api/openapi.js';
import * as p from '../api/params.js';
import { requireRole } from '../api/server.js';
import { requester } from '../audit/index.js';
import { parseSelector } from '../matchers/selector.js';
import { ValidationError } from '../model/series.js';
import { Actor, DowntimeStore } from './store.js';
import {
  annotationTags,
  couldOverlap,
  currentOccurrence,
  covers,
  Downtime,
  KINDS,
  Kind,
  occurrenceList,
  occurrences,
  scopeOf,
  stateAt,
  STATES,
  toJson,
} from './model.js';
import type { TargetStatus } from './reconciler.js';

export interface RouterAuth {
  auth: { anonymousRead: boolean; anonymousWrite: boolean };
}

const nowSec = () => Date.now() / 1000;

function list<T extends string>(req: Request, name: string, allowed: readonly T[]): T[] {
  const out: T[] = [];
  for (const raw of p.strings(req, name))
    for (const v of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const hit = allowed.find((a) => a === v.toLowerCase());
      if (!hit) throw new HttpError(400, `parameter ${name}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`, name);
      if (!out.includes(hit)) out.push(hit);
    }
  return out;
}

/** The `match` / `match[]` selectors; none (or only empty ones) means no filter. */
function filters(req: Request) {
  return p
    .selectors(req, false)
    .map((s) => s.matchers)
    .filter((m) => m.length > 0);
}

/** Whether some series could be in both the downtime's scope and one of the filters (no filters: yes). */
function inFilters(d: Downtime, sel: ReturnType<typeof filters>): boolean {
  return sel.length === 0 || sel.some((f) => couldOverlap(scopeOf(d).matchers, f));
}

function actor(req: Request, fallback?: string): Actor {
  const by = (req.body as Record<string, unknown> | undefined)?.by ?? p.one(req, 'by');
  if (by !== undefined && (typeof by !== 'string' || by.trim() === '' || by.length > 200))
    throw new ValidationError('by must be a non-empty string naming who makes the change', 'by');
  const principal = req.principal?.name ?? 'anonymous';
  const { via, from } = requester(req);
  return { actor: (by as string | undefined)?.trim() ?? fallback ?? principal, principal, via, from };
}

/** Whether a downtime touches [from, to): an occurrence, or the window of one not (yet) started. */
function touches(d: Downtime, from: number, to: number): boolean {
  if (occurrences(d, from, to, 1).length) return true;
  if (d.cancelledAt !== null || (d.flexible && d.triggeredAt === null)) return d.start < to && (d.end === null || d.end > from);
  return false;
}

export function downtimeRouter(store: DowntimeStore, deps: RouterAuth, syncStatus: () => TargetStatus[]): Router {
  const r = express.Router();
  const read = requireRole('viewer', deps);
  const write = requireRole('editor', deps);

  r.get('/downtimes', read, async (req, res) => {
    const now = nowSec();
    const from = p.one(req, 'from') === undefined ? undefined : p.time(req, 'from', 0);
    const to = p.one(req, 'to') === undefined ? undefined : p.time(req, 'to', 0);
    if (from !== undefined && to !== undefined && to <= from) throw new ValidationError('to must be after from', 'to');
    const kinds = list(req, 'kind', KINDS);
    const states = list(req, 'state', STATES);
    const sel = filters(req);
    const limit = p.int(req, 'limit', 1, 100000) ?? 1000;
    const found = await store.list({ kinds, includeCancelled: states.length === 0 || states.includes('cancelled'), from, to });
    const out = found.filter((d) => {
      if (states.length && !states.includes(stateAt(d, now))) return false;
      if ((from !== undefined || to !== undefined) && !touches(d, from ?? 0, to ?? Infinity)) return false;
      return inFilters(d, sel);
    });
    res.json({ data: out.slice(0, limit).map((d) => toJson(d, now)), meta: { truncated: out.length > limit, limit } });
  });

  r.post('/downtimes', write, async (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    const d = await store.create(body, actor(req, typeof body?.author === 'string' ? body.author : undefined), nowSec());
    const json = toJson(d, nowSec());
    // Filed with a window already in the past (a date typed wrong, an example copied): say so, it silences nothing.
    const warnings = json.state === 'ended' ? [`downtime #${d.id} is already over: it will not silence anything`] : undefined;
    res
      .status(201)
      .location(`/api/v1/downtimes/${d.id}`)
      .json({ data: json, ...(warnings ? { warnings } : {}) });
  });

  // "Is this series in downtime now (or at `at`), and by which records?"
  r.get('/downtimes/active', read, async (req, res) => {
    const at = p.time(req, 'at', nowSec());
    const seriesText = p.one(req, 'series');
    const active = (await store.list({ from: at, to: at + 1 })).filter((d) => currentOccurrence(d, at));
    if (seriesText === undefined) return void res.json({ data: { time: at, inDowntime: active.length > 0, downtimes: active.map((d) => toJson(d, at)) } });
    const sel = parseSelector(seriesText, 'series');
    const labels: Record<string, string> = {};
    let name = '';
    for (const m of sel.matchers) {
      if (m.op !== '=') throw new ValidationError('series: give one series with = only, e.g. cpu_usage{host="fnpc3001"}', 'series');
      if (m.name === '__name__') name = m.value;
      else labels[m.name] = m.value;
    }
    const hits = active.filter((d) => covers(d, name, labels));
    res.json({ data: { time: at, series: { name, labels }, inDowntime: hits.length > 0, downtimes: hits.map((d) => toJson(d, at)) } });
  });

  r.get('/downtimes/sync', read, (_req, res) => void res.json({ data: syncStatus() }));

  r.get('/downtimes/:id', read, async (req, res) => {
    res.json({ data: toJson(await store.mustGet(String(req.params.id)), nowSec()) });
  });

  r.patch('/downtimes/:id', write, async (req, res) => {
    const d = await store.update(String(req.params.id), req.body, actor(req), nowSec());
    res.json({ data: toJson(d, nowSec()) });
  });

  r.delete('/downtimes/:id', write, async (req, res) => {
    const d = await store.cancel(String(req.params.id), actor(req), nowSec());
    res.json({ data: toJson(d, nowSec()) });
  });

  r.post('/downtimes/:id/end', write, async (req, res) => {
    const d = await store.end(String(req.params.id), actor(req), nowSec());
    res.json({ data: toJson(d, nowSec()) });
  });

  r.get('/downtimes/:id/history', read, async (req, res) => {
    res.json({ data: await store.history(String(req.params.id)) });
  });

  // Downtimes as Grafana region annotations: one per occurrence, times in milliseconds.
  r.get('/annotations', read, async (req, res) => {
    const now = nowSec();
    const to = p.time(req, 'to', now);
    const from = p.time(req, 'from', to - 86400);
    if (to <= from) throw new ValidationError('to must be after from', 'to');
    const kinds = list(req, 'kind', ['downtime', ...KINDS] as const);
    const wanted: Kind[] = kinds.length === 0 || kinds.includes('downtime') ? [...KINDS] : (kinds as Kind[]);
    const sel = filters(req);
    const limit = p.int(req, 'limit', 1, 100000) ?? 10000;
    const out: { id: string; time: number; timeEnd: number; title: string; text: string; tags: string[] }[] = [];
    // Each downtime gives at most `limit` occurrences (the earliest); any cut is reported in meta.
    let truncated = false;
    for (const d of await store.list({ from, to, kinds: wanted })) {
      if (!inFilters(d, sel)) continue;
      const tags = annotationTags(d);
      const title = `${d.kind === 'planned' ? 'Planned' : 'Unplanned'} downtime ${d.match}`;
      const occ = occurrenceList(d, from, to, limit);
      truncated ||= occ.truncated;
      for (const o of occ.list) {
        out.push({
          id: d.recurrence ? `downtime-${d.id}-${o.start}` : `downtime-${d.id}`,
          time: o.start * 1000,
          timeEnd: Math.round((o.end ?? Math.max(now, o.start)) * 1000),
          title,
          text: `${d.reason} (${d.author}, downtime #${d.id})`,
          tags,
        });
      }
    }
    out.sort((a, b) => a.time - b.time);
    res.json({ data: out.slice(0, limit), meta: { truncated: truncated || out.length > limit, limit } });
  });

  return r;
}

// The OpenAPI description of these routes, merged into /api/v1/openapi.json.
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const ok = (schema: object, description = 'OK') => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties: { data: schema } } } },
});
const meta = {
  type: 'object',
  description: 'truncated: more matched than limit; narrow the range or raise limit',
  properties: { truncated: { type: 'boolean' }, limit: { type: 'integer' } },
};
const okList = (items: object) => ({
  description: 'OK',
  content: { 'application/json': { schema: { type: 'object', properties: { data: { type: 'array', items }, meta } } } },
});
const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', description, schema });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
const timeText = 'ISO 8601, Unix seconds, Unix milliseconds (> 1e11), or now / now-1h / +2h';
const timeValue = { type: ['string', 'number'], description: timeText };
const occurrence = { type: ['object', 'null'], properties: { start: { type: 'integer' }, end: { type: ['integer', 'null'] } } };
const input = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: KINDS },
    match: { type: 'string', description: 'Scope: label matchers, e.g. {host="fnpc3001"} or {service=~"enstore|dcache"}' },
    start: { ...timeValue, description: `Start (default now); for flexible downtimes the window start. ${timeText}` },
    end: { type: ['string', 'number', 'null'], description: 'End; window end (flexible); no occurrence after it (recurring). null: open (unplanned only).' },
    duration: {
      type: ['string', 'number'],
      description: 'Seconds or 4h: fixed → end = start + duration; flexible → length once triggered; recurring → length of each occurrence.',
    },
    flexible: { type: 'boolean' },
    recurrence: {
      type: ['object', 'null'],
      properties: {
        rule: { type: 'string', description: 'cron: minute hour day-of-month month day-of-week, e.g. 0 8 * * TUE' },
        timezone: { type: 'string', description: 'IANA zone, e.g. America/Chicago' },
      },
    },
    author: { type: 'string' },
    reason: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    by: { type: 'string', description: 'Who makes the change, for the history (default: the author, else the token name)' },
    version: { type: 'integer', description: 'PATCH only: refuse the edit if the downtime is no longer at this version' },
  },
};
const byParam = q('by', 'Who makes the change, for the history');
const sec = { type: 'integer', description: 'Unix seconds' };
const secOrNull = { type: ['integer', 'null'], description: 'Unix seconds' };

const downtimeRef = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: KINDS },
    match: { type: 'string' },
    flexible: { type: 'boolean' },
    start: sec,
    end: secOrNull,
    duration: { type: ['integer', 'null'] },
    recurrence: { type: ['object', 'null'] },
    author: { type: 'string' },
    reason: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    state: { type: 'string', enum: STATES },
    current: occurrence,
    next: occurrence,
    triggeredAt: secOrNull,
    endedAt: secOrNull,
    endedBy: { type: ['string', 'null'] },
    cancelledAt: secOrNull,
    cancelledBy: { type: ['string', 'null'] },
    source: { type: 'string' },
    externalId: { type: ['string', 'null'] },
    createdAt: sec,
    updatedAt: sec,
    version: { type: 'integer' },
  },
};

Object.assign(extraPaths, {
  '/downtimes': {
    get: {
      summary: 'Downtimes, filtered',
      parameters: [
        q('from', `Only downtimes touching [from, to): ${timeText}`),
        q('to', 'End of that range'),
        q('kind', 'planned, unplanned (comma-separated)'),
        q('state', `${STATES.join(', ')} (comma-separated; default all)`),
        q('match', 'Only downtimes whose scope could cover a series matching this selector; repeatable'),
        q('limit', 'At most this many (default 1000)', { type: 'integer' }),
      ],
      responses: { 200: okList(downtimeRef), 400: err, 401: err },
    },
    post: {
      summary: 'File a downtime (editor)',
      requestBody: { required: true, content: { 'application/json': { schema: { ...input, required: ['kind', 'match', 'author', 'reason'] } } } },
      responses: { 201: ok(downtimeRef, 'Created'), 400: err, 401: err, 403: err },
    },
  },
  '/downtimes/active': {
    get: {
      summary: 'Is this series in downtime now, and by which records?',
      parameters: [q('series', 'One series, e.g. cpu_usage{host="fnpc3001"}; omitted: every active downtime'), q('at', `Instead of now: ${timeText}`)],
      responses: {
        200: ok({
          type: 'object',
          properties: {
            time: { type: 'number' },
            series: { type: 'object' },
            inDowntime: { type: 'boolean' },
            downtimes: { type: 'array', items: downtimeRef },
          },
        }),
        400: err,
      },
    },
  },
  '/downtimes/sync': {
    get: {
      summary:
        'State of the silence reconciler, per Alertmanager / Grafana target: ok: the last pass succeeded (a check that cannot reach the target runs a pass at once), lastError: of the last pass or probe; expected and present: silences rexmon expects there and those found at lastCheck; startedAt, restarts, lastRepair (when and why a check reconciled at once); refused: what the target refused (4xx) in the last pass',
      responses: { 200: ok({ type: 'array', items: { type: 'object' } }) },
    },
  },
  '/downtimes/{id}': {
    get: { summary: 'One downtime', parameters: [idParam], responses: { 200: ok(downtimeRef), 404: err } },
    patch: {
      summary: 'Edit a downtime (editor); the result is checked as a whole',
      parameters: [idParam],
      requestBody: { required: true, content: { 'application/json': { schema: input } } },
      responses: { 200: ok(downtimeRef), 400: err, 404: err, 409: err },
    },
    delete: {
      summary: 'Cancel a downtime (editor): it no longer counts and its silences expire',
      parameters: [idParam, byParam],
      responses: { 200: ok(downtimeRef), 404: err, 409: err },
    },
  },
  '/downtimes/{id}/end': {
    post: {
      summary: 'End a running downtime now (editor); a recurring one has no further occurrences',
      parameters: [idParam, byParam],
      responses: { 200: ok(downtimeRef), 404: err, 409: err },
    },
  },
  '/downtimes/{id}/history': {
    get: {
      summary: 'Every change: who, when, what',
      parameters: [idParam],
      responses: {
        200: ok({
          type: 'array',
          items: {
            type: 'object',
            properties: {
              at: sec,
              actor: { type: 'string' },
              principal: { type: 'string' },
              action: { type: 'string', enum: ['create', 'update', 'end', 'cancel', 'trigger', 'import'] },
              changes: { type: 'object' },
            },
          },
        }),
        404: err,
      },
    },
  },
  '/annotations': {
    get: {
      summary: 'Downtimes overlapping a range as Grafana region annotations, one per occurrence',
      parameters: [
        q('from', `Start (default to-24h): ${timeText}`),
        q('to', 'End (default now)'),
        q('match', 'Series selector: downtimes that could cover these series; repeatable'),
        q('kind', 'downtime, planned, unplanned (comma-separated)'),
        q('limit', 'At most this many (default 10000)', { type: 'integer' }),
      ],
      responses: {
        200: okList({
          type: 'object',
          required: ['id', 'time', 'timeEnd', 'title', 'text', 'tags'],
          properties: {
            id: { type: 'string' },
            time: { type: 'integer', description: 'Unix ms' },
            timeEnd: { type: 'integer', description: 'Unix ms' },
            title: { type: 'string' },
            text: { type: 'string' },
            tags: { type: 'array', items: { type: 'string' } },
          },
        }),
        400: err,
      },
    },
  },
});
