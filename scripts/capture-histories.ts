// Captures trainingPipeline histories for the replay test (test/replay): each
// scenario runs the pipeline for real (a Temporal dev server, a worker with
// the real activities, the local control plane and the claims-severity
// example) and writes its run's history to <out>/<scenario>.json, the JSON
// `temporal workflow show --output json` prints.
//   npm run histories:capture -- --list
//   npm run histories:capture -- deployed rolled-back
//   npm run histories:capture -- all --out /tmp/histories
//   (--docker: build and run the example with the Docker engine, not in process mode)
import { CancelledFailure, Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { injectFault } from '../src/local/admin-client';
import { QUOTA_RETRY } from '../src/aws/errors';
import type { PipelineSpec } from '../src/spec';
import { executableFor, searchAttributeKeys, withStartRetries } from '../src/temporal-server';
import { clientsScope } from '../src/activities';
import { endpointEntityId } from '../src/workflows/endpoint/messages';
import {
  approvalSignal,
  approveUpdate,
  endpointHistoryQuery,
  endpointStatusQuery,
  endpointWorkflow,
  freezeUpdate,
  unfreezeUpdate,
  rejectUpdate,
  trainingPipeline,
  type PipelineInput,
  type PipelineOutcome,
  type PipelineResult,
} from '../src/workflows';
import { deepMerge, pipelineInput, startE2e, waitForStatus, type E2eEnv, type SpecOverrides } from '../test/e2e/helpers';
import { batchTransform, buildImage, dataWatcher, transformStatusQuery, type PipelineResult as WatchedPipelineResult } from '../src/workflows';
import { DescribeTransformJobCommand } from '@aws-sdk/client-sagemaker';
import { readFileSync } from 'node:fs';
import { HISTORIES_DIR, historyText, historyWorkflowId } from '../test/replay/histories';

const ROOT = resolve(__dirname, '..');
/** In place of `pid@host`, which would put the capturing machine's name into every history. */
const IDENTITY = 'champ-history-capture';
const TASK_QUEUE = 'champ-histories';
/** Fixed names, and the build context relative to the working directory (the repository root), so no machine path enters a history. */
const NEUTRAL_SPEC = { name: 'claims-severity', image: { context: 'examples/claims-severity' }, deployment: { endpointName: 'claims-severity' } };

type PipelineHandle = WorkflowHandle<typeof trainingPipeline>;

interface Run {
  env: E2eEnv;
  /** The example's spec under fixed, neutral names; `overrides` merged on top. */
  spec(overrides?: SpecOverrides): PipelineSpec;
  /** Starts the run this scenario captures (workflow id `history-<scenario>`). */
  start(spec: PipelineSpec, extra?: Partial<PipelineInput>): Promise<PipelineHandle>;
  /** Runs a pipeline to `deployed` first, e.g. so the captured run updates a live endpoint. */
  deployFirst(spec: PipelineSpec): Promise<PipelineResult>;
  client: Client;
  /** Captures this run instead of `history-<scenario>` (an endpoint entity's run: its id is the endpoint's). */
  captureRun(workflowId: string, runId?: string): void;
}

interface Scenario {
  summary: string;
  /** Drives the captured run to its end and checks that it ended as the scenario says. */
  run(r: Run): Promise<void>;
}

/** Approval required and given by the approve update; the endpoint is created. */
const approvedByUpdate = (r: Run): Promise<void> =>
  reviewed(r, 'deployed', (handle, modelVersion) => handle.executeUpdate(approveUpdate, { args: [{ modelVersion, reviewer: 'alice', comment: 'metrics as expected' }] }));

// batchTransform, buildImage and dataWatcher (issue 12): workflows of their own, one history each path.
const TRANSFORM_BUILD_WATCH_SCENARIOS: Record<string, Scenario> = {
  'batch-transform-completed': {
    summary: "batchTransform of the champion over the example's validation file: model made, job run to Completed, model deleted",
    async run(r) {
      const spec = r.spec();
      await r.deployFirst(spec);
      const input = { uri: `file://${join(r.env.home, 'data', 'validation')}`, contentType: 'text/csv', splitType: 'None' as const };
      const handle = await r.client.workflow.start(batchTransform, {
        taskQueue: TASK_QUEUE,
        workflowId: historyWorkflowId('batch-transform-completed'),
        args: [{ spec, input, accept: 'application/json', poll: { initialSeconds: 0.2, maxSeconds: 1 }, requestedBy: 'alice' }],
      });
      const result = await handle.result();
      if (result.outcome !== 'completed' || result.outputObjects !== 1) throw new Error(`expected one answered object, got ${JSON.stringify(result)}`);
    },
  },
  'batch-transform-cancelled': {
    summary: 'batchTransform cancelled while its job runs: the job is stopped (waited for until Stopped) and the model deleted',
    async run(r) {
      const spec = r.spec();
      await r.deployFirst(spec);
      const rows = readFileSync(join(r.env.home, 'data', 'validation', 'validation.csv'), 'utf8').trim().split('\n').slice(1);
      const lines = Array.from({ length: 100_000 }, (_, i) => (rows[i % rows.length] as string).split(',').slice(1).join(','));
      mkdirSync(join(r.env.home, 'many'), { recursive: true });
      writeFileSync(join(r.env.home, 'many', 'rows.csv'), `${lines.join('\n')}\n`);
      const handle = await r.client.workflow.start(batchTransform, {
        taskQueue: TASK_QUEUE,
        workflowId: historyWorkflowId('batch-transform-cancelled'),
        args: [{ spec, input: { uri: `file://${join(r.env.home, 'many')}`, contentType: 'text/csv', splitType: 'Line' }, accept: 'application/json', poll: { initialSeconds: 0.2, maxSeconds: 1 }, requestedBy: 'alice' }],
      });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const jobName = (await handle.query(transformStatusQuery).catch(() => undefined))?.jobName;
        const job = jobName ? await r.env.sagemakerClient.send(new DescribeTransformJobCommand({ TransformJobName: jobName })).catch(() => undefined) : undefined;
        if (job?.TransformJobStatus === 'InProgress') break;
        if (Date.now() > deadline) throw new Error('the transform job was not InProgress within 60 s');
        await new Promise((done) => setTimeout(done, 200));
      }
      await handle.cancel();
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      if (!(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure)) throw new Error(`expected a cancelled run, got ${String(err)}`);
    },
  },
  'image-built': {
    summary: 'buildImage: the example image built into an empty store (a second run would skip it)',
    async run(r) {
      const result = await r.client.workflow.execute(buildImage, { taskQueue: TASK_QUEUE, workflowId: historyWorkflowId('image-built'), args: [{ spec: r.spec(), requestedBy: 'alice' }] });
      if (result.outcome !== 'built') throw new Error(`expected built, got ${result.outcome}`);
    },
  },
  'data-watcher-started': {
    summary: 'dataWatcher on new data: fingerprint, then the pipeline started as an abandoned child under <pipeline>-data-<fingerprint>',
    async run(r) {
      const spec = r.spec();
      const result = await r.client.workflow.execute(dataWatcher, {
        taskQueue: TASK_QUEUE,
        workflowId: historyWorkflowId('data-watcher-started'),
        args: [{ ...pipelineInput(spec, { requestedBy: 'alice' }), trigger: 'schedule' }],
      });
      if (result.outcome !== 'started') throw new Error(`expected started, got ${result.outcome}`);
      const pipeline = (await r.client.workflow.getHandle(result.pipelineWorkflowId).result()) as WatchedPipelineResult;
      if (pipeline.outcome !== 'deployed') throw new Error(`the started pipeline ended ${pipeline.outcome}`);
    },
  },
  'data-watcher-skipped': {
    summary: 'dataWatcher on data it already started a run for: the child start is refused (REJECT_DUPLICATE), nothing runs',
    async run(r) {
      const spec = r.spec();
      const input = { ...pipelineInput(spec, { requestedBy: 'alice' }), trigger: 'schedule' as const };
      const first = await r.client.workflow.execute(dataWatcher, { taskQueue: TASK_QUEUE, workflowId: `${historyWorkflowId('data-watcher-skipped')}-setup`, args: [input] });
      await r.client.workflow.getHandle(first.pipelineWorkflowId).result();
      const again = await r.client.workflow.execute(dataWatcher, { taskQueue: TASK_QUEUE, workflowId: historyWorkflowId('data-watcher-skipped'), args: [input] });
      if (again.outcome !== 'skipped-seen') throw new Error(`expected skipped-seen, got ${again.outcome}`);
    },
  },
};

const SCENARIOS: Record<string, Scenario> = {
  ...TRANSFORM_BUILD_WATCH_SCENARIOS,
  deployed: {
    summary: 'approval required, approved by the approve update; the endpoint is created, verified, the candidate promoted',
    run: approvedByUpdate,
  },
  'deployed-input-checked': {
    summary: 'as deployed, under the patch input-check: the workflow checks what surrounds the spec before anything',
    run: approvedByUpdate,
  },
  // Captured from the code of issue 11: the pipeline deploys through the endpoint entity.
  'deployed-through-entity': {
    summary: 'as deployed, under the patch endpoint-entity: the deploy stage is one request to the endpoint entity, which deploys, verifies and promotes',
    run: approvedByUpdate,
  },
  'endpoint-entity-continued': {
    summary: "the endpoint entity's first run (history limit 60 events): a deployment, then continue-as-new carrying its log; the next run takes a freeze, an unfreeze and a second deployment",
    run: (r) => entityContinued(r),
  },
  'endpoint-entity-checks-serving': {
    summary: 'as endpoint-entity-continued, under the patch entity-checks-serving: the endpoint is checked to serve the deployment right before the champion is recorded',
    run: (r) => entityContinued(r),
  },
  'deployed-update-by-signal': {
    summary: 'a live endpoint is updated to the new model, approved by the approval signal (the Web UI path)',
    async run(r) {
      await r.deployFirst(r.spec());
      await reviewed(r, 'deployed', (handle, modelVersion) =>
        handle.signal(approvalSignal, { approved: true, reviewer: 'bob', comment: 'approved from the Web UI', modelVersion }),
      );
    },
  },
  'rejected-by-gate': {
    summary: 'the candidate misses a threshold: nothing is registered or deployed',
    async run(r) {
      const handle = await r.start(r.spec({ gate: { thresholds: [{ metric: 'validation:gini', op: '>=', value: 0.99 }] } }));
      await expectOutcome(handle, 'rejected-by-gate');
    },
  },
  'rejected-by-reviewer': {
    summary: 'approval required, rejected by the reject update; the package is marked Rejected',
    run: (r) =>
      reviewed(r, 'rejected-by-reviewer', (handle, modelVersion) =>
        handle.executeUpdate(rejectUpdate, { args: [{ modelVersion, reviewer: 'alice', reason: 'gini too low for production' }] }),
      ),
  },
  'approval-timed-out': {
    summary: 'nobody decides within approval.timeout (3 s here) and onTimeout is reject',
    async run(r) {
      const handle = await r.start(r.spec({ approval: { required: true, timeout: '3s', onTimeout: 'reject' } }));
      await expectOutcome(handle, 'approval-timed-out');
    },
  },
  'rolled-back': {
    summary: 'a live endpoint is updated to a model that fails its smoke test: put back on the old config, new config and model deleted',
    run: (r) => rollBackFailingUpdate(r),
  },
  // Captured from the code of issue 10 (findings 1 and 2): runs that took the patched paths.
  'rolled-back-until-serving': {
    summary: 'as rolled-back, under the patch rollback-until-serving: the rollback checks the endpoint serves the old config before the run ends',
    run: (r) => rollBackFailingUpdate(r),
  },
  'deployed-checks-serving': {
    summary: 'a live endpoint is updated and verified, under the patch superseded-deploys: the endpoint is checked to serve the candidate right before it is recorded as champion',
    async run(r) {
      await r.deployFirst(r.spec());
      await expectOutcome(await r.start(r.spec()), 'deployed');
    },
  },
  'skipped-data-unchanged': {
    summary: 'a scheduled run whose training data equals the champion\'s ends before training',
    async run(r) {
      const spec = r.spec({ schedule: { cron: '0 3 * * 1', overlap: 'skip', skipWhenDataUnchanged: true } });
      await r.deployFirst(spec);
      await expectOutcome(await r.start(spec, { trigger: 'schedule', requestedBy: 'weekly-retrain' }), 'skipped-data-unchanged');
    },
  },
  'cancelled-during-training': {
    summary: 'cancelled while the training job runs: the job is stopped, nothing deployed',
    async run(r) {
      // Training takes about a second locally; the hold keeps it InProgress until the cancel lands.
      await injectFault(r.env.sageMakerUrl, { kind: 'hold', resource: 'training', status: 'InProgress', ms: 60_000 });
      const handle = await r.start(r.spec());
      await waitForStatus(handle, (s) => s.stage === 'training' && s.resources.trainingJob !== undefined);
      // The awaitTraining poll must be running, not just the start: that is the state a cancel usually finds.
      await waitForActivity(handle, 'awaitTraining');
      await handle.cancel();
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      if (!(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure)) throw new Error(`expected a cancelled run, got ${String(err)}`);
    },
  },
  'failed-compensated': {
    summary: 'CreateEndpointConfig fails for good (an account limit, still reached after the quota retries): the model is deleted and the package rejected, the run fails',
    async run(r) {
      // A quota error is retried with a long backoff (src/aws/errors.ts): refused on every attempt, it fails for good (about 3.5 minutes).
      await injectFault(r.env.sageMakerUrl, {
        operation: 'CreateEndpointConfig',
        mode: 'error',
        count: QUOTA_RETRY.attempts,
        errorType: 'ResourceLimitExceeded',
        httpStatus: 400,
        message: "The account-level service limit 'ml.m5.large for endpoint usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1 Instances.",
      });
      const handle = await r.start(r.spec());
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      if (!(err instanceof WorkflowFailedError) || err.cause instanceof CancelledFailure) throw new Error(`expected a failed run, got ${String(err)}`);
      const status = await waitForStatus(handle, (s) => s.stage === 'done');
      if (status.outcome !== 'failed') throw new Error(`expected outcome failed, got ${status.outcome}`);
    },
  },
};

/** Starts the endpoint's entity with a small history limit, deploys through it until it continues as new, and captures its first run. */
async function entityContinued(r: Run): Promise<void> {
  const spec = r.spec();
  const endpointName = spec.deployment.endpointName;
  const scope = await clientsScope(r.env.awsClients);
  const entity = await r.client.workflow.start(endpointWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: endpointEntityId(scope, endpointName),
    args: [{ endpointName, scope, maxHistoryEvents: 60 }],
  });
  await r.deployFirst(spec);
  await entity.executeUpdate(freezeUpdate, { args: [{ by: 'alice', reason: 'release window' }] });
  await entity.executeUpdate(unfreezeUpdate, { args: [{ by: 'alice', reason: 'window closed' }] });
  await r.deployFirst(r.spec({ training: { hyperparameters: { power: 1.5, max_iter: 50, l2: 1 } }, gate: { champion: undefined } }));
  const latest = r.client.workflow.getHandle<typeof endpointWorkflow>(entity.workflowId);
  const deadline = Date.now() + 60_000;
  while ((await latest.query(endpointStatusQuery)).run < 2) {
    if (Date.now() > deadline) throw new Error('the entity did not continue as new within 60 s');
    await new Promise((done) => setTimeout(done, 200));
  }
  const log = await latest.query(endpointHistoryQuery);
  if (log.map((e) => e.outcome).join() !== 'deployed,deployed') throw new Error(`expected two deployments in the carried log, got ${JSON.stringify(log)}`);
  r.captureRun(entity.workflowId, entity.firstExecutionRunId);
}

/** Deploys a first model, then captures the run of a model that fails its smoke test and is rolled back. */
async function rollBackFailingUpdate(r: Run): Promise<void> {
  await r.deployFirst(r.spec());
  const failing = r.spec({
    training: { hyperparameters: { power: 1.5, max_iter: 50, l2: 1 } },
    gate: { champion: undefined },
    deployment: { smokeTest: { expectJsonPaths: ['does.not.exist'] } },
  });
  await expectOutcome(await r.start(failing), 'rolled-back');
}

/** Starts a run that requires approval, answers it with `decide` once it waits, and checks how it ends. */
async function reviewed(r: Run, outcome: PipelineOutcome, decide: (handle: PipelineHandle, modelVersion: number) => Promise<unknown>): Promise<void> {
  const handle = await r.start(r.spec({ approval: { required: true, timeout: '10m' } }));
  const status = await waitForStatus(handle, (s) => s.stage === 'awaiting-approval' && s.approval?.awaiting === true);
  await decide(handle, status.approval?.modelVersion ?? 0);
  await expectOutcome(handle, outcome);
}

async function expectOutcome(handle: PipelineHandle, outcome: PipelineOutcome): Promise<void> {
  const result = await handle.result();
  if (result.outcome !== outcome) throw new Error(`expected outcome ${outcome}, got ${result.outcome}: ${result.reason ?? ''}`);
}

async function waitForActivity(handle: PipelineHandle, activityType: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { raw } = await handle.describe();
    if ((raw.pendingActivities ?? []).some((a) => a.activityType?.name === activityType)) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${activityType} never became pending within ${timeoutMs} ms`);
}

/**
 * Failures' stack traces name the files of this checkout and its node_modules;
 * relative, they read the same from any machine. Only plain-text fields change:
 * payloads (inputs, results, failure details) are base64 and stay as they were,
 * and replay reads no stack trace.
 */
function withoutCheckoutPaths(json: string): string {
  const sdk = realpathSync(require.resolve('@temporalio/worker'));
  const modulesParent = sdk.slice(0, sdk.lastIndexOf('/node_modules/'));
  const prefixes = [...new Set([realpathSync(ROOT), ROOT, modulesParent])].map((p) => `${p}/`);
  return prefixes.reduce((text, prefix) => text.split(prefix).join(''), json);
}

/** Refuses a history that names this machine or holds a credential (design principle 8). */
function checkNeutral(name: string, json: string): void {
  const forbidden = [hostname(), process.env.AWS_ACCESS_KEY_ID, process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN].filter(
    (s): s is string => typeof s === 'string' && s.length >= 4,
  );
  for (const s of forbidden) if (json.includes(s)) throw new Error(`history ${name} contains "${s.slice(0, 4)}…" (a host name or credential): not written`);
  if (/AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}/.test(json)) throw new Error(`history ${name} contains an AWS access key id: not written`);
}

async function capture(name: string, scenario: Scenario, temporal: TestWorkflowEnvironment, bundle: { code: string }, out: string): Promise<void> {
  const env = await startE2e();
  try {
    const client = new Client({ connection: temporal.connection, identity: IDENTITY });
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      taskQueue: TASK_QUEUE,
      identity: IDENTITY,
      workflowBundle: bundle,
      activities: env.activities,
    });
    const workflowId = historyWorkflowId(name);
    let setups = 0;
    let captured: { workflowId: string; runId?: string } = { workflowId };
    const run: Run = {
      env,
      client,
      captureRun: (id, runId) => {
        captured = { workflowId: id, ...(runId ? { runId } : {}) };
      },
      spec: (overrides = {}) => env.makeSpec(deepMerge(NEUTRAL_SPEC, overrides)),
      start: (spec, extra = {}) => client.workflow.start(trainingPipeline, { taskQueue: TASK_QUEUE, workflowId, args: [pipelineInput(spec, { requestedBy: 'alice', ...extra })] }),
      async deployFirst(spec) {
        setups += 1;
        const result = await client.workflow.execute(trainingPipeline, {
          taskQueue: TASK_QUEUE,
          workflowId: `${workflowId}-setup-${setups}`,
          args: [pipelineInput(spec, { requestedBy: 'alice' })],
        });
        if (result.outcome !== 'deployed') throw new Error(`setup run ended ${result.outcome}: ${result.reason ?? ''}`);
        return result;
      },
    };
    await worker.runUntil(scenario.run(run));
    const history = await client.workflow.getHandle(captured.workflowId, captured.runId).fetchHistory();
    const text = withoutCheckoutPaths(historyText(history));
    checkNeutral(name, text);
    const file = join(out, `${name}.json`);
    writeFileSync(file, text);
    console.log(`${name}: ${history.events?.length ?? 0} events, ${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB -> ${file}`);
  } finally {
    await env.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  let out = HISTORIES_DIR;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = resolve(argv[++i] ?? '.');
    else if (argv[i] !== '--list' && argv[i] !== '--docker') names.push(argv[i]!);
  }
  if (argv.includes('--list') || names.length === 0) {
    console.log('scenarios (npm run histories:capture -- <scenario>... | all [--out DIR]):');
    for (const [name, s] of Object.entries(SCENARIOS)) console.log(`  ${name.padEnd(28)}${s.summary}`);
    return;
  }
  const chosen = names.includes('all') ? Object.keys(SCENARIOS) : names;
  const unknown = chosen.filter((n) => !(n in SCENARIOS));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; --list shows them`);

  // Relative image contexts resolve against the working directory.
  process.chdir(ROOT);
  // The example runs in the control plane's process mode unless asked: a Docker build needs the network
  // and minutes, and the workflow's commands are the same either way.
  if (!argv.includes('--docker')) process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
  mkdirSync(out, { recursive: true });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const temporal = await withStartRetries(() =>
    TestWorkflowEnvironment.createLocal({
      server: { executable: executableFor('temporal'), ip: '127.0.0.1', searchAttributes: searchAttributeKeys, log: { format: 'pretty', level: 'error' } },
    }),
  );
  try {
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: new DefaultLogger('WARN') });
    for (const name of chosen) await capture(name, SCENARIOS[name]!, temporal, bundle, out);
  } finally {
    await temporal.teardown();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
