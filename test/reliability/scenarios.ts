// The reliability scenarios. Each one starts its own stack, runs pipelines
// while something breaks (a worker, the control plane, the Temporal server,
// AWS), waits for states (never for a fixed time), then audits the control
// plane, counts orphans and scans for the fake secrets, and returns its row.
import { ListTrainingJobsCommand } from '@aws-sdk/client-sagemaker';
import { WorkflowFailedError } from '@temporalio/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUOTA_RETRY } from '../../src/aws/errors';
import { injectFault, stateSummary, type Fault } from '../../src/local';
import type { PipelineSpec } from '../../src/spec';
import { startDevServer } from '../../src/temporal-server';
import { approveUpdate, type PipelineResult, type PipelineStage, type PipelineStatus } from '../../src/workflows';
import type { PipelineHandle } from '../../src/cli/progress';
import { keepInvoking, pipelineInput, startPipeline, waitForStatus, type InvocationTally } from '../e2e/helpers';
import { until } from '../local/support';
import {
  auditResources,
  champContainers,
  containerEnvironments,
  emptyRow,
  filesUnder,
  freePort,
  processesMentioning,
  readableText,
  secretHits,
  seededRandom,
  sleep,
  startStack,
  type Row,
  type RunExpectation,
  type Stack,
} from './kit';

/** The longest a single pipeline may take here, kills and an activity's 2-minute start-to-close timeout included. */
const RUN_LIMIT_MS = 6 * 60_000;

type Ending = { result?: PipelineResult; failure?: string };

/** The messages down a failure's cause chain: the workflow's, the activity's, the AWS error's. */
function causes(err: Error): string {
  const out: string[] = [];
  for (let e: Error | undefined = err; e && out.length < 6; e = e.cause instanceof Error ? e.cause : undefined) out.push(e.message);
  return out.join(' <- ');
}

async function ending(handle: PipelineHandle, limitMs = RUN_LIMIT_MS): Promise<Ending> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<Ending>((ok) => (timer = setTimeout(() => ok({ failure: `no end within ${limitMs} ms` }), limitMs)));
  const end = handle.result().then(
    (result): Ending => ({ result }),
    (err: unknown): Ending => ({ failure: err instanceof WorkflowFailedError ? `failed: ${causes(err)}` : String(err) }),
  );
  try {
    return await Promise.race([end, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** True once `stage` began (it may already have ended: the kill then lands just after it). */
const reached = (stage: PipelineStage) => (s: PipelineStatus) => s.stage === stage || s.timings.some((t) => t.stage === stage);

/** A smoke test no model passes: verification fails and the run rolls back. */
const FAILING_SMOKE = { deployment: { smokeTest: { expectJsonPaths: ['does.not.exist'] } } };

/** A fresh worker answers the approval a run waits for. */
async function approveWhenAsked(handle: PipelineHandle): Promise<void> {
  const s = await waitForStatus(handle, (x) => x.stage === 'awaiting-approval' && x.approval?.awaiting === true, 120_000);
  await handle.executeUpdate(approveUpdate, { args: [{ modelVersion: s.approval?.modelVersion ?? 0, reviewer: 'reliability', comment: 'ok' }] });
}

/** Scans histories, logs, the plane's state folder and every container's environment for the fake secrets. */
async function scanSecrets(stack: Stack, handles: PipelineHandle[], row: Row, extraLogs: string, expectContainers: boolean): Promise<string[]> {
  const hits: string[] = [];
  for (const h of handles) {
    const history = await h.fetchHistory().catch(() => undefined);
    if (history) hits.push(...secretHits(`history ${h.workflowId}`, readableText(history)));
  }
  hits.push(...secretHits('worker logs', stack.workerLogs()));
  hits.push(...secretHits('control-plane log', stack.plane.output()));
  if (extraLogs) hits.push(...secretHits('other logs', extraLogs));
  for (const f of filesUnder(join(stack.e2e.home, 'plane'))) hits.push(...secretHits(f.path, f.text));
  const containers = containerEnvironments(stack.plane.pid());
  for (const c of containers) hits.push(...secretHits(`environ of pid ${c.pid}`, c.text));
  // Not vacuous: the runs left serving containers, and their environments were read.
  if (containers.length === 0 && expectContainers) row.problems.push('secrets scan: no container environment found to read (the scan is broken)');
  process.stdout.write(`[reliability] secrets scan: ${handles.length} histories, ${containers.length} container environments, logs and state files: ${hits.length} hits\n`);
  return hits;
}

/** Closes the stack, then counts what outlived it: processes naming its folder, and Docker containers that were not there before. */
async function closeAndCountOrphans(stack: Stack, containersBefore: string[], pipelines: string[]): Promise<string[]> {
  const marker = stack.e2e.home;
  await stack.close();
  const orphans: string[] = [];
  try {
    await until('the stack\'s processes to exit', async () => (processesMentioning(marker).length === 0 ? true : undefined), 20_000);
  } catch {
    orphans.push(...processesMentioning(marker).map((p) => `process ${p}`));
  }
  // Other test runs on this machine start champ-* containers too: only those named after this scenario's pipelines count.
  const ours = (c: string) => pipelines.some((p) => c.startsWith(`champ-${p.toLowerCase()}-`));
  orphans.push(...champContainers().filter((c) => !containersBefore.includes(c) && ours(c)).map((c) => `container ${c}`));
  return orphans;
}

function finishRow(row: Row, audit: { leaked: number; duplicates: number; problems: string[] }, orphans: string[], secrets: string[] | null, tallies: InvocationTally[] | null): Row {
  row.leaked += audit.leaked;
  row.duplicates += audit.duplicates;
  row.problems.push(...audit.problems);
  row.orphans += orphans.length;
  if (orphans.length) row.problems.push(`orphans: ${orphans.join(', ')}`);
  if (secrets) {
    row.secrets = secrets.length;
    row.problems.push(...secrets.slice(0, 10).map((s) => `secret: ${s}`));
  }
  if (tallies) {
    row.dropped = tallies.reduce((n, t) => n + t.failed, 0);
    const ok = tallies.reduce((n, t) => n + t.ok, 0);
    if (row.dropped) row.problems.push(`dropped ${row.dropped} of ${row.dropped + ok} requests: ${tallies.flatMap((t) => t.errors).slice(0, 3).join(' | ')}`);
    row.problems.push(...(ok === 0 ? ['the request stream got no answer at all'] : []));
  }
  return row;
}

type Want = 'deployed' | 'rolled-back' | 'failed' | 'superseded';

/** What a run that ended as `e` leaves behind, and whether that is what `want` says. */
function judge(row: Row, spec: PipelineSpec, e: Ending, want: Want | Want[], label: string): RunExpectation {
  row.runs += 1;
  const outcome = e.result?.outcome ?? 'failed';
  const wanted: string[] = Array.isArray(want) ? want : [want];
  if (wanted.includes(outcome)) row.passed += 1;
  else row.problems.push(`${label} ${spec.name}: ended ${outcome}${e.result?.reason ? ` (${e.result.reason})` : ''}${e.failure ? ` (${e.failure})` : ''}, expected ${wanted.join(' or ')}`);
  return {
    pipeline: spec.name,
    endpointName: spec.deployment.endpointName,
    outcome,
    ...(e.result?.endpointConfigName ? { endpointConfigName: e.result.endpointConfigName } : {}),
    // Every run here trains and registers; a case that fails before says so itself.
    trained: true,
    registered: true,
  };
}

export const CRASH_STAGES: PipelineStage[] = [
  'building',
  'training',
  'gating',
  'awaiting-approval',
  'deploying',
  'awaiting-endpoint',
  'verifying',
  'promoting',
  'rolling-back',
  'compensating',
];

export interface CrashOptions {
  seed: number;
  /** How many kills; the first ones cover CRASH_STAGES in order, the rest are drawn from it by the seed. */
  points: number;
  /** Endpoints the runs take turns on (updates, so the request stream sees deploys and rollbacks). */
  endpoints: number;
  /** Instead of CRASH_STAGES: the stages to kill in (the quick subset). */
  stages?: PipelineStage[];
}

/** Plans the kills: every stage once, then seeded picks; each with a seeded delay after the stage began. */
export function planCrashes(opts: CrashOptions): Array<{ stage: PipelineStage; delayMs: number }> {
  const rnd = seededRandom(opts.seed);
  const pool = opts.stages ?? CRASH_STAGES;
  const stages = [...pool.slice(0, opts.points)];
  while (stages.length < opts.points) stages.push(pool[Math.floor(rnd() * pool.length)] as PipelineStage);
  return stages.map((stage) => ({ stage, delayMs: Math.floor(rnd() * 400) }));
}

/**
 * Scenario 1a (and 4): a worker process SIGKILLed at seeded points across the
 * pipeline, one run per point, on endpoints that already serve (so deploys are
 * updates) while a request stream runs against each of them.
 */
/** What a scenario body fills in; `scenario()` audits, scans and counts from it. */
interface Ctx {
  row: Row;
  stack: Stack;
  expectations: RunExpectation[];
  /** Endpoint -> the config it must serve at the end (undefined: any deployed run's). */
  serving: Map<string, string | undefined>;
  handles: PipelineHandle[];
  /** Request streams' tallies, when the scenario sends any. */
  tallies: InvocationTally[] | null;
  /** Logs of other processes to scan (the Temporal server's). */
  extraLogs: () => string;
}

/** Runs `body` on a fresh stack, then audits the control plane, scans for secrets, closes and counts orphans. */
async function scenario(title: string, body: (ctx: Ctx) => Promise<void>, stackOptions: Parameters<typeof startStack>[0] = {}): Promise<Row> {
  const row = emptyRow(title);
  const containersBefore = champContainers();
  const stack = await startStack(stackOptions);
  const ctx: Ctx = { row, stack, expectations: [], serving: new Map(), handles: [], tallies: null, extraLogs: () => '' };
  let audit = { leaked: 0, duplicates: 0, problems: [] as string[] };
  let secrets: string[] | null = null;
  try {
    await body(ctx);
    audit = await auditResources(stack.sm, ctx.expectations, ctx.serving);
    const served = ctx.expectations.some((x) => x.outcome === 'deployed');
    secrets = await scanSecrets(stack, ctx.handles, row, ctx.extraLogs(), served);
  } catch (err) {
    row.problems.push(`scenario aborted: ${(err as Error).stack ?? String(err)}`);
  }
  const orphans = await closeAndCountOrphans(stack, containersBefore, ctx.expectations.map((x) => x.pipeline));
  return finishRow(row, audit, orphans, secrets, ctx.tallies);
}

/** Starts a run of `spec` and waits for its end, keeping its handle for the scan. */
async function runToEnd(ctx: Ctx, spec: PipelineSpec): Promise<{ handle: PipelineHandle; end: Ending }> {
  const handle = await startPipeline(ctx.stack.client, ctx.stack.taskQueue, pipelineInput(spec));
  ctx.handles.push(handle);
  return { handle, end: await ending(handle) };
}

/** A first, undisturbed deploy to `endpointName`, so the run under test is an update. */
async function deployFirst(ctx: Ctx, endpointName: string): Promise<void> {
  const spec = ctx.stack.spec({ deployment: { endpointName } });
  const { end } = await runToEnd(ctx, spec);
  ctx.expectations.push(judge(ctx.row, spec, end, 'deployed', 'first deploy'));
  ctx.serving.set(endpointName, end.result?.endpointConfigName);
}

/** A name unique to this stack, for endpoints. */
const uniqueEndpoint = (ctx: Ctx, prefix: string) => `${prefix}-${ctx.stack.e2e.makeSpec().name.slice(3)}`;

/**
 * Scenario 1a (and 4): a worker process SIGKILLed at seeded points across the
 * pipeline, one run per point, on endpoints that already serve (so deploys are
 * updates) while a request stream runs against each of them.
 */
export async function workerCrashes(opts: CrashOptions): Promise<Row> {
  return scenario(`worker SIGKILL at ${opts.points} points (seed ${opts.seed})`, async (ctx) => {
    const { stack, row } = ctx;
    const streams: Array<{ stop(): Promise<InvocationTally> }> = [];
    try {
      let worker = await stack.spawnWorker();
      const endpoints = Array.from({ length: opts.endpoints }, (_, i) => uniqueEndpoint(ctx, `rel-${i}`));
      for (const endpointName of endpoints) {
        await deployFirst(ctx, endpointName);
        streams.push(keepInvoking(stack.runtime, endpointName));
      }
      for (const [i, point] of planCrashes(opts).entries()) {
        const endpointName = endpoints[i % endpoints.length] as string;
        const want = point.stage === 'rolling-back' ? 'rolled-back' : point.stage === 'compensating' ? 'failed' : 'deployed';
        const spec = stack.spec({
          deployment: { endpointName, ...(want === 'rolled-back' ? FAILING_SMOKE.deployment : {}) },
          ...(point.stage === 'awaiting-approval' ? { approval: { required: true, timeout: '1h', onTimeout: 'reject' } } : {}),
        });
        const fault = STAGE_FAULTS[point.stage];
        if (fault) await injectFault(stack.plane.url, fault);
        const handle = await startPipeline(stack.client, stack.taskQueue, pipelineInput(spec));
        ctx.handles.push(handle);
        let seen = '?';
        try {
          seen = (await waitForStatus(handle, reached(point.stage), 180_000)).stage;
        } catch (err) {
          row.problems.push(`point ${i} (${point.stage}) never reached: ${(err as Error).message.slice(0, 300)}`);
        }
        await sleep(point.delayMs);
        await worker.kill();
        worker = await stack.spawnWorker();
        if (point.stage === 'awaiting-approval') await approveWhenAsked(handle).catch((err: Error) => row.problems.push(`approval of ${spec.name}: ${err.message}`));
        const e = await ending(handle);
        process.stdout.write(`[reliability] kill ${i + 1}/${opts.points} at ${point.stage} (+${point.delayMs} ms, seen ${seen}): ${e.result?.outcome ?? e.failure}\n`);
        ctx.expectations.push(judge(row, spec, e, want, `kill ${i + 1} at ${point.stage}`));
        if (e.result?.outcome === 'deployed') ctx.serving.set(endpointName, e.result.endpointConfigName);
      }
    } finally {
      ctx.tallies = await Promise.all(streams.map((s) => s.stop()));
    }
  });
}

/**
 * Keeps the stage busy long enough to be killed in: holds for the long waits,
 * throttled calls (the SDK's own retries) for the short stages, and a refusal
 * for good that makes the run compensate. The rest are killed as soon as seen.
 */
const STAGE_FAULTS: Partial<Record<PipelineStage, Fault>> = {
  gating: { operation: 'ListModelPackages', mode: 'throttle', count: 2 },
  deploying: { operation: 'CreateEndpointConfig', mode: 'throttle', count: 2 },
  training: { kind: 'hold', resource: 'training', status: 'InProgress', ms: 3000, count: 1 },
  'awaiting-endpoint': { kind: 'hold', resource: 'endpoint', status: 'Updating', ms: 3000, count: 1 },
  compensating: { operation: 'CreateEndpointConfig', mode: 'error', count: 1, errorType: 'ValidationException', httpStatus: 400, message: 'injected: refused for good' },
};

/**
 * Scenario 1b: the control plane SIGKILLed (its containers stay) while a run
 * trains, or while a run updates an endpoint; it restarts on the same port and
 * state folder, and the run must still end deployed with one of each.
 */
export async function controlPlaneCrash(when: 'training' | 'update'): Promise<Row> {
  return scenario(`control plane SIGKILL mid-${when}, restarted on its state folder`, async (ctx) => {
    const { stack } = ctx;
    await stack.spawnWorker();
    const endpointName = uniqueEndpoint(ctx, 'rel-cp');
    if (when === 'update') {
      await deployFirst(ctx, endpointName);
      // The endpoint is Updating (held) when the plane dies.
      await injectFault(stack.plane.url, { kind: 'hold', resource: 'endpoint', status: 'Updating', ms: 4000, count: 1 });
    } else {
      // The job is InProgress (held) when the plane dies.
      await injectFault(stack.plane.url, { kind: 'hold', resource: 'training', status: 'InProgress', ms: 4000, count: 1 });
    }
    const spec = stack.spec({ deployment: { endpointName } });
    const handle = await startPipeline(stack.client, stack.taskQueue, pipelineInput(spec));
    ctx.handles.push(handle);
    await waitForStatus(handle, (s) => (when === 'update' ? s.stage === 'awaiting-endpoint' : s.stage === 'training' && s.resources.trainingJob !== undefined), 180_000);
    await stack.plane.kill();
    await stack.plane.restart();
    const e = await ending(handle);
    ctx.expectations.push(judge(ctx.row, spec, e, 'deployed', `killed mid-${when}`));
    if (e.result?.outcome === 'deployed') ctx.serving.set(endpointName, e.result.endpointConfigName);
  });
}

/**
 * Scenario 1c: the Temporal server (a dev server on a SQLite file) stopped in
 * the middle of a pipeline and started again on the same database; a request
 * stream runs against the endpoint the run updates.
 */
export async function temporalRestart(): Promise<Row> {
  const dbDir = mkdtempSync(join(tmpdir(), 'champ-reliability-temporal-'));
  const port = await freePort();
  const uiPort = await freePort();
  let serverLog = '';
  const start = () => startDevServer({ stateDir: dbDir, port, uiPort, onLog: (l) => (serverLog = (serverLog + l + '\n').slice(-200_000)) });
  let server = await start();
  // The stack's client and workers talk to this server, not the test run's.
  const previous = process.env.CHAMP_TEST_TEMPORAL_ADDRESS;
  process.env.CHAMP_TEST_TEMPORAL_ADDRESS = server.address;
  try {
    return await scenario('Temporal server stopped mid-pipeline, restarted on its database', async (ctx) => {
      const { stack } = ctx;
      ctx.extraLogs = () => serverLog;
      await stack.spawnWorker();
      const endpointName = uniqueEndpoint(ctx, 'rel-tp');
      await deployFirst(ctx, endpointName);
      const stream = keepInvoking(stack.runtime, endpointName);
      try {
        const spec = stack.spec({ deployment: { endpointName } });
        await injectFault(stack.plane.url, { kind: 'hold', resource: 'training', status: 'InProgress', ms: 4000, count: 1 });
        const handle = await startPipeline(stack.client, stack.taskQueue, pipelineInput(spec));
        ctx.handles.push(handle);
        await waitForStatus(handle, (s) => s.stage === 'training' && s.resources.trainingJob !== undefined, 120_000);
        await server.stop();
        await sleep(2000); // down for a while, as an outage is; the wait below is on states
        server = await start();
        const e = await ending(handle);
        ctx.expectations.push(judge(ctx.row, spec, e, 'deployed', 'server restarted mid-training'));
        if (e.result?.outcome === 'deployed') ctx.serving.set(endpointName, e.result.endpointConfigName);
      } finally {
        ctx.tallies = [await stream.stop()];
      }
    });
  } finally {
    await server.stop();
    process.env.CHAMP_TEST_TEMPORAL_ADDRESS = previous;
    rmSync(dbDir, { recursive: true, force: true });
  }
}

/**
 * Scenario 2: two workers on one task queue, one SIGKILLed while `runs`
 * pipelines run; `shared` of them (distinct pipelines) deploy to one endpoint.
 */
export async function concurrency(opts: { runs: number; shared: number; seed: number }): Promise<Row> {
  return scenario(`${opts.runs} pipelines on 2 workers, one killed (${opts.shared} on one endpoint)`, async (ctx) => {
    const { stack } = ctx;
    const [victim] = await Promise.all([stack.spawnWorker(), stack.spawnWorker()]);
    const sharedEndpoint = uniqueEndpoint(ctx, 'rel-shared');
    const specs = Array.from({ length: opts.runs }, (_, i) => stack.spec(i < opts.shared ? { deployment: { endpointName: sharedEndpoint } } : {}));
    for (const spec of specs) ctx.handles.push(await startPipeline(stack.client, stack.taskQueue, pipelineInput(spec)));
    const endings = ctx.handles.map((h) => ending(h, 15 * 60_000));
    // The kill lands when a seeded share of the runs is past training, so work is in flight everywhere.
    const target = Math.max(1, Math.floor(opts.runs * (0.2 + 0.3 * seededRandom(opts.seed)())));
    let done = 0;
    // Counted in the control plane, not by querying 50 runs: queries would load the very workers under test.
    await until(
      `${target} training jobs Completed`,
      async () => {
        await sleep(500);
        const jobs = await stack.sm.send(new ListTrainingJobsCommand({ StatusEquals: 'Completed', MaxResults: 100 }));
        done = jobs.TrainingJobSummaries?.length ?? 0;
        return done >= target ? true : undefined;
      },
      10 * 60_000,
    );
    await victim!.kill();
    process.stdout.write(`[reliability] killed one of two workers with ${done} of ${opts.runs} runs past training\n`);
    (await Promise.all(endings)).forEach((e, i) => {
      const spec = specs[i] as PipelineSpec;
      // On the shared endpoint a run another run overtook ends superseded (finding 2): it must neither roll that run back nor claim the endpoint.
      ctx.expectations.push(judge(ctx.row, spec, e, i < opts.shared ? ['deployed', 'superseded'] : 'deployed', `run ${i}`));
      if (i >= opts.shared) ctx.serving.set(spec.deployment.endpointName, e.result?.endpointConfigName);
    });
    ctx.serving.set(sharedEndpoint, undefined);
  });
}

export interface FaultCase {
  name: string;
  /** Armed right before the run starts. */
  faults: Fault[];
  want: 'deployed' | 'failed' | 'rolled-back';
  /** For failures: what the message must say (the fix it names). */
  message?: RegExp;
  /** A failure must come within this long (fails fast). */
  withinMs?: number;
  /** Runs on an endpoint that already serves (so an update can be rolled back). */
  update?: boolean;
  overrides?: Record<string, unknown>;
}

const QUOTA_MESSAGE = "The account-level service limit 'ml.m5.large for training job usage' is 1 Instances, with current utilization of 1 Instances and a request delta of 1 Instances.";

export const FAULT_CASES: FaultCase[] = [
  { name: 'throttling burst on CreateTrainingJob', faults: [{ operation: 'CreateTrainingJob', mode: 'throttle', count: 6 }], want: 'deployed' },
  { name: '5xx on CreateModel and DescribeEndpoint', faults: [{ operation: 'CreateModel', mode: 'error', count: 5 }, { operation: 'DescribeEndpoint', mode: 'error', count: 5, errorType: 'ServiceUnavailable', httpStatus: 503 }], want: 'deployed' },
  { name: 'connection resets on DescribeTrainingJob and CreateEndpoint', faults: [{ operation: 'DescribeTrainingJob', mode: 'reset', count: 4 }, { operation: 'CreateEndpoint', mode: 'reset', count: 2 }], want: 'deployed' },
  { name: 'slow answers (CreateModel 5 s late twice, endpoint held Creating 3 s)', faults: [{ operation: 'CreateModel', mode: 'slow', delayMs: 5000, count: 2 }, { kind: 'hold', resource: 'endpoint', status: 'Creating', ms: 3000, count: 1 }], want: 'deployed' },
  { name: 'ResourceLimitExceeded on CreateTrainingJob, once', faults: [{ operation: 'CreateTrainingJob', mode: 'error', count: 1, errorType: 'ResourceLimitExceeded', httpStatus: 400, message: QUOTA_MESSAGE }], want: 'deployed' },
  {
    name: `ResourceLimitExceeded on CreateTrainingJob, ${QUOTA_RETRY.attempts} times: fails naming the quota and Service Quotas`,
    faults: [{ operation: 'CreateTrainingJob', mode: 'error', count: QUOTA_RETRY.attempts, errorType: 'ResourceLimitExceeded', httpStatus: 400, message: QUOTA_MESSAGE }],
    want: 'failed',
    message: /quota "ml\.m5\.large for training job usage" is still reached after \d+ attempts: request an increase for it in Service Quotas/,
  },
  { name: 'validation error fails fast', faults: [{ operation: 'CreateModel', mode: 'error', count: 1, errorType: 'ValidationException', httpStatus: 400, message: 'Could not access model data at file:///nowhere.' }], want: 'failed', message: /fix the value it names/i, withinMs: 60_000 },
  { name: 'access denied fails fast', faults: [{ operation: 'CreateTrainingJob', mode: 'error', count: 1, errorType: 'AccessDeniedException', httpStatus: 403, message: 'User is not authorized to perform: sagemaker:CreateTrainingJob' }], want: 'failed', message: /grant the worker's role permission|refresh expired credentials/i, withinMs: 60_000 },
  {
    name: 'silent rollback (failed update, InService on the old config) caught by verification',
    faults: [],
    want: 'rolled-back',
    update: true,
    // The new variant cannot start (no Python home): SageMaker-style, the update fails and the old config keeps serving.
    overrides: { deployment: { environment: { PYTHONHOME: '/nonexistent' } } },
  },
];

/** Scenario 3: AWS faults through the control plane's fault injection, one run each. */
export async function awsFaults(cases: FaultCase[], title = `AWS faults (${cases.length} cases)`): Promise<Row> {
  return scenario(
    title,
    async (ctx) => {
      const { stack, row } = ctx;
      await stack.spawnWorker();
      for (const c of cases) {
        const endpointName = uniqueEndpoint(ctx, 'rel-f');
        if (c.update) await deployFirst(ctx, endpointName);
        const spec = stack.spec({ ...(c.overrides ?? {}), deployment: { endpointName, ...((c.overrides?.deployment as object | undefined) ?? {}) } });
        for (const f of c.faults) await injectFault(stack.plane.url, f);
        const started = Date.now();
        const { end: e } = await runToEnd(ctx, spec);
        const took = Date.now() - started;
        process.stdout.write(`[reliability] fault "${c.name}": ${e.result?.outcome ?? e.failure} in ${took} ms\n`);
        const exp = judge(row, spec, e, c.want, c.name);
        if (c.want === 'failed' && exp.outcome === 'failed') {
          const failedEarly = c.faults.some((f) => f.kind === undefined && f.operation === 'CreateTrainingJob');
          exp.trained = !failedEarly;
          exp.registered = !failedEarly;
          const wrong = [
            ...(c.message && !c.message.test(e.failure ?? '') ? [`the failure does not name the fix (${c.message}): ${e.failure}`] : []),
            ...(c.withinMs && took > c.withinMs ? [`failed after ${took} ms, not fast (limit ${c.withinMs} ms)`] : []),
          ];
          if (wrong.length) {
            row.passed -= 1;
            row.problems.push(...wrong.map((w) => `${c.name}: ${w}`));
          }
        }
        ctx.expectations.push(exp);
        if (e.result?.outcome === 'deployed') ctx.serving.set(endpointName, e.result.endpointConfigName);
        // A fault the run did not use up would hit the next case instead: a restart clears them.
        const left = (await stateSummary(stack.plane.url)).faults as { operationFaults?: unknown[]; holds?: unknown[] };
        if ((left.operationFaults?.length ?? 0) + (left.holds?.length ?? 0) > 0) {
          row.problems.push(`${c.name}: faults left unused: ${JSON.stringify(left)}`);
          await stack.plane.kill();
          await stack.plane.restart();
        }
      }
    },
    // The silent-rollback case waits for a variant that never answers: not the default minute.
    { planeEnv: { CHAMP_LOCAL_HEALTH_TIMEOUT_MS: '15000' } },
  );
}
