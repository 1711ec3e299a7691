// The collector process: wires config → database → catalog → RRD archive → pipeline → listeners, slurpers, API.
import dgram from 'node:dgram';
import { mkdir } from 'node:fs/promises';
import { createServer, Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import pino, { Logger } from 'pino';
import { TokenStore } from './auth/tokens.js';
import { createApp } from './api/server.js';
import { Catalog } from './catalog/catalog.js';
import { Config } from './config/schema.js';
import { Db, openDb } from './db/index.js';
import { Downtimes } from './downtimes/index.js';
import { Events } from './events/index.js';
import { GraphiteMapper } from './ingest/graphite.js';
import { startGraphiteTcp, startGraphiteUdp } from './ingest/graphite-listeners.js';
import { Metrics } from './metrics/metrics.js';
import { Pipeline } from './pipeline/pipeline.js';
import { QueryEngine } from './query/engine.js';
import { RrdArchive } from './rrd/archive.js';
import { RrdcachedClient, RrdcachedProcess } from './rrd/cached.js';
import { RrdWriter, TemplateChooser } from './rrd/writer.js';
import { SlurperScheduler } from './slurpers/scheduler.js';
import { isLoopback, splitHostPort } from './util/net.js';
import { VERSION } from './version.js';

export function openDatabase(config: Config): Promise<Db> {
  return openDb({ client: config.database.client, filename: path.resolve(config.dataDir, config.database.filename), connection: config.database.connection });
}

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
  /** Our own rrdcached, when the config says spawn. */
  cachedProc?: RrdcachedProcess;
  private cachedClient?: RrdcachedClient;
  /** The express app, for tests that inspect its routes. */
  app?: ReturnType<typeof createApp>;
  private http?: Server;
  private tcp?: net.Server;
  private udp?: dgram.Socket;
  private refreshTimer?: NodeJS.Timeout;
  private ready = false;
  /** Where each listener really listens (ports resolved when configured as 0). */
  readonly addresses: { http?: string; graphiteTcp?: string; graphiteUdp?: string } = {};

  constructor(
    readonly config: Config,
    log?: Logger,
  ) {
    this.log = log ?? pino({ level: config.log.level, base: { service: 'rexmon' } });
  }

  async start(): Promise<void> {
    const c = this.config;
    const dataDir = path.resolve(c.dataDir);
    const archiveRoot = path.resolve(dataDir, c.rrd.archive);
    this.db = await openDatabase(c);
    this.catalog = new Catalog(this.db, archiveRoot);
    await this.catalog.refresh();
    const moved = await this.catalog.relocateRefusedFiles();
    if (moved) this.log.warn(`moved ${moved} RRD file(s) whose names rrdcached refuses ("../" inside) to their current names`);
    this.metrics.series.set(this.catalog.size);

    if (c.rrd.cached.mode === 'spawn') {
      this.cachedProc = new RrdcachedProcess(c.rrd.cached.binary, archiveRoot, path.join(dataDir, 'rrdcached'), c.rrd.cached.writeInterval, (m) =>
        this.log.warn(m),
      );
      await mkdir(archiveRoot, { recursive: true });
      await this.cachedProc.start();
      this.cachedClient = new RrdcachedClient(this.cachedProc.address, { replayWindow: replayWindow(c.rrd.cached.writeInterval) });
    } else if (c.rrd.cached.mode === 'external') {
      this.cachedClient = new RrdcachedClient(c.rrd.cached.address!, { replayWindow: replayWindow(c.rrd.cached.writeInterval) });
    }
    this.archive = new RrdArchive({
      root: archiveRoot,
      rrdtool: c.rrd.rrdtool,
      writers: c.rrd.writers,
      readers: c.rrd.readers,
      cached: this.cachedClient,
      hooks: {
        onLatency: (s) => this.metrics.rrdLatency.observe(s),
        onRestart: (reason) => {
          this.metrics.rrdRestarts.inc();
          this.log.warn(`${reason}; restarted, commands in flight are sent again`);
        },
      },
    });
    this.writer = new RrdWriter(this.archive, this.catalog, new TemplateChooser(c.rrd), this.metrics, (m) => this.log.warn(m));
    this.pipeline = new Pipeline({ ...c.pipeline, log: (msg, err) => this.log.error({ err }, msg) }, this.metrics);
    this.pipeline.add(this.writer);
    this.pipeline.start();

    const mapper = new GraphiteMapper(c.graphite.mappings);
    const query = new QueryEngine(this.catalog, this.archive, this.writer, (e) => c.rrd.templates[e.template]?.type === 'GAUGE');
    const anonymousRead = c.auth.anonymousRead ?? isLoopback(c.http.listen);
    this.downtimes = new Downtimes(this.db, c.downtimes, this.log.child({ stage: 'downtimes' }), this.metrics.registry);
    this.events = new Events(this.db, c.events, this.log.child({ stage: 'events' }), this.metrics.registry);
    const app = (this.app = createApp({
      version: VERSION,
      catalog: this.catalog,
      pipeline: this.pipeline,
      query,
      metrics: this.metrics,
      tokens: new TokenStore(c.auth.tokens, this.db),
      auth: { anonymousRead, anonymousWrite: c.auth.anonymousWrite },
      log: this.log,
      ready: () => this.ready,
      startedAt: Math.floor(Date.now() / 1000),
      flush: () => this.pipeline.flush(),
      routers: [
        this.downtimes.router({ auth: { anonymousRead, anonymousWrite: c.auth.anonymousWrite } }),
        this.events.router({ auth: { anonymousRead, anonymousWrite: c.auth.anonymousWrite } }),
      ],
    }));
    const { host, port } = splitHostPort(c.http.listen);
    this.http = await new Promise<Server>((resolve, reject) => {
      const s = createServer(app);
      s.once('error', (e) => reject(new Error(`cannot listen on ${c.http.listen} for HTTP: ${e.message}`)));
      s.listen(port, host, () => resolve(s));
    });
    this.addresses.http = `http://${fmtAddr(this.http.address() as net.AddressInfo)}`;

    const deps = { pipeline: this.pipeline, metrics: this.metrics, mapper, log: this.log, maxLineLength: c.graphite.maxLineLength };
    if (c.graphite.tcp) {
      this.tcp = await startGraphiteTcp(c.graphite.tcp, deps).catch((e) => {
        throw new Error(`cannot listen on ${c.graphite.tcp} for Graphite TCP: ${e.message}`);
      });
      this.addresses.graphiteTcp = fmtAddr(this.tcp.address() as net.AddressInfo);
    }
    if (c.graphite.udp) {
      this.udp = await startGraphiteUdp(c.graphite.udp, deps).catch((e) => {
        throw new Error(`cannot listen on ${c.graphite.udp} for Graphite UDP: ${e.message}`);
      });
      this.addresses.graphiteUdp = fmtAddr(this.udp.address());
    }
    this.slurpers = new SlurperScheduler(c.slurpers, { pipeline: this.pipeline, metrics: this.metrics, mapper, log: this.log });
    this.slurpers.start();
    this.downtimes.start();
    this.events.start();
    // Series added by other processes (rexmon import, other collectors on the same PostgreSQL).
    this.refreshTimer = setInterval(() => {
      this.catalog.refresh().catch((e) => this.log.error({ err: e }, 'catalog refresh failed'));
    }, c.catalog.refreshInterval * 1000);
    this.refreshTimer.unref();
    this.ready = true;
    this.log.info(
      { ...this.addresses, dataDir, archive: archiveRoot, rrdcached: this.cachedClient?.address ?? 'off', anonymousRead, series: this.catalog.size },
      `rexmon collector ${VERSION} listening on ${this.addresses.http}`,
    );
    if (anonymousRead && !isLoopback(c.http.listen)) this.log.warn('anonymous read is on while the API listens beyond loopback');
  }

  /** Stops input first, then drains and flushes every accepted sample, then the backends. */
  async stop(): Promise<void> {
    this.ready = false;
    clearInterval(this.refreshTimer);
    this.slurpers?.stop();
    await this.downtimes?.stop();
    await this.events?.stop();
    await Promise.all([this.tcp && new Promise((r) => this.tcp!.close(r)), this.udp && new Promise((r) => this.udp!.close(() => r(undefined)))]);
    // A failed step is logged and the next still runs: a flush error must not leave rrdcached or the DB open.
    const step = (what: string, fn: () => Promise<unknown> | undefined) =>
      Promise.resolve()
        .then(fn)
        .catch((e) => this.log.error({ err: e }, `${what} failed while stopping`));
    await step('draining the pipeline', () => this.pipeline?.stop());
    if (this.http) {
      this.http.closeAllConnections();
      await new Promise((r) => this.http!.close(r));
    }
    await step('closing the rrdtool pipes', () => this.archive?.close());
    await step('closing the rrdcached client', () => this.cachedClient?.close());
    await step('stopping rrdcached', () => this.cachedProc?.stop());
    await step('closing the database', () => this.db?.destroy());
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
