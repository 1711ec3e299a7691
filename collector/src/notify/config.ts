// The `notify:` section of the config: SMTP, recipients, routes, grouping, retries and event handlers.
// Kept beside the stage it configures; config/schema.ts only mounts it.
import { z } from 'zod';
import { parseSelector } from '../matchers/selector.js';
import { duration } from '../config/duration.js';

// Plain addresses or `Name <addr>`; checked loosely here, the SMTP server has the last word.
const address = z
  .string()
  .regex(
    /^(?:[^<>\u0000-\u001f\u007f]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/,
    'expected an e-mail address, e.g. ops@lab.example or "Ops <ops@lab.example>"',
  );
const addresses = z.array(address);

const selector = z.string().superRefine((s, ctx) => {
  try {
    parseSelector(s, 'match');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const labelName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'label names use letters, digits and _');

const smtp = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).optional(),
    /** Implicit TLS from the first byte (usually port 465). */
    secure: z.boolean().default(false),
    /** Without `secure`: required (refuse a server without STARTTLS), opportunistic (use it when offered), off. */
    starttls: z.enum(['required', 'opportunistic', 'off']).default('opportunistic'),
    /** Check the server's certificate (turn off only for a lab server with a self-signed one; or give caFile). */
    rejectUnauthorized: z.boolean().default(true),
    /** PEM file of the CA that signed the server's certificate. */
    caFile: z.string().min(1).optional(),
    /** Connection, greeting and socket timeouts, each. */
    timeout: duration.refine((s) => s > 0, 'must be more than 0').default(30),
    auth: z
      .object({
        user: z.string().min(1),
        /** File holding the password (trailing newline ignored). */
        passwordFile: z.string().min(1).optional(),
        /** Environment variable holding the password. */
        passwordEnv: z.string().min(1).optional(),
      })
      .strict()
      .superRefine((a, ctx) => {
        if (!!a.passwordFile === !!a.passwordEnv) ctx.addIssue({ code: 'custom', message: 'needs exactly one of passwordFile or passwordEnv' });
      })
      .optional(),
  })
  .passthrough()
  .superRefine((s, ctx) => {
    // The password never sits in the config (it would be shown and copied around with it).
    for (const k of Object.keys(s))
      if (!['host', 'port', 'secure', 'starttls', 'rejectUnauthorized', 'caFile', 'timeout', 'auth'].includes(k))
        ctx.addIssue({
          code: 'custom',
          path: [k],
          message:
            k === 'password' || k === 'pass'
              ? 'passwords are not written in the config: use auth.passwordFile or auth.passwordEnv'
              : `unknown key ${JSON.stringify(k)}`,
        });
  });

const route = z
  .object({
    /** A series selector over the alarm's labels (the series' labels plus the rule's; `__name__` is the metric). */
    match: selector,
    to: addresses.min(1),
    /** Also try the next routes (and the default recipients) after this one matched. */
    continue: z.boolean().default(false),
  })
  .strict();

const eventHandler = z
  .object({
    /** Event type, exact or a glob (`disk.*`). */
    type: z.string().min(1),
    /** Source, exact or a glob; default any. */
    source: z.string().min(1).optional(),
    /** Each key must be a label or data key of the event whose value equals (or globs) the given one. */
    match: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    to: addresses.min(1),
    /** `{{type}}`, `{{source}}`, `{{time}}`, `{{labels.KEY}}`, `{{data.KEY}}` are replaced. */
    subject: z.string().min(1).default('[rexmon] {{type}} from {{source}}'),
    /** Events of this handler arriving within this time go out in one mail. */
    groupWait: duration.default(0),
  })
  .strict();

export const notifySchema = z
  .object({
    /** Without it nothing is mailed (notices are only logged). */
    smtp: smtp.optional(),
    from: address.default('rexmon <rexmon@localhost>'),
    /** Default recipients of alarm mail (when no route matches, or every route says continue). */
    to: addresses.default([]),
    routes: z.array(route).default([]),
    /** Alarm notices with the same values of these labels (`rule` is the rule's name) share a mail. */
    groupBy: z.array(z.union([z.literal('rule'), labelName])).default(['rule']),
    /** A new group waits this long for more notices before its mail goes out. */
    groupWait: duration.default(30),
    /** At most this many notices are listed in one mail; more go in the next one. */
    maxPerMail: z.number().int().min(1).max(100000).default(1000),
    retry: z
      .object({
        /** First retry after a failed send, doubling up to max. */
        initial: duration.refine((s) => s > 0, 'must be more than 0').default(10),
        max: duration.refine((s) => s > 0, 'must be more than 0').default(300),
        /** A message still not accepted after this long is marked failed (and counted). */
        giveUpAfter: duration.refine((s) => s > 0, 'must be more than 0').default(7 * 86400),
      })
      .strict()
      .prefault({}),
    /** How often the outbox is looked at (grouping and sending). */
    pollInterval: duration.refine((s) => s > 0, 'must be more than 0').default(1),
    /** Recipients of downtime start and end notices; empty: none are sent. */
    downtimeNotices: addresses.default([]),
    downtimeKinds: z
      .array(z.enum(['planned', 'unplanned']))
      .min(1)
      .default(['planned', 'unplanned']),
    /** How often downtimes are checked for windows opening and closing (and at once after every change). */
    downtimeCheckInterval: duration.refine((s) => s > 0, 'must be more than 0').default(5),
    /** Link to the status page in every mail; default the collector's own HTTP address. */
    statusUrl: z.url().optional(),
    /** Link to a Grafana dashboard in alarm mail; `{{rule}}` and `{{labels.KEY}}` are replaced (URL-encoded). */
    grafanaUrl: z.string().min(1).optional(),
    eventHandlers: z.array(eventHandler).default([]),
  })
  .strict()
  .superRefine((n, ctx) => {
    if (n.retry.max < n.retry.initial) ctx.addIssue({ code: 'custom', path: ['retry', 'max'], message: 'must not be less than retry.initial' });
    if (n.grafanaUrl !== undefined && !/^https?:\/\//.test(n.grafanaUrl))
      ctx.addIssue({ code: 'custom', path: ['grafanaUrl'], message: 'expected an http(s) URL' });
  });

export type NotifyConfig = z.infer<typeof notifySchema>;
export type EventHandlerConfig = z.infer<typeof eventHandler>;
