// Scrapes a URL serving the Prometheus text format or a JSON array of samples.
import { parseJsonEvents, parseJsonSamples, parsePrometheusText, Parsed } from './parse.js';

export async function scrapeHttp(
  url: string,
  opts: { timeoutSeconds: number; headers: Record<string, string>; format: 'prometheus' | 'json' | 'auto'; mode?: 'samples' | 'events' },
): Promise<Parsed & { status: number }> {
  const res = await fetch(url, {
    headers: { accept: 'text/plain;version=0.0.4, application/json;q=0.9, */*;q=0.1', ...opts.headers },
    signal: AbortSignal.timeout(opts.timeoutSeconds * 1000),
  });
  const body = await res.text();
  if (!res.ok) return { samples: [], errors: [`HTTP ${res.status} from ${url}: ${body.slice(0, 200)}`], status: res.status };
  if (opts.mode === 'events') return { ...parseJsonEvents(body, Date.now()), status: res.status };
  const now = Math.floor(Date.now() / 1000);
  const type = res.headers.get('content-type') ?? '';
  const json = opts.format === 'json' || (opts.format === 'auto' && (type.includes('json') || body.trimStart().startsWith('[')));
  return { ...(json ? parseJsonSamples(body, now) : parsePrometheusText(body, now)), status: res.status };
}
