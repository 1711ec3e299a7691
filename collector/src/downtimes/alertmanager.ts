// A small client of the Alertmanager v2 API, as served by Prometheus Alertmanager (prefix '') and by
// Grafana's built-in Alertmanager (prefix /api/alertmanager/grafana), plus Grafana's mute timings and annotations.

export interface AmMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface PostableSilence {
  id?: string;
  matchers: AmMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export interface GettableSilence extends PostableSilence {
  id: string;
  status: { state: 'active' | 'pending' | 'expired' };
  updatedAt?: string;
}

export interface AmAlert {
  labels: Record<string, string>;
  startsAt: string;
  status?: { state?: string };
}

export interface MuteTiming {
  name: string;
  time_intervals: Record<string, unknown>[];
  version?: string;
  provenance?: string;
}

export interface GrafanaAnnotation {
  id: number;
  time: number;
  timeEnd?: number;
  text?: string;
  tags?: string[];
  login?: string;
  email?: string;
}

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class AmClient {
  constructor(
    readonly base: string,
    readonly prefix: string,
    private readonly headers: Record<string, string>,
    private readonly timeoutMs: number,
  ) {}

  async call<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const url = this.base.replace(/\/+$/, '') + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...this.headers, ...extraHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const cause = (e as Error).cause as Error | undefined;
      throw new HttpStatusError(0, `${method} ${url}: ${cause?.message ?? (e as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) throw new HttpStatusError(res.status, `${method} ${url}: HTTP ${res.status} ${text.slice(0, 300).trim()}`);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new HttpStatusError(res.status, `${method} ${url}: the answer is not JSON: ${text.slice(0, 200)}`);
    }
  }

  silences(): Promise<GettableSilence[]> {
    return this.call('GET', `${this.prefix}/api/v2/silences`);
  }

  async postSilence(s: PostableSilence): Promise<string> {
    const r = await this.call<{ silenceID?: string; id?: string }>('POST', `${this.prefix}/api/v2/silences`, s);
    return String(r?.silenceID ?? r?.id ?? '');
  }

  async expireSilence(id: string): Promise<void> {
    try {
      await this.call('DELETE', `${this.prefix}/api/v2/silence/${encodeURIComponent(id)}`);
    } catch (e) {
      // Already gone or already expired: the goal is reached.
      if (e instanceof HttpStatusError && e.status === 404) return;
      throw e;
    }
  }

  /**
   * When the Alertmanager started (`uptime` of `GET /api/v2/status`): a change means it restarted. null
   * when the target does not say (no `uptime`, or a 4xx: not served, or not allowed for this token; it
   * answers all the same). Throws when it does not answer or answers 5xx.
   */
  async startedAt(): Promise<string | null> {
    try {
      const r = await this.call<{ uptime?: string } | undefined>('GET', `${this.prefix}/api/v2/status`);
      return typeof r?.uptime === 'string' ? r.uptime : null;
    } catch (e) {
      if (e instanceof HttpStatusError && e.status >= 400 && e.status < 500) return null;
      throw e;
    }
  }

  alerts(): Promise<AmAlert[]> {
    return this.call('GET', `${this.prefix}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`);
  }
}
