// The collector's configuration: one YAML file, every key with a default that works on one machine.
import { RE2JS } from 're2js';
import { z } from 'zod';
import { alarmsSchema } from '../alarms/config.js';
import { jobsSchema } from '../jobs/config.js';
import { exportSchema } from '../export/config.js';
import { forwardSchema } from '../forward/config.js';
import { cidrList } from '../auth/authenticator.js';
import { notifySchema } from '../notify/config.js';
import { parseSelector } from '../matchers/selector.js';
import { duration } from './duration.js';
import { allowList, httpLimitsSchema, seriesLimitsSchema, tlsSchema } from './security.js';

/** `host:port`, `false` turns a listener off. Port 0 picks a free port. */
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:2003')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');
const listener = z.union([z.literal(false), hostPort]);

const CF = z.enum(['AVERAGE', 'MIN', 'MAX', 'LAST']);
// DCOUNTER/DDERIVE take fractional values (COUNTER/DERIVE refuse "12.5": "not a simple signed integer").
const DS_TYPE = z.enum(['GAUGE', 'COUNTER', 'DERIVE', 'DCOUNTER', 'DDERIVE', 'ABSOLUTE']);

const rra = z
  .object({
    cf: z.array(CF).min(1),
    /** Primary data points per row (1 = the template's step). */
    steps: z.number().int().positive(),
    rows: z.number().int().positive(),
    xff: z.number().min(0).max(0.99).default(0.5),
  })
  .strict();

export const templateSchema = z
  .object({
    step: duration.default(60),
    type: DS_TYPE.default('GAUGE'),
    /** Seconds without data before a point becomes unknown; default twice the step. */
    heartbeat: duration.optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    rras: z.array(rra).min(1),
  })
  .strict();
export type RrdTemplate = z.infer<typeof templateSchema>;

export const DEFAULT_TEMPLATES: Record<string, z.input<typeof templateSchema>> = {
  // 1 min for 1 day, 5 min for 1 week, 1 h for 1 year: 305 KB per series (10,000 series: 3 GB).
  gauge: {
    step: 60,
    type: 'GAUGE',
    rras: [
      { cf: ['AVERAGE', 'MIN', 'MAX', 'LAST'], steps: 1, rows: 1440 },
      { cf: ['AVERAGE', 'MIN', 'MAX'], steps: 5, rows: 2016 },
      { cf: ['AVERAGE', 'MIN', 'MAX'], steps: 60, rows: 8784 },
    ],
  },
  // Counters (bytes sent, jobs finished) stored as a per-second rate; same resolutions as gauge.
  counter: {
    step: 60,
    type: 'DDERIVE',
    min: 0,
    rras: [
      { cf: ['AVERAGE', 'MIN', 'MAX', 'LAST'], steps: 1, rows: 1440 },
      { cf: ['AVERAGE', 'MIN', 'MAX'], steps: 5, rows: 2016 },
      { cf: ['AVERAGE', 'MIN', 'MAX'], steps: 60, rows: 8784 },
    ],
  },
};

function builtinTemplates(): Record<string, RrdTemplate> {
  return Object.fromEntries(Object.entries(DEFAULT_TEMPLATES).map(([k, v]) => [k, templateSchema.parse(v)]));
}

const tokenSchema = z
  .object({
    name: z.string().min(1),
    role: z.enum(['viewer', 'editor', 'admin']),
    /** Hex SHA-256 of the token; the token itself never sits in the file. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (sha256 of the token)'),
  })
  .strict();

const role = z.enum(['viewer', 'editor', 'admin']);
/** People's logins (HTTP Basic) from an htpasswd file (bcrypt, as `htpasswd -B` and `rexmon user` write it). */
const usersSchema = z
  .object({
    /** Relative to dataDir. `user:hash` or `user:hash:role` lines. */
    file: z.string().min(1),
    /** The role of a line without a third field. */
    defaultRole: role.default('viewer'),
    /** A verified password is remembered (as a hash, in memory) this long, so a dashboard's requests do not each pay bcrypt. */
    cacheTtl: duration.default(300),
    /** The file is checked for changes this often (also re-read on SIGHUP). */
    pollInterval: duration.refine((s) => s > 0, 'must be more than 0').default(2),
  })
  .strict();
/** Trust a user name in a header set by a reverse proxy (SSO in front), only from these proxies. */
const proxySchema = z
  .object({
    header: z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name'),
    trustedProxies: z
      .array(
        z.string().refine((v) => {
          try {
            cidrList([v]);
            return true;
          } catch {
            return false;
          }
        }, 'expected an IP address or CIDR range, e.g. 10.0.0.5 or 10.0.0.0/24'),
      )
      .min(1),
    /** Header with the role; missing in a request: defaultRole. */
    roleHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name')
      .optional(),
    defaultRole: role.default('viewer'),
  })
  .strict();

const graphiteMapping = z.union([
  z
    .object({
      /** Glob over the dotted path: `*` is one path part, `**` any number; each is a capture $1, $2... */
      match: z.string().min(1),
      name: z.string().min(1),
      labels: z.record(z.string(), z.string()).default({}),
    })
    .strict(),
  z
    .object({
      /** collectd's write_graphite naming, mapped to the series `rexmon import --preset collectd` gives. */
      preset: z.literal('collectd'),
      /** Paths under this (write_graphite's Prefix without the trailing dot); '' for all. */
      prefix: z.string().default('collectd'),
    })
    .strict(),
]);

/** Which syslog messages a mapping takes: globs (`*`, `?`) over header fields; all given must match. */
const syslogMatch = z
  .object({
    app: z.string().min(1).optional(),
    hostname: z.string().min(1).optional(),
    msgid: z.string().min(1).optional(),
    /** The message has an SD element with this SD-ID. */
    sdId: z.string().min(1).optional(),
    facility: z.string().min(1).optional(),
    severity: z.string().min(1).optional(),
  })
  .strict();

const syslogMapping = z
  .object({
    match: syslogMatch.default({}),
    /** Values from the params of the SD elements whose SD-ID matches this glob. */
    sd: z.string().min(1).optional(),
    /** Values from `key=value` pairs in the message. */
    kv: z.literal(true).optional(),
    /** Values from the named groups of this RE2 regex over the message (`(?P<name>…)` or `(?<name>…)`). */
    regex: z.string().min(1).optional(),
    /** The params, keys or groups that become samples; default every one whose value is a number. */
    values: z.array(z.string().min(1)).min(1).optional(),
    /** Metric name; `${key}` is the param, key or group, `${app}`, `${hostname}`, `${msgid}`, `${procid}`, `${facility}`, `${severity}`, `${sdid}` and every param, key or group by name. */
    name: z.string().min(1),
    labels: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'label names use letters, digits and _'), z.string()).default({}),
    /** Also store the message as an event of type `syslog`. */
    event: z.boolean().default(false),
  })
  .strict()
  .superRefine((m, ctx) => {
    const from = (['sd', 'kv', 'regex'] as const).filter((k) => m[k] !== undefined);
    if (from.length !== 1)
      ctx.addIssue({ code: 'custom', message: `needs exactly one of sd, kv, regex (the values' source), got ${from.length ? from.join(', ') : 'none'}` });
    if (m.regex !== undefined) {
      try {
        const groups = Object.keys(RE2JS.compile(m.regex).namedGroups());
        if (groups.length === 0) ctx.addIssue({ code: 'custom', path: ['regex'], message: 'has no named group (?P<name>…) to take a value from' });
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['regex'], message: `not a valid RE2 regex: ${(e as Error).message}` });
      }
    }
  });
export type SyslogMappingConfig = z.infer<typeof syslogMapping>;

const labelMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'label names use letters, digits and _'),
  z.string().regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters'),
);

const schedule = {
  interval: duration.optional(),
  /** Cron expression (5 or 6 fields); wins over interval. */
  cron: z.string().optional(),
  timeout: duration.default(30),
};

// HTCondor names reach argv after -name/-pool: a host, host:port or name@host, never something that reads as an option.
const condorName = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'expected a host name, host:port or name@host (letters, digits, . _ : @ -; not starting with -)');
const argv = z.array(z.string().min(1)).min(1);
const condorRule = z
  .object({
    /** ClassAd attribute read, e.g. AcctGroup. */
    attribute: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a ClassAd attribute name'),
    /** JavaScript regex with a named group `experiment`. */
    regex: z.string().transform((s, ctx) => {
      try {
        const re = new RegExp(s);
        if (!s.includes('(?<experiment>')) ctx.addIssue({ code: 'custom', message: 'needs a named group (?<experiment>…)' });
        return re;
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `not a regex: ${(e as Error).message}` });
        return z.NEVER;
      }
    }),
  })
  .strict();
export const CONDOR_DEFAULTS = {
  condorQ: ['condor_q', '-allusers', '-json', '-attributes', 'JobStatus,Owner,AcctGroup,AccountingGroup,HoldReasonCode,RequestCpus,RequestMemory,QDate'],
  condorHistory: ['condor_history', '-json', '-attributes', 'JobStatus,Owner,AcctGroup,AccountingGroup,CompletionDate,ExitCode,ExitBySignal'],
  condorStatus: ['condor_status', '-json', '-attributes', 'State,Activity,SlotType,Cpus'],
  experimentRules: [
    { attribute: 'AcctGroup', regex: '^group_(?<experiment>[^.]+)' },
    { attribute: 'AccountingGroup', regex: '^group_(?<experiment>[^.]+)' },
  ],
};

const slurper = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('host'), name: z.string().default('host'), ...schedule, interval: duration.default(60), prefix: z.string().default('host') })
    .strict(),
  z
    .object({
      type: z.literal('command'),
      name: z.string().min(1),
      ...schedule,
      /** argv: the executable then its arguments; no shell is involved. */
      command: z.array(z.string().min(1)).min(1),
      format: z.enum(['graphite', 'json', 'auto']).default('auto'),
      /** events: the JSON output is events (an array, or {events: [...]}), fed to the event queue instead of samples. */
      mode: z.enum(['samples', 'events']).default('samples'),
      env: z.record(z.string(), z.string()).default({}),
      labels: labelMap.default({}),
    })
    .strict(),
  z
    .object({
      type: z.literal('http'),
      name: z.string().min(1),
      ...schedule,
      url: z.url(),
      format: z.enum(['prometheus', 'json', 'auto']).default('auto'),
      mode: z.enum(['samples', 'events']).default('samples'),
      headers: z.record(z.string(), z.string()).default({}),
      labels: labelMap.default({}),
    })
    .strict(),
  z
    .object({
      type: z.literal('condor'),
      name: z.string().min(1),
      ...schedule,
      /** Each is asked with `-name` (and `-pool` when given); `timeout` is per call. */
      schedds: z
        .array(z.preprocess((v) => (typeof v === 'string' ? { name: v } : v), z.object({ name: condorName, pool: condorName.optional() }).strict()))
        .min(1),
      /** Central managers whose slots condor_status lists (`-pool`). */
      pools: z.array(condorName).default([]),
      condorQ: argv.default(CONDOR_DEFAULTS.condorQ),
      /** false: no completions from history. */
      condorHistory: z.union([z.literal(false), argv]).default(CONDOR_DEFAULTS.condorHistory),
      condorStatus: argv.default(CONDOR_DEFAULTS.condorStatus),
      /** At most this many history ClassAds per schedd and poll (`-limit`). */
      historyLimit: z.number().int().positive().default(100000),
      experiment: z
        .object({
          rules: z.array(condorRule).prefault(CONDOR_DEFAULTS.experimentRules),
          fallback: z
            .string()
            .min(1)
            .max(200)
            .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters')
            .default('unknown'),
        })
        .strict()
        .prefault({}),
      env: z.record(z.string(), z.string()).default({}),
      labels: labelMap.default({}),
    })
    .strict(),
]);
export type SlurperConfig = z.infer<typeof slurper>;

/** An Alertmanager (v2 API) that gets silences for downtimes and whose firing alerts start flexible downtimes. */
const alertmanagerTarget = z
  .object({
    url: z.url(),
    /** Name in logs and /api/v1/downtimes/sync; default the URL. */
    name: z.string().min(1).optional(),
    /** Bearer token, if a proxy in front of the Alertmanager wants one. */
    token: z.string().min(1).optional(),
    silences: z.boolean().default(true),
    triggers: z.boolean().default(true),
  })
  .strict();

const downtimes = z
  .object({
    /** Silences are checked against the DB this often (and at once after every change). */
    reconcileInterval: duration.default(60),
    /** Between passes, each target's start time and silences are checked this often: a restart or a missing silence is reconciled at once. */
    checkInterval: duration.refine((s) => s > 0, 'must be more than 0').default(5),
    /** A target that does not answer is asked this often (GET /api/v2/status) and reconciled as soon as it answers. */
    probeInterval: duration.refine((s) => s > 0, 'must be more than 0').default(2),
    /** Occurrences starting within this time get their silence ahead. */
    lookahead: duration.default(7 * 86400),
    /** Which downtimes silence alerts. */
    silenceKinds: z
      .array(z.enum(['planned', 'unplanned']))
      .min(1)
      .default(['planned']),
    /** createdBy of every silence rexmon writes; silences with another createdBy are never touched. */
    createdBy: z.string().min(1).default('rexmon'),
    /** Retry a target that answers but fails a pass after initial, doubling up to max. */
    backoff: z
      .object({ initial: duration.default(1), max: duration.default(300) })
      .strict()
      .prefault({}),
    /** HTTP timeout for each call to a target. */
    timeout: duration.default(10),
    /** How often firing alerts are read to start flexible downtimes (only while one waits). */
    triggerInterval: duration.default(15),
    alertmanagers: z.array(alertmanagerTarget).default([]),
    grafana: z
      .object({
        url: z.url(),
        /** Service-account token (Bearer), or tokenFile: a file holding it. */
        token: z.string().min(1).optional(),
        tokenFile: z.string().min(1).optional(),
        /** Silences in Grafana's Alertmanager (/api/alertmanager/grafana/api/v2/silences). */
        silences: z.boolean().default(true),
        /** Recurring downtimes whose rule fits also become mute timings `rexmon-downtime-<id>` (for notification policies to name). */
        muteTimings: z.boolean().default(false),
        /** With muteTimings: those recurring downtimes get no silences (only policies naming the mute timing are muted). */
        muteTimingsReplaceSilences: z.boolean().default(false),
        /** Grafana's firing alerts start flexible downtimes too. */
        triggers: z.boolean().default(false),
        /** Import Grafana annotations tagged `downtime` as downtimes. */
        importAnnotations: z.boolean().default(false),
        importInterval: duration.default(60),
        importLookback: duration.default(30 * 86400),
      })
      .strict()
      .optional(),
  })
  .strict();
export type DowntimesConfig = z.infer<typeof downtimes>;

const eventType = z.string().regex(/^[A-Za-z0-9_.:*-]{1,100}$/, "an event type: letters, digits, '_', '.', ':', '-' ('*' as a wildcard)");
const selectorText = z.string().superRefine((s, ctx) => {
  try {
    parseSelector(s, 'match');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});
const eventHandler = z
  .object({
    /** Names the handler in logs and /metrics. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of letters, digits, '_', '-'"),
    /** A JavaScript module (path, relative to the working directory) exporting a function, or `handle`. */
    module: z.string().min(1),
    /** Event types it is called for ('*' wildcards); empty: every type. */
    types: z.array(eventType).default([]),
    /** A selector over the labels (`__name__` is the type), e.g. {station=~"fn.*"}. */
    match: selectorText.optional(),
    concurrency: z.number().int().min(1).max(1000).default(1),
    /** Seconds one call may take; past it the call is counted as timed out and its slot freed. */
    timeout: duration.refine((s) => s > 0, 'must be more than 0').default(30),
    /** Events waiting for this handler. */
    queue: z.number().int().positive().default(10000),
    /** Handed to the module as ctx.options. */
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
const labelKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a label name: letters, digits, _');
const eventCounter = z
  .object({
    /** Event type counted ('*' wildcards). */
    type: eventType,
    /** The series name, e.g. files_delivered. */
    metric: z.string().regex(/^[A-Za-z_:][A-Za-z0-9_:]*$/, 'a metric name: letters, digits, _ and :'),
    /** Labels of the series, each taken from the event's labels, else its data (`source`: the event's source). */
    by: z.array(labelKey).default([]),
    interval: duration.refine((s) => s >= 1, 'must be at least 1 s').default(60),
    /** Sum this numeric data key instead of counting events. */
    sum: z.string().min(1).optional(),
  })
  .strict();

const events = z
  .object({
    /** Events older than this are deleted (hourly, and at start). */
    retention: duration.refine((s) => s > 0, 'must be more than 0').default(30 * 86400),
    /** Beyond this many, the oldest events are deleted. */
    maxEvents: z.number().int().positive().default(1000000),
    /** Events each processor (store, counters, each handler) may hold waiting; a batch that does not fit is refused whole (503). */
    queue: z.number().int().positive().default(100000),
    /** Accepted batches are journalled (fsync per `wal.fsync`) before the 202 and replayed at start until every processor took them. */
    journal: z.boolean().default(true),
    /** Seconds stop() lets the processors drain; what is left stays in the journal for the next start. */
    stopTimeout: duration.default(10),
    /** Modules called for matching events, each with its own queue, concurrency and timeout. */
    handlers: z.array(eventHandler).default([]),
    /** Events counted into series, pushed into the pipeline at each interval's end. */
    counters: z.array(eventCounter).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.handlers.forEach((h, i) => {
      if (seen.has(h.name)) ctx.addIssue({ code: 'custom', path: ['handlers', i, 'name'], message: `duplicate handler name ${JSON.stringify(h.name)}` });
      seen.add(h.name);
    });
  });
export type EventHandlerConfig = z.infer<typeof eventHandler>;
export type EventCounterConfig = z.infer<typeof eventCounter>;
export type EventsConfig = z.infer<typeof events>;

export const configSchema = z
  .object({
    dataDir: z.string().default('./data'),
    http: z
      .object({
        listen: hostPort.default('127.0.0.1:8080'),
        /** HTTPS instead of HTTP when given. */
        tls: tlsSchema.optional(),
        limits: httpLimitsSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** auto: readable lines when stdout is a terminal, JSON lines otherwise (files, pipes); REXMON_LOG_FORMAT overrides. */
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        /** Default: allowed when the API listens on loopback only, refused otherwise. */
        anonymousRead: z.boolean().optional(),
        /** Off unless the operator turns it on explicitly. */
        anonymousWrite: z.boolean().default(false),
        tokens: z.array(tokenSchema).default([]),
        users: usersSchema.optional(),
        proxy: proxySchema.optional(),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        client: z.enum(['sqlite', 'pg']).default('sqlite'),
        /** SQLite file; relative to dataDir. */
        filename: z.string().default('rexmon.sqlite'),
        /** PostgreSQL connection string, for client pg. */
        connection: z.string().optional(),
      })
      .strict()
      .prefault({}),
    graphite: z
      .object({
        tcp: listener.default('127.0.0.1:2003'),
        udp: listener.default('127.0.0.1:2003'),
        maxLineLength: z.number().int().positive().default(4096),
        /** At stop, busy TCP connections may keep sending this long before they are cut. */
        drainTimeout: duration.default(5),
        /** TCP connections beyond this are refused (counted, logged); also bounded by the open-file limit. */
        maxConnections: z.number().int().positive().default(10000),
        /** The TCP listener speaks TLS when given. */
        tls: tlsSchema.optional(),
        /** Senders (TCP and UDP) allowed: default loopback, or anyone for TLS with clientCerts required. */
        allow: allowList,
        mappings: z.array(graphiteMapping).default([]),
      })
      .strict()
      .prefault({}),
    syslog: z
      .object({
        tcp: listener.default(false),
        udp: listener.default(false),
        /** Frames (and UDP datagrams) longer than this are refused, counted. */
        maxMessageSize: z.number().int().min(480).max(1048576).default(65536),
        drainTimeout: duration.default(5),
        /** TCP connections beyond this are refused (counted, logged); also bounded by the open-file limit. */
        maxConnections: z.number().int().positive().default(10000),
        /** Messages no mapping takes: stored as events of type `syslog` (event), or only counted (drop). */
        unmapped: z.enum(['event', 'drop']).default('event'),
        /** The TCP listener speaks TLS when given. */
        tls: tlsSchema.optional(),
        /** Senders (TCP and UDP) allowed: default loopback, or anyone for TLS with clientCerts required. */
        allow: allowList,
        mappings: z.array(syslogMapping).default([]),
      })
      .strict()
      .prefault({}),
    rrd: z
      .object({
        /** Archive root; relative to dataDir. */
        archive: z.string().default('rrd'),
        rrdtool: z.string().default('rrdtool'),
        cached: z
          .object({
            /** spawn: run our own rrdcached on a UNIX socket; external: use `address`; off: rrdtool pipes only. */
            mode: z.enum(['spawn', 'external', 'off']).default('spawn'),
            binary: z.string().default('rrdcached'),
            address: z.string().optional(),
            writeInterval: duration.default(300),
          })
          .strict()
          .prefault({}),
        /** Added to (or replacing by name) the built-in `gauge` and `counter`. */
        templates: z
          .record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'template names use letters, digits, _ and -'), templateSchema)
          .default({})
          .transform((t) => ({ ...builtinTemplates(), ...t })),
        /** First rule whose glob matches the metric name wins; else defaultTemplate. */
        rules: z.array(z.object({ match: z.string().min(1), template: z.string() }).strict()).default([]),
        defaultTemplate: z.string().default('gauge'),
        /** rrdtool pipes for creating files (and writing when rrdcached is off); creation is mostly system time, so more than the cores helps. */
        writers: z.number().int().min(1).max(16).default(4),
        readers: z.number().int().min(1).max(16).default(2),
        /** Series are read from the RRD files themselves where their layout allows (else and when false: `rrdtool xport`). */
        directRead: z.boolean().default(true),
        /** New RRD files are not made (their samples wait, reported in /readyz) when less than this would stay free. */
        minFreeBytes: z
          .number()
          .int()
          .nonnegative()
          .default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    pipeline: z
      .object({
        queueCapacity: z.number().int().positive().default(200000),
        batchSize: z.number().int().positive().default(20000),
        flushInterval: duration.default(0.2),
        /** Samples further ahead of the clock are refused (one would make the rest of its series "out of order"). */
        futureTolerance: duration.default(300),
        /** At stop, how long a backend that refuses writes (disk full, rrdcached down) is retried; the log keeps the rest. */
        stopTimeout: duration.default(10),
      })
      .strict()
      .prefault({}),
    wal: z
      .object({
        /** Accepted samples go to a write-ahead log under dataDir/wal before they are acknowledged. */
        enabled: z.boolean().default(true),
        /** always: fdatasync before each acknowledgement (group commit); interval: every fsyncInterval; off: the OS decides. */
        fsync: z.enum(['always', 'interval', 'off']).default('always'),
        fsyncInterval: duration.default(1),
        /** Every so often the values are flushed into the RRD files and the log trimmed (also on POST /admin/flush). */
        checkpointInterval: duration.refine((s) => s > 0, 'must be more than 0').default(60),
        segmentSize: z
          .number()
          .int()
          .min(65536)
          .default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** Bounds on new series, against senders that put a timestamp or an ID in a name. */
    seriesLimits: seriesLimitsSchema.prefault({}),
    catalog: z
      .object({ refreshInterval: duration.default(10) })
      .strict()
      .prefault({}),
    slurpers: z.array(slurper).default([{ type: 'host', name: 'host', interval: 60, timeout: 30, prefix: 'host' }]),
    downtimes: downtimes.prefault({}),
    events: events.prefault({}),
    jobs: jobsSchema.prefault({}),
    // The status page at GET /.
    web: z
      .object({
        refresh: duration.default(30),
        maxAlarms: z.number().int().min(1).default(500),
        maxGraphs: z.number().int().min(0).max(100).default(12),
        maxNames: z.number().int().min(0).default(500),
        graphRange: duration.default(6 * 3600),
      })
      .strict()
      .prefault({}),
    alarms: alarmsSchema.prefault({}),
    notify: notifySchema.prefault({}),
    /** Copies of the accepted samples sent elsewhere (Prometheus remote_write); off by default. */
    export: exportSchema.prefault({}),
    forward: forwardSchema.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = Object.keys(c.rrd.templates);
    if (!names.includes(c.rrd.defaultTemplate))
      ctx.addIssue({
        code: 'custom',
        path: ['rrd', 'defaultTemplate'],
        message: `unknown template ${JSON.stringify(c.rrd.defaultTemplate)}; defined: ${names.join(', ')}`,
      });
    c.rrd.rules.forEach((r, i) => {
      if (!names.includes(r.template))
        ctx.addIssue({
          code: 'custom',
          path: ['rrd', 'rules', i, 'template'],
          message: `unknown template ${JSON.stringify(r.template)}; defined: ${names.join(', ')}`,
        });
    });
    const seen = new Set<string>();
    c.slurpers.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['slurpers', i, 'name'], message: `duplicate slurper name ${JSON.stringify(s.name)}` });
      seen.add(s.name);
      if (s.type !== 'host' && s.interval === undefined && s.cron === undefined)
        ctx.addIssue({ code: 'custom', path: ['slurpers', i], message: 'needs `interval` or `cron`' });
    });
    if (c.database.client === 'pg' && !c.database.connection)
      ctx.addIssue({ code: 'custom', path: ['database', 'connection'], message: 'required when client is pg' });
    if (c.rrd.cached.mode === 'external' && !c.rrd.cached.address)
      ctx.addIssue({ code: 'custom', path: ['rrd', 'cached', 'address'], message: 'required when mode is external' });
  });

export type Config = z.infer<typeof configSchema>;
