// /api/v1/notify/outbox: the mails queued, sent and given up (viewer), to see what went out and what waits.
import express, { Router } from 'express';
import { HttpError } from '../api/http-error.js';
import { extraPaths } from '../api/openapi.js';
import * as p from '../api/params.js';
import { requireRole } from '../api/server.js';
import type { Message, MessageStatus, Outbox } from './outbox.js';

export interface RouterAuth {
  auth: { anonymousRead: boolean; anonymousWrite: boolean };
}

const STATUSES: MessageStatus[] = ['pending', 'sending', 'sent', 'failed'];

function view(m: Message, withBody: boolean) {
  return {
    id: m.id,
    kind: m.kind,
    status: m.status,
    subject: m.subject,
    recipients: m.recipients,
    messageId: m.messageId,
    notices: m.notices,
    attempts: m.attempts,
    // Unix seconds, as elsewhere in the API; the next attempt only means something while not sent.
    createdAt: Math.floor(m.createdAt / 1000),
    nextAttemptAt: m.status === 'pending' || m.status === 'sending' ? Math.floor(m.nextAttemptAt / 1000) : null,
    sentAt: m.sentAt === null ? null : Math.floor(m.sentAt / 1000),
    lastError: m.lastError,
    ...(withBody ? { body: m.body } : {}),
  };
}

export function outboxRouter(outbox: Outbox, deps: RouterAuth): Router {
  const r = express.Router();
  const read = requireRole('viewer', deps);

  r.get('/notify/outbox', read, async (req, res) => {
    const status = p
      .strings(req, 'status')
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
    for (const s of status)
      if (!STATUSES.includes(s as MessageStatus)) throw new HttpError(400, `status ${JSON.stringify(s)} is not one of ${STATUSES.join(', ')}`, 'status');
    const limit = p.int(req, 'limit', 1, 1000) ?? 100;
    const list = await outbox.list({ status: status as MessageStatus[], limit });
    res.json({ data: list.map((m) => view(m, false)) });
  });

  r.get('/notify/outbox/:id', read, async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new HttpError(400, `id ${JSON.stringify(req.params.id)} is not a message id`, 'id');
    const m = await outbox.get(id);
    if (!m) throw new HttpError(404, `no message with id ${id}`, 'id');
    res.json({ data: view(m, true) });
  });

  return r;
}

const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const message = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    kind: { enum: ['alarm', 'downtime', 'event'] },
    status: { enum: STATUSES },
    subject: { type: 'string' },
    recipients: { type: 'array', items: { type: 'string' } },
    messageId: { type: 'string' },
    notices: { type: 'integer', description: 'Notices this mail lists' },
    attempts: { type: 'integer' },
    createdAt: { type: 'integer', description: 'Unix seconds' },
    nextAttemptAt: { type: ['integer', 'null'] },
    sentAt: { type: ['integer', 'null'] },
    lastError: { type: ['string', 'null'] },
    body: { type: 'string', description: 'Only from /notify/outbox/{id}' },
  },
};
extraPaths['/notify/outbox'] = {
  get: {
    summary: 'Mails queued, sent and given up, newest first',
    parameters: [
      { name: 'status', in: 'query', description: 'pending, sending, sent, failed (comma-separated or repeated)', schema: { type: 'string' } },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
    ],
    responses: {
      200: { description: 'OK', content: { 'application/json': { schema: { type: 'object', properties: { data: { type: 'array', items: message } } } } } },
      400: err,
      401: err,
    },
  },
};
extraPaths['/notify/outbox/{id}'] = {
  get: {
    summary: 'One mail with its text',
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
    responses: {
      200: { description: 'OK', content: { 'application/json': { schema: { type: 'object', properties: { data: message } } } } },
      400: err,
      404: err,
    },
  },
};
