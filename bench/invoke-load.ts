// The load generator of the invocation benchmark, in a process of its own so
// that it never shares an event loop with the control plane it measures. It
// alternates short rounds against each target (same client, same payload,
// keep-alive connections), so drift in the machine's load hits both alike,
// and prints one JSON line: per target, requests, requests/s and latency
// percentiles.
//
//   npx tsx bench/invoke-load.ts --target plane=http://127.0.0.1:P/endpoints/E/invocations \
//     --target direct=http://127.0.0.1:Q/invocations [--seconds 6] [--concurrency 4] [--rounds 6]
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '6' },
    body: { type: 'string', default: '35,4,20.2,14.3,east\n' },
  },
});

const targets = (values.target ?? []).map((t) => {
  const eq = t.indexOf('=');
  if (eq < 1) throw new Error(`--target must be name=url, got ${t}`);
  return { name: t.slice(0, eq), url: new URL(t.slice(eq + 1)) };
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const body = Buffer.from(values.body ?? '');

function once(agent: Agent, url: URL): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'text/csv', accept: 'application/json', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode} from ${url.href}`))));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

async function round(url: URL, ms: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) latencies.push(await once(agent, url));
    }),
  );
  agent.destroy();
  return latencies;
}

const pct = (s: number[], p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;

async function main(): Promise<void> {
  // Warm-up: connections, the serving program's first requests.
  for (const t of targets) await round(t.url, 500);
  const all = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const roundMs = (seconds * 1000) / rounds;
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always follows the other.
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) all.get(t.name)!.push(...(await round(t.url, roundMs)));
  }
  const out: Record<string, unknown> = {};
  for (const [name, lat] of all) {
    const s = [...lat].sort((a, b) => a - b);
    out[name] = {
      requests: s.length,
      perSecond: Math.round((s.length / seconds) * 10) / 10,
      p50Ms: Math.round(pct(s, 50) * 1000) / 1000,
      p90Ms: Math.round(pct(s, 90) * 1000) / 1000,
      p99Ms: Math.round(pct(s, 99) * 1000) / 1000,
      meanMs: Math.round((s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) * 1000) / 1000,
    };
  }
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error((err as Error).stack ?? String(err));
  process.exit(1);
});
