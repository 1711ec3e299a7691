// Bounds on HTTP API use: request rate per client address and per token (express-rate-limit, a fixed one-minute
// window each), and how many range queries run at once. Each refusal is a 429 naming the limit, counted in
// rexmon_http_limited_total{limit}. (The work per query, series × rows, is checked by the query engine.)
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Counter } from 'prom-client';
import type { HttpLimits } from '../config/security.js';
import { sendError } from '../api/http-error.js';

type Limited = Counter<'limit'>;

const PROBES = new Set(['/healthz', '/readyz']);

function refuse(res: Response, counter: Limited, limit: string, message: string) {
  counter.inc({ limit });
  res.set('Retry-After', String(Number(res.getHeader('RateLimit-Reset') ?? res.getHeader('Retry-After') ?? 1) || 1));
  sendError(res, 429, message, undefined, { limit });
}

/** A fixed one-minute window of `n` requests per key; off when `n` is 0. `setting` names the limit in refusals. */
function perMinute(
  n: number,
  counter: Limited,
  setting: string,
  o: { identifier?: string; skip: (req: Request) => boolean; key: (req: Request) => string; who: (req: Request) => string },
): RequestHandler {
  if (!n) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: n,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    ...(o.identifier ? { identifier: o.identifier } : {}),
    skip: o.skip,
    keyGenerator: o.key,
    handler: (req, res) => refuse(res, counter, setting, `more than ${n} requests in a minute ${o.who(req)} (${setting}); retry later`),
  });
}

/** Requests per minute from one address (before authentication, so failed logins count too); probes are not limited. */
export function perAddressLimit(limits: HttpLimits, counter: Limited): RequestHandler {
  return perMinute(limits.requestsPerMinutePerAddress, counter, 'http.limits.requestsPerMinutePerAddress', {
    skip: (req) => PROBES.has(req.path),
    key: (req) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? '', false),
    who: (req) => `from ${req.ip}`,
  });
}

/** Requests per minute with one token (after authentication; anonymous requests are held by the address limit only). */
export function perTokenLimit(limits: HttpLimits, counter: Limited): RequestHandler {
  return perMinute(limits.requestsPerMinutePerToken, counter, 'http.limits.requestsPerMinutePerToken', {
    identifier: 'token',
    skip: (req) => !req.principal || req.principal.anonymous === true || PROBES.has(req.path),
    key: (req) => `token:${req.principal!.name}`,
    who: (req) => `with token ${JSON.stringify(req.principal?.name)}`,
  });
}

/** At most `maxConcurrentQueries` requests through this at once; the next one is refused, not queued. */
export function concurrencyLimit(limits: HttpLimits, counter: Limited): RequestHandler {
  const max = limits.maxConcurrentQueries;
  let running = 0;
  return (_req: Request, res: Response, next: NextFunction) => {
    if (!max) return next();
    if (running >= max)
      return refuse(
        res,
        counter,
        'http.limits.maxConcurrentQueries',
        `${running} queries are running, the limit (http.limits.maxConcurrentQueries ${max}); retry later`,
      );
    running++;
    let done = false;
    const release = () => {
      if (!done) running--;
      done = true;
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}
