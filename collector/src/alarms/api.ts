// /api/v1/alarms: the rules, the current states (filtered) and the state changes. Reads need viewer.
import express, { Request, Router } from 'express';
import { HttpError } from '../api/http-error.js';
import { extraPaths } from '../api/openapi.js';
import * as p from '../api/params.js';
import { requireRole } from '../api/server.js';
import { parseSelector } from '../matchers/selector.js';
import { ValidationError } from '../model/series.js';
import type { Evaluator } from './evaluator.js';
import { STATES } from './evaluator.js';
import type { AlarmStore } from './store.js';
import type { AlarmFilter, AlarmState } from './types.js';

export interface AlarmRouterDeps {
  auth: { anonymousRead: boolean; anonymousWrite: boolean };
}

export const HISTORY_LIMIT = 1000;
export const MAX_HISTORY_LIMIT = 100000;

function states(req: Request): AlarmState[] | undefined {
  const out: AlarmState[] = [];
  for (const raw of p.strings(req, 'state'))
    for (const v of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const hit = STATES.find((s) => s === v.toUpperCase());
      if (!hit) throw new HttpError(400, `parameter state: ${JSON.stringify(v)} is not one of ${STATES.join(', ')}`, 'state');
      if (!out.includes(hit)) out.push(hit);
    }
  return out.length ? out : undefined;
}

function bool(req: Request, name: string): boolean | undefined {
  const v = p.one(req, name);
  if (v === undefined || v === '') return undefined;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new HttpError(400, `parameter ${name} must be true or false, got ${JSON.stringify(v)}`, name);
}

function rule(req: Request, evaluator: Evaluator): string | undefined {
  const v = p.one(req, 'rule');
  if (v === undefined || v === '') return undefined;
  if (!evaluator.rules.some((r) => r.name === v))
    throw new HttpError(
      400,
      `parameter rule: no rule named ${JSON.stringify(v)}; configured: ${evaluator.rules.map((r) => r.name).join(', ') || 'none'}`,
      'rule',
    );
  return v;
}

export function alarmRouter(evaluator: Evaluator, store: AlarmStore, deps: AlarmRouterDeps): Router {
  const r = express.Router();
  const read = requireRole('viewer', deps);

  r.get('/alarms/rules', read, (_req, res) => void res.json({ data: evaluator.rules.map((x) => x.toJson()) }));

  r.get('/alarms', read, (req, res) => {
    const filter: AlarmFilter = {};
    const st = states(req);
    if (st) filter.state = st;
    const ru = rule(req, evaluator);
    if (ru !== undefined) filter.rule = ru;
    const match = p.one(req, 'match');
    if (match !== undefined && match !== '') {
      parseSelector(match, 'match'); // a bad selector is a 400 naming `match`
      filter.match = match;
    }
    const inDowntime = bool(req, 'inDowntime');
    if (inDowntime !== undefined) filter.inDowntime = inDowntime;
    const limit = p.int(req, 'limit', 1, MAX_HISTORY_LIMIT);
    const list = evaluator.current(filter);
    res.json({ data: limit === undefined ? list : list.slice(0, limit), total: list.length, truncated: limit !== undefined && list.length > limit });
  });

  r.get('/alarms/history', read, async (req, res) => {
    const from = p.one(req, 'from') === undefined ? undefined : p.time(req, 'from', 0);
    const to = p.one(req, 'to') === undefined ? undefined : p.time(req, 'to', 0);
    if (from !== undefined && to !== undefined && to < from) throw new ValidationError('to must not be before from', 'to');
    const series = p.one(req, 'series');
    if (series !== undefined && series.length > 2048) throw new HttpError(400, 'parameter series is longer than 2048 characters', 'series');
    const limit = p.int(req, 'limit', 1, MAX_HISTORY_LIMIT) ?? HISTORY_LIMIT;
    const found = await store.history({ from, to, rule: rule(req, evaluator), series: series || undefined, limit: limit + 1 });
    res.json({ data: found.slice(0, limit), truncated: found.length > limit });
  });

  return r;
}

// The OpenAPI description of these routes, merged into /api/v1/openapi.json.
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', description, schema });
const timeText = 'ISO 8601, Unix seconds, Unix milliseconds (> 1e11), or now / now-1h';
const state = { type: 'string', enum: [...STATES] };
const num = { type: ['number', 'null'] };
const instance = {
  type: 'object',
  required: ['rule', 'series', 'name', 'labels', 'state', 'value', 'bound', 'since', 'evaluatedAt', 'summary', 'muted'],
  properties: {
    rule: { type: 'string' },
    series: { type: 'string', description: 'The series key, e.g. disk_used_pct{host="fnpc1",mount="/"}' },
    name: { type: 'string' },
    labels: { $ref: '#/components/schemas/Labels' },
    state,
    value: { ...num, description: 'The aggregated value judged; null when no value was found' },
    bound: { ...num, description: 'The bound crossed (for OK: the one in force)' },
    since: { type: 'integer', description: 'Unix seconds: in this state since' },
    evaluatedAt: { type: 'integer' },
    summary: { type: 'string' },
    downtime: {
      type: 'object',
      description: 'The downtime covering the series now, if any',
      properties: {
        id: { type: 'integer' },
        kind: { type: 'string', enum: ['planned', 'unplanned'] },
        author: { type: 'string' },
        reason: { type: 'string' },
        end: { type: ['integer', 'null'] },
      },
    },
    muted: { type: 'boolean', description: 'Notifications held back (planned downtime; unplanned when alarms.unplannedMutes)' },
  },
};
const change = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'integer', description: 'Unix seconds' },
    rule: { type: 'string' },
    series: { type: 'string' },
    from: state,
    to: state,
    value: num,
    bound: num,
    muted: { type: 'boolean', description: 'The change happened while notifications were held back' },
    downtimeId: { type: ['integer', 'null'] },
  },
};
const listOf = (items: object, extra: object) => ({
  description: 'OK',
  content: { 'application/json': { schema: { type: 'object', properties: { data: { type: 'array', items }, ...extra } } } },
});

Object.assign(extraPaths, {
  '/alarms/rules': {
    get: {
      summary: 'The alarm rules from the config (durations in seconds)',
      responses: { 200: listOf({ type: 'object' }, {}), 401: err },
    },
  },
  '/alarms': {
    get: {
      summary: 'Current alarm states, one per rule and matching series',
      parameters: [
        q('state', `${STATES.join(', ')} (comma-separated or repeated)`),
        q('rule', 'A configured rule name'),
        q('match', 'A series selector the instance (series labels plus rule labels) must match'),
        q('inDowntime', 'true: only instances a downtime covers; false: only the others', { type: 'boolean' }),
        q('limit', `At most this many (default all, max ${MAX_HISTORY_LIMIT})`, { type: 'integer', minimum: 1, maximum: MAX_HISTORY_LIMIT }),
      ],
      responses: { 200: listOf(instance, { total: { type: 'integer' }, truncated: { type: 'boolean' } }), 400: err, 401: err },
    },
  },
  '/alarms/history': {
    get: {
      summary: 'State changes, newest first',
      parameters: [
        q('from', `Only changes at or after this: ${timeText}`),
        q('to', 'Only changes at or before this'),
        q('rule', 'A configured rule name'),
        q('series', 'One series key, exactly as in /alarms'),
        q('limit', `At most this many (default ${HISTORY_LIMIT}, max ${MAX_HISTORY_LIMIT})`, { type: 'integer', minimum: 1, maximum: MAX_HISTORY_LIMIT }),
      ],
      responses: { 200: listOf(change, { truncated: { type: 'boolean' } }), 400: err, 401: err },
    },
  },
});
