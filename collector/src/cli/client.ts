// A small client of the collector's HTTP API for the CLI.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  constructor(
    private readonly base: string,
    private readonly token?: string,
  ) {}

  async request<T>(method: string, path: string, params?: Record<string, string | string[] | undefined>, body?: unknown): Promise<T> {
    const url = new URL(`/api/v1${path}`, this.base);
    for (const [k, v] of Object.entries(params ?? {})) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, x);
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(
        0,
        `cannot reach the collector at ${this.base}: ${((e as Error).cause as Error)?.message ?? (e as Error).message} (is \`rexmon start\` running? see --url)`,
      );
    }
    const text = await res.text();
    let doc: { data?: T; error?: { message: string; path?: string } } = {};
    try {
      doc = JSON.parse(text);
    } catch {
      /* not JSON: reported below */
    }
    if (!res.ok) throw new ApiError(res.status, `${doc.error?.message ?? text.slice(0, 200)} (HTTP ${res.status})`);
    return doc.data as T;
  }
}
