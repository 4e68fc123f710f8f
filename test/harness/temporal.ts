// Test helpers over the run's shared dev server: a client, the workflow bundle
// (built once per run, cached on disk) and a worker on a unique task queue.
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

const WORKFLOWS_PATH = require.resolve('../../src/workflows');

let quietRuntime = false;
function quietLogs(): void {
  if (quietRuntime) return;
  quietRuntime = true;
  try {
    Runtime.install({ logger: new (require('@temporalio/worker').DefaultLogger)('WARN') });
  } catch {
    // already installed in this process
  }
}

export function temporalAddress(): string {
  const address = process.env.CHAMP_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('CHAMP_TEST_TEMPORAL_ADDRESS is unset: run tests through jest (its global setup starts the server)');
  return address;
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

export async function testClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection }), close: () => connection.close() };
}

/** The workflow bundle, built once per test run and shared by every test file. */
export async function workflowBundle(): Promise<{ code: string }> {
  const runDir = process.env.CHAMP_TEST_RUN_DIR;
  const file = runDir ? join(runDir, 'workflow-bundle.js') : undefined;
  if (file && existsSync(file)) return { code: readFileSync(file, 'utf8') };
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: undefined });
  if (file) writeFileSync(file, code);
  return { code };
}

/** Runs `fn` while a worker polls a fresh task queue on the shared server. */
export async function withWorker<T>(
  options: Omit<WorkerOptions, 'taskQueue' | 'connection' | 'workflowBundle' | 'workflowsPath'> & { taskQueue?: string },
  fn: (ctx: { client: Client; taskQueue: string; worker: Worker }) => Promise<T>,
): Promise<T> {
  quietLogs();
  const taskQueue = options.taskQueue ?? uniqueTaskQueue();
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const { client, close } = await testClient();
  try {
    const worker = await Worker.create({
      ...options,
      connection,
      taskQueue,
      workflowBundle: await workflowBundle(),
    });
    return await worker.runUntil(fn({ client, taskQueue, worker }));
  } finally {
    await close();
    await connection.close();
  }
}
