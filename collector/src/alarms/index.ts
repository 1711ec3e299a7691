// The alarm stage: threshold rules evaluated on a schedule, their states (AlarmView) and the API routes, behind
// one small interface the collector wires in. Notices go to whatever AlarmSink the collector hands it.
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import type { Db } from '../db/index.js';
import type { Downtimes } from '../downtimes/index.js';
import type { QueryEngine } from '../query/engine.js';
import { alarmRouter, AlarmRouterDeps } from './api.js';
import type { AlarmsConfig } from './config.js';
import { Evaluator } from './evaluator.js';
import { AlarmStore } from './store.js';
import type { AlarmSink, AlarmView } from './types.js';

export { LogSink } from './log-sink.js';
export type { AlarmSink, AlarmView } from './types.js';

export interface AlarmsDeps {
  config: AlarmsConfig;
  db: Db;
  catalog: Catalog;
  query: QueryEngine;
  downtimes: Pick<Downtimes, 'store' | 'alertFired'>;
  sink: AlarmSink;
  log: Logger;
  registry?: Registry;
}

export class Alarms {
  readonly store: AlarmStore;
  readonly evaluator: Evaluator;

  constructor(deps: AlarmsDeps) {
    this.store = new AlarmStore(deps.db);
    this.evaluator = new Evaluator({ ...deps, store: this.store });
  }

  /** What the status page and the API read. */
  get view(): AlarmView {
    return this.evaluator;
  }

  router(deps: AlarmRouterDeps): Router {
    return alarmRouter(this.evaluator, this.store, deps);
  }

  start(): Promise<void> {
    return this.evaluator.start();
  }

  stop(): Promise<void> {
    return this.evaluator.stop();
  }

  /** Evaluates every rule now (or at `now`, Unix seconds) and tells the sink what is owed. */
  evaluate(now?: number): Promise<void> {
    return this.evaluator.evaluate(now);
  }

  /** Checks downtimes now (as the short timer does) and tells the sink what is owed. */
  checkDowntimes(now?: number): Promise<void> {
    return this.evaluator.checkDowntimes(now);
  }
}
