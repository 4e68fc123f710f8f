// Shared setup of the end-to-end tests: one local SageMaker control plane per
// test file, the example's data generated once into a temp folder, SageMaker
// SDK clients pointed at it, the real activities, and specs built from the
// example's own pipeline.yaml.
import { ListModelPackagesCommand, DescribeModelPackageCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { Client } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createActivities, spawnDockerRunner, type PipelineActivities } from '../../src/activities';
import { removeStoreTags } from '../../src/artifacts/local-tags';
import { createAwsClients, destroyAwsClients, type AwsClients, type StaticCredentials } from '../../src/aws/clients';
import { startLocalSageMaker, type LocalSageMaker } from '../../src/local';
import { parseSpec, type PipelineSpec } from '../../src/spec';
import type { PipelineHandle } from '../../src/cli/progress';
import { statusQuery, trainingPipeline, type PipelineInput, type PipelineResult, type PipelineStatus } from '../../src/workflows';

export const EXAMPLE_DIR = resolve(__dirname, '../../examples/claims-severity');
export const DATA_ROWS = 3000;
/** Fast retry-as-poll for the long waits: the control plane answers in milliseconds. */
export const FAST_POLL = { initialSeconds: 0.2, maxSeconds: 1 };

/** A nested partial of the spec as written; `undefined` removes a field, arrays replace. */
export type SpecOverrides = { [key: string]: unknown };

export interface E2eEnv {
  /** The control plane's URL (SageMaker and SageMaker Runtime). */
  sageMakerUrl: string;
  /** The champ home of this file: image store, control plane state, data, artifacts. */
  home: string;
  /** The image store both the activities and the control plane use. */
  imageStore: string;
  /** The real activities over SDK clients pointed at the control plane. */
  activities: PipelineActivities;
  awsClients: AwsClients;
  sagemakerClient: SageMakerClient;
  runtimeClient: SageMakerRuntimeClient;
  /** The example's spec with this file's data, context and output; `overrides` merged on top. */
  makeSpec(overrides?: SpecOverrides): PipelineSpec;
  /** Stops the control plane (and every process it runs), closes the clients, removes the temp folder. */
  stop(): Promise<void>;
}

export interface E2eOptions {
  /** Credentials of the activities' clients (default: none, so local mode's dummy ones). */
  credentials?: StaticCredentials;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, over: SpecOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = deepMerge(out[k] as Record<string, unknown>, v);
    else out[k] = v;
  }
  return out;
}

/** A short random suffix for names that must be unique per test (SageMaker names: letters, digits, hyphens). */
export function uniqueSuffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

/**
 * Starts the control plane on a free loopback port with its state, image
 * store and endpoint instances under a fresh temp folder, and generates the
 * example data there.
 */
export async function startE2e(options: E2eOptions = {}): Promise<E2eEnv> {
  const home = mkdtempSync(join(tmpdir(), 'champ-e2e-'));
  let local: LocalSageMaker | undefined;
  let clients: AwsClients | undefined;
  try {
    const dataDir = join(home, 'data');
    execFileSync('python3', [join(EXAMPLE_DIR, 'generate.py'), '--rows', String(DATA_ROWS), '--seed', '7', '--out', dataDir], { stdio: 'pipe' });
    const imageStore = join(home, 'images');
    mkdirSync(imageStore, { recursive: true });
    // The control plane must look images up where the activities store them.
    local = await startLocalSageMaker({
      port: 0,
      stateDir: home,
      imageStore,
      healthTimeoutMs: 30_000,
      log: () => undefined,
    });
    const url = local.url;
    clients = createAwsClients({
      endpoints: { sagemaker: url, sagemakerRuntime: url },
      env: {},
      // A copy: the SDK marks the object it is given (`$source`).
      ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
    });
    const activities = createActivities({ clients, imageStore, dockerInfoTimeoutMs: 5000 });
    const example = parseYaml(readFileSync(join(EXAMPLE_DIR, 'pipeline.yaml'), 'utf8')) as Record<string, unknown>;
    const awsClients = clients;
    const server = local;
    return {
      sageMakerUrl: url,
      home,
      imageStore,
      activities,
      awsClients,
      sagemakerClient: awsClients.sagemaker,
      runtimeClient: awsClients.runtime,
      makeSpec(overrides = {}) {
        const id = uniqueSuffix();
        const base = deepMerge(example, {
          name: `cs-${id}`,
          image: { context: EXAMPLE_DIR },
          training: {
            inputs: [
              { name: 'train', uri: `file://${join(dataDir, 'train')}` },
              { name: 'validation', uri: `file://${join(dataDir, 'validation')}` },
            ],
            outputPath: `file://${join(home, 'artifacts')}`,
            maxRuntime: '5m',
          },
          approval: { required: false },
          deployment: { endpointName: `e2e-${id}` },
          // A hang shows as the pipeline's own failure, well inside jest's timeout.
          timeouts: { build: '2m', training: '5m', deploy: '2m' },
          schedule: undefined,
        });
        return parseSpec(deepMerge(base, overrides));
      },
      async stop() {
        destroyAwsClients(awsClients);
        await server.close();
        // The run's local builds are tagged in the Docker engine too: leave none behind.
        await removeStoreTags(spawnDockerRunner(), imageStore).catch(() => undefined);
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (clients) destroyAwsClients(clients);
    await local?.close();
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
}

export function pipelineInput(spec: PipelineSpec, extra: Partial<PipelineInput> = {}): PipelineInput {
  return { spec, trigger: 'manual', requestedBy: 'e2e', poll: FAST_POLL, ...extra };
}

export async function startPipeline(client: Client, taskQueue: string, input: PipelineInput, workflowId = `e2e-${uniqueSuffix()}-${Date.now()}`): Promise<PipelineHandle> {
  return client.workflow.start(trainingPipeline, { taskQueue, workflowId, args: [input] });
}

export async function runPipeline(client: Client, taskQueue: string, input: PipelineInput): Promise<{ result: PipelineResult; handle: PipelineHandle }> {
  const handle = await startPipeline(client, taskQueue, input);
  return { result: await handle.result(), handle };
}

/** Polls the status query until `predicate` holds; fails with the last status seen. */
export async function waitForStatus(
  handle: PipelineHandle,
  predicate: (s: PipelineStatus) => boolean,
  timeoutMs = 60_000,
): Promise<PipelineStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: PipelineStatus | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(statusQuery);
      if (predicate(last)) return last;
    } catch {
      // The first workflow task may not have run yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status condition not met within ${timeoutMs} ms; last status: ${JSON.stringify(last)}`);
}

/** Polls until `predicate` holds (for control-plane state). */
export async function eventually<T>(fn: () => Promise<T>, predicate: (v: T) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (predicate(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface PackageView {
  arn: string;
  version: number;
  approval: string;
  champion: boolean;
}

/** Every model package of a pipeline's group, oldest first, with approval status and champion mark. */
export async function modelPackages(sm: SageMakerClient, group: string): Promise<PackageView[]> {
  const list = await sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: group, MaxResults: 100 }));
  const out: PackageView[] = [];
  for (const s of list.ModelPackageSummaryList ?? []) {
    const d = await sm.send(new DescribeModelPackageCommand({ ModelPackageName: s.ModelPackageArn }));
    out.push({
      arn: d.ModelPackageArn ?? '',
      version: d.ModelPackageVersion ?? 0,
      approval: d.ModelApprovalStatus ?? '',
      champion: d.CustomerMetadataProperties?.['champ:champion'] === 'true',
    });
  }
  return out.sort((a, b) => a.version - b.version);
}

/** Invokes an endpoint with the example's payload and returns the parsed JSON answer. */
export async function invokeExample(runtime: SageMakerRuntimeClient, endpointName: string): Promise<{ model_id: string; predictions: Array<{ prediction: number; risk_terms: Record<string, number> }> }> {
  const out = await runtime.send(
    new InvokeEndpointCommand({
      EndpointName: endpointName,
      ContentType: 'application/json',
      Accept: 'application/json',
      Body: JSON.stringify({ instances: [{ driver_age: 35, vehicle_age: 4, vehicle_value: 20.2, annual_mileage: 14.3, region: 'east' }] }),
    }),
  );
  return JSON.parse(Buffer.from(out.Body ?? new Uint8Array()).toString('utf8'));
}

export interface InvocationTally {
  ok: number;
  failed: number;
  /** The first few failures, for the assertion message. */
  errors: string[];
  /** model_id of every successful answer, in order, consecutive repeats collapsed. */
  models: string[];
}

/** Invokes an endpoint back to back until stopped, counting answers and failures: proves an update drops no request. */
export function keepInvoking(runtime: SageMakerRuntimeClient, endpointName: string): { stop(): Promise<InvocationTally> } {
  const tally: InvocationTally = { ok: 0, failed: 0, errors: [], models: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const answer = await invokeExample(runtime, endpointName);
        tally.ok += 1;
        if (tally.models[tally.models.length - 1] !== answer.model_id) tally.models.push(answer.model_id);
      } catch (err) {
        tally.failed += 1;
        if (tally.errors.length < 5) tally.errors.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return tally;
    },
  };
}

/**
 * Another model of `spec`'s pipeline for the same endpoint (another ridge
 * strength) whose answer lacks what its smoke test expects; judged on
 * thresholds only, so it deploys and then fails verification.
 */
export function smokeTestFailingSpec(env: E2eEnv, spec: PipelineSpec): PipelineSpec {
  return env.makeSpec({
    name: spec.name,
    training: { hyperparameters: { power: 1.5, max_iter: 50, l2: 1 } },
    gate: { champion: undefined },
    deployment: { endpointName: spec.deployment.endpointName, smokeTest: { expectJsonPaths: ['does.not.exist'] } },
  });
}
