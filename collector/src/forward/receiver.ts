// The receiving side: POST /api/v1/forward (editor). Each batch id (sender + sequence) is stored once: its
// samples go through the pipeline (write-ahead log first), its events into the event store, and the id is
// recorded in forward_batches — with the events, in one transaction. A batch seen before is answered with
// success and not stored again. Requests of one sender are taken one at a time, so a retry that overtakes the
// request it repeats waits for it. Ids older than forward.idRetention are pruned hourly.
import { createHash } from 'node:crypto';
import express, { Router } from 'express';
import type { Knex } from 'knex';
import { Counter, Registry } from 'prom-client';
import { sendError } from '../api/http-error.js';
import { extraPaths } from '../api/openapi.js';
import { requireRole } from '../api/server.js';
import type { EventInput } from '../events/model.js';
import type { EventStore } from '../events/store.js';
import type { Sample } from '../model/series.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { parseForward } from './wire.js';

export interface ReceiverDeps {
  db: Knex;
  pipeline: Pipeline;
  events: EventStore;
  registry: Registry;
  auth: { anonymousRead: boolean; anonymousWrite: boolean };
  /** Seconds a batch id is kept. */
  idRetention: number;
  log: { info: (m: string) => void; warn: (m: string) => void };
}

const TABLE = 'forward_batches';
const PRUNE_MS = 3600 * 1000;

export class ForwardReceiver {
  private readonly batches: Counter;
  /** Per sender, the request being handled: the next one waits for it. */
  private readonly busy = new Map<string, Promise<unknown>>();
  private timer?: NodeJS.Timeout;
  private pruning?: Promise<unknown>;

  constructor(private readonly deps: ReceiverDeps) {
    this.batches = new Counter({
      name: 'rexmon_forward_received_batches_total',
      help: 'Batches received from other collectors: stored, or duplicate (seen before; answered with success, not stored again).',
      labelNames: ['result'],
      registers: [deps.registry],
    });
  }

  router(): Router {
    const r = express.Router();
    r.post('/forward', requireRole('editor', this.deps), async (req, res) => {
      const { sender, batches } = parseForward(req.body, Date.now());
      const before = this.busy.get(sender);
      const run = (before ?? Promise.resolve()).catch(() => {}).then(() => this.store(sender, batches));
      const mine = run.catch(() => {});
      this.busy.set(sender, mine);
      try {
        const result = await run;
        if ('refused' in result) {
          res.set('Retry-After', '1');
          return sendError(res, 503, `${result.refused}; ${result.stored} of ${batches.length} batches stored, send again later`);
        }
        res.json({ data: result });
      } finally {
        if (this.busy.get(sender) === mine) this.busy.delete(sender);
      }
    });
    return r;
  }

  private async store(
    sender: string,
    batches: { seq: number; samples: Sample[]; events: EventInput[]; key?: string }[],
  ): Promise<{ stored: number; duplicates: number } | { stored: number; refused: string }> {
    const { db, pipeline, events } = this.deps;
    const seen = new Set<number>();
    const seqs = batches.map((b) => b.seq);
    for (let i = 0; i < seqs.length; i += 500)
      for (const row of await db(TABLE)
        .where({ sender })
        .whereIn('seq', seqs.slice(i, i + 500))
        .select('seq'))
        seen.add(Number(row.seq));
    let stored = 0;
    let duplicates = 0;
    for (const b of batches) {
      if (seen.has(b.seq)) {
        duplicates++;
        this.batches.inc({ result: 'duplicate' });
        continue;
      }
      if (b.samples.length) {
        // Durable in the write-ahead log before the id is recorded: a crash in between means a resend, never a loss.
        const accepted = pipeline.push(b.samples, 'forward');
        if (!accepted || !(await accepted)) return { stored, refused: pipeline.refusal(b.samples.length) ?? 'the ingest queue is full' };
      }
      const row = { sender, seq: b.seq, received_at: Math.floor(Date.now() / 1000) };
      // Events the sender stored once but sent twice (it crashed between its forward buffer and its commit, and
      // its journal offered them again under a new seq) share their key: stored here once.
      if (b.events.length) await events.insert(b.events, Date.now(), (trx) => trx(TABLE).insert(row), b.key && storeKey(sender, b.key));
      else await db(TABLE).insert(row);
      seen.add(b.seq);
      stored++;
      this.batches.inc({ result: 'stored' });
    }
    return { stored, duplicates };
  }

  /** Prunes now, then hourly. */
  start(intervalMs = PRUNE_MS): void {
    const tick = () => {
      if (this.pruning) return;
      this.pruning = this.prune()
        .catch((e) => this.deps.log.warn(`forward: pruning batch ids failed: ${(e as Error).message}`))
        .finally(() => (this.pruning = undefined));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  async prune(nowS = Math.floor(Date.now() / 1000)): Promise<number> {
    return this.deps
      .db(TABLE)
      .where('received_at', '<', nowS - this.deps.idRetention)
      .delete();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pruning;
    await Promise.all(this.busy.values());
  }
}

// The OpenAPI description, merged into /api/v1/openapi.json.
const err = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
Object.assign(extraPaths, {
  '/forward': {
    post: {
      summary: 'Batches forwarded by another collector (editor); each batch id (sender + q) is stored once, a repeat answers 200 without storing',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['sender', 'batches'],
              additionalProperties: false,
              properties: {
                sender: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,100}$' },
                batches: {
                  type: 'array',
                  minItems: 1,
                  items: {
                    type: 'object',
                    required: ['q'],
                    additionalProperties: false,
                    properties: {
                      q: { type: 'integer', minimum: 1, description: 'Sequence number, increasing per sender' },
                      s: { type: 'array', description: 'Samples as [name, labels, value|null, time (Unix s), flags?]; flags 1 = counter, 2 = replayed' },
                      e: { type: 'array', description: 'Events as POST /events takes them (time in Unix ms)' },
                      k: {
                        type: 'string',
                        pattern: '^[A-Za-z0-9_.:/-]{1,200}$',
                        description: "The sender's key for these events: sent again under a new q, they are stored once",
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
      responses: {
        200: {
          description: 'Every batch is stored (now or before)',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { data: { type: 'object', properties: { stored: { type: 'integer' }, duplicates: { type: 'integer' } } } },
              },
            },
          },
        },
        400: err,
        401: err,
        403: err,
        413: err,
        503: err,
      },
    },
  },
});

/** This collector's store key for a sender's events key; a long one (a chain of tiers) by its digest. */
function storeKey(sender: string, key: string): string {
  const k = `${sender}/${key}`;
  return k.length <= 200 ? k : `sha256:${createHash('sha256').update(k).digest('hex')}`;
}
