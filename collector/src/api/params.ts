// Reading query parameters with errors that name the parameter.
import express, { NextFunction, Request, Response } from 'express';
import { parseSelector, Selector } from '../matchers/selector.js';
import { parseTime } from '../util/time.js';
import { HttpError } from './http-error.js';

/** The body limit of a read by POST (a form or JSON body): selectors of several MB fit. */
export const BODY_LIMIT = 32 * 1024 * 1024;

const MERGED = Symbol('parameters from the query string and the body');
type WithParams = Request & { [MERGED]?: Record<string, unknown> };

/**
 * For reads served by POST too: parses a form body (`application/x-www-form-urlencoded`, repeated keys allowed,
 * as Prometheus' API takes them) or takes a JSON object body, and merges its keys with the query string's, so
 * every reader below sees one set of parameters.
 */
export const fromBody = [
  express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 100000 }),
  (req: Request, _res: Response, next: NextFunction) => {
    const body: unknown = req.body;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))
      return next(new HttpError(400, 'the body must be a form (application/x-www-form-urlencoded) or a JSON object of parameters', 'body'));
    const merged: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
    for (const [k, v] of Object.entries((body ?? {}) as Record<string, unknown>)) {
      const add = Array.isArray(v) ? v : [v];
      merged[k] = k in merged ? ([] as unknown[]).concat(merged[k], add) : v;
    }
    (req as WithParams)[MERGED] = merged;
    next();
  },
];

export function strings(req: Request, name: string): string[] {
  const v = ((req as WithParams)[MERGED] ?? (req.query as Record<string, unknown>))[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  // JSON bodies may give numbers (from, to, step, limit) as numbers.
  return list.map((x) => {
    if (typeof x === 'number' && Number.isFinite(x)) return String(x);
    if (typeof x !== 'string') throw new HttpError(400, `parameter ${name} must be a string`, name);
    return x;
  });
}

export function one(req: Request, name: string): string | undefined {
  const list = strings(req, name);
  if (list.length > 1) throw new HttpError(400, `parameter ${name} given ${list.length} times; expected once`, name);
  return list[0];
}

export function selectors(req: Request, required: boolean): Selector[] {
  const list = strings(req, 'match').concat(strings(req, 'match[]'));
  if (list.length === 0) {
    if (required) throw new HttpError(400, 'parameter match is required (a series selector such as cpu_usage{host="fnpc3001"})', 'match');
    return [parseSelector('')];
  }
  return list.map((m) => parseSelector(m, 'match'));
}

export function time(req: Request, name: string, fallback: number): number {
  const v = one(req, name);
  return v === undefined ? fallback : parseTime(v, Date.now() / 1000, name);
}

/** A time parameter that may be absent (an empty value counts as absent). */
export function optionalTime(req: Request, name: string): number | undefined {
  const v = one(req, name);
  return v === undefined || v.trim() === '' ? undefined : parseTime(v, Date.now() / 1000, name);
}

export function int(req: Request, name: string, min: number, max: number): number | undefined {
  const v = one(req, name);
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new HttpError(400, `parameter ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`, name);
  return n;
}

export function oneOf<T extends string>(req: Request, name: string, allowed: readonly T[], fallback?: T): T | undefined {
  const v = one(req, name);
  if (v === undefined || v === '') return fallback;
  const up = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (!up) throw new HttpError(400, `parameter ${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`, name);
  return up;
}
