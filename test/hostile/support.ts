// What the hostile-input tests share: one worker for a whole file on the
// shared dev server, the `temporal` CLI run without a shell, and the control
// plane's inventory (what a refused input must not have created).
import {
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelPackageGroupsCommand,
  ListModelsCommand,
  ListTrainingJobsCommand,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { runCli } from '../../src/client';
import { temporalAddress, testClient, uniqueTaskQueue, workflowBundle } from '../harness/temporal';

const TEMPORAL_CLI = resolve(__dirname, '../../.tools/venv/bin/temporal');

export interface RunningWorker {
  client: Client;
  taskQueue: string;
  stop(): Promise<void>;
}

/** One worker on a fresh task queue for the whole file (starting one per case would take most of the budget). */
export async function startWorker(options: Omit<WorkerOptions, 'taskQueue' | 'connection' | 'workflowBundle' | 'workflowsPath'>): Promise<RunningWorker> {
  try {
    // Every case here fails on purpose: their "pipeline failed" lines would bury the test's own report.
    Runtime.install({ logger: new DefaultLogger('ERROR', () => undefined) });
  } catch {
    // a runtime is already installed in this process
  }
  const taskQueue = uniqueTaskQueue('hostile');
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const { client, close } = await testClient();
  const worker = await Worker.create({ ...options, connection, taskQueue, workflowBundle: await workflowBundle() });
  const running = worker.run();
  return {
    client,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await close();
      await connection.close();
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `temporal` CLI against the test server: arguments as a list, never through a shell. */
export function temporal(args: string[], timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((done) => {
    execFile(TEMPORAL_CLI, [...args, '--address', temporalAddress()], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export interface ChampRun {
  code: number;
  out: string[];
  err: string[];
}

/** `champ` in this process, its output captured line by line. */
export async function champ(args: string[], env: NodeJS.ProcessEnv): Promise<ChampRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out: out.flatMap((l) => l.split('\n')), err: err.flatMap((l) => l.split('\n')) };
}

/** Awaits `promise` at most `ms`; a timeout is a value, so a case that never ends is reported, not hung on. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed out'>((r) => (timer = setTimeout(() => r('timed out'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` over `items`, at most `width` at a time, results in input order. */
export async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

export interface Inventory {
  trainingJobs: number;
  models: number;
  endpointConfigs: number;
  endpoints: number;
  modelPackageGroups: number;
  images: number;
}

/** Everything the control plane and the image store hold. */
export async function inventory(sm: SageMakerClient, imageStore: string): Promise<Inventory> {
  const [jobs, models, configs, endpoints, groups] = await Promise.all([
    sm.send(new ListTrainingJobsCommand({ MaxResults: 100 })),
    sm.send(new ListModelsCommand({ MaxResults: 100 })),
    sm.send(new ListEndpointConfigsCommand({ MaxResults: 100 })),
    sm.send(new ListEndpointsCommand({ MaxResults: 100 })),
    sm.send(new ListModelPackageGroupsCommand({ MaxResults: 100 })),
  ]);
  return {
    trainingJobs: jobs.TrainingJobSummaries?.length ?? 0,
    models: models.Models?.length ?? 0,
    endpointConfigs: configs.EndpointConfigs?.length ?? 0,
    endpoints: endpoints.Endpoints?.length ?? 0,
    modelPackageGroups: groups.ModelPackageGroupSummaryList?.length ?? 0,
    images: existsSync(imageStore) ? readdirSync(imageStore).filter((f) => !f.startsWith('.')).length : 0,
  };
}

export const NOTHING: Inventory = { trainingJobs: 0, models: 0, endpointConfigs: 0, endpoints: 0, modelPackageGroups: 0, images: 0 };

/** Every message down a failure's cause chain, one per line: what `temporal workflow show` prints for a failed run. */
export function failureChain(err: unknown): string {
  const lines: string[] = [];
  for (let e = err as { message?: unknown; cause?: unknown } | undefined; e && lines.length < 10; e = e.cause as typeof e) lines.push(String(e.message));
  return lines.join('\n');
}

/** The activity types a run scheduled, from its history. */
export async function scheduledActivities(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
}

