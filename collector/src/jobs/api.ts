// /api/v1/jobs: the current state per job with filters, and one job with its history of events (viewer).
import express, { Request, Router } from 'express';
import { HttpError } from '../api/http-error.js';
import { extraPaths } from '../api/openapi.js';
import * as p from '../api/params.js';
import { requireRole } from '../api/server.js';
import { parseSelector } from '../matchers/selector.js';
import { checkLabelValue } from '../model/series.js';
import { checkJobId, Jobs } from './index.js';
import { Job } from './store.js';

export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10000;

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

function out(j: Job) {
  return {
    job: j.job,
    state: j.state,
    experiment: j.experiment,
    site: j.site,
    labels: j.labels,
    data: j.data,
    firstAt: j.firstAt,
    stateSince: j.stateSince,
    lastAt: j.lastAt,
    silentSince: j.silentSince,
    finishedAt: j.finishedAt,
    events: j.events,
  };
}

export function jobRouter(jobs: Jobs, deps: { auth: { anonymousRead: boolean; anonymousWrite: boolean } }): Router {
  const r = express.Router();
  const read = requireRole('viewer', deps);

  r.get('/jobs', read, async (req, res) => {
    const states = list(req, 'state');
    for (const s of states)
      if (!jobs.states.includes(s)) throw new HttpError(400, `unknown state ${JSON.stringify(s)}; states: ${jobs.states.join(', ')}`, 'state');
    const experiments = list(req, 'experiment').map((v) => checkLabelValue(v, 'experiment'));
    const sites = list(req, 'site').map((v) => checkLabelValue(v, 'site'));
    const silentText = p.oneOf(req, 'silent', ['true', 'false'] as const);
    const selectors = p
      .strings(req, 'match')
      .concat(p.strings(req, 'match[]'))
      .map((m) => parseSelector(m, 'match'));
    const limit = p.int(req, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
    const found = await jobs.store.list({ states, experiments, sites, silent: silentText === undefined ? undefined : silentText === 'true', selectors, limit });
    res.json({ data: found.jobs.map(out), truncated: found.total > found.jobs.length, total: found.total });
  });

  r.get('/jobs/:id', read, async (req, res) => {
    const id = checkJobId(req.params.id, 'id');
    const limit = p.int(req, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
    const j = await jobs.store.get(id);
    if (!j) throw new HttpError(404, `no job ${JSON.stringify(id)} (never seen, or forgotten after the retention)`, 'id');
    const h = await jobs.store.history(id, limit);
    res.json({ data: { ...out(j), history: h.events }, truncated: h.truncated });
  });

  return r;
}

// The OpenAPI description of these routes, merged into /api/v1/openapi.json.
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', description, schema });
const flat = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };
const labels = { $ref: '#/components/schemas/Labels' };
const ms = (description: string, nullable = false) => ({ type: nullable ? ['integer', 'null'] : 'integer', description: `${description} (Unix ms)` });
const jobOut = {
  type: 'object',
  required: ['job', 'state', 'experiment', 'site', 'labels', 'data', 'firstAt', 'stateSince', 'lastAt', 'silentSince', 'finishedAt', 'events'],
  properties: {
    job: { type: 'string' },
    state: { type: 'string' },
    experiment: { type: 'string' },
    site: { type: 'string' },
    labels: { ...labels, description: 'The labels of its events, the latest value of each' },
    data: { ...flat, description: 'The free keys of its events, the latest value of each' },
    firstAt: ms('Its first event'),
    stateSince: ms('The event that put it in this state'),
    lastAt: ms('Its latest event'),
    silentSince: ms('When it was flagged silent; null unless silent', true),
    finishedAt: ms('When it entered a terminal state; null while it runs', true),
    events: { type: 'integer', description: 'Events folded into it' },
  },
};
const historyItem = {
  type: 'object',
  properties: {
    time: ms('The event time'),
    type: { type: 'string' },
    source: { type: 'string' },
    from: { type: ['string', 'null'], description: 'State before; null for the first event and late ones' },
    to: { type: ['string', 'null'], description: 'State after; null for a late event (older than the state: not folded)' },
    labels,
    data: flat,
  },
};

Object.assign(extraPaths, {
  '/jobs': {
    get: {
      summary: 'Jobs and their current state, the latest event first',
      parameters: [
        q('state', 'States (comma-separated or repeated), e.g. held,running'),
        q('experiment', 'Experiments (comma-separated or repeated)'),
        q('site', 'Sites (comma-separated or repeated)'),
        q('silent', 'true: only jobs flagged silent; false: only the others', { type: 'string', enum: ['true', 'false'] }),
        q(
          'match',
          'Selector over job, experiment, site, state and the labels of its events; the name part is the state, e.g. held{user="alice"}; repeatable (union)',
        ),
        q('limit', `At most this many (default ${DEFAULT_LIMIT}, max ${MAX_LIMIT})`, { type: 'integer', minimum: 1, maximum: MAX_LIMIT }),
      ],
      responses: {
        200: {
          description: 'OK; `truncated` is true when more jobs matched than `limit`, `total` says how many matched',
          content: {
            'application/json': {
              schema: { type: 'object', properties: { data: { type: 'array', items: jobOut }, truncated: { type: 'boolean' }, total: { type: 'integer' } } },
            },
          },
        },
        400: err,
        401: err,
      },
    },
  },
  '/jobs/{id}': {
    get: {
      summary: 'One job with its history of events, oldest first',
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 200 } },
        q('limit', `The newest this many events (default ${DEFAULT_LIMIT}, max ${MAX_LIMIT})`, { type: 'integer', minimum: 1, maximum: MAX_LIMIT }),
      ],
      responses: {
        200: {
          description: 'OK; `truncated` is true when older events were left out',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  data: { allOf: [jobOut, { type: 'object', properties: { history: { type: 'array', items: historyItem } } }] },
                  truncated: { type: 'boolean' },
                },
              },
            },
          },
        },
        400: err,
        401: err,
        404: err,
      },
    },
  },
});
