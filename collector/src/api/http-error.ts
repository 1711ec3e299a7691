import { NextFunction, Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { ValidationError } from '../model/series.js';
import { databaseUnavailable } from '../db/index.js';
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
    if (err instanceof ValidationError) return sendError(res, 400, err.message, err.path, 'limit' in err ? { limit: err.limit } : undefined);
    const e = err as { type?: string; status?: number; message?: string; limit?: number; length?: number };
    if (e.type === 'entity.parse.failed') return sendError(res, 400, `request body is not valid JSON: ${e.message}`, 'body');
    if (e.type === 'entity.too.large')
      return sendError(res, 413, `request body${e.length ? ` of ${e.length} bytes` : ''} is larger than the limit of ${e.limit} bytes`, 'body');
    if (e.type === 'parameters.too.many') return sendError(res, 413, `request body has more parameters than the limit (${e.message})`, 'body');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendError(res, e.status, e.message ?? 'bad request');
    const down = databaseUnavailable(err);
    if (down) {
      // A transaction that failed changed nothing: the client may send the same request again.
      log(err, `database unavailable on ${req.method} ${req.path}`);
      res.set('Retry-After', '2');
      return sendError(res, 503, `${down}; nothing was changed, retry later`);
    }
    if (err instanceof RrdError) {
      log(err, `rrdtool error on ${req.method} ${req.path}`);
      return sendError(res, 502, `the RRD backend failed: ${err.message}`);
    }
    log(err, `internal error on ${req.method} ${req.path}`);
    sendError(res, 500, 'internal error; see the collector log');
  };
}

/** Generous, so long selectors in GET URLs fit (node's default is 16 KB). */
export const MAX_HEADER_SIZE = 64 * 1024;

/**
 * The node HTTP server's own refusals (before express sees the request) as a raw HTTP/1.1 response in the
 * same JSON shape as every other error; node's default sends an empty body.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException, maxHeaderSize: number): string {
  let status = 400;
  let message = `malformed HTTP request: ${err.message.replace(/^Parse Error: /, '')}`;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = `request line and headers are larger than ${maxHeaderSize} bytes`;
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'the request did not arrive in time';
  }
  const body = JSON.stringify({ error: { status, message } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
