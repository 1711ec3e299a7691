// The built-in status page: what the collector holds and how its queues and slurpers are doing, at a glance.

/** What the page shows, handed in by the API so the page depends on no other stage. */
export interface StatusFacts {
  version: string;
  startedAt: number;
  series: number;
  countsByName: ReadonlyMap<string, number>;
  queues: Record<string, number>;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function statusPage(f: StatusFacts): string {
  const rows = [...f.countsByName.entries()]
    .sort()
    .slice(0, 500)
    .map(([n, c]) => `<tr><td>${esc(n)}</td><td>${c}</td></tr>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>rexmon collector</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head>
<body><h1>rexmon collector ${esc(f.version)}</h1>
<p>Up ${Math.round(Date.now() / 1000 - f.startedAt)} s · ${f.series} series · queues: ${Object.entries(f.queues)
    .map(([k, v]) => `${esc(k)} ${v}`)
    .join(', ')}</p>
<p><a href="/metrics">/metrics</a> · <a href="/api/v1/openapi.json">API (OpenAPI)</a></p>
<h2>Metrics</h2><table><tr><th>metric</th><th>series</th></tr>${rows}</table></body></html>`;
}
