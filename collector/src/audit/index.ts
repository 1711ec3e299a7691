// The audit log: one row per change of a downtime, token, user or the config — who, via what, from where,
// when, what. Rows hold names and changed fields, never a secret (tokens, passwords, hashes).
import express, { Request, Router } from 'express';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { extraPaths } from '../api/openapi.js';
import * as p from '../api/params.js';
import { ValidationError } from '../model/series.js';
import type { Db } from '../db/index.js';
import type { Principal } from '../auth/tokens.js';
import { peerAddress } from '../auth/authenticator.js';

export interface AuditEntry {
  who: string;
  via: 'token' | 'user' | 'proxy' | 'anonymous' | 'cli' | 'system';
  from: string;
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<AuditEntry> {
  id: number;
  /** Unix milliseconds. */
  at: number;
}

/** The row to insert; callers inside a transaction insert it with their own `trx`. */
export function auditRow(e: AuditEntry, at = Date.now()): Record<string, unknown> {
  const cut = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);
  return {
    at,
    who: cut(e.who, 200),
    via: e.via,
    from: cut(e.from, 200),
    action: cut(e.action, 64),
    target: cut(e.target, 300),
    details: JSON.stringify(e.details ?? {}),
  };
}

/** Who made an API request, for the audit log. */
export function requester(req: Request): Pick<AuditEntry, 'who' | 'via' | 'from'> {
  const pr: Principal | undefined = req.principal;
  return { who: pr?.name ?? 'anonymous', via: pr?.anonymous || !pr ? 'anonymous' : (pr.via ?? 'token'), from: peerAddress(req.socket.remoteAddress) };
}

/** Who runs a CLI command that changes things directly (not through the API). */
export function cliRequester(): Pick<AuditEntry, 'who' | 'via' | 'from'> {
  let user = process.env.SUDO_USER || process.env.USER || 'unknown';
  try {
    user = process.env.SUDO_USER || os.userInfo().username;
  } catch {
    /* no passwd entry: keep the environment's */
  }
  return { who: `cli:${user}`, via: 'cli', from: `cli@${os.hostname()}` };
}

/** A short digest per config section (`auth.tokens`, `rrd`, ...): what changed is named, values never stored. */
export function configDigests(c: object): Record<string, string> {
  const out: Record<string, string> = {};
  const digest = (v: unknown) =>
    createHash('sha256')
      .update(JSON.stringify(v) ?? 'undefined')
      .digest('hex')
      .slice(0, 16);
  for (const [k, v] of Object.entries(c)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) out[`${k}.${k2}`] = digest(v2);
    else out[k] = digest(v);
  }
  return out;
}

export function configChanges(before: Record<string, string> | undefined, after: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  return [...keys].filter((k) => before?.[k] !== after[k]).sort();
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(e: AuditEntry): Promise<void> {
    await this.db('audit_log').insert(auditRow(e));
  }

  async list(q: { from?: number; to?: number; who?: string; action?: string; target?: string; limit: number }): Promise<AuditRecord[]> {
    const query = this.db('audit_log').orderBy('id', 'desc').limit(q.limit);
    if (q.from !== undefined) query.where('at', '>=', q.from);
    if (q.to !== undefined) query.where('at', '<', q.to);
    if (q.who !== undefined) query.where('who', q.who);
    // An action prefix ("downtime.") selects a family.
    if (q.action?.endsWith('.')) query.where('action', 'like', `${q.action.replace(/[%_\\]/g, '')}%`);
    else if (q.action !== undefined) query.where('action', q.action);
    if (q.target !== undefined) query.where('target', q.target);
    const rows = await query;
    return rows.map((r: Record<string, unknown>) => ({
      id: Number(r.id),
      at: Number(r.at),
      who: String(r.who),
      via: r.via as AuditEntry['via'],
      from: String(r.from),
      action: String(r.action),
      target: String(r.target),
      details: JSON.parse(String(r.details)),
    }));
  }
}

export function auditRouter(log: AuditLog, admin: express.RequestHandler): Router {
  const r = express.Router();
  r.get('/audit', admin, async (req, res) => {
    const from = p.optionalTime(req, 'from');
    const to = p.optionalTime(req, 'to');
    if (from !== undefined && to !== undefined && to <= from) throw new ValidationError('to must be after from', 'to');
    const limit = p.int(req, 'limit', 1, 100000) ?? 1000;
    const rows = await log.list({
      from: from === undefined ? undefined : from * 1000,
      to: to === undefined ? undefined : to * 1000,
      who: p.one(req, 'who'),
      action: p.one(req, 'action'),
      target: p.one(req, 'target'),
      limit,
    });
    res.json({ data: rows });
  });
  return r;
}

const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', description, schema });
extraPaths['/audit'] = {
  get: {
    summary: 'The audit log, newest first (admin): every change of a downtime, token, user or the config — who, via, from where, when, what',
    'x-rexmon-role': 'admin',
    parameters: [
      q('from', 'Only changes at or after this time: ISO 8601, Unix seconds or milliseconds'),
      q('to', 'Only changes before this time'),
      q('who', 'Only changes by this token name, user or proxy identity (cli:<user> for the CLI)'),
      q('action', 'Only this action (downtime.create, token.create, user.add, config.reload, ...); ending in "." a family (downtime.)'),
      q('target', 'Only changes of this target, e.g. "downtime 12", "user alice"'),
      q('limit', 'At most this many (default 1000)', { type: 'integer', minimum: 1, maximum: 100000 }),
    ],
    responses: {
      200: {
        description: 'OK',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                data: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'integer' },
                      at: { type: 'integer', description: 'Unix ms' },
                      who: { type: 'string' },
                      via: { type: 'string', enum: ['token', 'user', 'proxy', 'anonymous', 'cli', 'system'] },
                      from: { type: 'string', description: 'Peer address, cli@<host>, or local' },
                      action: { type: 'string' },
                      target: { type: 'string' },
                      details: { type: 'object' },
                    },
                  },
                },
              },
            },
          },
        },
      },
      400: err,
      401: err,
      403: err,
    },
  },
};
