import { NextFunction, Request, Response } from 'express';
import { ValidationError } from '../model/series.js';
import { RrdError } from '../rrd/errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

export function sendError(res: Response, status: number, message: string, path?: string, extra?: object) {
  res.status(status).json({ error: { status, message, ...(path ? { path } : {}), ...extra } });
}

/** Maps every error to a JSON body saying what was wrong; internal errors are logged, not leaked. */
export function errorHandler(log: (err: unknown, msg: string) => void) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) return sendError(res, err.status, err.message, err.path);
    if (err instanceof ValidationError) return sendError(res, 400, err.message, err.path);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, 400, `request body is not valid JSON: ${e.message}`, 'body');
    if (e.type === 'entity.too.large') return sendError(res, 413, `request body is larger than the limit (${e.message})`, 'body');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendError(res, e.status, e.message ?? 'bad request');
    if (err instanceof RrdError) {
      log(err, `rrdtool error on ${req.method} ${req.path}`);
      return sendError(res, 502, `the RRD backend failed: ${err.message}`);
    }
    log(err, `internal error on ${req.method} ${req.path}`);
    sendError(res, 500, 'internal error; see the collector log');
  };
}
