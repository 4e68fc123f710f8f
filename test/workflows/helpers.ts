// Starting pipelines and watching them from workflow tests.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { statusQuery, trainingPipeline, type PipelineInput, type PipelineStatus } from '../../src/workflows';

export type PipelineHandle = WorkflowHandle<typeof trainingPipeline>;

/** Fast polls so long waits in fakes take milliseconds. */
export const FAST_POLL = { initialSeconds: 0.05, maxSeconds: 0.1 };

export async function startPipeline(client: Client, taskQueue: string, input: PipelineInput): Promise<PipelineHandle> {
  return client.workflow.start(trainingPipeline, {
    taskQueue,
    workflowId: `pipeline-test-${randomUUID()}`,
    args: [{ poll: FAST_POLL, ...input }],
  });
}

/** Polls the status query until `ok` holds; fails with the last status seen after `timeoutMs`. */
export async function waitForStatus(handle: PipelineHandle, ok: (s: PipelineStatus) => boolean, timeoutMs = 15_000): Promise<PipelineStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: PipelineStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`status never matched within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}
