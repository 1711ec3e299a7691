// The HTTP API (/api/v1), health endpoints, /metrics and the status page.
import express, { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { Buffer } from 'node:buffer';
import { Logger } from 'pino';
import { AuthError, Authenticator, peerAddress } from '../auth/authenticator.js';
import { Principal, Role, ROLE_RANK, TokenStore } from '../auth/tokens.js';
import { AuditLog, requester } from '../audit/index.js';
import { Catalog, labelNamesOf, labelValuesOf, SeriesEntry } from '../catalog/catalog.js';
import { Metrics } from '../metrics/metrics.js';
import { checkLabelName, checkSample, Labels, Sample, ValidationError } from '../model/series.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { MAX_ROWS, QueryEngine, SERIES_FUNCTIONS, SeriesData, WorkLimitError } from '../query/engine.js';
import type { HttpLimits } from '../config/security.js';
import { concurrencyLimit, perAddressLimit, perTokenLimit } from '../limits/http.js';
import type { SeriesGate } from '../limits/series.js';
import { parseDuration } from '../util/time.js';
import type { AlarmInstance } from '../alarms/types.js';
import { PageDowntime, PageOptions, PageSlurper, statusPage } from '../web/status-page.js';
import { errorHandler, HttpError, sendError } from './http-error.js';
import { openapi } from './openapi.js';
import { encodeQueryBinary, encodeQueryJson, QUERY_BINARY_TYPE } from './query-binary.js';
import * as p from './params.js';

export interface ApiDeps {
  version: string;
  catalog: Catalog;
  pipeline: Pipeline;
  query: QueryEngine;
  metrics: Metrics;
  tokens: TokenStore;
  /** Tokens, users' logins and the proxy header; without it, tokens alone. */
  authenticator?: Authenticator;
  /** Mutable: a config reload changes it in place. */
  auth: { anonymousRead: boolean; anonymousWrite: boolean };
  audit?: AuditLog;
  log: Logger;
  ready: () => boolean;
  /** True once the collector began to stop. */
  stopping: () => boolean;
  startedAt: number;
  /** Drains the pipeline and makes everything durable. */
  flush: () => Promise<void>;
  /** The downtime running now over a series, for `/query?downtimes=true` (one read of the downtime table per query). */
  downtimeCover?: () => Promise<(name: string, labels: Labels) => { id: number; kind: string; author: string; reason: string; end: number | null } | undefined>;
  /** Request rates, concurrent queries, work per query; absent: none. */
  limits?: HttpLimits;
  /** New-series limits for POST /samples; absent: none. */
  seriesGate?: SeriesGate;
  /** Samples refused by the new-series limits, for the status page. */
  seriesRefusals?: () => Promise<{ source: string; reason: string; count: number }[]>;
  /** More for /readyz to show, by stage (e.g. forward: the forwarding state). */
  readyDetails?: () => Record<string, unknown>;
  /** Extra routers mounted under /api/v1 by other stages (downtimes, ...). */
  routers?: Router[];
  /** What the status page shows from other stages; each is optional (the page says when one is absent). */
  status?: {
    /** Undefined (or answering undefined) while no alarm evaluator runs. */
    alarms?: () => AlarmInstance[] | undefined;
    downtimes?: (now: number) => Promise<PageDowntime[]>;
    slurpers?: () => PageSlurper[];
    page?: Partial<PageOptions>;
  };
}

export const MAX_BATCH = 100000;

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const CHALLENGE = 'Basic realm="rexmon", charset="UTF-8"';
/** What a browser opens: the status page and its images. */
const PAGES = new Set(['/', '/api/v1/graph.png']);

/** Establishes who asks (token, user, trusted proxy header); bad credentials are always 401, even where none are needed. */
export function authenticate(deps: Pick<ApiDeps, 'tokens' | 'auth' | 'authenticator'>) {
  const authenticator = deps.authenticator ?? new Authenticator(deps.tokens);
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      req.principal = await authenticator.identify({
        authorization: req.get('authorization'),
        header: (name) => req.get(name),
        peer: peerAddress(req.socket.remoteAddress),
      });
      next();
    } catch (e) {
      // A browser shown the page with a wrong login is asked again.
      if (e instanceof AuthError && req.method === 'GET' && PAGES.has(req.path)) res.set('WWW-Authenticate', CHALLENGE);
      next(e instanceof AuthError ? new HttpError(e.status, e.message, e.param) : e);
    }
  };
}

export function requireRole(role: Role, deps: Pick<ApiDeps, 'auth'>) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const pr = req.principal;
    if (!pr) {
      const anonymousOk = (role === 'viewer' && deps.auth.anonymousRead) || (role === 'editor' && deps.auth.anonymousWrite);
      if (anonymousOk) {
        req.principal = { name: 'anonymous', role, anonymous: true };
        return next();
      }
      return next(
        new HttpError(401, `this needs an API token with role ${role} (Authorization: Bearer <token>) or the login of a user with it`, 'Authorization'),
      );
    }
    const what = pr.via === 'user' ? 'user' : pr.via === 'proxy' ? 'proxy user' : 'token';
    if (ROLE_RANK[pr.role] < ROLE_RANK[role]) return next(new HttpError(403, `${what} ${JSON.stringify(pr.name)} has role ${pr.role}; this needs ${role}`));
    next();
  };
}

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const read = requireRole('viewer', deps);
  const write = requireRole('editor', deps);
  const admin = requireRole('admin', deps);

  app.use((req, res, next) => {
    res.on('finish', () => deps.metrics.httpRequests.inc({ route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }));
    next();
  });
  // One rule on every route: a presented token that is malformed or unknown is 401, even where none is needed.
  if (deps.limits) app.use(perAddressLimit(deps.limits, deps.metrics.httpLimited));
  app.use(authenticate(deps));
  if (deps.limits) app.use(perTokenLimit(deps.limits, deps.metrics.httpLimited));

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', (_req, res) => {
    const problems = deps.pipeline.problems();
    const details = deps.ready() ? deps.readyDetails?.() : undefined;
    if (!deps.ready()) sendError(res, 503, 'starting or stopping');
    else if (problems.length) sendError(res, 503, `not storing input: ${problems.join('; ')}`, undefined, { problems, ...details });
    else res.json({ status: 'ready', ...details });
  });
  // Probes (load balancers, Kubernetes) need no token; /metrics and the rest are reads like any other.
  app.get('/metrics', read, async (_req, res) => {
    deps.metrics.series.set(deps.catalog.size);
    deps.metrics.notStoring.set(deps.pipeline.problems().length ? 1 : 0);
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  // The page and its images: a browser asked for credentials offers the Basic prompt (token as the password).
  const challenge = (req: Request, res: Response, next: NextFunction) => {
    if (!req.principal && !deps.auth.anonymousRead) res.set('WWW-Authenticate', CHALLENGE);
    next();
  };
  app.get('/', challenge, read, async (_req, res) => {
    const now = Math.floor(Date.now() / 1000);
    const capacity = new Map((await deps.metrics.queueCapacity.get()).values.map((v) => [String(v.labels.processor), v.value]));
    const dropped = (await deps.metrics.dropped.get()).values.map((v) => ({
      source: String(v.labels.source),
      reason: String(v.labels.reason),
      count: v.value,
    }));
    const rejected = (await deps.metrics.rejected.get()).values.map((v) => ({ source: 'archive', reason: String(v.labels.reason), count: v.value }));
    rejected.push(...((await deps.seriesRefusals?.()) ?? []));
    const st = deps.status ?? {};
    const facts = {
      version: deps.version,
      startedAt: deps.startedAt,
      now,
      series: deps.catalog.size,
      countsByName: deps.catalog.countsByName(),
      alarms: st.alarms?.(),
      downtimes: [] as PageDowntime[],
      downtimesError: undefined as string | undefined,
      slurpers: st.slurpers?.() ?? [],
      health: {
        queues: Object.entries(deps.pipeline.depth()).map(([name, depth]) => ({ name, depth, capacity: capacity.get(name) })),
        dropped: [...dropped, ...rejected],
        problems: deps.pipeline.problems(),
      },
    };
    // The page still shows everything else when the downtime database cannot be read; it says so.
    try {
      facts.downtimes = (await st.downtimes?.(now)) ?? [];
    } catch (e) {
      deps.log.error({ err: e }, 'status page: cannot read downtimes');
      facts.downtimesError = (e as Error).message;
    }
    res.type('html').set('Cache-Control', 'no-store').send(statusPage(facts, st.page));
  });

  const api = express.Router();
  // Before the routes: the sub-routers would otherwise answer OPTIONS on their own, with the methods of
  // every route pattern that happens to match.
  api.use(methodNotAllowed(() => openapi(deps.version).paths));
  // Queries in flight, their uploads included (a POST body is read inside the slot).
  if (deps.limits) api.use(['/query', '/graph.png'], concurrencyLimit(deps.limits, deps.metrics.httpLimited));
  api.use(express.json({ limit: p.BODY_LIMIT }));
  /** A read served by GET and by POST with the same parameters in a form or JSON body (selectors too long for a URL). */
  const readRoute = (path: string, handler: RequestHandler) =>
    api
      .route(path)
      .get(read, handler)
      .post(read, ...p.fromBody, handler);

  api.get('/graph.png', challenge);
  api.get('/openapi.json', read, (_req, res) => void res.json(openapi(deps.version)));

  api.get('/status', read, (_req, res) => {
    res.json({
      data: { version: deps.version, series: deps.catalog.size, uptimeSeconds: Math.round(Date.now() / 1000 - deps.startedAt), queues: deps.pipeline.depth() },
    });
  });

  api.get(
    '/auth/whoami',
    read,
    (req, res) =>
      void res.json({
        data: { name: req.principal!.name, role: req.principal!.role, via: req.principal!.anonymous ? 'anonymous' : (req.principal!.via ?? 'token') },
      }),
  );

  /** The series a look-up is about: the selectors' matches, with data in the optional from/to range. */
  const lookup = async (req: Request): Promise<{ entries: SeriesEntry[]; ranged: boolean }> => {
    const sel = p.selectors(req, false);
    const from = p.optionalTime(req, 'from');
    const to = p.optionalTime(req, 'to');
    if (from === undefined && to === undefined) return { entries: [], ranged: false };
    if (from !== undefined && to !== undefined && to < from) throw new ValidationError('to must not be before from', 'to');
    return { entries: await deps.query.activeIn(deps.catalog.find(sel), from, to), ranged: true };
  };

  readRoute('/series', async (req, res) => {
    const limit = p.int(req, 'limit', 1, 100000) ?? 10000;
    const { entries, ranged } = await lookup(req);
    const found = ranged ? entries.slice(0, limit) : deps.catalog.find(p.selectors(req, false), limit);
    res.json({ data: found.map((e) => ({ name: e.name, labels: e.labels })) });
  });

  readRoute('/labels', async (req, res) => {
    const { entries, ranged } = await lookup(req);
    res.json({ data: ranged ? labelNamesOf(entries) : deps.catalog.labelNames(p.selectors(req, false)) });
  });

  readRoute('/label/:name/values', async (req, res) => {
    const name = String(req.params.name);
    if (name !== '__name__') checkLabelName(name, 'name');
    const { entries, ranged } = await lookup(req);
    res.json({ data: ranged ? labelValuesOf(name, entries) : deps.catalog.labelValues(name, p.selectors(req, false)) });
  });

  readRoute('/query', async (req, res) => {
    const t0 = performance.now();
    const now = Math.floor(Date.now() / 1000);
    const to = p.time(req, 'to', now);
    const from = p.time(req, 'from', to - 3600);
    const stepText = p.one(req, 'step');
    let step: number | undefined;
    if (stepText !== undefined && stepText !== '') {
      step = parseDuration(stepText, 'step');
      if (step <= 0) throw new ValidationError('step must be positive', 'step');
    }
    const agg = p.oneOf(req, 'agg', ['sum', 'avg', 'min', 'max', 'count'] as const);
    const byText = p.one(req, 'by');
    const by = byText
      ? byText
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
    by.forEach((b) => checkLabelName(b, 'by'));
    if (by.length && !agg) throw new ValidationError('`by` needs `agg`', 'by');
    const result = await deps.query
      .run({
        selectors: p.selectors(req, true),
        from,
        to,
        step,
        maxDataPoints: p.int(req, 'maxDataPoints', 2, MAX_ROWS),
        cf: p.oneOf(req, 'cf', ['AVERAGE', 'MIN', 'MAX', 'LAST'] as const, 'AVERAGE')!,
        agg,
        by,
        fn: p.oneOf(req, 'fn', SERIES_FUNCTIONS),
        maxPoints: deps.limits?.maxQueryPoints,
      })
      .catch((e) => {
        if (e instanceof WorkLimitError) deps.metrics.httpLimited.inc({ limit: e.limit });
        throw e;
      });
    if (p.oneOf(req, 'downtimes', ['true', 'false'] as const) === 'true' && deps.downtimeCover) {
      // Each series says which downtime runs over it now, so a panel can show "in downtime" instead of red.
      const cover = await deps.downtimeCover();
      for (const s of result.series as (SeriesData & { downtime?: unknown })[]) {
        const d = cover(s.name, s.labels);
        if (d) s.downtime = { id: d.id, kind: d.kind, author: d.author, reason: d.reason, end: d.end };
      }
    }
    deps.metrics.queryMs.observe((performance.now() - t0) / 1000);
    // Columns of float64 for a client that asks for them (the plugin); JSON for everyone else. Sent without an
    // ETag: hashing a multi-megabyte answer costs more than a conditional request could save, as a range
    // query's answer moves with the clock.
    const columns = req.accepts(['application/json', QUERY_BINARY_TYPE]) === QUERY_BINARY_TYPE;
    const body = columns ? encodeQueryBinary(result) : encodeQueryJson(result);
    res.type(columns ? QUERY_BINARY_TYPE : 'application/json').setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  });

  api.post('/samples', write, async (req, res) => {
    const body = req.body;
    const list = Array.isArray(body) ? body : body && typeof body === 'object' && Array.isArray(body.samples) ? body.samples : undefined;
    if (!list) throw new HttpError(400, 'body must be a JSON array of samples: [{"name": ..., "labels": {...}, "value": ..., "time": ...}]', 'body');
    if (list.length > MAX_BATCH) throw new HttpError(413, `at most ${MAX_BATCH} samples per request; got ${list.length}`, 'body');
    const now = Math.floor(Date.now() / 1000);
    const samples: Sample[] = [];
    const errors: { index: number; path?: string; message: string }[] = [];
    list.forEach((raw: unknown, i: number) => {
      try {
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError('expected an object', `[${i}]`);
        const sample = checkSample(raw as never, now, `[${i}]`);
        const late = deps.pipeline.timeRefusal(sample.time);
        if (late) throw new ValidationError(late.message, `[${i}].time`);
        samples.push(sample);
      } catch (e) {
        errors.push({ index: i, path: (e as ValidationError).path, message: (e as Error).message });
      }
    });
    // A batch is taken whole or not at all, so a client can fix it and send it again without duplicates.
    if (errors.length) {
      deps.metrics.invalidLines.inc({ source: 'http' }, errors.length);
      return sendError(res, 400, `${errors.length} of ${list.length} samples are invalid; nothing was stored`, errors[0].path, {
        errors: errors.slice(0, 100),
      });
    }
    if (deps.stopping()) return sendError(res, 503, 'the collector is shutting down; nothing was stored, send again later');
    if (deps.seriesGate) {
      const pr = req.principal!;
      const gated = deps.seriesGate.admit(samples, 'http', pr.anonymous ? (req.ip ?? '?') : `token:${pr.name}`, true);
      if (gated.refused) {
        // The per-minute budgets refill: retry later; the caps (per name, total) stay until series are removed.
        const perMinute = gated.limit!.endsWith('PerMinute');
        if (perMinute) res.set('Retry-After', '60');
        return sendError(res, perMinute ? 429 : 422, `${gated.message}; nothing was stored`, undefined, { limit: gated.limit });
      }
    }
    // 202 only once the batch is in the write-ahead log.
    const accepted = deps.pipeline.push(samples, 'http');
    if (!accepted || !(await accepted)) {
      const why = deps.pipeline.refusal(samples.length) ?? 'the ingest queue is full';
      if (!accepted) deps.metrics.dropped.inc({ source: 'http', reason: 'refused_503' }, samples.length);
      res.set('Retry-After', '1');
      return sendError(res, 503, `${why}; nothing was stored, retry later`);
    }
    res.status(202).json({ data: { accepted: samples.length } });
  });

  api.post('/admin/flush', write, async (_req, res) => {
    await deps.flush();
    res.json({ data: { flushed: true } });
  });

  api.post('/tokens', admin, async (req, res) => {
    const { name, role } = (req.body ?? {}) as { name?: unknown; role?: unknown };
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200)
      throw new ValidationError('name must be a non-empty string (at most 200 characters)', 'name');
    if (typeof role !== 'string' || !(role in ROLE_RANK)) throw new ValidationError('role must be one of viewer, editor, admin', 'role');
    const token = await deps.tokens.create(name, role as Role);
    await deps.audit?.record({ ...requester(req), action: 'token.create', target: `token ${name}`, details: { role } });
    res.status(201).json({ data: { name, role, token } });
  });

  for (const r of deps.routers ?? []) api.use(r);
  api.use((req, _res, next) => next(new HttpError(404, `no such endpoint: ${req.method} /api/v1${req.path}`)));
  app.use('/api/v1', api);
  app.use((req, res) => sendError(res, 404, `no such endpoint: ${req.method} ${req.path}`));
  // The fixed size limits are counted beside the configured ones.
  app.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    const e = err as { type?: string; status?: number; path?: string };
    if (e?.type === 'entity.too.large') deps.metrics.httpLimited.inc({ limit: 'body_size' });
    else if (err instanceof HttpError && err.status === 413 && err.path === 'body') deps.metrics.httpLimited.inc({ limit: 'samples_per_request' });
    next(err);
  });
  app.use(errorHandler((err, msg) => deps.log.error({ err }, msg)));
  return app;
}

/**
 * A path the API has, asked with a method it does not take: 405 naming the methods in `Allow`; OPTIONS:
 * 204 with `Allow`. From the OpenAPI document, which a test keeps equal to the routes (read on first use:
 * other stages add their paths while the collector is wired). A literal path (`/downtimes/active`) wins
 * over a template that also matches it (`/downtimes/{id}`).
 */
function methodNotAllowed(paths: () => Record<string, object>): RequestHandler {
  let routes: { literal: boolean; re: RegExp; methods: string[] }[] | undefined;
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return (req, res, next) => {
    routes ??= Object.entries(paths()).map(([p, item]) => ({
      literal: !p.includes('{'),
      re: new RegExp(
        '^' +
          p
            .split(/\{[^}]+\}/)
            .map(escape)
            .join('[^/]+') +
          '$',
      ),
      methods: Object.keys(item).map((m) => m.toUpperCase()),
    }));
    let hits = routes.filter((r) => r.re.test(req.path));
    if (hits.some((r) => r.literal)) hits = hits.filter((r) => r.literal);
    if (!hits.length) return next(); // not a path of the API: 404 at the end
    const methods = new Set(hits.flatMap((r) => r.methods));
    if (methods.has('GET')) methods.add('HEAD');
    if (methods.has(req.method)) return next();
    const allow = [...methods, 'OPTIONS'].join(', ');
    res.set('Allow', allow);
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next(new HttpError(405, `${req.method} is not allowed on /api/v1${req.path} (allowed: ${allow})`));
  };
}
