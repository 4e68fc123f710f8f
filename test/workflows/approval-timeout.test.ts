// The approval deadline, on the time-skipping test server: a day-long wait
// passes in moments, and spec.approval.onTimeout decides what it means.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { uniqueTaskQueue, workflowBundle } from '../harness/temporal';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../src/shared';
import { executableFor, withStartRetries } from '../../src/temporal-server';
import { trainingPipeline, type PipelineResult } from '../../src/workflows';
import type { PipelineSpec } from '../../src/spec/schema';
import { CANDIDATE_ARN, fakeActivities, testSpec, type FakeActivities } from './fake-activities';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // another test file in this process installed it already
  }
  env = await withStartRetries(() => TestWorkflowEnvironment.createTimeSkipping({ server: { executable: executableFor('test-server') } }));
  // The workflow upserts these; a server that does not know them fails every workflow task.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
});

afterAll(async () => {
  await env?.teardown();
});

async function runToEnd(fake: FakeActivities, spec: PipelineSpec): Promise<PipelineResult> {
  const taskQueue = uniqueTaskQueue('timeout');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fake.activities,
  });
  return worker.runUntil(
    env.client.workflow.execute(trainingPipeline, {
      taskQueue,
      workflowId: `pipeline-timeout-${randomUUID()}`,
      args: [{ spec, poll: { initialSeconds: 1, maxSeconds: 1 } }],
    }),
  );
}

describe('trainingPipeline approval deadline', () => {
  it('ends approval-timed-out and rejects the package when nobody decides within the timeout and onTimeout is reject', async () => {
    const fake = fakeActivities();
    const result = await runToEnd(
      fake,
      testSpec((s) => (s.approval = { required: true, timeout: '24h', onTimeout: 'reject' })),
    );
    expect(result.outcome).toBe('approval-timed-out');
    expect(result.approval).toMatchObject({ decision: 'rejected', via: 'timeout' });
    expect(fake.inputs('setApproval')).toEqual([
      { modelPackageArn: CANDIDATE_ARN, status: 'Rejected', reviewer: 'champ (approval timed out)', reason: 'no decision within 24h; spec.approval.onTimeout is reject' },
    ]);
    expect(fake.inputs('createModel')).toHaveLength(0);
    const waited = result.timings.find((t) => t.stage === 'awaiting-approval');
    expect(Date.parse(waited?.endedAt ?? '') - Date.parse(waited?.startedAt ?? '')).toBeGreaterThanOrEqual(24 * 3_600_000);
  });

  it('deploys when nobody decides within the timeout and onTimeout is approve', async () => {
    const fake = fakeActivities();
    const result = await runToEnd(
      fake,
      testSpec((s) => (s.approval = { required: true, timeout: '2h', onTimeout: 'approve' })),
    );
    expect(result.outcome).toBe('deployed');
    expect(result.approval).toMatchObject({ decision: 'approved', reviewer: 'champ (approval timed out)', via: 'timeout' });
    expect(fake.inputs('setApproval')[0]).toMatchObject({ status: 'Approved' });
    expect(fake.names()).toContain('deployEndpoint');
  });
});
