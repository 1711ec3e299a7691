// The collector's own figures, served at /metrics in the Prometheus text format.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly received = new Counter({
    name: 'rexmon_samples_received_total',
    help: 'Samples accepted from a listener or slurper.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'rexmon_samples_dropped_total',
    help: 'Samples dropped before the archive, by reason (queue_full, invalid, ...).',
    labelNames: ['source', 'reason'],
    registers: [this.registry],
  });
  readonly invalidLines = new Counter({
    name: 'rexmon_input_errors_total',
    help: 'Malformed input lines or records, by source.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly refusedConnections = new Counter({
    name: 'rexmon_connections_refused_total',
    help: 'Ingest connections refused because the listener had its maximum open (graphite.maxConnections).',
    labelNames: ['listener'],
    registers: [this.registry],
  });
  readonly ingestRefused = new Counter({
    name: 'rexmon_ingest_refused_total',
    help: 'Graphite and syslog connections and datagrams refused before reading, by listener and reason (not_allowed: sender outside the allow-list; tls_handshake; client_cert).',
    labelNames: ['listener', 'reason'],
    registers: [this.registry],
  });
  readonly httpLimited = new Counter({
    name: 'rexmon_http_limited_total',
    help: 'HTTP API requests refused by a limit (http.limits.*), by limit.',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly written = new Counter({
    name: 'rexmon_samples_written_total',
    help: 'Values handed to the RRD archive (rrdcached or rrdtool).',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'rexmon_samples_rejected_total',
    help: 'Values the archive refused, by reason (out_of_order, too_old, readonly, create_error, write_error).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly created = new Counter({ name: 'rexmon_rrd_files_created_total', help: 'RRD files created.', registers: [this.registry] });
  readonly flushErrors = new Counter({
    name: 'rexmon_rrd_flush_errors_total',
    help: 'Files rrdcached refused to flush (logged; the other files are flushed).',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'rexmon_queue_depth',
    help: 'Samples waiting in a processor queue.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly queueCapacity = new Gauge({
    name: 'rexmon_queue_capacity',
    help: 'Capacity of a processor queue.',
    labelNames: ['processor'],
    registers: [this.registry],
  });
  readonly rrdLatency = new Histogram({
    name: 'rexmon_rrdtool_command_seconds',
    help: 'Latency of rrdtool pipe commands.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
    registers: [this.registry],
  });
  readonly rrdRestarts = new Counter({
    name: 'rexmon_rrdtool_restarts_total',
    help: 'rrdtool child processes restarted after dying.',
    registers: [this.registry],
  });
  readonly directReadFailures = new Counter({
    name: 'rexmon_rrd_direct_read_failures_total',
    help: 'Reads a file-reader thread failed (answered by rrdtool xport instead): a reader bug or a thread that died.',
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'rexmon_write_batch_seconds',
    help: 'Time to write one batch into the archive.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly slurperRuns = new Counter({
    name: 'rexmon_slurper_runs_total',
    help: 'Slurper runs, by slurper and result (ok, error, timeout).',
    labelNames: ['slurper', 'result'],
    registers: [this.registry],
  });
  readonly slurperErrors = new Counter({
    name: 'rexmon_slurper_errors_total',
    help: 'Slurper problems: bad lines, exit codes, timeouts.',
    labelNames: ['slurper', 'kind'],
    registers: [this.registry],
  });
  readonly slurperSeconds = new Histogram({
    name: 'rexmon_slurper_duration_seconds',
    help: 'Slurper run time.',
    labelNames: ['slurper'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly series = new Gauge({ name: 'rexmon_series', help: 'Series in the catalog.', registers: [this.registry] });
  readonly httpRequests = new Counter({
    name: 'rexmon_http_requests_total',
    help: 'HTTP API requests by route and status.',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  });
  readonly queryMs = new Histogram({
    name: 'rexmon_query_seconds',
    help: 'Time to answer /api/v1/query.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  readonly unknownValues = new Counter({
    name: 'rexmon_samples_unknown_total',
    help: 'Samples accepted with an unknown value (Graphite nan, JSON null, Prometheus NaN), stored as unknown.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly alreadyStored = new Counter({
    name: 'rexmon_samples_already_stored_total',
    help: 'Values replayed from the write-ahead log that the archive held already.',
    registers: [this.registry],
  });
  readonly archiveFreeBytes = new Gauge({
    name: 'rexmon_archive_free_bytes',
    help: 'Free bytes on the disk of the RRD archive, when last checked (before files are created).',
    registers: [this.registry],
  });
  readonly walBytes = new Gauge({
    name: 'rexmon_wal_bytes',
    help: 'Bytes in the write-ahead log: accepted samples not yet known to be in their RRD files.',
    registers: [this.registry],
  });
  readonly walReplayed = new Counter({
    name: 'rexmon_wal_replayed_samples_total',
    help: 'Samples read back from the write-ahead log at start.',
    registers: [this.registry],
  });
  readonly notStoring = new Gauge({
    name: 'rexmon_not_storing',
    help: '1 while input cannot be stored (disk full, rrdcached down, write-ahead log failing); see /readyz.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rexmon_' });
    // prom-client names three gauges *_total, which Prometheus keeps for counters (`promtool check metrics`
    // fails on them). Their per-type siblings stay: sum(rexmon_nodejs_active_handles) is the same figure.
    for (const what of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`rexmon_nodejs_active_${what}_total`);
  }
}
