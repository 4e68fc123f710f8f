// trainingPipeline on the shared dev server with fake activities: stage
// order, the gate, approval by update and signal, and the scheduled skip.
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { withWorker } from '../harness/temporal';
import { pipelineResourceNames } from '../../src/aws/naming';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared';
import { approvalSignal, approveUpdate, rejectUpdate, statusQuery } from '../../src/workflows';
import { CANDIDATE_ARN, CANDIDATE_VERSION, fakeActivities, notReady, testSpec, trainingResult } from './fake-activities';
import { startPipeline, waitForStatus } from './helpers';

const EventType = temporal.api.enums.v1.EventType;

/** The ApplicationFailure an update's validator or handler threw. */
async function updateFailure(update: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

const awaitingApproval = (s: { approval?: { awaiting: boolean } }) => s.approval?.awaiting === true;

describe('trainingPipeline', () => {
  it('runs every stage in business order and deploys under names derived from the run', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      const result = await handle.result();

      expect(fake.names()).toEqual([
        'validateSpec',
        'buildImage',
        'fingerprintData',
        'startTraining',
        'awaitTraining',
        'describeChampion',
        'registerCandidate',
        'setApproval',
        // One request to the endpoint's entity (patch endpoint-entity), which deploys, verifies and promotes, one request at a time.
        'requestDeployment',
        'createModel',
        'createEndpointConfig',
        'describeEndpoint',
        'deployEndpoint',
        'awaitEndpoint',
        'verifyEndpoint',
        // The endpoint still serves the candidate right before it is recorded as champion.
        'awaitEndpoint',
        'markChampion',
        'cleanupOldVersions',
      ]);
      expect(result.deployment).toMatchObject({ requestId: `deploy/${handle.workflowId}/${(await handle.describe()).runId}`, state: 'done', outcome: 'deployed' });
      const { runId } = await handle.describe();
      const names = pipelineResourceNames('demo', handle.workflowId, runId);
      expect(fake.inputs('startTraining')[0]).toMatchObject({ jobName: names.trainingJob });
      expect(fake.inputs('createModel')[0]).toMatchObject({ modelName: names.model, modelArtifact: 'file:///tmp/out/model.tar.gz' });
      expect(fake.inputs('createEndpointConfig')[0]).toMatchObject({ configName: names.endpointConfig, modelName: names.model });
      expect(fake.inputs('verifyEndpoint')[0]).toMatchObject({ endpointName: 'demo-endpoint', expectedConfigName: names.endpointConfig });
      expect(fake.inputs('setApproval')[0]).toMatchObject({ status: 'Approved', reviewer: 'champ (approval not required)' });
      expect(fake.inputs('cleanupOldVersions')[0]).toEqual({ pipeline: 'demo', endpointName: 'demo-endpoint', keep: 3 });
      const logs = { training: 'file:///tmp/out/train.log', endpoint: 'file:///tmp/endpoints/demo-endpoint/serve.log' };
      expect(result.logs).toEqual(logs);
      expect((await handle.query(statusQuery)).logs).toEqual(logs);

      expect(result).toMatchObject({
        outcome: 'deployed',
        modelVersion: CANDIDATE_VERSION,
        modelPackageArn: CANDIDATE_ARN,
        trainingJobName: names.trainingJob,
        endpointName: 'demo-endpoint',
        endpointConfigName: names.endpointConfig,
        metrics: [{ name: 'rmse', value: 0.3 }],
        approval: { decision: 'approved', via: 'auto' },
      });
      expect(result.resourcesCreated.map((r) => r.kind)).toEqual(['image', 'training-job', 'model-package', 'model', 'endpoint-config', 'endpoint']);
      expect(result.timings.map((t) => t.stage)).toEqual([
        'validating',
        'building',
        'fingerprinting',
        'training',
        'gating',
        'registering',
        'deploying',
      ]);

      const attrs = (await handle.describe()).typedSearchAttributes;
      expect(attrs.get(SEARCH_ATTRIBUTE_KEYS.pipeline)).toBe('demo');
      expect(attrs.get(SEARCH_ATTRIBUTE_KEYS.stage)).toBe('done');
      expect(attrs.get(SEARCH_ATTRIBUTE_KEYS.outcome)).toBe('deployed');
    });
  });

  it('stops at the gate without deploying and lists each rule with its verdict', async () => {
    const fake = fakeActivities({
      async awaitTraining({ jobName }) {
        return trainingResult(jobName, [{ name: 'rmse', value: 0.42 }]);
      },
      async describeChampion() {
        return { modelPackageArn: 'arn:champion', version: 3, metrics: [{ name: 'rmse', value: 0.4 }] };
      },
    });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => s.gate.thresholds.push({ metric: 'mae', op: '<', value: 1 })) });
      const result = await handle.result();
      expect(result.outcome).toBe('rejected-by-gate');
      expect(result.gate?.passed).toBe(false);
      expect(result.gate?.rules.map((r) => [r.metric, r.verdict])).toEqual([
        ['rmse', 'pass'],
        ['mae', 'missing'],
        ['rmse', 'fail'],
      ]);
      expect(result.reason).toContain('mae');
      for (const name of ['registerCandidate', 'createModel', 'createEndpointConfig', 'deployEndpoint', 'setApproval'] as const) {
        expect(fake.inputs(name)).toHaveLength(0);
      }
      expect((await handle.query(statusQuery)).champion).toEqual({ version: 3, metrics: [{ name: 'rmse', value: 0.4 }] });
    });
  });

  it('waits for approval, reports it in the status query, and deploys when the approve update names the awaited version', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      const status = await waitForStatus(handle, awaitingApproval);
      expect(status).toMatchObject({
        stage: 'awaiting-approval',
        pipeline: 'demo',
        candidate: { version: CANDIDATE_VERSION, metrics: [{ name: 'rmse', value: 0.3 }] },
        champion: null,
        approval: { required: true, awaiting: true, modelVersion: CANDIDATE_VERSION },
        resources: { endpoint: 'demo-endpoint', modelPackageArn: CANDIDATE_ARN },
      });
      expect(Date.parse(status.approval?.deadline ?? '')).toBeGreaterThan(Date.now() + 50 * 60_000);
      expect(fake.inputs('createModel')).toHaveLength(0);

      const decision = await handle.executeUpdate(approveUpdate, { args: [{ modelVersion: CANDIDATE_VERSION, reviewer: 'ana', comment: 'looks good' }] });
      expect(decision).toEqual({ decision: 'approved', reviewer: 'ana', comment: 'looks good', modelVersion: CANDIDATE_VERSION, via: 'update' });

      const result = await handle.result();
      expect(result.outcome).toBe('deployed');
      expect(result.approval).toEqual({ decision: 'approved', reviewer: 'ana', comment: 'looks good', via: 'update' });
      expect(fake.inputs('setApproval')).toEqual([{ modelPackageArn: CANDIDATE_ARN, status: 'Approved', reviewer: 'ana', reason: 'looks good' }]);
    });
  });

  it('takes an approval signal (Web UI) and ignores one that names another version', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      await waitForStatus(handle, awaitingApproval);
      await handle.signal(approvalSignal, { approved: true, reviewer: 'mallory', modelVersion: CANDIDATE_VERSION + 1 });
      const afterIgnored = await waitForStatus(handle, (s) => s.ignoredSignals === 1);
      expect(afterIgnored.approval?.awaiting).toBe(true);

      await handle.signal(approvalSignal, { approved: true, reviewer: 'bo', modelVersion: CANDIDATE_VERSION });
      const result = await handle.result();
      expect(result.outcome).toBe('deployed');
      expect(result.approval).toMatchObject({ decision: 'approved', reviewer: 'bo', via: 'signal' });
      expect(fake.names()).toContain('deployEndpoint');
    });
  });

  it('ignores an approval signal whose "approved" is not a boolean instead of reading it as a rejection', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      await waitForStatus(handle, awaitingApproval);
      // What a hand-typed `temporal workflow signal --input '{"approved":"yes"}'` sends.
      await handle.signal(approvalSignal, { approved: 'yes', reviewer: 'bo' } as unknown as { approved: boolean });
      const afterIgnored = await waitForStatus(handle, (s) => s.ignoredSignals === 1);
      expect(afterIgnored.approval).toMatchObject({ awaiting: true });
      expect(afterIgnored.approval?.decision).toBeUndefined();

      await handle.signal(approvalSignal, { approved: true, reviewer: 'bo' });
      expect(await handle.result()).toMatchObject({ outcome: 'deployed', approval: { decision: 'approved', reviewer: 'bo', via: 'signal' } });
    });
  });

  it('refuses an update whose reason is not text in its validator, and still takes a proper decision', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      await waitForStatus(handle, awaitingApproval);
      const bad = { modelVersion: CANDIDATE_VERSION, reviewer: 'ana', reason: 42 } as unknown as { modelVersion: number; reviewer: string; reason: string };
      const failure = await updateFailure(handle.executeUpdate(rejectUpdate, { args: [bad] }));
      expect(failure).toMatchObject({ type: 'InvalidApproval', message: 'reject: reason must be text (got number); omit it or send a string' });

      await handle.executeUpdate(approveUpdate, { args: [{ modelVersion: CANDIDATE_VERSION, reviewer: 'ana' }] });
      expect((await handle.result()).outcome).toBe('deployed');
    });
  }, 20_000);

  it('ends rejected-by-reviewer on a reject update and marks the package Rejected with the reason', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      await waitForStatus(handle, awaitingApproval);
      const decision = await handle.executeUpdate(rejectUpdate, { args: [{ modelVersion: CANDIDATE_VERSION, reviewer: 'ana', reason: 'bias on segment B' }] });
      expect(decision).toEqual({ decision: 'rejected', reviewer: 'ana', comment: 'bias on segment B', modelVersion: CANDIDATE_VERSION, via: 'update' });

      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'rejected-by-reviewer', reason: 'bias on segment B' });
      expect(fake.inputs('setApproval')).toEqual([{ modelPackageArn: CANDIDATE_ARN, status: 'Rejected', reviewer: 'ana', reason: 'bias on segment B' }]);
      expect(fake.inputs('createModel')).toHaveLength(0);
    });
  });

  it('rejects an approve update naming the wrong version in its validator, leaving no trace in history', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      await waitForStatus(handle, awaitingApproval);

      const wrong = await updateFailure(handle.executeUpdate(approveUpdate, { args: [{ modelVersion: 99, reviewer: 'ana' }], updateId: 'wrong-version' }));
      expect(wrong.type).toBe('InvalidApproval');
      expect(wrong.message).toBe(`approve: model version 99 is not the one awaiting approval; version ${CANDIDATE_VERSION} is`);

      const noReviewer = await updateFailure(
        handle.executeUpdate(approveUpdate, { args: [{ modelVersion: CANDIDATE_VERSION, reviewer: ' ' }], updateId: 'no-reviewer' }),
      );
      expect(noReviewer.message).toMatch(/reviewer is required/);

      await handle.executeUpdate(approveUpdate, { args: [{ modelVersion: CANDIDATE_VERSION, reviewer: 'ana' }], updateId: 'good' });
      expect((await handle.result()).outcome).toBe('deployed');

      const history = await handle.fetchHistory();
      const updateIds = (history.events ?? []).flatMap((e) => {
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) return [e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId];
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) return [e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId];
        return [];
      });
      expect(updateIds).toEqual(['good', 'good']);
    });
  });

  it('rejects an approve update sent before approval is awaited', async () => {
    let trainingDone = false;
    const fake = fakeActivities({
      async awaitTraining({ jobName }) {
        if (!trainingDone) throw notReady(jobName);
        return trainingResult(jobName);
      },
    });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      await waitForStatus(handle, (s) => s.stage === 'training');
      const early = await updateFailure(handle.executeUpdate(approveUpdate, { args: [{ modelVersion: CANDIDATE_VERSION, reviewer: 'ana' }] }));
      expect(early).toMatchObject({ type: 'InvalidApproval', message: 'approve: pipeline demo is not awaiting approval (stage training)' });
      trainingDone = true;
      await waitForStatus(handle, awaitingApproval);
      await handle.executeUpdate(approveUpdate, { args: [{ modelVersion: CANDIDATE_VERSION, reviewer: 'ana' }] });
      expect((await handle.result()).outcome).toBe('deployed');
    });
  });

  it('skips a scheduled run when the champion was trained on the same data', async () => {
    const fake = fakeActivities({
      async describeChampion() {
        return { modelPackageArn: 'arn:champion', version: 3, metrics: [], dataFingerprint: 'fp-new' };
      },
    });
    const spec = testSpec((s) => (s.schedule = { cron: '0 3 * * *', overlap: 'skip', skipWhenDataUnchanged: true }));
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const scheduled = await (await startPipeline(client, taskQueue, { spec, trigger: 'schedule' })).result();
      expect(scheduled.outcome).toBe('skipped-data-unchanged');
      expect(fake.names()).toEqual(['validateSpec', 'buildImage', 'fingerprintData', 'describeChampion']);

      // The same data started by hand trains anyway: a person asked for it.
      fake.calls.length = 0;
      const manual = await (await startPipeline(client, taskQueue, { spec, trigger: 'manual' })).result();
      expect(manual.outcome).toBe('deployed');
      expect(fake.names()).toContain('startTraining');
    });
  });
});
