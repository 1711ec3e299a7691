// One threshold rule, compiled: what value a series' last steps give, and which level (OK/WARNING/CRITICAL)
// that value is at, with hysteresis and the `for` delay. Pure: no I/O, no clock.
import { parseSelector, Selector } from '../matchers/selector.js';
import type { AlarmState } from './types.js';
import type { RuleConfig } from './config.js';

type Bound = number | [number, number];

/** Severity order of the bound-driven states. */
const LEVEL: Record<AlarmState, number> = { OK: 0, UNKNOWN: 0, WARNING: 1, CRITICAL: 2 };

/** What an instance carries from one evaluation to the next besides its state. */
export interface Progress {
  state: AlarmState;
  /** Since when (evaluation time) the value has been past the warning (critical) condition, without a break. */
  warnSince: number | null;
  critSince: number | null;
  /** Since when no value has been found (null while there is data). */
  missingSince: number | null;
}

export interface Verdict extends Progress {
  bound: number | null;
}

export class Rule {
  readonly selector: Selector;
  readonly repeatInterval: number;

  constructor(
    readonly cfg: RuleConfig,
    defaultRepeat: number,
  ) {
    this.selector = parseSelector(cfg.match, 'match');
    this.repeatInterval = cfg.repeatInterval ?? defaultRepeat;
  }

  get name(): string {
    return this.cfg.name;
  }

  /** The value judged from the newest `steps` values (nulls are unknown and skipped); null when none is known. */
  aggregate(values: Iterable<number | null>): number | null {
    let n = 0;
    let acc = 0;
    let last: number | null = null;
    for (const v of values) {
      if (v === null || Number.isNaN(v)) continue;
      last = v;
      if (n === 0) acc = v;
      else if (this.cfg.aggregate === 'avg') acc += v;
      else if (this.cfg.aggregate === 'max') acc = Math.max(acc, v);
      else if (this.cfg.aggregate === 'min') acc = Math.min(acc, v);
      n++;
    }
    if (n === 0) return null;
    if (this.cfg.aggregate === 'last') return last;
    return this.cfg.aggregate === 'avg' ? acc / n : acc;
  }

  private beyond(v: number, b: Bound): boolean {
    if (Array.isArray(b)) return v < b[0] || v > b[1];
    return this.cfg.direction === 'below' ? v < b : v > b;
  }

  /** The number of a bound that a value is judged against: for a range, the side nearer the value. */
  private side(v: number, b: Bound): number {
    if (!Array.isArray(b)) return b;
    return Math.abs(v - b[0]) <= Math.abs(v - b[1]) ? b[0] : b[1];
  }

  /**
   * The next state for a value read at `now`. A level whose condition already holds is judged against its clear
   * bound (hysteresis); entering a worse level than the current state needs the condition to have held `for`.
   */
  judge(prev: Progress, value: number | null, now: number, missingSince: number): Verdict {
    if (value === null) {
      const since = prev.missingSince ?? missingSince;
      const after = this.cfg.missing.criticalAfter;
      const state: AlarmState = after !== undefined && now - since >= after ? 'CRITICAL' : 'UNKNOWN';
      return { state, warnSince: null, critSince: null, missingSince: since, bound: null };
    }
    const { warning, critical, clear } = this.cfg;
    const holds = (b: Bound | undefined, c: Bound | undefined, held: boolean) => b !== undefined && this.beyond(value, held && c !== undefined ? c : b);
    const crit = holds(critical, clear?.critical, prev.critSince !== null);
    const warn = crit || holds(warning, clear?.warning, prev.warnSince !== null);
    const critSince = crit ? (prev.critSince ?? now) : null;
    const warnSince = warn ? (prev.warnSince ?? now) : null;
    const cur = LEVEL[prev.state];
    const wait = this.cfg.for;
    let state: AlarmState = 'OK';
    if (crit && (cur >= 2 || now - critSince! >= wait)) state = 'CRITICAL';
    else if (warn && (cur >= 1 || now - warnSince! >= wait)) state = 'WARNING';
    let bound: number | null;
    if (state === 'CRITICAL') bound = this.side(value, critical!);
    else if (state === 'WARNING') bound = warning !== undefined ? this.side(value, warning) : this.side(value, critical!);
    else {
      // The bound in force for the mildest level: the one the value came back under, or the one it would cross.
      const [b, c, held] = warning !== undefined ? [warning, clear?.warning, prev.warnSince !== null] : [critical, clear?.critical, prev.critSince !== null];
      bound = b === undefined ? null : this.side(value, held && c !== undefined ? c : b);
    }
    return { state, warnSince, critSince, missingSince: null, bound };
  }

  /** The rule as GET /alarms/rules shows it (durations in seconds). */
  toJson() {
    return { ...this.cfg, repeatInterval: this.repeatInterval };
  }
}
