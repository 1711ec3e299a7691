// Reading query parameters with errors that name the parameter.
import { Request } from 'express';
import { parseSelector, Selector } from '../matchers/selector.js';
import { parseTime } from '../util/time.js';
import { HttpError } from './http-error.js';

export function strings(req: Request, name: string): string[] {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const x of list) if (typeof x !== 'string') throw new HttpError(400, `parameter ${name} must be a string`, name);
  return list as string[];
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
