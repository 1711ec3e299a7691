// The `alarms:` section of the config: threshold rules, checked at load (errors name the path inside `alarms`).
import { z } from 'zod';
import { parseSelector } from '../matchers/selector.js';
import { templateProblem } from './template.js';
import { duration } from '../config/duration.js';

const positive = duration.refine((s) => s > 0, 'must be more than 0');

const range = z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo < hi, 'expected [low, high] with low < high: the value is bad below low or above high');
const bound = z.union([z.number(), range]);

// Keys checked by hand: zod's record-key error says only "Invalid key in record".
const labelMap = z.record(z.string(), z.string().regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters')).superRefine((m, ctx) => {
  for (const k of Object.keys(m))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      ctx.addIssue({ code: 'custom', path: [k], message: `label name ${JSON.stringify(k)}: label names use letters, digits and _` });
});

export const DEFAULT_SUMMARY = '{{ $rule }} {{ $state }}: {{ $series }} = {{ $value }} (bound {{ $bound }})';

const rule = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'rule names use letters, digits, _ . : - (at most 100)'),
    /** Series selector, e.g. disk_used_pct{mount="/"}. */
    match: z.string().min(1),
    /** above: bad when the value is above a bound; below: below it; outside: outside a [low, high] range. */
    direction: z.enum(['above', 'below', 'outside']).default('above'),
    warning: bound.optional(),
    critical: bound.optional(),
    /** Hysteresis: once WARNING (CRITICAL), the state holds until the value is back past this bound. */
    clear: z.object({ warning: bound.optional(), critical: bound.optional() }).strict().optional(),
    /** The value judged: the last, average, maximum or minimum of the known values in the last `steps` steps. */
    aggregate: z.enum(['last', 'avg', 'max', 'min']).default('last'),
    steps: z.number().int().min(1).max(1000).default(1),
    /** Consolidation function read from the RRD files. */
    cf: z.enum(['AVERAGE', 'MIN', 'MAX', 'LAST']).default('AVERAGE'),
    /** How long a bound must stay crossed before WARNING/CRITICAL is entered (a de-escalation is immediate). */
    for: duration.default(0),
    /** No value in the last `steps` steps: UNKNOWN; with `criticalAfter`, CRITICAL once it has lasted that long. */
    missing: z.object({ criticalAfter: positive.optional() }).strict().prefault({}),
    labels: labelMap.default({}),
    summary: z.string().min(1).max(1000).default(DEFAULT_SUMMARY),
    /** Unresolved CRITICAL is told again this often; default alarms.repeatInterval; 0: never. */
    repeatInterval: duration.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    try {
      parseSelector(r.match, 'match');
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['match'], message: (e as Error).message });
    }
    const problem = templateProblem(r.summary);
    if (problem) ctx.addIssue({ code: 'custom', path: ['summary'], message: problem });
    if (r.warning === undefined && r.critical === undefined && r.missing.criticalAfter === undefined)
      ctx.addIssue({ code: 'custom', path: ['warning'], message: 'a rule needs `warning`, `critical` (or both), or `missing.criticalAfter`' });
    const want = r.direction === 'outside' ? 'range' : 'number';
    const check = (v: number | [number, number] | undefined, path: (string | number)[]) => {
      if (v === undefined) return;
      const got = Array.isArray(v) ? 'range' : 'number';
      if (got !== want)
        ctx.addIssue({
          code: 'custom',
          path,
          message: want === 'range' ? 'direction outside needs a range [low, high]' : `direction ${r.direction} needs a number, not a range`,
        });
    };
    check(r.warning, ['warning']);
    check(r.critical, ['critical']);
    check(r.clear?.warning, ['clear', 'warning']);
    check(r.clear?.critical, ['clear', 'critical']);
    // "Worse" is further in the rule's direction; a critical bound must be at least as bad as the warning one,
    // and a clear bound must lie on the good side of its bound (else the state could never clear).
    const worse = (a: number | [number, number], b: number | [number, number]): boolean => {
      if (Array.isArray(a) && Array.isArray(b)) return a[0] <= b[0] && a[1] >= b[1];
      if (Array.isArray(a) || Array.isArray(b)) return true;
      return r.direction === 'above' ? a >= b : a <= b;
    };
    if (r.warning !== undefined && r.critical !== undefined && !worse(r.critical, r.warning))
      ctx.addIssue({
        code: 'custom',
        path: ['critical'],
        message:
          r.direction === 'outside'
            ? 'the critical range must contain the warning range'
            : `critical must be ${r.direction === 'above' ? 'at least' : 'at most'} warning`,
      });
    for (const level of ['warning', 'critical'] as const) {
      const c = r.clear?.[level];
      const b = r[level];
      if (c === undefined) continue;
      if (b === undefined) ctx.addIssue({ code: 'custom', path: ['clear', level], message: `a clear bound needs a ${level} bound` });
      else if (!worse(b, c))
        ctx.addIssue({
          code: 'custom',
          path: ['clear', level],
          message:
            r.direction === 'outside'
              ? `the clear range must lie inside the ${level} range`
              : `must be ${r.direction === 'above' ? 'at most' : 'at least'} ${level} (${JSON.stringify(b)}), or the state would never clear`,
        });
    }
  });
export type RuleConfig = z.infer<typeof rule>;

export const alarmsSchema = z
  .object({
    /** How often every rule is evaluated. */
    interval: positive.default(60),
    /** Unresolved CRITICAL is told again this often (a rule's own repeatInterval wins); 0: never. */
    repeatInterval: duration.default(4 * 3600),
    /** Whether unplanned downtimes hold notifications back too (planned ones always do). */
    unplannedMutes: z.boolean().default(false),
    /** How often downtime windows are checked between evaluations, so that a notice owed when one ends goes out promptly. */
    downtimeCheckInterval: positive.default(5),
    rules: z.array(rule).default([]),
  })
  .strict()
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name ${JSON.stringify(r.name)}` });
      seen.add(r.name);
    });
  });
export type AlarmsConfig = z.infer<typeof alarmsSchema>;
