// Jobs in the SQL database: the current state per job and each job's events, folded a batch at a time
// (one read of the batch's jobs, one upsert, one insert of history), listed with filters, and pruned.
import type { Knex } from 'knex';
import { matchesLabels, Selector } from '../matchers/selector.js';
import { Labels } from '../model/series.js';
import type { EventValue } from '../events/model.js';

export interface Job {
  job: string;
  state: string;
  experiment: string;
  site: string;
  labels: Labels;
  data: Record<string, EventValue>;
  /** Unix ms. */
  firstAt: number;
  stateSince: number;
  lastAt: number;
  silentSince: number | null;
  finishedAt: number | null;
  events: number;
}

export interface JobEvent {
  time: number;
  type: string;
  source: string;
  from: string | null;
  to: string | null;
  labels: Labels;
  data: Record<string, EventValue>;
}

export interface JobQuery {
  states?: string[];
  experiments?: string[];
  sites?: string[];
  /** true: only jobs flagged silent; false: only the others. */
  silent?: boolean;
  /** Union over the job's labels (its events' labels plus job, experiment, site, state); the name part is the state. */
  selectors?: Selector[];
  limit: number;
}

type Row = {
  id: string;
  state: string;
  experiment: string;
  site: string;
  labels: string;
  data: string;
  first_at: number | string;
  state_since: number | string;
  last_at: number | string;
  silent_at: number | string | null;
  finished_at: number | string | null;
  events: number | string;
};

const CHUNK = 500;
const SCAN_CHUNK = 2000;
const num = (v: number | string | null) => (v === null ? null : Number(v));

export function toJob(r: Row): Job {
  return {
    job: r.id,
    state: r.state,
    experiment: r.experiment,
    site: r.site,
    labels: JSON.parse(r.labels),
    data: JSON.parse(r.data),
    firstAt: Number(r.first_at),
    stateSince: Number(r.state_since),
    lastAt: Number(r.last_at),
    silentSince: num(r.silent_at),
    finishedAt: num(r.finished_at),
    events: Number(r.events),
  };
}

function toRow(j: Job): Row {
  return {
    id: j.job,
    state: j.state,
    experiment: j.experiment,
    site: j.site,
    labels: JSON.stringify(j.labels),
    data: JSON.stringify(j.data),
    first_at: j.firstAt,
    state_since: j.stateSince,
    last_at: j.lastAt,
    silent_at: j.silentSince,
    finished_at: j.finishedAt,
    events: j.events,
  };
}

/** The labels a selector sees: the job's event labels plus job, experiment, site and state. */
export function jobLabels(j: Job): Labels {
  return { ...j.labels, job: j.job, experiment: j.experiment, site: j.site, state: j.state };
}

export class JobStore {
  constructor(private readonly db: Knex) {}

  /** The jobs with these ids, by id. */
  async load(ids: string[], db: Knex = this.db): Promise<Map<string, Job>> {
    const out = new Map<string, Job>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = (await db('jobs').whereIn('id', ids.slice(i, i + CHUNK))) as Row[];
      for (const r of rows) out.set(r.id, toJob(r));
    }
    return out;
  }

  /** Writes the folded jobs and their new history rows (inside the caller's transaction when given one). */
  async save(jobs: Job[], history: (JobEvent & { job: string })[], db: Knex = this.db): Promise<void> {
    const rows = jobs.map(toRow);
    for (let i = 0; i < rows.length; i += CHUNK)
      await db('jobs')
        .insert(rows.slice(i, i + CHUNK))
        .onConflict('id')
        .merge();
    const hist = history.map((h) => ({
      job: h.job,
      time: h.time,
      type: h.type,
      source: h.source,
      from_state: h.from,
      to_state: h.to,
      labels: JSON.stringify(h.labels),
      data: JSON.stringify(h.data),
    }));
    for (let i = 0; i < hist.length; i += CHUNK) await db('job_events').insert(hist.slice(i, i + CHUNK));
  }

  async get(id: string): Promise<Job | undefined> {
    const r = (await this.db('jobs').where('id', id).first()) as Row | undefined;
    return r && toJob(r);
  }

  /** The newest `limit` events of a job, oldest first; and whether older ones were left out. */
  async history(id: string, limit: number): Promise<{ events: JobEvent[]; truncated: boolean }> {
    const rows = (await this.db('job_events')
      .where('job', id)
      .orderBy([
        { column: 'time', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit + 1)) as {
      time: number | string;
      type: string;
      source: string;
      from_state: string | null;
      to_state: string | null;
      labels: string;
      data: string;
    }[];
    const truncated = rows.length > limit;
    const events = rows
      .slice(0, limit)
      .reverse()
      .map((r) => ({
        time: Number(r.time),
        type: r.type,
        source: r.source,
        from: r.from_state,
        to: r.to_state,
        labels: JSON.parse(r.labels),
        data: JSON.parse(r.data),
      }));
    return { events, truncated };
  }

  private filtered(q: Omit<JobQuery, 'limit' | 'selectors'>): Knex.QueryBuilder {
    const b = this.db('jobs');
    if (q.states?.length) b.whereIn('state', q.states);
    if (q.experiments?.length) b.whereIn('experiment', q.experiments);
    if (q.sites?.length) b.whereIn('site', q.sites);
    if (q.silent === true) b.whereNotNull('silent_at');
    if (q.silent === false) b.whereNull('silent_at');
    return b;
  }

  /** Jobs matching q, the latest event first; `total` is how many matched in all. */
  async list(q: JobQuery): Promise<{ jobs: Job[]; total: number }> {
    const sels = q.selectors?.length ? q.selectors : undefined;
    if (!sels) {
      const rows = (await this.filtered(q)
        .orderBy([
          { column: 'last_at', order: 'desc' },
          { column: 'id', order: 'asc' },
        ])
        .limit(q.limit)) as Row[];
      const n = (await this.filtered(q).count({ n: '*' }).first()) as { n: number | string } | undefined;
      return { jobs: rows.map(toJob), total: Number(n?.n ?? 0) };
    }
    // Selectors read the JSON labels: scanned in chunks, newest first.
    const jobs: Job[] = [];
    let total = 0;
    let offset = 0;
    for (;;) {
      const rows = (await this.filtered(q)
        .orderBy([
          { column: 'last_at', order: 'desc' },
          { column: 'id', order: 'asc' },
        ])
        .offset(offset)
        .limit(SCAN_CHUNK)) as Row[];
      for (const r of rows) {
        const j = toJob(r);
        if (!sels.some((s) => matchesLabels(s, j.state, jobLabels(j)))) continue;
        total++;
        if (jobs.length < q.limit) jobs.push(j);
      }
      if (rows.length < SCAN_CHUNK) return { jobs, total };
      offset += SCAN_CHUNK;
    }
  }

  /** Jobs not in a terminal state, not flagged yet, whose latest event is before `before` (Unix ms). */
  async silentCandidates(before: number, limit: number): Promise<Job[]> {
    const rows = (await this.db('jobs').whereNull('finished_at').whereNull('silent_at').where('last_at', '<', before).orderBy('last_at').limit(limit)) as Row[];
    return rows.map(toJob);
  }

  async markSilent(ids: string[], at: number): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK)
      await this.db('jobs')
        .whereIn('id', ids.slice(i, i + CHUNK))
        .whereNull('silent_at')
        .update({ silent_at: at });
  }

  /** Forgets jobs finished before `finishedBefore` and jobs silent since before `silentBefore`, with their history. */
  async forget(finishedBefore: number, silentBefore: number): Promise<{ finished: number; silent: number }> {
    return this.db.transaction(async (trx) => {
      const finished = trx('jobs').select('id').where('finished_at', '<', finishedBefore);
      const silent = trx('jobs').select('id').whereNull('finished_at').where('silent_at', '<', silentBefore);
      await trx('job_events').whereIn('job', finished).delete();
      await trx('job_events').whereIn('job', silent).delete();
      const f = await trx('jobs').where('finished_at', '<', finishedBefore).delete();
      const s = await trx('jobs').whereNull('finished_at').where('silent_at', '<', silentBefore).delete();
      return { finished: f, silent: s };
    });
  }

  /** Jobs by experiment, site and state (every job known), and how many of each pair are flagged silent. */
  async counts(): Promise<{ experiment: string; site: string; state: string; n: number; silent: number }[]> {
    const rows = (await this.db('jobs')
      .select('experiment', 'site', 'state')
      .count({ n: '*' })
      .count({ silent: 'silent_at' })
      .groupBy('experiment', 'site', 'state')) as { experiment: string; site: string; state: string; n: number | string; silent: number | string }[];
    return rows.map((r) => ({ experiment: r.experiment, site: r.site, state: r.state, n: Number(r.n), silent: Number(r.silent) }));
  }

  /** Transitions of the last `sinceMs` by experiment, site, from and to, each with its latest time (for a restart). */
  async recentTransitions(sinceMs: number): Promise<{ experiment: string; site: string; from: string; to: string; at: number }[]> {
    const rows = (await this.db('job_events as e')
      .join('jobs as j', 'j.id', 'e.job')
      .select('j.experiment', 'j.site', 'e.from_state', 'e.to_state')
      .max({ at: 'e.time' })
      .where('e.time', '>=', sinceMs)
      .whereNotNull('e.to_state')
      .where((w) => w.whereNull('e.from_state').orWhereRaw('?? <> ??', ['e.from_state', 'e.to_state']))
      .groupBy('j.experiment', 'j.site', 'e.from_state', 'e.to_state')) as {
      experiment: string;
      site: string;
      from_state: string | null;
      to_state: string;
      at: number | string;
    }[];
    return rows.map((r) => ({ experiment: r.experiment, site: r.site, from: r.from_state ?? 'none', to: r.to_state, at: Number(r.at) }));
  }

  async size(): Promise<number> {
    const r = (await this.db('jobs').count({ n: '*' }).first()) as { n: number | string } | undefined;
    return Number(r?.n ?? 0);
  }
}
