// The event stage: the store, the API router and retention (pruned at start and hourly), behind one
// small interface the collector wires in.
import { Router } from 'express';
import { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import type { EventsConfig } from '../config/schema.js';
import type { Db } from '../db/index.js';
import { eventRouter, EventRouterDeps } from './api.js';
import { EventStore } from './store.js';

export { EventStore } from './store.js';
export { checkEvent } from './model.js';
export type { EventInput, StoredEvent } from './model.js';

export const PRUNE_INTERVAL_MS = 3600 * 1000;

export class Events {
  readonly store: EventStore;
  private timer?: NodeJS.Timeout;
  private pruning?: Promise<unknown>;
  private readonly stored?: Counter;
  private readonly rejected?: Counter;
  private readonly pruned?: Counter;

  constructor(
    db: Db,
    private readonly config: EventsConfig,
    private readonly log: Logger,
    registry?: Registry,
  ) {
    this.store = new EventStore(db);
    if (registry) {
      this.stored = new Counter({ name: 'rexmon_events_stored_total', help: 'Events stored through the API.', registers: [registry] });
      this.rejected = new Counter({
        name: 'rexmon_events_rejected_total',
        help: 'Events refused (a batch with an invalid event is refused whole).',
        registers: [registry],
      });
      this.pruned = new Counter({
        name: 'rexmon_events_pruned_total',
        help: 'Events deleted by retention, by rule (age, count).',
        labelNames: ['rule'],
        registers: [registry],
      });
    }
  }

  router(deps: Pick<EventRouterDeps, 'auth'>): Router {
    return eventRouter(this.store, { ...deps, stored: this.stored, rejected: this.rejected });
  }

  /** Prunes now, then every hour. */
  start(intervalMs = PRUNE_INTERVAL_MS): void {
    const tick = () => {
      if (this.pruning) return;
      this.pruning = this.prune()
        .catch((e) => this.log.warn(`events: pruning failed: ${(e as Error).message}`))
        .finally(() => (this.pruning = undefined));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.pruning;
  }

  /** Deletes events older than `events.retention`, then the oldest beyond `events.maxEvents`. */
  async prune(nowMs = Date.now()): Promise<{ expired: number; overflow: number }> {
    const r = await this.store.prune(this.config.retention * 1000, this.config.maxEvents, nowMs);
    this.pruned?.inc({ rule: 'age' }, r.expired);
    this.pruned?.inc({ rule: 'count' }, r.overflow);
    if (r.expired || r.overflow) this.log.info(r, `events: pruned ${r.expired} older than the retention, ${r.overflow} beyond maxEvents`);
    return r;
  }
}
