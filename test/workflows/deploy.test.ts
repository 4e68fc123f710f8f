// trainingPipeline's unhappy deployment paths with fake activities: rollback
// after a failed verification, compensations after a failure, cancellation.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared';
import { withWorker } from '../harness/temporal';
import { statusQuery } from '../../src/workflows';
import { CANDIDATE_ARN, fakeActivities, notReady, testSpec } from './fake-activities';
import { startPipeline, waitForStatus } from './helpers';

/** Whether the run's history holds the cancel request yet. */
async function cancelRequested(handle: { fetchHistory(): Promise<{ events?: Array<{ workflowExecutionCancelRequestedEventAttributes?: unknown }> | null }> }): Promise<boolean> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).some((e) => e.workflowExecutionCancelRequestedEventAttributes != null);
}

const OLD_CONFIG = 'demo-0123456789ab-config';

describe('trainingPipeline deployment', () => {
  it('rolls an updated endpoint back to its previous config when verification fails, and keeps the old config', async () => {
    const fake = fakeActivities(
      {
        async verifyEndpoint() {
          return { ok: false, reason: 'smoke test answered 500', response: { status: 500, excerpt: 'boom' } };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      const result = await handle.result();
      const newConfig = fake.inputs('createEndpointConfig')[0].configName;
      const newModel = fake.inputs('createModel')[0].modelName;

      expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'smoke test answered 500' });
      expect(fake.inputs('rollbackEndpoint')).toEqual([expect.objectContaining({ endpointName: 'demo-endpoint', configName: OLD_CONFIG })]);
      expect(fake.endpoint.configName).toBe(OLD_CONFIG);
      expect(fake.inputs('deleteEndpointConfig')).toEqual([{ name: newConfig }]);
      expect(fake.inputs('deleteModel')).toEqual([{ name: newModel }]);
      expect(fake.inputs('deleteEndpoint')).toHaveLength(0);
      expect(fake.names().slice(fake.names().indexOf('verifyEndpoint'))).toEqual([
        'verifyEndpoint',
        'rollbackEndpoint',
        'awaitEndpoint',
        'deleteEndpointConfig',
        'deleteModel',
        'setApproval',
      ]);
      expect(fake.inputs('setApproval').at(-1)).toEqual({
        modelPackageArn: CANDIDATE_ARN,
        status: 'Rejected',
        reviewer: 'champ',
        reason: 'rolled back: smoke test answered 500',
      });
      expect(fake.inputs('markChampion')).toHaveLength(0);
      expect(result.resourcesCreated.filter((r) => r.deleted).map((r) => r.kind)).toEqual(['model', 'endpoint-config']);
    });
  });

  it('treats an endpoint left on another config after the update as a failed verification', async () => {
    const fake = fakeActivities(
      {
        async awaitEndpoint({ endpointName }) {
          return { endpointName, status: 'InService', configName: OLD_CONFIG, failureReason: 'new variant never answered /ping' };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toBe('endpoint demo-endpoint reports a failed update: new variant never answered /ping');
      expect(fake.inputs('verifyEndpoint')).toHaveLength(0);
      expect(fake.inputs('rollbackEndpoint')).toEqual([expect.objectContaining({ endpointName: 'demo-endpoint', configName: OLD_CONFIG })]);
    });
  });

  it('deletes the endpoint, config and model of a first deployment that fails verification', async () => {
    const fake = fakeActivities({
      async verifyEndpoint() {
        return { ok: false, reason: 'response lacks predictions.0' };
      },
    });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result.outcome).toBe('rolled-back');
      const names = fake.names();
      // The endpoint is looked at first: one another run updated meanwhile is theirs, not deleted.
      expect(names.slice(names.indexOf('verifyEndpoint') + 1)).toEqual(['awaitEndpoint', 'deleteEndpoint', 'deleteEndpointConfig', 'deleteModel', 'setApproval']);
      expect(fake.inputs('deleteEndpoint')).toEqual([{ name: 'demo-endpoint' }]);
      expect(fake.inputs('deleteEndpointConfig')).toEqual([{ name: fake.inputs('createEndpointConfig')[0].configName }]);
      expect(fake.inputs('rollbackEndpoint')).toHaveLength(0);
    });
  });

  it('fails with the whole failure chain after an activity fails mid-deploy, having undone what it created', async () => {
    const fake = fakeActivities({
      async createEndpointConfig() {
        // Retryable as thrown: the retry policy's nonRetryableErrorTypes must stop it.
        throw ApplicationFailure.create({ type: 'AwsValidation', message: 'instance type ml.m5.huge is not supported' });
      },
    });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      // Since patch endpoint-entity the endpoint's entity deploys: the run fails with its outcome, which names the activity and the platform's failure.
      const failure = (err as WorkflowFailedError).cause;
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: 'EndpointFailed', message: expect.stringContaining('createEndpointConfig: AwsValidation: instance type ml.m5.huge is not supported') });

      expect(fake.inputs('createEndpointConfig')).toHaveLength(1);
      expect(fake.inputs('deleteModel')).toEqual([{ name: fake.inputs('createModel')[0].modelName }]);
      expect(fake.inputs('deleteEndpointConfig')).toHaveLength(0);
      expect(fake.inputs('deployEndpoint')).toHaveLength(0);
      expect(fake.inputs('setApproval').at(-1)).toMatchObject({
        status: 'Rejected',
        reason: expect.stringContaining('createEndpointConfig: AwsValidation: instance type ml.m5.huge is not supported'),
      });
      const status = await handle.query(statusQuery);
      expect(status).toMatchObject({ stage: 'done', outcome: 'failed' });
      expect(status.reason).toContain('ml.m5.huge');
      const outcome = (await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.outcome);
      expect(outcome).toBe('failed');
    });
  });

  it('puts a serving endpoint back, never deleting it, when the pipeline fails after updating it', async () => {
    const fake = fakeActivities(
      {
        async verifyEndpoint() {
          throw ApplicationFailure.create({ type: 'AwsAccessDenied', message: 'not allowed to invoke demo-endpoint' });
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      expect(fake.inputs('rollbackEndpoint')).toEqual([expect.objectContaining({ endpointName: 'demo-endpoint', configName: OLD_CONFIG })]);
      expect(fake.inputs('deleteEndpoint')).toHaveLength(0);
      expect(fake.endpoint.configName).toBe(OLD_CONFIG);
    });
  });

  it('keeps the new config and model when putting the endpoint back fails, since it may still use them', async () => {
    const fake = fakeActivities(
      {
        async verifyEndpoint() {
          return { ok: false, reason: 'smoke test timed out' };
        },
        async rollbackEndpoint() {
          throw ApplicationFailure.create({ type: 'AwsValidation', message: 'endpoint is Updating' });
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'EndpointFailed', message: expect.stringContaining('rollbackEndpoint: AwsValidation: endpoint is Updating') });
      expect(fake.inputs('deleteEndpointConfig')).toHaveLength(0);
      expect(fake.inputs('deleteModel')).toHaveLength(0);
      expect(fake.inputs('setApproval').at(-1)).toMatchObject({ status: 'Rejected' });
    });
  });

  it('stops the training job when cancelled during training, then ends cancelled', async () => {
    const fake = fakeActivities({
      async awaitTraining({ jobName }) {
        throw notReady(jobName);
      },
    });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      await waitForStatus(handle, (s) => s.stage === 'training');
      while (fake.inputs('awaitTraining').length < 2) await new Promise((r) => setTimeout(r, 20));
      await handle.cancel();

      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      const jobName = fake.inputs('startTraining')[0].jobName;
      expect(fake.inputs('stopTraining')).toEqual([{ jobName }]);
      expect(fake.inputs('registerCandidate')).toHaveLength(0);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      expect(await handle.query(statusQuery)).toMatchObject({ outcome: 'cancelled', reason: 'pipeline cancelled' });
    });
  });

  it('rejects the candidate when cancelled while awaiting approval, leaving the serving endpoint alone', async () => {
    const fake = fakeActivities({}, { servingConfig: OLD_CONFIG });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec((s) => (s.approval.required = true)) });
      await waitForStatus(handle, (s) => s.approval?.awaiting === true);
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      expect(fake.inputs('setApproval')).toEqual([{ modelPackageArn: CANDIDATE_ARN, status: 'Rejected', reviewer: 'champ', reason: 'pipeline cancelled' }]);
      expect(fake.names().filter((n) => /Endpoint|Model/.test(n))).toEqual([]);
      expect(fake.endpoint.configName).toBe(OLD_CONFIG);
    });
  });

  it('stops the training job when cancelled while startTraining is still being retried', async () => {
    let created = false;
    const fake = fakeActivities({
      async startTraining() {
        // SageMaker accepted the job, but the answer keeps getting lost.
        created = true;
        throw ApplicationFailure.create({ type: 'AwsRetryable', message: 'socket hang up' });
      },
    });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      while (!created) await new Promise((r) => setTimeout(r, 20));
      await handle.cancel();
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(fake.inputs('stopTraining')).toEqual([{ jobName: fake.inputs('startTraining')[0].jobName }]);
    });
  });

  it('puts the endpoint back when cancelled while an accepted update is still being deployed', async () => {
    const fake = fakeActivities(
      {
        async deployEndpoint({ configName }) {
          // UpdateEndpoint went through; the activity has not reported back yet.
          fake.endpoint.configName = configName;
          throw notReady('endpoint demo-endpoint');
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      while (fake.inputs('deployEndpoint').length < 2) await new Promise((r) => setTimeout(r, 20));
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      expect(fake.inputs('describeEndpoint')).toEqual([{ endpointName: 'demo-endpoint' }]);
      expect(fake.inputs('rollbackEndpoint')).toEqual([expect.objectContaining({ endpointName: 'demo-endpoint', configName: OLD_CONFIG })]);
      expect(fake.endpoint.configName).toBe(OLD_CONFIG);
      expect(fake.inputs('deleteEndpoint')).toHaveLength(0);
      expect((await handle.query(statusQuery)).resources.previousEndpointConfig).toBe(OLD_CONFIG);
    });
  });

  it('keeps polling an endpoint busy with another change for longer than quick calls may retry', async () => {
    let busyPolls = 12;
    const fake = fakeActivities(
      {
        async deployEndpoint({ configName }) {
          if (busyPolls-- > 0) throw notReady('endpoint demo-endpoint (another update in flight)');
          fake.endpoint.configName = configName;
          return { action: 'updated', previousConfigName: OLD_CONFIG };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result.outcome).toBe('deployed');
      expect(fake.inputs('deployEndpoint')).toHaveLength(13);
    });
  }, 20_000);

  it('finishes putting the endpoint back when cancelled during the rollback', async () => {
    let released = false;
    const fake = fakeActivities(
      {
        async verifyEndpoint() {
          return { ok: false, reason: 'smoke test answered 500' };
        },
        async rollbackEndpoint({ configName }) {
          if (!released) throw notReady('endpoint demo-endpoint');
          fake.endpoint.configName = configName;
          return { action: 'started', configName };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      // The endpoint's entity rolls back (patch endpoint-entity) while the run waits for its outcome.
      while (fake.inputs('rollbackEndpoint').length < 2) await new Promise((r) => setTimeout(r, 20));
      await handle.cancel();
      // The cancel is in the history before the rollback may go on: a state, not a guess at how fast the server is.
      const deadline = Date.now() + 30_000;
      while (!(await cancelRequested(handle)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      released = true;
      await handle.result().catch(() => undefined);
      expect(fake.endpoint.configName).toBe(OLD_CONFIG);
      const newConfig = fake.inputs('createEndpointConfig')[0].configName;
      expect(fake.inputs('deleteEndpointConfig')).toEqual([{ name: newConfig }]);
      expect(fake.inputs('deleteModel')).toHaveLength(1);
    });
  });
});
