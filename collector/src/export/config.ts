// Config of the export stage: `export.remoteWrite`, a list of Prometheus remote_write endpoints (off when empty).
import { z } from 'zod';
import { duration } from '../config/duration.js';

const PROM_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Set by the exporter itself (the protocol) or by basicAuth/bearerToken: an extra header may not change them.
const RESERVED_HEADERS = ['content-encoding', 'content-type', 'content-length', 'x-prometheus-remote-write-version', 'host', 'user-agent'];
/** z.url() has said so already when this is undefined. */
const parsed = (u: string) => (URL.canParse(u) ? new URL(u) : undefined);
const positive = (what: string) => duration.refine((s) => s > 0, `${what} must be more than 0`);

const remoteWrite = z
  .object({
    url: z
      .url()
      .refine((u) => /^https?:$/.test(parsed(u)?.protocol ?? 'http:'), 'expected an http:// or https:// URL')
      .refine((u) => !parsed(u)?.username && !parsed(u)?.password, 'put credentials in basicAuth, not in the URL'),
    /** Name in logs and in the `remote` label of the rexmon_remote_write_* metrics; default the URL's host and path. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.:/-]+$/, "use letters, digits and '_', '.', ':', '/', '-'")
      .optional(),
    /** Extra HTTP headers, e.g. X-Scope-OrgID for Mimir or Cortex tenants. */
    headers: z
      .record(z.string(), z.string().regex(/^[^\r\n\0]*$/, 'no line breaks or NUL'))
      .default({})
      .superRefine((h, ctx) => {
        for (const k of Object.keys(h))
          if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k))
            ctx.addIssue({ code: 'custom', path: [k], message: `${JSON.stringify(k)} is not a valid HTTP header name` });
          else if (RESERVED_HEADERS.includes(k.toLowerCase()))
            ctx.addIssue({ code: 'custom', path: [k], message: `header ${k} is set by the remote_write protocol and cannot be overridden` });
      }),
    basicAuth: z
      .object({ username: z.string().min(1), password: z.string().optional(), passwordFile: z.string().min(1).optional() })
      .strict()
      .refine((b) => !(b.password !== undefined && b.passwordFile), 'give password or passwordFile, not both')
      .optional(),
    bearerToken: z.string().min(1).optional(),
    bearerTokenFile: z.string().min(1).optional(),
    /** Added to every series sent (like Prometheus' external_labels); a label of the series itself wins. */
    labels: z
      .record(
        z.string(),
        z
          .string()
          .min(1, 'an empty label value is no label')
          .regex(/^[^\0]*$/, 'no NUL'),
      )
      .superRefine((l, ctx) => {
        for (const k of Object.keys(l))
          if (!PROM_LABEL_NAME.test(k) || k.startsWith('__'))
            ctx.addIssue({
              code: 'custom',
              path: [k],
              message: `label name ${JSON.stringify(k)} is invalid: use letters, digits and '_', not starting with a digit or "__"`,
            });
      })
      .default({}),
    /** Each request gives up (and is retried) after this long. */
    timeout: positive('timeout').default(30),
    queue: z
      .object({
        /** Samples buffered in memory for this endpoint; when full, the oldest are dropped (counted, reason buffer_full). */
        capacity: z.number().int().positive().default(100000),
        /** Samples in one request at most. */
        maxSamplesPerSend: z.number().int().positive().default(2000),
        /** A request is sent when it is full or when its oldest sample has waited this long. */
        flushInterval: duration.default(1),
        /** First retry delay after a 5xx, 429 or network error; doubled each time up to maxBackoff. */
        minBackoff: positive('minBackoff').default(0.1),
        maxBackoff: positive('maxBackoff').default(30),
        /** At stop, how long an endpoint that does not take the rest is retried; then what is left is dropped (counted, reason shutdown). */
        stopTimeout: duration.default(10),
      })
      .strict()
      .prefault({})
      .refine((q) => q.maxBackoff >= q.minBackoff, { message: 'maxBackoff must be at least minBackoff', path: ['maxBackoff'] })
      .refine((q) => q.maxSamplesPerSend <= q.capacity, { message: 'maxSamplesPerSend must be at most capacity', path: ['maxSamplesPerSend'] }),
  })
  .strict()
  .superRefine((r, ctx) => {
    const auth = [r.basicAuth && 'basicAuth', r.bearerToken && 'bearerToken', r.bearerTokenFile && 'bearerTokenFile'].filter(Boolean);
    if (auth.length > 1) ctx.addIssue({ code: 'custom', path: [auth[1] as string], message: `give only one of ${auth.join(', ')}` });
    const given = Object.keys(r.headers).find((k) => k.toLowerCase() === 'authorization');
    if (auth.length && given) ctx.addIssue({ code: 'custom', path: ['headers', given], message: `${auth[0]} sets the Authorization header already` });
  });
export type RemoteWriteConfig = z.infer<typeof remoteWrite>;

export const exportSchema = z
  .object({
    remoteWrite: z
      .array(remoteWrite)
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((r, i) => {
          const name = remoteName(r);
          if (seen.has(name))
            ctx.addIssue({
              code: 'custom',
              path: r.name ? [i, 'name'] : [i],
              message: `duplicate remote_write name ${JSON.stringify(name)} (give each a name)`,
            });
          seen.add(name);
        });
      }),
  })
  .strict();
export type ExportConfig = z.infer<typeof exportSchema>;

/** The endpoint's name: configured, else host and path of its URL (never credentials or query strings). */
export function remoteName(r: { name?: string; url: string }): string {
  if (r.name) return r.name;
  const u = parsed(r.url);
  return u ? u.host + u.pathname : r.url;
}
