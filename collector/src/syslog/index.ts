// The syslog stage: TCP and UDP listeners → parse → mapping → samples into the pipeline, events into the event
// store. The collector wires it with start() and close(); /metrics shows its counters.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { EventStore } from '../events/index.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { EventSink } from './event-sink.js';
import { startSyslogTcp, startSyslogUdp, SyslogCounters, SyslogDeps, SyslogTcp } from './listeners.js';
import { SyslogMapper } from './mapping.js';
import type { SeriesGate } from '../limits/series.js';
import { allowListFor } from '../security/allow.js';
import type { TlsEndpoint } from '../security/tls.js';

export { parseSyslog } from './parse.js';
export { FrameSplitter } from './framing.js';
export { SyslogMapper } from './mapping.js';

export interface SyslogStageDeps {
  pipeline: Pipeline;
  /** Where syslog events go: the event queue (Events.submit), or a store directly. */
  events: Pick<EventStore, 'insert'>;
  metrics: Metrics;
  log: Logger;
  /** The TCP connection limit after the open-file limit is taken into account. */
  maxConnections: number;
  gate?: SeriesGate;
  /** From syslog.tls. */
  tls?: TlsEndpoint;
}

export class Syslog {
  private tcp?: SyslogTcp;
  private udp?: dgram.Socket;
  private sink?: EventSink;
  readonly addresses: { tcp?: net.AddressInfo; udp?: net.AddressInfo } = {};

  constructor(private readonly config: Config['syslog']) {}

  get enabled(): boolean {
    return Boolean(this.config.tcp || this.config.udp);
  }

  async start(d: SyslogStageDeps): Promise<void> {
    const c = this.config;
    if (!this.enabled) return;
    const registers = [d.metrics.registry];
    const counters: SyslogCounters = {
      messages: new Counter({
        name: 'rexmon_syslog_messages_total',
        help: 'Syslog messages read, by listener and format.',
        labelNames: ['listener', 'format'],
        registers,
      }),
      refused: new Counter({
        name: 'rexmon_syslog_refused_total',
        help: 'Syslog frames refused, by reason (octet_count, oversize, invalid_utf8, missing_fields, malformed, shutdown).',
        labelNames: ['listener', 'reason'],
        registers,
      }),
      unmapped: new Counter({ name: 'rexmon_syslog_unmapped_total', help: 'Syslog messages no mapping took.', labelNames: ['listener'], registers }),
      mappingErrors: new Counter({
        name: 'rexmon_syslog_mapping_errors_total',
        help: 'Mapped syslog values refused (invalid name or label, missing or non-numeric value).',
        labelNames: ['listener'],
        registers,
      }),
      eventsDropped: new Counter({
        name: 'rexmon_syslog_events_dropped_total',
        help: 'Syslog events not stored, by reason (queue_full, store_error, shutdown).',
        labelNames: ['listener', 'reason'],
        registers,
      }),
    };
    const stored = new Counter({
      name: 'rexmon_syslog_events_stored_total',
      help: 'Syslog messages taken as events (into the event queue: journalled, then stored).',
      registers,
    });
    this.sink = new EventSink(d.events, {
      capacity: 20000,
      batchSize: 500,
      flushMs: 100,
      onStored: (n) => stored.inc(n),
      onFailed: (n, e) => {
        counters.eventsDropped.inc({ listener: 'syslog', reason: 'store_error' }, n);
        d.log.error({ err: e }, `syslog: ${n} events could not be stored`);
      },
    });
    const deps: SyslogDeps = {
      pipeline: d.pipeline,
      sink: this.sink,
      mapper: new SyslogMapper(c.mappings, c.unmapped === 'event'),
      metrics: d.metrics,
      counters,
      log: d.log,
      maxMessageSize: c.maxMessageSize,
      gate: d.gate,
      allow: allowListFor(c),
    };
    if (c.tcp) {
      this.tcp = await startSyslogTcp(c.tcp, deps, { drainTimeout: c.drainTimeout, maxConnections: d.maxConnections, tls: d.tls }).catch((e) => {
        throw new Error(`cannot listen on ${c.tcp} for syslog TCP: ${e.message}`);
      });
      this.addresses.tcp = this.tcp.address();
    }
    if (c.udp) {
      this.udp = await startSyslogUdp(c.udp, deps).catch((e) => {
        throw new Error(`cannot listen on ${c.udp} for syslog UDP: ${e.message}`);
      });
      this.addresses.udp = this.udp.address();
    }
  }

  /** Stops the listeners (TCP drains as the Graphite one), then writes the events read so far. */
  async close(): Promise<void> {
    await Promise.all([this.tcp?.close(), this.udp && new Promise((r) => this.udp!.close(() => r(undefined)))]);
    await this.sink?.flush();
  }
}
