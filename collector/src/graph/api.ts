// GET /api/v1/graph.png: parameters checked (400 naming the parameter), then the renderer.
import { RequestHandler, Router } from 'express';
import { extraPaths } from '../api/openapi.js';
import * as p from '../api/params.js';
import { ValidationError } from '../model/series.js';
import { GRAPH_LIMITS, GraphRenderer, GraphRequest } from './graph.js';

function num(req: Parameters<typeof p.one>[0], name: string): number | undefined {
  const v = p.one(req, name);
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ValidationError(`parameter ${name} must be a number, got ${JSON.stringify(v)}`, name);
  return n;
}

/** Reads a graph request from the query string; every bad parameter is a ValidationError naming it. */
export function graphRequest(req: Parameters<typeof p.one>[0], now = Math.floor(Date.now() / 1000)): GraphRequest {
  const L = GRAPH_LIMITS;
  const selectors = p.selectors(req, true);
  const to = p.time(req, 'to', now);
  const from = p.time(req, 'from', to - 86400);
  const title = p.one(req, 'title');
  if (title !== undefined && title.length > L.maxTitle) throw new ValidationError(`parameter title is longer than ${L.maxTitle} characters`, 'title');
  return {
    selectors,
    matchText: selectors.map((s) => s.text).join(' or '),
    from,
    to,
    width: p.int(req, 'width', L.minWidth, L.maxWidth) ?? 400,
    height: p.int(req, 'height', L.minHeight, L.maxHeight) ?? 100,
    cf: p.oneOf(req, 'cf', ['AVERAGE', 'MIN', 'MAX', 'LAST'] as const, 'AVERAGE')!,
    title: title || undefined,
    warn: num(req, 'warn'),
    crit: num(req, 'crit'),
    rule: p.one(req, 'rule') || undefined,
  };
}

const AREA_KEYS = ['left', 'top', 'width', 'height', 'start', 'end', 'min', 'max'];

export function graphRouter(renderer: GraphRenderer, read: RequestHandler): Router {
  const r = Router();
  r.get('/graph.png', read, async (req, res) => {
    const g = await renderer.render(graphRequest(req));
    res
      .type('png')
      .set('Cache-Control', 'no-store')
      .set('X-Rexmon-Graph', `series=${g.series}; planned=${g.windows.planned}; unplanned=${g.windows.unplanned}; hidden=${g.windows.hidden}`)
      // rrdtool's geometry of the plot, so a client can map pixels to times and values.
      .set('X-Rexmon-Graph-Area', AREA_KEYS.map((k) => `${k}=${g.info.get(`graph_${k}`) ?? g.info.get(`value_${k}`) ?? ''}`).join('; '))
      .send(g.png);
  });
  return r;
}

const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const q = (name: string, description: string, schema: object = { type: 'string' }, required = false) => ({ name, in: 'query', description, schema, required });
Object.assign(extraPaths, {
  '/graph.png': {
    get: {
      summary: 'A PNG graph (rrdtool graph) of the matching series, planned downtimes shaded one colour and unplanned another, thresholds drawn',
      parameters: [
        q(
          'match',
          `Series selector; repeatable (union). At most ${GRAPH_LIMITS.maxSeries} series per graph.`,
          { type: 'array', items: { type: 'string' } },
          true,
        ),
        q('from', 'Start: ISO 8601, Unix seconds, or Unix milliseconds (> 1e11); default `to` minus one day.'),
        q('to', 'End, same forms; default now.'),
        q('width', `Plot width in pixels, ${GRAPH_LIMITS.minWidth}-${GRAPH_LIMITS.maxWidth}; default 400.`, { type: 'integer' }),
        q('height', `Plot height in pixels, ${GRAPH_LIMITS.minHeight}-${GRAPH_LIMITS.maxHeight}; default 100.`, { type: 'integer' }),
        q('cf', 'Consolidation function.', { type: 'string', enum: ['AVERAGE', 'MIN', 'MAX', 'LAST'], default: 'AVERAGE' }),
        q('title', `Title; default the selector. At most ${GRAPH_LIMITS.maxTitle} characters.`),
        q('warn', 'Draw a warning threshold line at this value.', { type: 'number' }),
        q('crit', 'Draw a critical threshold line at this value.', { type: 'number' }),
        q('rule', "Draw this alarm rule's warning and critical bounds (both ends of a range)."),
      ],
      responses: {
        200: {
          description:
            'The image; header X-Rexmon-Graph says how many series and downtime windows were drawn, X-Rexmon-Graph-Area where the plot lies (left, top, width, height in pixels; start, end in Unix seconds; min, max of the value axis)',
          content: { 'image/png': { schema: { type: 'string', format: 'binary' } } },
        },
        400: err,
        401: err,
        404: { ...err, description: 'No series matches' },
        503: { ...err, description: `Rendering took longer than ${GRAPH_LIMITS.budgetMs / 1000} s` },
      },
      security: [{ bearer: [] }],
    },
  },
});
