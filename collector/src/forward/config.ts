// The `forward:` section of the config: where this collector hands on what it accepted, and how the receiving
// side keeps the batch ids it has seen. Kept beside the stage; config/schema.ts only mounts it.
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { checkLabels } from '../model/series.js';

const MiB = 1024 * 1024;

const url = z
  .string()
  .url('expected the receiving collector as a URL, e.g. http://central.example:8080')
  .superRefine((s, ctx) => {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `must be http:// or https://, not ${u.protocol}` });
    // Credentials in a URL end up in logs; the token has its own setting.
    if (u.username || u.password) ctx.addIssue({ code: 'custom', message: 'must not carry a user or password; put the token in forward.tokenFile' });
    if (u.search || u.hash) ctx.addIssue({ code: 'custom', message: 'must not carry a query or fragment' });
  });

const labels = z.record(z.string(), z.string()).superRefine((l, ctx) => {
  try {
    checkLabels(l, 'labels');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const forwardSchema = z
  .object({
    /** The receiving collector's base URL; without it nothing is forwarded (receiving is always on). */
    url: url.optional(),
    /** A file holding the receiver's API token (role editor); else the environment's REXMON_FORWARD_TOKEN. */
    tokenFile: z.string().min(1).optional(),
    /** Prefix of this sender's id (the rest is random, made with the buffer): shows in the receiver's log. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'use 1 to 40 letters, digits, _, . and -')
      .optional(),
    /** Added to every forwarded sample and event that lacks them, e.g. {site: "fnal"}. */
    labels: labels.default({}),
    /** Forward events as well as samples. */
    events: z.boolean().default(true),
    /** The on-disk buffer (dataDir/forward): past this, new input is refused until the receiver catches up. */
    maxBufferBytes: z
      .number()
      .int()
      .min(1 * MiB)
      .default(1024 * MiB),
    segmentBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(16 * MiB),
    /** Batches per request until their payload reaches this. */
    maxRequestBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(32 * MiB)
      .default(4 * MiB),
    /** Seconds one request may take. */
    timeout: duration.refine((s) => s > 0, 'must be more than 0').default(30),
    /** Retries wait between half and all of min·2^attempt, at most max. */
    backoff: z
      .object({ min: duration.refine((s) => s > 0, 'must be more than 0').default(0.5), max: duration.default(30) })
      .strict()
      .prefault({}),
    /** Receiving side: how long a batch id is remembered (a repeat within it is answered without storing twice). */
    idRetention: duration.refine((s) => s >= 3600, 'must be at least 1h').default(7 * 86400),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.backoff.max < c.backoff.min) ctx.addIssue({ code: 'custom', path: ['backoff', 'max'], message: 'must be at least backoff.min' });
    if (c.segmentBytes > c.maxBufferBytes) ctx.addIssue({ code: 'custom', path: ['segmentBytes'], message: 'must not exceed maxBufferBytes' });
    if (c.maxRequestBytes > c.maxBufferBytes) ctx.addIssue({ code: 'custom', path: ['maxRequestBytes'], message: 'must not exceed maxBufferBytes' });
  });
export type ForwardConfig = z.infer<typeof forwardSchema>;
