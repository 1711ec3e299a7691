// /api/v1/events: POST a batch (editor, whole or nothing), GET newest first with filters (viewer).
import express, { Request, Router } from 'express';
import { Counter } from 'prom-client';
import { HttpError, sendError } from '../api/http-error.js';
import { extraPaths } from '../api/openapi.js';
import * as p from '../api/params.js';
import { requireRole } from '../api/server.js';
import { parseSelector } from '../matchers/selector.js';
import { ValidationError } from '../model/series.js';
import { checkEvent, checkEventType, EventInput, MAX_EVENTS_PER_REQUEST } from './model.js';
import type { Admission } from './processor.js';
import { EventStore } from './store.js';

export interface EventRouterDeps {
  auth: { anonymousRead: boolean; anonymousWrite: boolean };
  /** Into the event queue, whole or not at all. */
  accept: (events: EventInput[]) => Promise<Admission>;
  /** Events refused as invalid, for /metrics. */
  rejected?: Counter;
}

/** Seconds a client is told to wait when the queue is full. */
export const RETRY_AFTER = 1;

export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10000;

/** A query time in Unix ms (the params accept ISO 8601, Unix s or ms, now-1h). */
function timeMs(req: Request, name: string): number | undefined {
  return p.one(req, name) === undefined ? undefined : Math.round(p.time(req, name, 0) * 1000);
}

/** Repeatable and comma-separated values of a parameter. */
function list(req: Request, name: string): string[] {
  return [
    ...new Set(
      p.strings(req, name).flatMap((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ),
  ];
}

export function eventRouter(store: EventStore, deps: EventRouterDeps): Router {
  const r = express.Router();
  const read = requireRole('viewer', deps);
  const write = requireRole('editor', deps);

  r.post('/events', write, async (req, res) => {
    const body = req.body as unknown;
    if (body === undefined || body === null || typeof body !== 'object')
      throw new HttpError(400, 'body must be a JSON event {"type", "source", "time", "labels", "data"} or an array of them', 'body');
    const single = !Array.isArray(body);
    const raw: unknown[] = single ? [body] : (body as unknown[]);
    if (raw.length > MAX_EVENTS_PER_REQUEST) throw new HttpError(413, `at most ${MAX_EVENTS_PER_REQUEST} events per request; got ${raw.length}`, 'body');
    const now = Date.now();
    const events: EventInput[] = [];
    const errors: { index: number; path?: string; message: string }[] = [];
    raw.forEach((item, i) => {
      try {
        events.push(checkEvent(item, now, single ? '' : `[${i}]`));
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        errors.push({ index: i, path: e.path, message: e.message });
      }
    });
    // Whole or nothing, as for samples: the client fixes the batch and sends it again without duplicates.
    if (errors.length) {
      deps.rejected?.inc(raw.length);
      const what = single ? 'the event is invalid' : `${errors.length} of ${raw.length} events are invalid`;
      return sendError(res, 400, `${what}; nothing was stored: ${errors[0].path ? errors[0].path + ': ' : ''}${errors[0].message}`, errors[0].path, {
        errors: errors.slice(0, 100),
      });
    }
    // 202 once the batch is journalled and queued to every processor; stored (and handled) a moment later.
    const r = await deps.accept(events);
    if (!r.ok) {
      res.set('Retry-After', String(RETRY_AFTER));
      return sendError(res, 503, `${r.reason}; nothing was taken, send the batch again later`, undefined, r.processor ? { processor: r.processor } : undefined);
    }
    res.status(202).json({ data: { accepted: events.length } });
  });

  r.get('/events', read, async (req, res) => {
    const from = timeMs(req, 'from');
    const to = timeMs(req, 'to');
    if (from !== undefined && to !== undefined && to < from) throw new ValidationError('to must not be before from', 'to');
    const types = list(req, 'type');
    types.forEach((t) => checkEventType(t, 'type'));
    const sources = list(req, 'source');
    const selectors = p
      .strings(req, 'match')
      .concat(p.strings(req, 'match[]'))
      .map((m) => parseSelector(m, 'match'));
    const limit = p.int(req, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
    // One more than asked tells whether more matched; only then is the total counted.
    const found = await store.query({ from, to, types, sources, selectors, limit: limit + 1 });
    const truncated = found.length > limit;
    const total = truncated ? await store.total({ from, to, types, sources, selectors }) : found.length;
    res.json({
      data: found.slice(0, limit).map((e) => ({ id: e.id, time: e.time, type: e.type, source: e.source, labels: e.labels, data: e.data })),
      truncated,
      total,
    });
  });

  return r;
}

// The OpenAPI description of these routes, merged into /api/v1/openapi.json.
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const ok = (schema: object, description = 'OK') => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties: { data: schema } } } },
});
const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', description, schema });
const timeText = 'ISO 8601, Unix seconds, Unix milliseconds (> 1e11), or now / now-1h';
const flat = {
  type: 'object',
  additionalProperties: { type: ['string', 'number', 'boolean'] },
  maxProperties: 64,
  description: 'Flat: strings, numbers, booleans; at most 64 keys and 4 KB as JSON',
};
const labels = { $ref: '#/components/schemas/Labels' };
const eventIn = {
  type: 'object',
  required: ['type', 'source'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' },
    source: { type: 'string', maxLength: 200, description: 'Who sent it: host, job, service; no control characters' },
    time: { type: ['string', 'number'], description: `Default now: ${timeText}` },
    labels: { ...labels, description: 'As for series; selectors in GET match them' },
    data: flat,
  },
};
const eventOut = {
  type: 'object',
  required: ['id', 'time', 'type', 'source', 'labels', 'data'],
  properties: {
    id: { type: 'integer' },
    time: { type: 'integer', description: 'Unix ms' },
    type: { type: 'string' },
    source: { type: 'string' },
    labels,
    data: flat,
  },
};

Object.assign(extraPaths, {
  '/events': {
    get: {
      summary: 'Events, newest first',
      parameters: [
        q('from', `Only events at or after this: ${timeText}`),
        q('to', 'Only events at or before this'),
        q('type', 'Event types (comma-separated or repeated)'),
        q('source', 'Sources (comma-separated or repeated)'),
        q('match', 'Selector over the labels, `__name__` is the type, e.g. job_state{experiment="nova"}; repeatable (union)'),
        q('limit', `At most this many (default ${DEFAULT_LIMIT}, max ${MAX_LIMIT})`, { type: 'integer', minimum: 1, maximum: MAX_LIMIT }),
      ],
      responses: {
        200: {
          description: 'OK; `truncated` is true when more events matched than `limit`, `total` says how many matched',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { data: { type: 'array', items: eventOut }, truncated: { type: 'boolean' }, total: { type: 'integer' } },
              },
            },
          },
        },
        400: err,
        401: err,
      },
    },
    post: {
      summary: `Queue one event or an array of at most ${MAX_EVENTS_PER_REQUEST} (editor) for the store, counting rules and handlers; taken whole or not at all`,
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { oneOf: [eventIn, { type: 'array', items: eventIn, maxItems: MAX_EVENTS_PER_REQUEST }] } } },
      },
      responses: {
        202: ok({ type: 'object', properties: { accepted: { type: 'integer' } } }, 'Accepted: journalled and queued; stored and handled shortly'),
        400: err,
        401: err,
        403: err,
        413: err,
        503: { ...err, description: 'A queue is full or the journal cannot be written; nothing was taken. Retry-After says when to try again' },
      },
    },
  },
});
