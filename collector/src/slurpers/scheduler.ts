// Runs each configured slurper on its schedule (interval or cron), never two runs of one slurper at once,
// and reports every problem with the slurper's name, in the log and in /metrics.
import { Cron } from 'croner';
import { Logger } from 'pino';
import { SlurperConfig } from '../config/schema.js';
import type { EventInput } from '../events/model.js';
import { GraphiteMapper } from '../ingest/graphite.js';
import { Metrics } from '../metrics/metrics.js';
import { Sample } from '../model/series.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { SeriesGate } from '../limits/series.js';
import { runCommand } from './command.js';
import { CondorSlurper } from './condor/condor.js';
import { HostSlurper } from './host.js';
import { scrapeHttp } from './http.js';

export interface SlurperDeps {
  pipeline: Pipeline;
  metrics: Metrics;
  mapper: GraphiteMapper;
  log: Logger;
  /** New-series limits (the slurper is the sender); absent: none. */
  gate?: SeriesGate;
  /** The event queue, for slurpers in events mode (waits while it is full). */
  events?: { submit(events: EventInput[]): Promise<number> };
}

/** One slurper's recent health, as the status page shows it. */
export interface SlurperStatus {
  name: string;
  type: string;
  /** `every 60 s` or the cron expression. */
  schedule: string;
  running: boolean;
  runs: number;
  /** Runs whose result was not ok. */
  failedRuns: number;
  last?: { at: number; seconds: number; result: string; samples: number; errors: number; message?: string; events?: number };
}

export class SlurperScheduler {
  private readonly health = new Map<string, { runs: number; failedRuns: number; last?: SlurperStatus['last'] }>();
  private readonly timers: (NodeJS.Timeout | Cron)[] = [];
  private readonly running = new Set<string>();
  private readonly hosts = new Map<string, HostSlurper>();
  private readonly condors = new Map<string, CondorSlurper>();
  private stopped = false;

  constructor(
    private readonly configs: SlurperConfig[],
    private readonly deps: SlurperDeps,
  ) {}

  start() {
    for (const c of this.configs) {
      if (c.cron) {
        this.timers.push(new Cron(c.cron, { protect: true }, () => void this.runOnce(c)));
      } else {
        const every = (c.interval ?? 60) * 1000;
        void this.runOnce(c);
        this.timers.push(setInterval(() => void this.runOnce(c), every));
      }
    }
  }

  /** One run of one slurper; resolves when its samples are in the pipeline. Exposed for tests and `rexmon` tools. */
  async runOnce(c: SlurperConfig): Promise<{ samples: number; errors: number; events?: number }> {
    if (this.running.has(c.name)) {
      this.deps.metrics.slurperRuns.inc({ slurper: c.name, result: 'skipped_overlap' });
      this.deps.log.warn({ slurper: c.name }, 'previous run still going; skipping this one');
      return { samples: 0, errors: 0 };
    }
    this.running.add(c.name);
    const t0 = performance.now();
    const at = Date.now() / 1000;
    let message: string | undefined;
    const log = this.deps.log.child({ slurper: c.name });
    const m = this.deps.metrics;
    let samples: Sample[] = [];
    let events: EventInput[] = [];
    let errors = 0;
    let result = 'ok';
    try {
      if (c.type === 'host') {
        let h = this.hosts.get(c.name);
        if (!h) this.hosts.set(c.name, (h = new HostSlurper(c.prefix)));
        samples = await h.collect();
      } else if (c.type === 'command') {
        const r = await runCommand(c.command, { timeoutSeconds: c.timeout, env: c.env, format: c.format, mapper: this.deps.mapper, mode: c.mode });
        samples = r.samples;
        events = r.events ?? [];
        for (const e of r.errors) log.warn(`bad output: ${e}`);
        if (r.errors.length) message = `bad output: ${r.errors[0]}`;
        m.slurperErrors.inc({ slurper: c.name, kind: 'bad_line' }, r.errors.length);
        errors += r.errors.length;
        if (r.spawnError) {
          result = 'error';
          errors++;
          m.slurperErrors.inc({ slurper: c.name, kind: 'spawn' });
          log.error((message = `cannot run ${JSON.stringify(c.command[0])}: ${r.spawnError}`));
        } else if (r.timedOut) {
          result = 'timeout';
          errors++;
          m.slurperErrors.inc({ slurper: c.name, kind: 'timeout' });
          log.error((message = `timed out after ${c.timeout} s and was killed; kept ${samples.length} complete line(s)`));
        } else if (r.exitCode !== 0) {
          result = 'error';
          errors++;
          m.slurperErrors.inc({ slurper: c.name, kind: 'exit' });
          log.error((message = `exited with ${r.signal ?? r.exitCode}${r.stderr ? `: ${r.stderr.slice(-500)}` : ''}; kept ${samples.length} good line(s)`));
        }
      } else if (c.type === 'condor') {
        let s = this.condors.get(c.name);
        if (!s) this.condors.set(c.name, (s = new CondorSlurper(c)));
        const r = await s.collect();
        samples = r.samples;
        for (const p of r.problems) {
          m.slurperErrors.inc({ slurper: c.name, kind: p.kind }, p.count);
          errors += p.count;
          log[p.failed ? 'error' : 'warn']({ ...p.target, command: p.command }, p.message);
        }
        // One schedd or pool failing makes the run an error; the others' series are still written.
        if (r.problems.some((p) => p.kind === 'timeout')) result = 'timeout';
        else if (r.problems.some((p) => p.failed)) result = 'error';
      } else {
        const r = await scrapeHttp(c.url, { timeoutSeconds: c.timeout, headers: c.headers, format: c.format, mode: c.mode });
        samples = r.samples;
        events = r.events ?? [];
        for (const e of r.errors) log.warn(e);
        m.slurperErrors.inc({ slurper: c.name, kind: r.status >= 400 ? 'http_status' : 'bad_line' }, r.errors.length);
        errors += r.errors.length;
        if (r.status >= 400) result = 'error';
        message = r.errors[0];
      }
    } catch (e) {
      result = (e as Error).name === 'TimeoutError' ? 'timeout' : 'error';
      errors++;
      m.slurperErrors.inc({ slurper: c.name, kind: result });
      log.error((message = `run failed: ${(e as Error).message}`));
    } finally {
      this.running.delete(c.name);
    }
    if ('labels' in c && Object.keys(c.labels).length) {
      samples = samples.map((s) => ({ ...s, labels: { ...c.labels, ...s.labels } }));
      events = events.map((e) => ({ ...e, labels: { ...c.labels, ...e.labels } }));
    }
    m.slurperRuns.inc({ slurper: c.name, result });
    const h = this.health.get(c.name) ?? { runs: 0, failedRuns: 0 };
    h.runs++;
    if (result !== 'ok') h.failedRuns++;
    h.last = {
      at,
      seconds: (performance.now() - t0) / 1000,
      result,
      samples: samples.length,
      errors,
      message,
      ...(events.length ? { events: events.length } : {}),
    };
    this.health.set(c.name, h);
    m.slurperSeconds.observe({ slurper: c.name }, (performance.now() - t0) / 1000);
    if (events.length) {
      if (!this.deps.events) log.error(`${events.length} events read but no event queue is wired; dropped`);
      else
        await this.deps.events.submit(events).catch((e: Error) => {
          m.slurperErrors.inc({ slurper: c.name, kind: 'events_refused' });
          log.error(`${events.length} events not taken: ${e.message}`);
        });
    }
    // Slurpers wait for room rather than drop: they can afford to be late.
    if (this.deps.gate && samples.length) samples = this.deps.gate.admit(samples, 'slurper', c.name).admitted;
    while (!this.stopped && !this.deps.pipeline.push(samples, `slurper:${c.name}`)) await this.deps.pipeline.waitForSpace(samples.length);
    return { samples: samples.length, errors, ...(events.length ? { events: events.length } : {}) };
  }

  /** Every configured slurper with its last run, in config order. */
  status(): SlurperStatus[] {
    return this.configs.map((c) => {
      const h = this.health.get(c.name);
      return {
        name: c.name,
        type: c.type,
        schedule: c.cron ? `cron ${c.cron}` : `every ${c.interval ?? 60} s`,
        running: this.running.has(c.name),
        runs: h?.runs ?? 0,
        failedRuns: h?.failedRuns ?? 0,
        last: h?.last,
      };
    });
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) {
      if (t instanceof Cron) t.stop();
      else clearInterval(t);
    }
  }
}
