// Config pieces for TLS, CIDR allow-lists and the limits on senders and queries (kept apart from schema.ts).
import net from 'node:net';
import { z } from 'zod';

/** PEM files; relative paths are taken from the working directory. Re-read on SIGHUP. */
export const tlsSchema = z
  .object({
    cert: z.string().min(1),
    key: z.string().min(1),
    /** CA bundle that signs client certificates; needed for clientCerts optional or required. */
    ca: z.string().min(1).optional(),
    /** off: none asked for; optional: asked for, a presented one must verify; required: no connection without one. */
    clientCerts: z.enum(['off', 'optional', 'required']).default('off'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.clientCerts !== 'off' && !t.ca) ctx.addIssue({ code: 'custom', path: ['ca'], message: `required when clientCerts is ${t.clientCerts}` });
  });
export type TlsConfig = z.infer<typeof tlsSchema>;

/** `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128). */
export const cidr = z.string().superRefine((s, ctx) => {
  const [addr, bits, extra] = s.split('/');
  const family = net.isIP(addr);
  const max = family === 6 ? 128 : 32;
  if (!family || extra !== undefined)
    return ctx.addIssue({ code: 'custom', message: `expected an address or CIDR range such as 10.0.0.0/8, got ${JSON.stringify(s)}` });
  if (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))
    ctx.addIssue({ code: 'custom', message: `prefix length of ${JSON.stringify(s)} must be 0 to ${max}` });
});

/** Plaintext listeners without a token to check take input only from these (default loopback). */
export const allowList = z.array(cidr).optional();

export const LOOPBACK = ['127.0.0.0/8', '::1/128'];

const perMinute = z.number().int().nonnegative();

/** Bounds on new series (carbon's MAX_CREATES_PER_MINUTE, per sender too); 0 turns one off. */
export const seriesLimitsSchema = z
  .object({
    /** New series one sender (peer address, token or slurper) may create per minute (a bucket of this size, refilled evenly). */
    newPerSourcePerMinute: perMinute.default(10000),
    /** New series all senders together may create per minute. */
    newPerMinute: perMinute.default(50000),
    /** Series one metric name may have. */
    perName: perMinute.default(100000),
    /** Series in the catalog. */
    total: perMinute.default(1000000),
  })
  .strict();
export type SeriesLimits = z.infer<typeof seriesLimitsSchema>;

/** Bounds on HTTP API use; 0 turns one off. */
export const httpLimitsSchema = z
  .object({
    /** Requests per minute from one client address. */
    requestsPerMinutePerAddress: perMinute.default(36000),
    /** Requests per minute with one API token (or login). */
    requestsPerMinutePerToken: perMinute.default(36000),
    /** Range queries (/query, /graph.png) answered at once; more get 429. */
    maxConcurrentQueries: perMinute.default(64),
    /** Series × rows one query may read; more get 400. */
    maxQueryPoints: perMinute.default(20_000_000),
  })
  .strict();
export type HttpLimits = z.infer<typeof httpLimitsSchema>;
