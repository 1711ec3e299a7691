// The export stage: a pipeline processor that hands every accepted sample, as received (counters as raw
// cumulative values, gauges as values), to each configured remote_write endpoint's own buffer. It never makes
// the pipeline wait: an endpoint that is down fills its own bounded buffer, not the ingest queue.
import type { Registry } from 'prom-client';
import type { Sample } from '../model/series.js';
import type { Processor } from '../pipeline/pipeline.js';
import { ExportConfig } from './config.js';
import { RemoteWriteMetrics, RemoteWriteQueue } from './remote-write.js';

export { exportSchema, type ExportConfig } from './config.js';

export class Exporter implements Processor {
  readonly name = 'remote_write';
  readonly queues: RemoteWriteQueue[];

  constructor(cfg: ExportConfig, registry: Registry, log: { warn: (m: string) => void; info: (m: string) => void }) {
    const metrics = new RemoteWriteMetrics(registry);
    this.queues = cfg.remoteWrite.map((r) => new RemoteWriteQueue(r, metrics, log));
  }

  get enabled(): boolean {
    return this.queues.length > 0;
  }

  async start(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.start()));
  }

  async handle(batch: Sample[]): Promise<void> {
    for (const q of this.queues) q.offer(batch);
  }

  /** Resolves once everything handed over before the call was sent or dropped (for tests and the bench; waits while an endpoint is down). */
  async drain(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.flush()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.stop()));
  }
}
