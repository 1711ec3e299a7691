// The `jobs:` section of the config: which event types are job lifecycle events and the state each puts a
// job in, which states end a job, the keys read from events, and the timers (series, silence, retention).
import { z } from 'zod';
import { duration } from '../config/duration.js';

const positive = duration.refine((s) => s > 0, 'must be more than 0');
const TYPE = /^[A-Za-z0-9_.:-]{1,100}$/;
// A state becomes a label value and a selector's name part: keep it to a metric-name-like word.
const STATE = /^[a-z][a-z0-9_]{0,39}$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;

export const DEFAULT_JOB_EVENTS: Record<string, string | null> = {
  'job.submitted': 'queued',
  'job.started': 'running',
  'job.held': 'held',
  'job.released': 'queued',
  'job.suspended': 'suspended',
  'job.resumed': 'running',
  'job.evicted': 'queued',
  'job.finished': 'finished',
  'job.failed': 'failed',
  'job.removed': 'removed',
  // Alive, state unchanged.
  'job.heartbeat': null,
};

const keyName = z.string().regex(KEY, 'a key name: letters, digits and _, not starting with a digit');

export const jobsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Event type → the state it puts the job in (null: the job is alive, its state unchanged). Replaces the defaults when given. */
    events: z
      .record(z.string(), z.string().nullable())
      .default(DEFAULT_JOB_EVENTS)
      .superRefine((m, ctx) => {
        if (Object.keys(m).length === 0) ctx.addIssue({ code: 'custom', message: 'needs at least one event type' });
        for (const [k, v] of Object.entries(m)) {
          if (!TYPE.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `event type ${JSON.stringify(k)}: 1 to 100 of letters, digits, _ . : -` });
          if (v !== null && !STATE.test(v))
            ctx.addIssue({
              code: 'custom',
              path: [k],
              message: `state ${JSON.stringify(v)}: lowercase letters, digits and _, starting with a letter (at most 40)`,
            });
        }
      }),
    /** States that end a job: not counted in job_states, never silent, forgotten after `retention`. */
    terminal: z.array(z.string().regex(STATE, 'a state name')).default(['finished', 'failed', 'removed']),
    /** Where the job id, experiment and site are read from an event: its labels first, then its data. */
    keys: z
      .object({ job: keyName.default('job'), experiment: keyName.default('experiment'), site: keyName.default('site') })
      .strict()
      .prefault({}),
    /** Experiment or site of a job whose events never named one. */
    fallback: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters')
      .default('unknown'),
    /** The series are written, silent jobs looked for and finished jobs forgotten this often. */
    interval: positive.default(60),
    /** A job in a non-terminal state without an event for longer than this is flagged silent (0: never). */
    silentTimeout: duration.default(3600),
    /** The type of the event emitted when a job is flagged silent. */
    silentEvent: z.string().regex(TYPE, '1 to 100 of letters, digits, _ . : -').default('job.silent'),
    /** Jobs in a terminal state for longer than this are forgotten with their history. */
    retention: positive.default(7 * 86400),
    /** Silent jobs that stay silent this long are forgotten too (lost jobs would otherwise stay forever). */
    silentRetention: positive.default(30 * 86400),
  })
  .strict()
  .superRefine((c, ctx) => {
    const states = new Set(Object.values(c.events).filter((s): s is string => s !== null));
    c.terminal.forEach((t, i) => {
      if (!states.has(t))
        ctx.addIssue({ code: 'custom', path: ['terminal', i], message: `state ${JSON.stringify(t)} is no event's state; states: ${[...states].join(', ')}` });
    });
    if (c.silentEvent in c.events)
      ctx.addIssue({ code: 'custom', path: ['silentEvent'], message: `${JSON.stringify(c.silentEvent)} is also a lifecycle event in jobs.events` });
    if (new Set(Object.values(c.keys)).size !== 3)
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'job, experiment and site need three different keys' });
  });

export type JobsConfig = z.infer<typeof jobsSchema>;
