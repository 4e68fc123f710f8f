// What every reliability scenario stands on: the local control plane as a
// real process (so it can be SIGKILLed and restarted on the same state
// folder), worker processes, the resource audit, the orphan count, the
// secrets scan and the result row each scenario reports.
import { ListEndpointConfigsCommand, ListModelPackagesCommand, ListModelsCommand, ListTrainingJobsCommand, DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { Client } from '@temporalio/client';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { isOwnedName } from '../../src/aws/naming';
import type { PipelineOutcome } from '../../src/workflows';
import { startE2e, type E2eEnv, type SpecOverrides } from '../e2e/helpers';
import { startWorkerProcess, type WorkerProcess } from '../e2e/worker-process';
import { testClient, uniqueTaskQueue } from '../harness/temporal';
import { isProcessAlive } from '../local/support';
import type { PipelineSpec } from '../../src/spec';
import { descendants, readableText } from '../support/inspect';
export { descendants, readableText };

const ROOT = resolve(__dirname, '../..');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');

/**
 * Recognisable fake credentials the suite puts in the environment of the
 * control plane and in the workers' shared credentials file; the secrets scan
 * counts every place they turn up.
 */
export const FAKE_SECRETS = {
  accessKeyId: 'AKIARELIABILITYFAKE7',
  secretAccessKey: 'reliability-fake-secret-Q9x7Lm2Zp',
  sessionToken: 'reliability-fake-session-token-4f3e2d1c',
} as const;

/** One line of the final table. */
export interface Row {
  scenario: string;
  runs: number;
  passed: number;
  leaked: number;
  duplicates: number;
  orphans: number;
  /** Null when the scenario sends no request stream. */
  dropped: number | null;
  /** Null when the scenario does not scan. */
  secrets: number | null;
  /** What went wrong, for the report (empty when the row passes). */
  problems: string[];
}

export function emptyRow(scenario: string): Row {
  return { scenario, runs: 0, passed: 0, leaked: 0, duplicates: 0, orphans: 0, dropped: null, secrets: null, problems: [] };
}

export function rowPasses(r: Row): boolean {
  return r.runs > 0 && r.passed === r.runs && r.leaked === 0 && r.duplicates === 0 && r.orphans === 0 && !r.dropped && !r.secrets && r.problems.length === 0;
}

/** Writes the row where `npm run test:reliability` collects them (CHAMP_RELIABILITY_OUT), and returns it. */
export function recordRow(row: Row): Row {
  const out = process.env.CHAMP_RELIABILITY_OUT;
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `${row.scenario.replace(/[^a-z0-9]+/gi, '-')}.json`), JSON.stringify(row, null, 2));
  }
  return row;
}

/** mulberry32: the crash points and delays follow from the seed alone, so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export interface PlaneProcess {
  url: string;
  port: number;
  pid(): number | undefined;
  /** Everything every incarnation printed. */
  output(): string;
  /** SIGKILL to the server (its containers are in their own groups and stay, as after a host crash of the server alone). */
  kill(): Promise<void>;
  /** Starts it again on the same port and state folder. */
  restart(): Promise<void>;
  /** SIGTERM and wait: the server stops every container it runs. */
  stop(): Promise<void>;
}

/** `tsx src/local/main.ts` on a fixed loopback port with the fake credentials in its environment. */
export async function startPlaneProcess(opts: { stateDir: string; imageStore: string; env?: Record<string, string> }): Promise<PlaneProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  let log = '';
  const launch = async () => {
    const c = spawn(TSX, ['src/local/main.ts', '--port', String(port), '--state-dir', opts.stateDir, '--image-store', opts.imageStore], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: opts.stateDir,
        TMPDIR: process.env.TMPDIR ?? '/tmp',
        AWS_ACCESS_KEY_ID: FAKE_SECRETS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_SECRETS.secretAccessKey,
        AWS_SESSION_TOKEN: FAKE_SECRETS.sessionToken,
        CHAMP_LOCAL_MAX_ENDPOINTS: '80',
        CHAMP_LOCAL_MAX_TRAINING_JOBS: '80',
        ...opts.env,
      },
    });
    child = c;
    exited = new Promise((ok) => c.once('exit', ok));
    const append = (d: Buffer) => {
      log += d.toString();
      if (log.length > 2_000_000) log = log.slice(-1_000_000);
    };
    c.stdout!.on('data', append);
    c.stderr!.on('data', append);
    const mark = log.length;
    const deadline = Date.now() + 60_000;
    while (!log.slice(mark).includes('listening on')) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`the control plane exited early:\n${log.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`the control plane did not listen within 60 s:\n${log.slice(-3000)}`);
      await sleep(100);
    }
  };
  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return;
    try {
      process.kill(sig === 'SIGKILL' ? -c.pid : c.pid, sig);
    } catch {
      // already gone
    }
    await exited;
  };
  await launch();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid,
    output: () => log,
    kill: () => signal('SIGKILL'),
    restart: launch,
    async stop() {
      const timer = setTimeout(() => void signal('SIGKILL'), 30_000);
      await signal('SIGTERM');
      clearTimeout(timer);
    },
  };
}

/** Runs one scenario's stack: example data, a control plane process, workers on one task queue, a client. */
export interface Stack {
  e2e: E2eEnv;
  plane: PlaneProcess;
  sm: SageMakerClient;
  /** One attempt per invocation: a dropped request is counted, never hidden by a retry. */
  runtime: SageMakerRuntimeClient;
  client: Client;
  taskQueue: string;
  workers: WorkerProcess[];
  spawnWorker(): Promise<WorkerProcess>;
  /** The example's spec with a name unique to the run. */
  spec(overrides?: SpecOverrides): PipelineSpec;
  /** Every log line any worker printed (killed ones included). */
  workerLogs(): string;
  close(): Promise<void>;
}

export async function startStack(opts: { planeEnv?: Record<string, string> } = {}): Promise<Stack> {
  const e2e = await startE2e();
  const planeHome = join(e2e.home, 'plane');
  mkdirSync(planeHome, { recursive: true });
  // The worker's HOME is the e2e home: its SDK reads the fake credentials from the shared file,
  // the way a workstation's profile would provide them.
  mkdirSync(join(e2e.home, '.aws'), { recursive: true });
  writeFileSync(
    join(e2e.home, '.aws', 'credentials'),
    `[default]\naws_access_key_id = ${FAKE_SECRETS.accessKeyId}\naws_secret_access_key = ${FAKE_SECRETS.secretAccessKey}\naws_session_token = ${FAKE_SECRETS.sessionToken}\n`,
    { mode: 0o600 },
  );
  const plane = await startPlaneProcess({ stateDir: planeHome, imageStore: e2e.imageStore, ...(opts.planeEnv ? { env: opts.planeEnv } : {}) });
  const common = { endpoint: plane.url, region: 'us-east-1', credentials: { accessKeyId: 'champlocal', secretAccessKey: 'champlocal' } };
  const sm = new SageMakerClient(common);
  const runtime = new SageMakerRuntimeClient({ ...common, maxAttempts: 1 });
  const { client, close: closeClient } = await testClient();
  const taskQueue = uniqueTaskQueue('reliability');
  const workers: WorkerProcess[] = [];
  return {
    e2e,
    plane,
    sm,
    runtime,
    client,
    taskQueue,
    workers,
    async spawnWorker() {
      const w = await startWorkerProcess({ taskQueue, sageMakerUrl: plane.url, home: e2e.home }, 120_000);
      workers.push(w);
      return w;
    },
    spec: (overrides = {}) => e2e.makeSpec(overrides),
    workerLogs: () => workers.map((w) => w.output()).join('\n'),
    async close() {
      await Promise.all(workers.map((w) => w.kill()));
      await closeClient();
      sm.destroy();
      runtime.destroy();
      await plane.stop();
      await e2e.stop();
    },
  };
}

/** What one run should have left: a deployed run one of each; a rolled-back or failed run no model or config. */
export interface RunExpectation {
  pipeline: string;
  endpointName: string;
  outcome: PipelineOutcome | 'failed';
  /** The config this run deployed (deployed runs). */
  endpointConfigName?: string;
  /** Whether training happened (a failed run may fail before). */
  trained: boolean;
  registered: boolean;
}

export interface Audit {
  leaked: number;
  duplicates: number;
  problems: string[];
}

async function allPages<T>(fetch: (token?: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await fetch(token);
    out.push(...page.items);
    token = page.next;
    if (!token) break;
  }
  return out;
}

/**
 * Counts every resource of every run in the control plane: more than one
 * training job, model, config or package for a run is a duplicate; a model or
 * config a rolled-back or failed run left is a leak. `endpoints` maps each
 * endpoint to the config it must serve (undefined: any deployed run's config).
 */
export async function auditResources(sm: SageMakerClient, runs: RunExpectation[], endpoints: Map<string, string | undefined>): Promise<Audit> {
  const jobs = await allPages(async (NextToken) => {
    const r = await sm.send(new ListTrainingJobsCommand({ MaxResults: 100, NextToken }));
    return { items: (r.TrainingJobSummaries ?? []).map((j) => j.TrainingJobName ?? ''), next: r.NextToken };
  });
  const models = await allPages(async (NextToken) => {
    const r = await sm.send(new ListModelsCommand({ MaxResults: 100, NextToken }));
    return { items: (r.Models ?? []).map((m) => m.ModelName ?? ''), next: r.NextToken };
  });
  const configs = await allPages(async (NextToken) => {
    const r = await sm.send(new ListEndpointConfigsCommand({ MaxResults: 100, NextToken }));
    return { items: (r.EndpointConfigs ?? []).map((c) => c.EndpointConfigName ?? ''), next: r.NextToken };
  });
  const audit: Audit = { leaked: 0, duplicates: 0, problems: [] };
  const deployedConfigs = new Set<string>();
  for (const run of runs) {
    const packages = await allPages(async (NextToken) => {
      const r = await sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: run.pipeline, MaxResults: 100, NextToken }));
      return { items: (r.ModelPackageSummaryList ?? []).map((p) => p.ModelPackageArn ?? ''), next: r.NextToken };
    }).catch(() => []);
    // A superseded run deployed too, and another run's deploy came later: its model and config stay as one of the pipeline's kept versions.
    const deployed = run.outcome === 'deployed' || run.outcome === 'superseded';
    const count = (names: string[], step: 'train' | 'model' | 'config') => names.filter((n) => isOwnedName(run.pipeline, n, step)).length;
    const checks: Array<[string, number, number]> = [
      ['training job', count(jobs, 'train'), run.trained ? 1 : 0],
      ['model package', packages.length, run.registered ? 1 : 0],
      ['model', count(models, 'model'), deployed ? 1 : 0],
      ['endpoint config', count(configs, 'config'), deployed ? 1 : 0],
    ];
    for (const [what, seen, expected] of checks) {
      if (seen > expected) {
        if (expected === 0) audit.leaked += seen;
        else audit.duplicates += seen - expected;
        audit.problems.push(`${run.pipeline} (${run.outcome}): ${seen} ${what}(s), expected ${expected}`);
      } else if (seen < expected) {
        audit.problems.push(`${run.pipeline} (${run.outcome}): ${seen} ${what}(s), expected ${expected}`);
      }
    }
    if (run.outcome === 'deployed' && run.endpointConfigName) deployedConfigs.add(run.endpointConfigName);
  }
  for (const [endpointName, expected] of endpoints) {
    const d = await sm.send(new DescribeEndpointCommand({ EndpointName: endpointName })).catch((e: Error) => e);
    if (d instanceof Error) {
      audit.problems.push(`endpoint ${endpointName}: ${d.message}`);
      continue;
    }
    const serving = d.EndpointConfigName ?? '';
    const ok = d.EndpointStatus === 'InService' && (expected !== undefined ? serving === expected : deployedConfigs.has(serving));
    if (!ok) audit.problems.push(`endpoint ${endpointName}: ${d.EndpointStatus} on ${serving}, expected ${expected ?? 'a deployed run\'s config'}${d.FailureReason ? ` (${d.FailureReason})` : ''}`);
  }
  return audit;
}


function readProc(pid: number, file: 'environ' | 'cmdline'): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').replace(/\0/g, '\n');
  } catch {
    return '';
  }
}

/** Live processes whose command line or environment names `marker` (a scenario's temp folder): after close() there must be none. */
export function processesMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    if ((readProc(pid, 'cmdline').includes(marker) || readProc(pid, 'environ').includes(marker)) && isProcessAlive(pid)) out.push(pid);
  }
  return out;
}

/** Names of running Docker containers the control plane started (`champ-*`); [] without an engine. */
export function champContainers(): string[] {
  try {
    return execFileSync('docker', ['ps', '--filter', 'name=^champ-', '--format', '{{.Names}}'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** The environment of every serving/training process of the plane (not the plane's own node processes). */
export function containerEnvironments(planePid: number | undefined): Array<{ pid: number; text: string }> {
  if (planePid === undefined) return [];
  const out: Array<{ pid: number; text: string }> = [];
  for (const pid of descendants(planePid)) {
    const environ = readProc(pid, 'environ');
    // A container is what the plane starts with SageMaker's variables; its own node and esbuild helpers are not.
    if (!/^(SM_|SAGEMAKER_)/m.test(environ)) continue;
    out.push({ pid, text: `${readProc(pid, 'cmdline')}\n${environ}` });
  }
  for (const name of champContainers()) {
    try {
      out.push({ pid: -1, text: execFileSync('docker', ['inspect', '--format', '{{json .Config.Env}}', name], { encoding: 'utf8', timeout: 15_000 }) });
    } catch {
      // stopped meanwhile
    }
  }
  return out;
}

/** Every text file under `dir` (state JSON, container logs), each cut at 4 MB. */
export function filesUnder(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = (d: string, depth: number) => {
    if (depth > 12) return;
    let entries: string[] = [];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      try {
        const st = statSync(p);
        if (st.isDirectory()) walk(p, depth + 1);
        else if (st.isFile()) out.push({ path: p, text: readFileSync(p).subarray(0, 4 << 20).toString('latin1') });
      } catch {
        // unreadable or gone
      }
    }
  };
  walk(dir, 0);
  return out;
}


/** How many of the fake secrets (plain or base64) appear in `text`, with where. */
export function secretHits(where: string, text: string): string[] {
  const hits: string[] = [];
  for (const secret of Object.values(FAKE_SECRETS)) {
    for (const form of [secret, Buffer.from(secret).toString('base64')]) {
      let i = text.indexOf(form);
      while (i >= 0) {
        hits.push(`${where}: ...${text.slice(Math.max(0, i - 60), i).replace(/\s+/g, ' ')}[${form.slice(0, 8)}...]`);
        i = text.indexOf(form, i + form.length);
      }
    }
  }
  return hits;
}
