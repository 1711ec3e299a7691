// The OpenAPI 3.1 description of /api/v1; a test checks it lists exactly the routes the server has.
import { QUERY_BINARY_TYPE } from './query-binary.js';
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const matchParam = {
  name: 'match',
  in: 'query',
  description: 'Series selector, e.g. cpu_usage{host=~"fnpc.*"}; repeatable (union).',
  schema: { type: 'array', items: { type: 'string' } },
  style: 'form',
  explode: true,
};
const timeParam = (name: string, d: string) => ({
  name,
  in: 'query',
  description: `${d}: ISO 8601, Unix seconds, or Unix milliseconds (> 1e11).`,
  schema: { type: 'string' },
});
/** Optional on the look-ups: only series with data in the range (last update ≥ from, created ≤ to). */
const rangeParams = [
  timeParam('from', 'Only series last updated at or after this time'),
  timeParam('to', 'Only series created at or before this time (imported series: creation unknown, not filtered)'),
];
const ok = (schema: object, description = 'OK') => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties: { data: schema } } } },
});
const bearer = [{ bearer: [] }, { basic: [] }];

type Param = { name: string; in: string; required?: boolean; description?: string; schema: object };
/**
 * A read served by GET and by POST: the POST takes the same query parameters in a form or JSON body (for
 * selectors too long for a URL; at most 32 MB, 413 beyond), path parameters stay in the path.
 */
const getAndPost = (op: { summary: string; parameters: Param[]; responses: object }) => {
  const inBody = op.parameters.filter((x) => x.in === 'query');
  const properties = Object.fromEntries(inBody.map((x) => [x.name, { ...x.schema, ...(x.description ? { description: x.description } : {}) }]));
  const required = inBody.filter((x) => x.required).map((x) => x.name);
  const schema = { type: 'object', properties, ...(required.length ? { required } : {}) };
  return {
    get: op,
    post: {
      ...op,
      'x-rexmon-role': 'viewer',
      summary: `${op.summary} (parameters in the body: a form, repeated keys allowed, or a JSON object)`,
      parameters: op.parameters.filter((x) => x.in !== 'query'),
      requestBody: { content: { 'application/x-www-form-urlencoded': { schema }, 'application/json': { schema } } },
      responses: { ...op.responses, 413: err },
    },
  };
};

/** The range query's answer also as float64 columns, for a client whose `Accept` prefers it (see query-binary.ts). */
const withColumns = (r: ReturnType<typeof ok>) => ({
  ...r,
  content: {
    ...r.content,
    [QUERY_BINARY_TYPE]: {
      schema: {
        type: 'string',
        format: 'binary',
        description: 'Magic "RXQUERY1", uint32 LE header length, JSON header, float64 LE columns (README: HTTP API)',
      },
    },
  },
});

/** Extra paths contributed by other stages (downtimes, annotations, ...). */
export const extraPaths: Record<string, object> = {};

/**
 * The refusals every route can give, added where an operation does not list them itself: 401 (no or a
 * bad token), 403 on writes (a role too low), 400 where there is something to validate, 404 on an item
 * path, 413 where a body is read. So a client (or a schema-driven fuzzer) never meets a status the
 * document does not mention.
 */
function withCommonRefusals(paths: Record<string, object>): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [p, item] of Object.entries(paths)) {
    const ops: Record<string, object> = {};
    for (const [method, op] of Object.entries(item as Record<string, { parameters?: unknown[]; requestBody?: unknown; responses?: object }>)) {
      const common: Record<number, object> = { 401: err };
      if (method !== 'get') common[403] = err;
      if (op.parameters?.length || op.requestBody || p.includes('{')) common[400] = err;
      if (p.includes('{')) common[404] = err;
      if (op.requestBody) common[413] = err;
      ops[method] = { ...op, responses: { ...common, ...op.responses } };
    }
    out[p] = ops;
  }
  return out;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/**
 * Every operation says the role it needs in `x-rexmon-role` (the auth matrix test reads it): given where a path
 * sets it, else viewer for GET and editor for the methods that change something.
 */
function withRoles(paths: Record<string, object>): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [path, item] of Object.entries(paths)) {
    const ops: Record<string, unknown> = {};
    for (const [m, op] of Object.entries(item as Record<string, Record<string, unknown>>)) {
      if (!METHODS.includes(m)) {
        ops[m] = op;
        continue;
      }
      const role = (op['x-rexmon-role'] as string | undefined) ?? (m === 'get' || m === 'head' ? 'viewer' : 'editor');
      ops[m] = { ...op, 'x-rexmon-role': role, description: [op.description, `Needs role ${role} or above.`].filter(Boolean).join(' ') };
    }
    out[path] = ops;
  }
  return out;
}

export function openapi(version: string) {
  const doc = {
    openapi: '3.1.0',
    info: { title: 'rexmon collector API', version },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (rexmon token create)' },
        basic: { type: 'http', scheme: 'basic', description: 'A user of auth.users.file and the password, or any name and an API token as the password' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['status', 'message'],
              properties: {
                status: { type: 'integer' },
                message: { type: 'string' },
                path: { type: 'string' },
                errors: { type: 'array', items: { type: 'object' } },
              },
            },
          },
        },
        Labels: { type: 'object', additionalProperties: { type: 'string' } },
        Series: { type: 'object', required: ['name', 'labels'], properties: { name: { type: 'string' }, labels: { $ref: '#/components/schemas/Labels' } } },
        Sample: {
          type: 'object',
          required: ['name', 'value'],
          properties: {
            name: { type: 'string' },
            labels: { $ref: '#/components/schemas/Labels' },
            value: { type: ['number', 'null'], description: 'null = unknown (stored as a gap)' },
            time: { type: 'number', description: 'Unix seconds or milliseconds; default now' },
          },
        },
      },
    },
    security: bearer,
    paths: {
      '/openapi.json': { get: { summary: 'This document (a viewer read)', responses: { 200: { description: 'OpenAPI document' }, 401: err } } },
      '/status': { get: { summary: 'Version, series count, uptime, queue depths', responses: { 200: ok({ type: 'object' }), 401: err } } },
      '/auth/whoami': {
        get: {
          summary: "The caller's token name, user or proxy identity, role, and how it was established",
          responses: {
            200: ok({
              type: 'object',
              properties: { name: { type: 'string' }, role: { type: 'string' }, via: { type: 'string', enum: ['token', 'user', 'proxy', 'anonymous'] } },
            }),
            401: err,
          },
        },
      },
      '/series': getAndPost({
        summary: 'Series matching selectors',
        parameters: [matchParam, ...rangeParams, { name: 'limit', in: 'query', schema: { type: 'integer' } }],
        responses: { 200: ok({ type: 'array', items: { $ref: '#/components/schemas/Series' } }), 400: err, 401: err },
      }),
      '/labels': getAndPost({
        summary: 'Label names of matching series',
        parameters: [matchParam, ...rangeParams],
        responses: { 200: ok({ type: 'array', items: { type: 'string' } }), 400: err },
      }),
      '/label/{name}/values': getAndPost({
        summary: 'Values of one label (`__name__`: metric names)',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, matchParam, ...rangeParams],
        responses: { 200: ok({ type: 'array', items: { type: 'string' } }), 400: err },
      }),
      '/query': getAndPost({
        summary: 'Range query',
        parameters: [
          { ...matchParam, required: true },
          timeParam('from', 'Start (default to-1h)'),
          timeParam('to', 'End (default now)'),
          {
            name: 'step',
            in: 'query',
            description:
              'Seconds or a duration (5m). Without maxDataPoints it is honoured up to 100000 rows (400 beyond); with maxDataPoints it is a minimum, raised to fit. Finer than the archive stores comes back at the archive resolution.',
            schema: { type: 'string' },
          },
          {
            name: 'maxDataPoints',
            in: 'query',
            description: 'Row limit; default 1000 without a step, 100000 with one',
            schema: { type: 'integer', minimum: 2, maximum: 100000 },
          },
          { name: 'cf', in: 'query', schema: { type: 'string', enum: ['AVERAGE', 'MIN', 'MAX', 'LAST'], default: 'AVERAGE' } },
          { name: 'agg', in: 'query', schema: { type: 'string', enum: ['sum', 'avg', 'min', 'max', 'count'] } },
          { name: 'by', in: 'query', description: 'Comma-separated label names to group by (with agg)', schema: { type: 'string' } },
          {
            name: 'fn',
            in: 'query',
            description:
              'Per series, before agg: rate = per-second change between consecutive rows (a negative change, a counter reset, gives null; the first row is null); delta = the change between consecutive rows, sign kept',
            schema: { type: 'string', enum: ['rate', 'delta'] },
          },
          {
            name: 'downtimes',
            in: 'query',
            description:
              'true: each series covered by a downtime running now carries `downtime` {id, kind, author, reason, end} (planned before unplanned), so a tile can show "in downtime" instead of red',
            schema: { type: 'string', enum: ['true', 'false'], default: 'false' },
          },
        ],
        responses: {
          200: withColumns(
            ok({
              type: 'object',
              properties: {
                from: { type: 'number' },
                to: { type: 'number' },
                step: { type: 'number' },
                cf: { type: 'string' },
                series: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      name: { type: 'string' },
                      labels: { $ref: '#/components/schemas/Labels' },
                      timestamps: { type: 'array', items: { type: 'integer' } },
                      values: { type: 'array', items: { type: ['number', 'null'] } },
                    },
                  },
                },
              },
            }),
          ),
          400: err,
          429: err,
          502: err,
        },
      }),
      '/samples': {
        post: {
          summary: 'Ingest a batch of samples (editor); taken whole or not at all',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Sample' } } } } },
          responses: {
            202: ok({ type: 'object', properties: { accepted: { type: 'integer' } } }, 'Accepted'),
            400: err,
            401: err,
            403: err,
            413: err,
            422: err,
            429: err,
            503: err,
          },
        },
      },
      '/admin/flush': { post: { summary: 'Drain the queues and write everything to disk (editor)', responses: { 200: ok({ type: 'object' }), 401: err } } },
      '/tokens': {
        post: {
          summary: 'Create an API token (admin); the token is shown once',
          'x-rexmon-role': 'admin',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['name', 'role'],
                  properties: { name: { type: 'string' }, role: { type: 'string', enum: ['viewer', 'editor', 'admin'] } },
                },
              },
            },
          },
          responses: { 201: ok({ type: 'object' }, 'Created'), 400: err, 401: err, 403: err },
        },
      },
      ...extraPaths,
    } as Record<string, object>,
  };
  return { ...doc, paths: withCommonRefusals(withRoles(doc.paths)) };
}
