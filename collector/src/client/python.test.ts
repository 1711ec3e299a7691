// The Python client (clients/python/rexmon_client.py) run by the real python3 against a real collector:
// delivered in batches and flushed at exit, bad events dropped without raising, the collector away (bounded
// queue, drops counted, a bounded exit) and back, busy answers (503/429 from a proxy in front of the real
// collector) kept and retried, refusals (403) dropped and said once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { hashToken } from '../auth/tokens.js';
import { api, freePort, startCollector, TestCollector, tempDir } from '../testing/harness.js';

const EDITOR = 'rxm_python_editor';
const VIEWER = 'rxm_python_viewer';
const tokens = [
  { name: 'feeder', role: 'editor', sha256: hashToken(EDITOR) },
  { name: 'wall', role: 'viewer', sha256: hashToken(VIEWER) },
];
const CLIENT_DIR = fileURLToPath(new URL('../../../clients/python/', import.meta.url));

type E = { time: number; type: string; source: string; labels: Record<string, string>; data: Record<string, unknown> };
let c: TestCollector;

before(async () => {
  c = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { tokens } });
});
after(async () => {
  await c?.stop();
});

async function events(base: string, query: string): Promise<E[]> {
  const r = await api<{ data: E[] }>(base, `/api/v1/events?limit=10000&${query}`, { token: VIEWER });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}

interface Py {
  done: Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>;
  /** Resolves when stdout has printed a line matching `re`. */
  line: (re: RegExp) => Promise<string>;
}

function python(script: string, env: Record<string, string>): Py {
  const t0 = Date.now();
  const child = spawn('python3', ['-c', script], { env: { ...process.env, PYTHONPATH: CLIENT_DIR, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout.on('data', (d) => {
    stdout += d;
    for (const w of [...waiters]) {
      const m = stdout.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    }),
  );
  return {
    done,
    line: (re) =>
      new Promise((resolve, reject) => {
        const m = stdout.split('\n').find((l) => re.test(l));
        if (m !== undefined) return resolve(m);
        waiters.push({ re, resolve });
        void done.then((r) => reject(new Error(`python exited (${r.code}) before printing ${re}: ${r.stderr}`)));
      }),
  };
}

test('python: 1,200 events queued in one call each, delivered in batches and flushed at exit, with labels, data, source, time', async () => {
  const script = `
import time, rexmon_client as rx
rx.configure(batch_size=250, source="slurper07")
t0 = 1795300000
ok = [rx.send_event("py.bulk", time=t0 + i, data={"seq": i, "ratio": i / 4, "even": i % 2 == 0}, host="fnpc%02d" % (i % 5)) for i in range(1200)]
print("queued", sum(ok))
`;
  const r = await python(script, { REXMON_URL: c.url, REXMON_TOKEN: EDITOR }).done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'queued 1200\n');
  assert.equal(r.stderr, '');
  const got = await events(c.url, 'type=py.bulk');
  assert.equal(got.length, 1200);
  const bySeq = new Map(got.map((e) => [e.data.seq as number, e]));
  for (let i = 0; i < 1200; i++) {
    const e = bySeq.get(i)!;
    assert.ok(e, `event ${i}`);
    assert.equal(e.time, (1795300000 + i) * 1000);
    assert.equal(e.source, 'slurper07');
    assert.deepEqual(e.labels, { host: `fnpc${String(i % 5).padStart(2, '0')}` });
    assert.deepEqual(e.data, { seq: i, ratio: i / 4, even: i % 2 === 0 });
  }
});

test('python: bad events give False and one log line, never an exception; a 403 drops the batch, said once', async () => {
  const script = `
import rexmon_client as rx
print(rx.send_event("bad type!", source="s"))
print(rx.send_event("ok.type", source="s", **{"bad-label": "x"}))
print(rx.send_event("ok.type", source="s", data={"nested": {"a": 1}}))
print(rx.send_event("ok.type", source="s", data={"x": float("nan")}))
print(rx.send_event(None))
print(rx.send_event("ok.type", source="a\\nb"))
print(rx.send_event("py.good", source="s", run=7))
rx.flush(10)
st = rx.stats()
print(st["sent"], st["dropped"]["invalid"])
`;
  const r = await python(script, { REXMON_URL: c.url, REXMON_TOKEN: EDITOR }).done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'False\nFalse\nFalse\nFalse\nFalse\nFalse\nTrue\n1 6\n');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^rexmon client: event 'bad type!' is invalid and was dropped: type 'bad type!' must be 1 to 100 of letters/);
  const [good] = await events(c.url, 'type=py.good');
  assert.deepEqual(good.labels, { run: '7' });

  const ro = await python(
    `
import rexmon_client as rx
rx.configure(batch_size=5)
for i in range(12):
    rx.send_event("py.refused", source="ro")
rx.flush(10)
print(rx.stats()["dropped"]["rejected"])
`,
    { REXMON_URL: c.url, REXMON_TOKEN: VIEWER },
  ).done;
  assert.equal(ro.code, 0, ro.stderr);
  assert.equal(ro.stdout, '12\n');
  assert.equal(ro.stderr.trim().split('\n').length, 1, ro.stderr);
  assert.match(ro.stderr, /collector refused 5 events with HTTP 403 \(.*\); they were dropped/);
  assert.equal((await events(c.url, 'type=py.refused')).length, 0);
});

test('python: collector away — sends return at once, the queue keeps max_buffer, drops counted; exit stays bounded', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const script = `
import time, rexmon_client as rx
rx.configure(max_buffer=100, batch_size=40, flush_interval=0.1)
t0 = time.monotonic()
ok = [rx.send_event("py.away", source="w", seq=str(i)) for i in range(150)]
print("send took", round(time.monotonic() - t0, 3) < 0.5)
print(sum(ok), ok[100:] == [False] * 50)
time.sleep(0.5)
st = rx.flush(3)
print(st["buffered"], st["dropped"]["buffer_full"], st["reachable"])
`;
  const r = await python(script, { REXMON_URL: url, REXMON_TOKEN: EDITOR }).done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'send took True\n100 True\n100 50 False\n');
  assert.equal((r.stderr.match(/is away \(/g) ?? []).length, 1, r.stderr);
  assert.equal((r.stderr.match(/buffer full \(100 events/g) ?? []).length, 1, r.stderr);
  assert.match(r.stderr, /closing with 100 event\(s\) not delivered to .*: dropped/);
  assert.ok(r.ms < 10000, `exited after ${r.ms} ms`);
});

test('python: the collector comes up after the first events: everything kept is delivered, once', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const py = python(
    `
import sys, time, rexmon_client as rx
rx.configure(max_backoff=0.5, flush_interval=0.1)
for i in range(60):
    rx.send_event("py.late", source="late", data={"seq": i})
while rx.stats()["reachable"]:
    time.sleep(0.05)
print("away", flush=True)
deadline = time.monotonic() + 30
while rx.stats()["sent"] < 60 and time.monotonic() < deadline:
    time.sleep(0.05)
print("sent", rx.stats()["sent"], flush=True)
`,
    { REXMON_URL: url, REXMON_TOKEN: EDITOR },
  );
  await py.line(/^away$/);
  const { dir, cleanup } = await tempDir();
  const late = await startCollector({ rrd: { cached: { mode: 'off' } }, auth: { tokens }, http: { listen: `127.0.0.1:${port}` } }, dir);
  try {
    const r = await py.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sent 60$/m);
    assert.match(r.stderr, /is back; 60 events buffered, 0 dropped meanwhile/);
    const seqs = (await events(url, 'type=py.late')).map((e) => e.data.seq as number).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 60 }, (_, i) => i),
    );
  } finally {
    await late.stop();
    await cleanup();
  }
});

test('python: 503 and 429 with Retry-After keep the events; all arrive after the waits', async () => {
  const answers = [503, 429];
  const seen: number[] = [];
  const proxy = http.createServer((req, res) => {
    const status = answers.shift();
    seen.push(status ?? 0);
    if (status) {
      req.resume();
      res.writeHead(status, { 'retry-after': '1', 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { status, message: status === 503 ? 'event queue full' : 'rate limited' } }));
    }
    const up = http.request(new URL(req.url!, c.url), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const r = await python(
      `
import time, rexmon_client as rx
rx.configure(batch_size=10, flush_interval=0.05)
t0 = time.monotonic()
for i in range(25):
    rx.send_event("py.busy", source="busy", data={"seq": i})
st = rx.flush(15)
print(st["sent"], st["buffered"], sum(st["dropped"].values()), time.monotonic() - t0 >= 1.9)
`,
      { REXMON_URL: url, REXMON_TOKEN: EDITOR },
    ).done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '25 0 0 True\n');
    assert.deepEqual(seen.slice(0, 2), [503, 429]);
    assert.match(r.stderr, /HTTP 503 \(event queue full\); events are kept and sent again later/);
    assert.match(r.stderr, /HTTP 429 \(rate limited\)/);
    assert.equal((await events(c.url, 'type=py.busy')).length, 25);
  } finally {
    await new Promise((r) => proxy.close(r));
  }
});
