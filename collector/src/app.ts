// The collector process: wires config → database → catalog → RRD archive → pipeline → listeners, slurpers, API.
import dgram from 'node:dgram';
import { mkdir, readdir } from 'node:fs/promises';
import { createServer, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Alarms, AlarmSink, LogSink } from './alarms/index.js';
import { AuditLog, auditRouter, configChanges, configDigests } from './audit/index.js';
import { AuthStage } from './auth/index.js';
import { clientErrorResponse, MAX_HEADER_SIZE } from './api/http-error.js';
import { createApp, requireRole } from './api/server.js';
import { Catalog } from './catalog/catalog.js';
import { Config } from './config/schema.js';
import { Db, openDb } from './db/index.js';
import { Downtimes } from './downtimes/index.js';
import { Events } from './events/index.js';
import { Exporter } from './export/index.js';
import { ForwardReceiver, ForwardSender } from './forward/index.js';
import { graphRouter } from './graph/api.js';
import { GraphRenderer } from './graph/graph.js';
import { GraphiteMapper } from './ingest/graphite.js';
import { GraphiteTcp, startGraphiteTcp, startGraphiteUdp } from './ingest/graphite-listeners.js';
import { Jobs } from './jobs/index.js';
import { jobRouter } from './jobs/api.js';
import { Metrics } from './metrics/metrics.js';
import type { Sample } from './model/series.js';
import { Notifier, outboxRoutes } from './notify/index.js';
import { Pipeline } from './pipeline/pipeline.js';
import { QueryEngine } from './query/engine.js';
import { RrdArchive } from './rrd/archive.js';
import { RrdcachedClient, RrdcachedProcess } from './rrd/cached.js';
import { RrdWriter, TemplateChooser } from './rrd/writer.js';
import { SlurperScheduler } from './slurpers/scheduler.js';
import { Syslog } from './syslog/index.js';
import { fdReserve, listenBacklogCap, openFileLimit } from './util/fdlimit.js';
import { createLogger } from './util/log.js';
import { isLoopback, splitHostPort } from './util/net.js';
import { LISTEN_BACKLOG, RateLimitedLog } from './util/tcp-listener.js';
import { SeriesLimiter } from './limits/series.js';
import { allowListFor } from './security/allow.js';
import { TlsEndpoint } from './security/tls.js';
import { exposureWarnings } from './security/exposure.js';
import { VERSION } from './version.js';
import { WriteAheadLog } from './wal/wal.js';

export function openDatabase(config: Config): Promise<Db> {
  return openDb({ client: config.database.client, filename: path.resolve(config.dataDir, config.database.filename), connection: config.database.connection });
}

/** How long POST /admin/flush waits for the event processors (a hung handler must not hold it for ever). */
const EVENT_DRAIN_MS = 10_000;

export class Collector {
  readonly metrics = new Metrics();
  readonly log: Logger;
  db!: Db;
  catalog!: Catalog;
  archive!: RrdArchive;
  pipeline!: Pipeline;
  writer!: RrdWriter;
  slurpers!: SlurperScheduler;
  downtimes!: Downtimes;
  events!: Events;
  jobs!: Jobs;
  alarms!: Alarms;
  /** remote_write endpoints; absent without export.remoteWrite. */
  exporter?: Exporter;
  audit!: AuditLog;
  auth!: AuthStage;
  /** Where alarm notices go: the one given to the constructor, else the notifier (with notify.smtp), else a log line per notice. */
  alarmSink: AlarmSink;
  /** Mail for alarms, downtimes and events; absent without notify.smtp. */
  notifier?: Notifier;
  private readonly givenSink?: AlarmSink;
  /** TCP connections each listener may hold, after the open-file bound. */
  private readonly tcpMax = { graphite: 0, syslog: 0 };
  /** Our own rrdcached, when the config says spawn. */
  cachedProc?: RrdcachedProcess;
  private cachedClient?: RrdcachedClient;
  /** The express app, for tests that inspect its routes. */
  app?: ReturnType<typeof createApp>;
  private http?: Server;
  private tcp?: GraphiteTcp;
  private udp?: dgram.Socket;
  private syslog?: Syslog;
  /** Certificates of the TLS listeners, re-read by reloadTls() (SIGHUP). */
  private readonly tlsEndpoints: TlsEndpoint[] = [];
  seriesLimiter!: SeriesLimiter;
  private refreshTimer?: NodeJS.Timeout;
  private checkpointTimer?: NodeJS.Timeout;
  private checkpointing?: Promise<void>;
  wal?: WriteAheadLog;
  /** Hands what this collector accepted on to forward.url; absent without it. */
  forwarder?: ForwardSender;
  receiver?: ForwardReceiver;
  private ready = false;
  /** From the first moment of stop(): ingest over HTTP says so instead of taking samples. */
  private stopping = false;
  /** Where each listener really listens (ports resolved when configured as 0). */
  readonly addresses: { http?: string; graphiteTcp?: string; graphiteUdp?: string; syslogTcp?: string; syslogUdp?: string } = {};

  constructor(
    /** Replaced by reload(). */
    public config: Config,
    log?: Logger,
    opts: { alarmSink?: AlarmSink } = {},
  ) {
    this.log = log ?? createLogger(config.log);
    this.givenSink = opts.alarmSink;
    this.alarmSink = opts.alarmSink ?? new LogSink(this.log.child({ stage: 'alarms' }));
  }

  async start(): Promise<void> {
    try {
      await this.startSteps();
    } catch (e) {
      // Whatever did start (rrdcached, rrdtool pipes, the database, listeners) is stopped again, so a failed start
      // leaves no process or handle behind.
      await this.stop().catch((err) => this.log.error({ err }, 'stopping after a failed start failed too'));
      throw e;
    }
  }

  private async startSteps(): Promise<void> {
    const c = this.config;
    const dataDir = path.resolve(c.dataDir);
    const archiveRoot = path.resolve(dataDir, c.rrd.archive);
    this.db = await openDatabase(c);
    this.catalog = new Catalog(this.db, archiveRoot);
    await this.catalog.refresh();
    const moved = await this.catalog.relocateRefusedFiles();
    if (moved) this.log.warn(`moved ${moved} RRD file(s) whose names rrdcached refuses ("../" inside) to their current names`);
    this.metrics.series.set(this.catalog.size);
    this.seriesLimiter = new SeriesLimiter(c.seriesLimits, this.catalog, this.log, this.metrics.registry);
    // Certificates are read before anything listens: a bad file stops the start with its config key named.
    const tlsFor = (t: Config['http']['tls'], what: string) => {
      if (!t) return undefined;
      const e = new TlsEndpoint(t, what);
      this.tlsEndpoints.push(e);
      return e;
    };
    const httpTls = tlsFor(c.http.tls, 'http.tls');
    const graphiteTls = tlsFor(c.graphite.tls, 'graphite.tls');
    const syslogTls = tlsFor(c.syslog.tls, 'syslog.tls');

    // Also without rrdcached: the free-space check before a file is made reads the archive's file system.
    await mkdir(archiveRoot, { recursive: true });
    if (c.rrd.cached.mode === 'spawn') {
      await this.startCached(dataDir, archiveRoot);
      this.cachedClient = new RrdcachedClient(this.cachedProc!.address, { replayWindow: replayWindow(c.rrd.cached.writeInterval) });
    } else if (c.rrd.cached.mode === 'external') {
      this.cachedClient = new RrdcachedClient(c.rrd.cached.address!, { replayWindow: replayWindow(c.rrd.cached.writeInterval) });
    }
    const directReadFailures = new RateLimitedLog(this.log, 60_000);
    this.archive = new RrdArchive({
      root: archiveRoot,
      rrdtool: c.rrd.rrdtool,
      writers: c.rrd.writers,
      readers: c.rrd.readers,
      directRead: c.rrd.directRead,
      onDirectReadFailure: (message) => {
        this.metrics.directReadFailures.inc();
        directReadFailures.warn((n) => `${n} series read(s) fell back to rrdtool xport: a file-reader thread failed (${message})`);
      },
      cached: this.cachedClient,
      hooks: {
        onLatency: (s) => this.metrics.rrdLatency.observe(s),
        onRestart: (reason) => {
          this.metrics.rrdRestarts.inc();
          this.log.warn(`${reason}; restarted, commands in flight are sent again`);
        },
      },
    });
    this.writer = new RrdWriter(this.archive, this.catalog, new TemplateChooser(c.rrd), this.metrics, (m) => this.log.warn(m), c.rrd.minFreeBytes);
    if (c.wal.enabled)
      this.wal = new WriteAheadLog({ dir: path.join(dataDir, 'wal'), ...c.wal, segmentBytes: c.wal.segmentSize, log: (m) => this.log.warn(m) });
    this.pipeline = new Pipeline({ ...c.pipeline, wal: this.wal, log: (msg, err) => this.log.error({ err }, msg) }, this.metrics);
    this.pipeline.add(this.writer);
    if (c.export.remoteWrite.length) {
      this.exporter = new Exporter(c.export, this.metrics.registry, this.log.child({ stage: 'export' }));
      await this.exporter.start();
      this.pipeline.add(this.exporter);
    }
    if (c.forward.url) {
      // Before the log's replay: what an earlier run accepted is forwarded too (marked as a replay).
      this.forwarder = new ForwardSender({ ...c.forward, url: c.forward.url }, { dataDir, registry: this.metrics.registry, log: this.stageLog('forward') });
      await this.forwarder.start();
      this.pipeline.add(this.forwarder);
    }
    this.pipeline.start();
    if (this.wal) {
      // What an earlier run accepted but had not seen into the files goes first, before any new input.
      const replayed = await this.pipeline.replay(this.wal.replay());
      await this.wal.open();
      this.metrics.walReplayed.inc(replayed);
      if (replayed) this.log.info(`replaying ${replayed} samples from the write-ahead log`);
      this.checkpointTimer = setInterval(() => void this.checkpoint(), c.wal.checkpointInterval * 1000);
      this.checkpointTimer.unref();
    }

    const mapper = new GraphiteMapper(c.graphite.mappings);
    const query = new QueryEngine(this.catalog, this.archive, this.writer, (e) => c.rrd.templates[e.template]?.type === 'GAUGE');
    this.audit = new AuditLog(this.db);
    this.auth = new AuthStage(c, this.db, this.audit, this.log.child({ stage: 'auth' }));
    const { anonymousRead } = this.auth.state;
    const authDeps = { auth: this.auth.state };
    this.downtimes = new Downtimes(this.db, c.downtimes, this.log.child({ stage: 'downtimes' }), this.metrics.registry);
    this.events = new Events(this.db, c.events, this.log.child({ stage: 'events' }), this.metrics.registry);
    this.jobs = new Jobs(this.db, c.jobs, {
      log: this.log.child({ stage: 'jobs' }),
      registry: this.metrics.registry,
      push: (samples) => this.pipeline.push(samples, 'jobs'),
      // job.silent goes through the queue like any event: stored, folded into the job's history, forwarded.
      emit: (events) => this.events.submit(events),
    });
    // Job states and forwarding are processors of the event queue, each with its own lane (retried, never dropped).
    if (c.jobs.enabled) this.events.addProcessor({ name: 'jobs', process: (events) => this.jobs.process(events) }, { onError: 'retry' });
    // Events stored (API, syslog, pull slurpers, forwarded from below) are handed on in the store's transaction:
    // the store takes each event exactly once (a batch replayed from the journal is known by its key). A crash
    // after the forward buffer took a batch but before the store's commit offers that batch again: the key goes
    // along, and the receiver stores a key it has seen once only.
    if (this.forwarder) this.events.store.onInsert((_trx, events, _now, key) => this.forwarder!.events.process(events, key));
    this.receiver = new ForwardReceiver({
      db: this.db,
      pipeline: this.pipeline,
      events: this.events.store,
      registry: this.metrics.registry,
      auth: { anonymousRead, anonymousWrite: c.auth.anonymousWrite },
      idRetention: c.forward.idRetention,
      log: this.stageLog('forward'),
    });
    if (c.notify.smtp) {
      this.notifier = new Notifier(this.db, c.notify, {
        log: this.log.child({ stage: 'notify' }),
        registry: this.metrics.registry,
        downtimes: this.downtimes.store,
        events: this.events.store,
        statusUrl: () => `${this.addresses.http}/`,
      });
      if (!this.givenSink) this.alarmSink = this.notifier;
    }
    // Handlers, counting rules and the store drain the event queue; what an earlier run accepted is queued again.
    await this.events.open({
      journal: c.events.journal ? { dir: path.join(dataDir, 'events-journal'), ...c.wal, segmentBytes: c.wal.segmentSize } : undefined,
      push: (samples) => this.pushWaiting(samples, 'events:counters'),
      sendMail: this.notifier ? (m) => this.notifier!.sendMail(m) : undefined,
    });
    this.slurpers = new SlurperScheduler(c.slurpers, {
      pipeline: this.pipeline,
      metrics: this.metrics,
      mapper,
      log: this.log,
      gate: this.seriesLimiter,
      events: this.events,
    });
    const graphs = new GraphRenderer(
      {
        find: (sel, limit) => this.catalog.find(sel, limit),
        flush: (series) => this.writer.flush(series.filter((e) => e.origin === 'native').map((e) => e.file)),
        downtimes: (series, from, to) => this.downtimes.windows(series, from, to),
        rule: (name) => c.alarms.rules.find((r) => r.name === name),
        graph: (file, args) => this.archive.graph(file, args),
      },
      path.join(dataDir, 'tmp'),
    );
    this.alarms = new Alarms({
      config: c.alarms,
      db: this.db,
      catalog: this.catalog,
      query,
      downtimes: this.downtimes,
      sink: this.alarmSink,
      log: this.log.child({ stage: 'alarms' }),
      registry: this.metrics.registry,
    });
    const app = (this.app = createApp({
      version: VERSION,
      catalog: this.catalog,
      pipeline: this.pipeline,
      query,
      metrics: this.metrics,
      tokens: this.auth.tokens,
      authenticator: this.auth.authenticator,
      auth: this.auth.state,
      audit: this.audit,
      log: this.log,
      ready: () => this.ready,
      stopping: () => this.stopping,
      startedAt: Math.floor(Date.now() / 1000),
      // The event processors first: job states and counting rules push samples of their own.
      flush: async () => {
        await this.events.drain(EVENT_DRAIN_MS);
        await this.pipeline.flush();
      },
      downtimeCover: () => this.downtimes.coverAt(),
      limits: c.http.limits,
      seriesGate: this.seriesLimiter,
      seriesRefusals: () => this.seriesLimiter.refusals(),
      routers: [
        this.downtimes.router(authDeps),
        this.events.router(authDeps),
        jobRouter(this.jobs, authDeps),
        graphRouter(graphs, requireRole('viewer', authDeps)),
        this.alarms.router(authDeps),
        outboxRoutes(this.db, authDeps),
        auditRouter(this.audit, requireRole('admin', authDeps)),
        this.receiver.router(),
      ],
      readyDetails: () => (this.forwarder ? { forward: this.forwarder.status() } : {}),
      status: {
        alarms: () => (c.alarms.rules.length ? this.alarms.view.current() : undefined),
        page: c.web,
        downtimes: (now) => this.downtimes.glance(now, 7 * 86400),
        slurpers: () => this.slurpers.status(),
      },
    }));
    const { host, port } = splitHostPort(c.http.listen);
    this.http = await new Promise<Server>((resolve, reject) => {
      const s = httpTls
        ? httpTls.attach(createHttpsServer({ ...httpTls.serverOptions(), maxHeaderSize: MAX_HEADER_SIZE }, app))
        : createServer({ maxHeaderSize: MAX_HEADER_SIZE }, app);
      s.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: { headersSent?: boolean } }) => {
        // As node's default handler: nothing to say on a reset socket or once a response has begun.
        if (err.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) return void socket.destroy();
        socket.end(clientErrorResponse(err, MAX_HEADER_SIZE));
      });
      s.once('error', (e) => reject(new Error(`cannot listen on ${c.http.listen} for HTTP: ${e.message}`)));
      s.listen(port, host, () => resolve(s));
    });
    this.addresses.http = `${httpTls ? 'https' : 'http'}://${fmtAddr(this.http.address() as net.AddressInfo)}`;

    const deps = {
      pipeline: this.pipeline,
      metrics: this.metrics,
      mapper,
      log: this.log,
      maxLineLength: c.graphite.maxLineLength,
      gate: this.seriesLimiter,
      allow: allowListFor(c.graphite),
    };
    if (c.graphite.tcp) {
      const maxConnections = (this.tcpMax.graphite = this.boundConnections(c.graphite.maxConnections, 'graphite'));
      this.tcp = await startGraphiteTcp(c.graphite.tcp, deps, { drainTimeout: c.graphite.drainTimeout, maxConnections, tls: graphiteTls }).catch((e) => {
        throw new Error(`cannot listen on ${c.graphite.tcp} for Graphite TCP: ${e.message}`);
      });
      this.addresses.graphiteTcp = fmtAddr(this.tcp.address());
    }
    if (c.graphite.udp) {
      this.udp = await startGraphiteUdp(c.graphite.udp, deps).catch((e) => {
        throw new Error(`cannot listen on ${c.graphite.udp} for Graphite UDP: ${e.message}`);
      });
      this.addresses.graphiteUdp = fmtAddr(this.udp.address());
    }
    if (c.syslog.tcp || c.syslog.udp) {
      this.syslog = new Syslog(c.syslog);
      const maxConnections = (this.tcpMax.syslog = c.syslog.tcp ? this.boundConnections(c.syslog.maxConnections, 'syslog') : 0);
      await this.syslog.start({
        pipeline: this.pipeline,
        events: { insert: (batch) => this.events.submit(batch) },
        metrics: this.metrics,
        log: this.log.child({ stage: 'syslog' }),
        maxConnections,
        gate: this.seriesLimiter,
        tls: syslogTls,
      });
      if (this.syslog.addresses.tcp) this.addresses.syslogTcp = fmtAddr(this.syslog.addresses.tcp);
      if (this.syslog.addresses.udp) this.addresses.syslogUdp = fmtAddr(this.syslog.addresses.udp);
    }
    this.checkConnectionLimits();
    this.slurpers.start();
    this.downtimes.start();
    this.events.start();
    if (c.jobs.enabled) this.jobs.start();
    this.receiver.start();
    this.notifier?.start();
    await this.alarms.start();
    // Series added by other processes (rexmon import, other collectors on the same PostgreSQL).
    this.refreshTimer = setInterval(() => {
      this.catalog.refresh().catch((e) => this.log.error({ err: e }, 'catalog refresh failed'));
    }, c.catalog.refreshInterval * 1000);
    this.refreshTimer.unref();
    await this.auditConfig('config.start', c);
    this.ready = true;
    this.log.info(
      { ...this.addresses, dataDir, archive: archiveRoot, rrdcached: this.cachedClient?.address ?? 'off', anonymousRead, series: this.catalog.size },
      `rexmon collector ${VERSION} listening on ${this.addresses.http}`,
    );
    if (anonymousRead && !isLoopback(c.http.listen)) this.log.warn('anonymous read is on while the API listens beyond loopback');
    for (const w of exposureWarnings(c, anonymousRead)) this.log.warn(w);
  }

  /**
   * Our rrdcached, started. After a crash its journal holds values it never wrote: a first rrdcached reads the
   * journal and writes all of it out as it stops (-F), so that the files are complete before anything relies on them.
   */
  private async startCached(dataDir: string, archiveRoot: string): Promise<void> {
    const c = this.config.rrd.cached;
    const stateDir = path.join(dataDir, 'rrdcached');
    const make = () => new RrdcachedProcess(c.binary, archiveRoot, stateDir, c.writeInterval, (m) => this.log.warn(m));
    const journal = await readdir(path.join(stateDir, 'journal')).catch(() => [] as string[]);
    if (journal.some((f) => f.startsWith('rrd.journal'))) {
      this.log.info('rrdcached journal left by an earlier run: writing it into the files first');
      const once = make();
      this.cachedProc = once;
      await once.start();
      await once.stop();
    }
    this.cachedProc = make();
    await this.cachedProc.start();
  }

  /** Re-reads every TLS certificate, key and CA (SIGHUP); one that is not usable keeps its old ones and is reported. */
  reloadTls(): { reloaded: number; errors: string[] } {
    const errors: string[] = [];
    let reloaded = 0;
    for (const e of this.tlsEndpoints) {
      try {
        e.reload();
        reloaded++;
      } catch (err) {
        errors.push((err as Error).message);
        this.log.error(`TLS reload: ${(err as Error).message}; the old certificate stays in use`);
      }
    }
    this.log.info(`TLS reload: ${reloaded} of ${this.tlsEndpoints.length} certificate(s) re-read`);
    return { reloaded, errors };
  }

  /** Flushes what was accepted into the files and trims the write-ahead log (one at a time). */
  private async checkpoint(): Promise<void> {
    if (this.checkpointing) return;
    this.checkpointing = this.pipeline
      .flush()
      .catch((e) => this.log.error({ err: e }, 'checkpoint failed; the write-ahead log keeps everything'))
      .finally(() => {
        this.checkpointing = undefined;
        this.metrics.walBytes.set(this.wal?.bytes ?? 0);
      });
    return this.checkpointing;
  }

  private stageLog(stage: string) {
    const l = this.log.child({ stage });
    return { info: (m: string) => l.info(m), warn: (m: string) => l.warn(m), error: (m: string) => l.error(m) };
  }

  /** Into the pipeline, waiting while it is full (counted events must not be dropped for a moment's backpressure). */
  private async pushWaiting(samples: Sample[], source: string): Promise<void> {
    for (;;) {
      const r = this.pipeline.push(samples, source);
      if (r !== false) {
        if (!(await r)) this.log.error(`${samples.length} samples from ${source} refused by the write-ahead log`);
        return;
      }
      if (this.pipeline.refusal(samples.length) === 'shutting down') return;
      await this.pipeline.waitForSpace(samples.length);
    }
  }

  /** Past the open-file limit, accept() fails and libuv drops connections unseen: stay below it, with a reserve. */
  private boundConnections(configured: number, listener: 'graphite' | 'syslog'): number {
    const limit = openFileLimit();
    if (!limit) return configured;
    const reserve = fdReserve(limit.soft);
    if (limit.soft >= configured + reserve) return configured;
    const bounded = Math.max(1, limit.soft - reserve);
    this.log.warn(
      `the open-file limit (${limit.soft}, hard ${limit.hard}) is below ${listener}.maxConnections ${configured} + ${reserve} kept for the database, rrdcached, rrdtool and HTTP: at most ${bounded} ${listener === 'graphite' ? 'Graphite' : 'syslog'} TCP connections (raise the hard limit, e.g. LimitNOFILE= in systemd)`,
    );
    return bounded;
  }

  /**
   * Each TCP listener alone is bounded above; here the two together (a descriptor per connection, whichever
   * listener holds it) and the kernel's cap on the listen backlog, each said once at start.
   */
  private checkConnectionLimits(): void {
    const c = this.config;
    const both = c.graphite.tcp && c.syslog.tcp ? this.tcpMax.graphite + this.tcpMax.syslog : 0;
    const limit = openFileLimit();
    if (both && limit && limit.soft < both + fdReserve(limit.soft))
      this.log.warn(
        `the open-file limit (${limit.soft}, hard ${limit.hard}) is below Graphite and syslog TCP together: ${this.tcpMax.graphite} + ${this.tcpMax.syslog} connections + ${fdReserve(limit.soft)} kept for the database, rrdcached, rrdtool and HTTP; with both full, new connections fail (raise the hard limit, e.g. LimitNOFILE= in systemd, or lower graphite/syslog.maxConnections)`,
      );
    const cap = listenBacklogCap();
    if ((c.graphite.tcp || c.syslog.tcp) && cap !== undefined && cap < LISTEN_BACKLOG)
      this.log.warn(
        `net.core.somaxconn is ${cap}: the TCP listen backlog is cut from ${LISTEN_BACKLOG} to ${cap}; more slurpers than that connecting at once wait for SYN retries (sysctl -w net.core.somaxconn=${LISTEN_BACKLOG})`,
      );
  }

  /** Writes which config sections changed since the last start or reload (names only, never values). */
  private async auditConfig(action: 'config.start' | 'config.reload', c: Config, who = { who: 'collector', via: 'system' as const, from: 'local' }) {
    const digests = configDigests(c);
    const last = (await this.audit.list({ action: 'config.', limit: 1 }))[0];
    const changed = last ? configChanges(last.details.digests as Record<string, string> | undefined, digests) : undefined;
    if (action === 'config.reload' || !last || changed!.length)
      await this.audit.record({ ...who, action, target: 'config', details: { changed: changed ?? 'first start', digests } });
    return changed ?? [];
  }

  /**
   * Applies a new config where that works without a restart (auth: tokens, users file, proxy, anonymous rules) and
   * re-reads the users file; says which other changes wait for a restart. The caller validated `next`.
   */
  async reload(next: Config): Promise<{ applied: string[]; needRestart: string[] }> {
    const changed = configChanges(configDigests(this.config), configDigests(next));
    try {
      this.auth.reload(next);
    } catch (e) {
      this.log.error(`config reload refused: ${(e as Error).message}`);
      await this.audit.record({
        who: 'collector',
        via: 'system',
        from: 'local',
        action: 'config.reload-refused',
        target: 'config',
        details: { changed, error: (e as Error).message },
      });
      throw e;
    }
    this.config = next;
    await this.auditConfig('config.reload', next);
    const applied = changed.filter((k) => k.startsWith('auth.'));
    const needRestart = changed.filter((k) => !k.startsWith('auth.'));
    // Changes that wait for a restart are a warning: the operator may think they are in force.
    this.log[needRestart.length ? 'warn' : 'info'](
      `config reloaded${applied.length ? `; applied: ${applied.join(', ')}` : ''}${needRestart.length ? `; changed, takes effect at the next start: ${needRestart.join(', ')}` : ''}`,
    );
    return { applied, needRestart };
  }

  /** Stops input first, then drains and flushes every accepted sample, then the backends. */
  async stop(): Promise<void> {
    this.ready = false;
    this.stopping = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.checkpointTimer);
    this.slurpers?.stop();
    this.auth?.close();
    await this.alarms?.stop();
    await this.downtimes?.stop();
    // TCP: idle connections are closed, busy ones drain for graphite.drainTimeout; their lines go in before the pipeline drains.
    await Promise.all([this.tcp?.close(), this.udp && new Promise((r) => this.udp!.close(() => r(undefined))), this.syslog?.close()]);
    // Job states before the events (they emit job.silent); events after the listeners (syslog feeds them), before the
    // notifier (handlers may mail) and the pipeline (counters and job states push).
    await this.jobs?.stop();
    await this.events?.stop();
    await this.notifier?.stop();
    await this.checkpointing;
    // A failed step is logged and the next still runs: a flush error must not leave rrdcached or the DB open.
    let failed: unknown;
    const step = (what: string, fn: () => Promise<unknown> | undefined) =>
      Promise.resolve()
        .then(fn)
        .catch((e) => {
          failed ??= e;
          this.log.error({ err: e }, `${what} failed while stopping`);
        });
    await step('draining the pipeline', () => this.pipeline?.stop());
    await step('sending the rest to remote_write', () => this.exporter?.stop());
    await step('closing the write-ahead log', () => this.wal?.close());
    if (this.http) {
      this.http.closeAllConnections();
      await new Promise((r) => this.http!.close(r));
    }
    await step('stopping the forward receiver', () => this.receiver?.stop());
    // What is not yet acknowledged stays in the buffer and goes first at the next start.
    await step('stopping forwarding', () => this.forwarder?.stop());
    await step('closing the rrdtool pipes', () => this.archive?.close());
    await step('closing the rrdcached client', () => this.cachedClient?.close());
    await step('stopping rrdcached', () => this.cachedProc?.stop());
    await step('closing the database', () => this.db?.destroy());
    if (failed) throw failed;
    this.log.info('rexmon collector stopped');
  }
}

/** rrdcached writes a value within -w plus a random delay up to -z (we start it with -z = w/5); add a margin. */
function replayWindow(writeInterval: number): number {
  return writeInterval * 1.2 + 60;
}

function fmtAddr(a: net.AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
