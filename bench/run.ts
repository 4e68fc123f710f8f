// `npm run bench`: every benchmark in one run (a few minutes), written to
// bench/results/latest.json and latest.md. Each figure carries the machine,
// the versions, the settings and the load average when it was taken, and,
// where one fits, a ratio measured in the same run. docs/performance.md says
// what each figure means. Asserts nothing.
//
//   npm run bench [-- --runs 3] [--invoke-seconds 6] [--cold-starts 2] [--out bench/results]
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointCommand,
  DescribeTrainingJobCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startStack } from '../src/dev/stack';
import { CLAIMS_EXAMPLE, claimsExampleSpec } from '../src/dev/example-spec';
import { createLogger } from '../src/logging';
import { DEFAULT_TASK_QUEUE, SEARCH_ATTRIBUTE_KEYS } from '../src/shared';
import type { PipelineSpec } from '../src/spec/schema';
import { trainingPipeline, type PipelineInput, type PipelineResult } from '../src/workflows';
import { LOCAL_POLL } from '../src/activities/spec';
import { champPolicy, fixedLoopPolicy, lagTable, retryBackoffPolicy, sdkWaiterPolicy } from './policies';
import { Cleanup, fail, freePort, median, numberFlag } from './lib';

const BENCH = 'bench/run';
const ROOT = resolve(__dirname, '..');
const RUN_TIMEOUT_MS = 5 * 60_000;
const ROLE = 'arn:aws:iam::000000000000:role/champ-local';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'invoke-seconds': { type: 'string', default: '6' },
    'cold-starts': { type: 'string', default: '2' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npm run bench [-- --runs 3] [--invoke-seconds 6] [--cold-starts 2] [--out bench/results]
  --runs            pipeline runs of the claims-severity example (1-10); the first creates the endpoint
  --invoke-seconds  seconds of load per target in the invocation benchmark (2-60)
  --cold-starts     worker starts measured per variant (1-5)
  --out             folder for latest.json and latest.md`);
  process.exit(0);
}
const runs = numberFlag(BENCH, 'runs', args.runs, 1, 10);
const invokeSeconds = numberFlag(BENCH, 'invoke-seconds', args['invoke-seconds'], 2, 60);
const coldStarts = numberFlag(BENCH, 'cold-starts', args['cold-starts'], 1, 5);

process.env.CHAMP_METRICS_PORT = '0';
// Process mode: the same on every machine, with or without a Docker engine.
process.env.CHAMP_LOCAL_ISOLATION = 'env';
delete process.env.CHAMP_IMAGE_STORE;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const taskQueue = process.env.CHAMP_TASK_QUEUE || DEFAULT_TASK_QUEUE;

const load = (): number[] => os.loadavg().map((l) => Math.round(l * 100) / 100);
const round2 = (n: number): number => Math.round(n * 100) / 100;
const secondsOf = (ms: number): number => Math.round(ms) / 1000;

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function commandOutput(file: string, argv: string[]): string {
  try {
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).trim();
  } catch {
    return 'unknown';
  }
}

function environment() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGiB: round2(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
    },
    versions: {
      champ: commandOutput('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
      node: process.version,
      temporalSdk: pkgVersion('@temporalio/worker'),
      awsSdkSageMaker: pkgVersion('@aws-sdk/client-sagemaker'),
      python: commandOutput('python3', ['--version']),
    },
    loadAverageAtStart: load(),
  };
}

interface Section {
  name: string;
  settings: Record<string, unknown>;
  loadAverage: number[];
  results: unknown;
}

// ---------------------------------------------------------------- pipeline

interface RunFigures {
  outcome: string;
  imageUri?: string;
  modelArtifact?: string;
  totalS: number;
  wallS: number;
  stagesS: Record<string, number>;
  historyEvents: number;
  historyBytes: number;
  /** From the training job's end (TrainingEndTime) to the end of the training stage. */
  trainingNoticedAfterS?: number;
  /** From the endpoint's last change (InService) to the end of the awaiting-endpoint stage. */
  endpointNoticedAfterS?: number;
}

function benchSpec(home: string, dataDir: string): PipelineSpec {
  const spec = claimsExampleSpec(dataDir, join(home, 'artifacts'));
  return { ...spec, approval: { ...spec.approval, required: false }, deployment: { ...spec.deployment, endpointName: 'bench-run' } };
}

async function pipelineRuns(client: Client, sm: SageMakerClient, home: string): Promise<RunFigures[]> {
  const out: RunFigures[] = [];
  for (let i = 0; i < runs; i++) {
    const dataDir = join(home, 'data', `run-${i + 1}`);
    execFileSync('python3', [join(CLAIMS_EXAMPLE, 'generate.py'), '--rows', '5000', '--seed', String(7 + i), '--out', dataDir], { stdio: 'pipe' });
    const spec = benchSpec(home, dataDir);
    const input: PipelineInput = { spec, trigger: 'manual', requestedBy: 'bench' };
    const workflowId = `bench-run-${i + 1}-${Date.now().toString(36)}`;
    const started = performance.now();
    const handle = await client.workflow.start(trainingPipeline, {
      taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name }],
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`run ${i + 1} did not finish within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
    });
    let result: PipelineResult;
    try {
      result = await Promise.race([handle.result(), deadline]);
    } catch (err) {
      await handle.terminate('bench gave up on this run').catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    const wallMs = performance.now() - started;
    const history = await handle.fetchHistory();
    const stages: Record<string, number> = {};
    let first = Infinity;
    let last = -Infinity;
    const ends: Record<string, number> = {};
    for (const t of result.timings) {
      const s = Date.parse(t.startedAt);
      const e = Date.parse(t.endedAt);
      stages[t.stage] = round2((stages[t.stage] ?? 0) + (e - s) / 1000);
      ends[t.stage] = e;
      first = Math.min(first, s);
      last = Math.max(last, e);
    }
    const figures: RunFigures = {
      outcome: result.outcome,
      totalS: secondsOf(last - first),
      wallS: secondsOf(wallMs),
      stagesS: stages,
      historyEvents: history.events?.length ?? 0,
      historyBytes: temporal.api.history.v1.History.encode(history).finish().length,
    };
    if (result.trainingJobName && ends.training !== undefined) {
      const job = await sm.send(new DescribeTrainingJobCommand({ TrainingJobName: result.trainingJobName }));
      if (job.TrainingEndTime) figures.trainingNoticedAfterS = secondsOf(ends.training - job.TrainingEndTime.getTime());
      if (job.ModelArtifacts?.S3ModelArtifacts) figures.modelArtifact = job.ModelArtifacts.S3ModelArtifacts;
    }
    if (result.imageUri) figures.imageUri = result.imageUri;
    if (result.endpointName && ends['awaiting-endpoint'] !== undefined) {
      const ep = await sm.send(new DescribeEndpointCommand({ EndpointName: result.endpointName }));
      if (ep.LastModifiedTime) figures.endpointNoticedAfterS = secondsOf(ends['awaiting-endpoint'] - ep.LastModifiedTime.getTime());
    }
    console.log(`${BENCH}: pipeline run ${i + 1}: ${figures.outcome} in ${figures.totalS} s, ${figures.historyEvents} events`);
    out.push(figures);
  }
  return out;
}

// ---------------------------------------------------------------- invocation

function servingPort(stateDir: string): number | undefined {
  // The example prints "listening on HOST:PORT" into the serving container's own log.
  const logs: Array<{ file: string; mtime: number }> = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'serve.log') logs.push({ file: p, mtime: statSync(p).mtimeMs });
    }
  };
  walk(stateDir);
  logs.sort((a, b) => b.mtime - a.mtime);
  for (const l of logs) {
    const m = /listening on [^:\s]+:(\d+)/.exec(readFileSync(l.file, 'utf8'));
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The control plane as `npm run local-sagemaker` runs it: a process of its own, so nothing else shares its event loop. */
async function planeProcess(stateDir: string, imageStore: string, cleanup: Cleanup): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'local', 'main.ts'), '--port', '0', '--state-dir', stateDir], {
    cwd: ROOT,
    env: { ...process.env, CHAMP_IMAGE_STORE: imageStore, CHAMP_LOCAL_ISOLATION: 'env' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  cleanup.add(async () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  });
  let out = '';
  return new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the control plane printed no URL within 60 s: ${out.slice(-2000)}`)), 60_000);
    const look = (c: Buffer): void => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
  });
}

async function invocation(home: string, imageUri: string, modelArtifact: string, cleanup: Cleanup): Promise<unknown> {
  const stateDir = join(home, 'invoke-plane');
  const url = await planeProcess(stateDir, join(home, 'images'), cleanup);
  const sm = new SageMakerClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  const name = 'bench-invoke';
  try {
    await sm.send(new CreateModelCommand({ ModelName: name, ExecutionRoleArn: ROLE, PrimaryContainer: { Image: imageUri, ModelDataUrl: modelArtifact } }));
    await sm.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: name,
        ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: name, InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
      }),
    );
    await sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: name }));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const d = await sm.send(new DescribeEndpointCommand({ EndpointName: name }));
      if (d.EndpointStatus === 'InService') break;
      if (d.EndpointStatus === 'Failed' || Date.now() > deadline) throw new Error(`endpoint ${name}: ${d.EndpointStatus ?? '?'} ${d.FailureReason ?? ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    sm.destroy();
  }
  const port = servingPort(stateDir);
  if (port === undefined) throw new Error('no "listening on" line in the serving container\'s log');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'invoke-load.ts'), '--target', `plane=${url}/endpoints/${name}/invocations`, '--target', `direct=http://127.0.0.1:${port}/invocations`, '--seconds', String(invokeSeconds)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`invoke-load failed (${String(code)}): ${err}`);
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<'plane' | 'direct', { perSecond: number; p50Ms: number; meanMs: number }>;
  return {
    ...r,
    ratioMeanLatency: round2(r.plane.meanMs / r.direct.meanMs),
    ratioP50Latency: round2(r.plane.p50Ms / r.direct.p50Ms),
    ratioThroughput: round2(r.direct.perSecond / r.plane.perSecond),
  };
}

// ---------------------------------------------------------------- cold start

interface ColdStart {
  readyS: number;
  rssMiB: number;
}

async function workerStart(env: NodeJS.ProcessEnv): Promise<ColdStart> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'worker.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  try {
    return await new Promise<ColdStart>((resolveStart, reject) => {
      const timer = setTimeout(() => reject(new Error(`the worker was not polling within 120 s: ${out.slice(-2000)}`)), 120_000);
      const look = (c: Buffer): void => {
        out += c.toString();
        if (!/worker polling/.test(out)) return;
        clearTimeout(timer);
        const readyMs = performance.now() - started;
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
        resolveStart({ readyS: secondsOf(readyMs), rssMiB: Math.round(rssKiB / 1024) });
      };
      child.stdout.on('data', look);
      child.stderr.on('data', look);
      child.once('exit', (code) => reject(new Error(`the worker exited (${String(code)}) before polling: ${out.slice(-2000)}`)));
    });
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // gone
    }
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

async function coldStart(temporalAddress: string, sageMakerUrl: string, home: string): Promise<unknown> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress,
    CHAMP_TASK_QUEUE: `bench-cold-${Date.now().toString(36)}`,
    CHAMP_METRICS_PORT: '0',
    AWS_ENDPOINT_URL_SAGEMAKER: sageMakerUrl,
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: sageMakerUrl,
    AWS_REGION: 'us-east-1',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
  };
  delete env.CHAMP_WORKFLOW_BUNDLE;
  delete env.NODE_ENV;
  const bundleStarted = performance.now();
  const { code } = await bundleWorkflowCode({ workflowsPath: join(ROOT, 'src', 'workflows', 'index.ts'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
  const bundleMs = performance.now() - bundleStarted;
  const bundle = join(home, 'workflow-bundle.js');
  writeFileSync(bundle, code);
  const devCache = join(ROOT, 'node_modules', '.cache', 'champ', 'workflow-bundle.js');
  const bundling: ColdStart[] = [];
  const cached: ColdStart[] = [];
  const prebuilt: ColdStart[] = [];
  for (let i = 0; i < coldStarts; i++) {
    // No bundle kept from an earlier start: the worker bundles (and keeps the bundle for the next start).
    rmSync(devCache, { force: true });
    bundling.push(await workerStart(env));
    cached.push(await workerStart(env));
    prebuilt.push(await workerStart({ ...env, CHAMP_WORKFLOW_BUNDLE: bundle }));
  }
  const med = (xs: ColdStart[]) => ({ readyS: median(xs.map((x) => x.readyS)), rssMiB: median(xs.map((x) => x.rssMiB)), all: xs });
  const b = med(bundling);
  const c = med(cached);
  const p = med(prebuilt);
  return {
    bundleS: secondsOf(bundleMs),
    bundleKiB: Math.round(code.length / 1024),
    bundlingAtStart: b,
    devKeptBundle: c,
    prebuiltBundle: p,
    ratioReady: round2(b.readyS / c.readyS),
  };
}

// ---------------------------------------------------------------- detection lag

function detectionLag(): unknown {
  const policies = [
    champPolicy({ initialMs: 10_000, maxMs: 300_000 }),
    retryBackoffPolicy(10_000, 60_000),
    sdkWaiterPolicy(),
    fixedLoopPolicy(15_000),
  ];
  return { policies: policies.map((p) => ({ name: p.name, note: p.note })), rows: lagTable(policies) };
}

// ---------------------------------------------------------------- report

function markdown(env: ReturnType<typeof environment>, sections: Section[]): string {
  const lines: string[] = [];
  lines.push(`# Benchmarks, ${env.date}`, '');
  lines.push(`Machine: ${env.machine.cpu}, ${env.machine.cores} cores, ${env.machine.memoryGiB} GiB, ${env.machine.os}.`);
  lines.push(`Versions: champ ${env.versions.champ}, Node ${env.versions.node}, Temporal SDK ${env.versions.temporalSdk}, AWS SDK (SageMaker) ${env.versions.awsSdkSageMaker}, ${env.versions.python}.`);
  lines.push(`Load average at start: ${env.loadAverageAtStart.join(', ')}. What each figure means: docs/performance.md.`, '');
  for (const s of sections) {
    lines.push(`## ${s.name}`, '');
    lines.push(`Settings: ${Object.entries(s.settings).map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ')}. Load average: ${s.loadAverage.join(', ')}.`, '');
    lines.push(...renderResults(s.name, s.results), '');
  }
  return lines.join('\n');
}

function table(head: string[], rows: Array<Array<string | number | undefined>>): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => (c === undefined ? '-' : String(c))).join(' | ')} |`)];
}

function renderResults(name: string, results: unknown): string[] {
  if (name.startsWith('Pipeline')) {
    const r = results as { runs: RunFigures[]; medianTotalS: number; stackUpS: number };
    const stages = [...new Set(r.runs.flatMap((x) => Object.keys(x.stagesS)))];
    return [
      `Stack up in ${r.stackUpS} s (not counted). Median total ${r.medianTotalS} s.`,
      '',
      ...table(
        ['', ...r.runs.map((_, i) => `run ${i + 1}`)],
        [
          ...stages.map((s) => [s, ...r.runs.map((x) => x.stagesS[s])]),
          ['**total (workflow)**', ...r.runs.map((x) => x.totalS)],
          ['total (client wall)', ...r.runs.map((x) => x.wallS)],
          ['history events', ...r.runs.map((x) => x.historyEvents)],
          ['history bytes', ...r.runs.map((x) => x.historyBytes)],
          ['training end noticed after (s)', ...r.runs.map((x) => x.trainingNoticedAfterS)],
          ['InService noticed after (s)', ...r.runs.map((x) => x.endpointNoticedAfterS)],
          ['outcome', ...r.runs.map((x) => x.outcome)],
        ].filter((row) => row.slice(1).some((c) => c !== undefined)),
      ),
    ];
  }
  if (name.startsWith('Invocation')) {
    const r = results as Record<string, unknown> & { plane: Record<string, number>; direct: Record<string, number> };
    return [
      ...table(
        ['', 'requests/s', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms'],
        (['direct', 'plane'] as const).map((k) => [k === 'plane' ? 'through the control plane' : 'serving process directly', r[k].perSecond, r[k].p50Ms, r[k].p90Ms, r[k].p99Ms, r[k].meanMs]),
      ),
      '',
      `Ratio, control plane / direct: mean latency ${String(r.ratioMeanLatency)}, p50 latency ${String(r.ratioP50Latency)}, throughput (direct/plane) ${String(r.ratioThroughput)}.`,
    ];
  }
  if (name.startsWith('Cold start')) {
    type Figures = { readyS: number; rssMiB: number };
    const r = results as { bundleS: number; bundleKiB: number; bundlingAtStart: Figures; devKeptBundle: Figures; prebuiltBundle: Figures; ratioReady: number };
    return [
      ...table(
        ['worker', 'ready (s, median)', 'RSS at ready (MiB)'],
        [
          ['from sources, bundling the workflows at start (npm run dev before this change; now its first start only)', r.bundlingAtStart.readyS, r.bundlingAtStart.rssMiB],
          ['from sources, the bundle kept by the last start (npm run dev now)', r.devKeptBundle.readyS, r.devKeptBundle.rssMiB],
          ['from sources, CHAMP_WORKFLOW_BUNDLE', r.prebuiltBundle.readyS, r.prebuiltBundle.rssMiB],
        ],
      ),
      '',
      `Bundling alone took ${r.bundleS} s (${r.bundleKiB} KiB). Ratio bundling / kept bundle: ${r.ratioReady}.`,
    ];
  }
  if (name.startsWith('Detection lag')) {
    const r = results as { policies: Array<{ name: string; note: string }>; rows: Array<{ policy: string; durationS: number; lagS: number; calls: number; callsPerJobHour: number }> };
    const durations = [...new Set(r.rows.map((x) => x.durationS))];
    const label = (s: number): string => (s < 3600 ? `${s / 60} min` : `${s / 3600} h`);
    return [
      ...r.policies.map((p) => `- **${p.name}**: ${p.note}`),
      '',
      'Lag in seconds / describe calls per job-hour, by job duration:',
      '',
      ...table(
        ['policy', ...durations.map(label)],
        r.policies.map((p) => [p.name, ...durations.map((d) => {
          const row = r.rows.find((x) => x.policy === p.name && x.durationS === d)!;
          return `${row.lagS} s / ${row.callsPerJobHour}`;
        })]),
      ),
    ];
  }
  return ['```json', JSON.stringify(results, null, 1), '```'];
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const cleanup = new Cleanup(BENCH);
  const home = mkdtempSync(join(os.tmpdir(), 'champ-bench-run-'));
  cleanup.add(() => rmSync(home, { recursive: true, force: true }));
  const env = environment();
  const sections: Section[] = [];
  try {
    sections.push({ name: 'Detection lag and describe calls (simulated)', settings: { policies: 'see the list' }, loadAverage: load(), results: detectionLag() });

    const log = createLogger({ level: process.env.LOG_LEVEL ?? 'error', name: 'champ-bench', format: 'pretty' });
    const [temporalPort, uiPort] = [await freePort(), await freePort()];
    const stackStarted = performance.now();
    const stack = await startStack({ home, temporalPort, uiPort, sageMakerPort: 0, log });
    let stopped: Promise<void> | undefined;
    const stopStack = (): Promise<void> => (stopped ??= stack.stop());
    cleanup.add(stopStack);
    const stackUpS = secondsOf(performance.now() - stackStarted);
    const connection = await Connection.connect({ address: stack.temporalAddress });
    cleanup.add(() => connection.close());
    const client = new Client({ connection });
    const sm = new SageMakerClient({ endpoint: stack.sageMakerUrl!, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
    cleanup.add(() => sm.destroy());

    const loadBefore = load();
    const runFigures = await pipelineRuns(client, sm, home);
    sections.push({
      name: 'Pipeline, local control plane (the claims-severity example)',
      settings: { runs, rows: 5000, isolation: 'env (process mode)', poll: `worker-suggested ${LOCAL_POLL.initialSeconds} s to ${LOCAL_POLL.maxSeconds} s`, approval: 'not required' },
      loadAverage: loadBefore,
      results: { stackUpS, medianTotalS: median(runFigures.map((r) => r.totalS)), runs: runFigures },
    });

    const loadCold = load();
    sections.push({
      name: 'Cold start of the worker',
      settings: { starts: coldStarts, launcher: 'node --import tsx src/worker.ts', ready: "the 'worker polling' log line", temporal: 'the local dev server' },
      loadAverage: loadCold,
      results: await coldStart(stack.temporalAddress, stack.sageMakerUrl!, home),
    });

    // The stack (dev server, worker, its control plane) is stopped first: the invocation figures share the machine with nothing of it.
    await stopStack();
    const last = runFigures[runFigures.length - 1];
    if (last?.imageUri && last.modelArtifact) {
      const loadInvoke = load();
      sections.push({
        name: 'Invocation overhead: through the control plane against direct',
        settings: {
          seconds: invokeSeconds,
          concurrency: 4,
          rounds: 6,
          payload: 'one CSV row',
          controlPlane: 'its own process (src/local/main.ts), isolation env',
          loadGenerator: 'its own process (bench/invoke-load.ts), keep-alive, rounds alternating',
        },
        loadAverage: loadInvoke,
        results: await invocation(home, last.imageUri, last.modelArtifact, cleanup),
      });
    } else {
      console.error(`${BENCH}: the last run left no image and model artifact; invocation skipped`);
    }
  } finally {
    await cleanup.run();
  }
  const outDir = resolve(args.out ?? join(ROOT, 'bench', 'results'));
  mkdirSync(outDir, { recursive: true });
  const doc = { ...env, benchSeconds: secondsOf(performance.now() - benchStarted), loadAverageAtEnd: load(), sections };
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(doc, null, 1)}\n`);
  writeFileSync(join(outDir, 'latest.md'), `${markdown(env, sections)}\nThe whole run took ${doc.benchSeconds} s; load average at the end ${doc.loadAverageAtEnd.join(', ')}.\n`);
  console.log(`${BENCH}: wrote ${join(outDir, 'latest.json')} and latest.md in ${doc.benchSeconds} s`);
}

main().catch((err) => fail(BENCH, (err as Error).stack ?? String(err)));
