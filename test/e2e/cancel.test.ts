// Cancelling a pipeline cleans up: a running training job is stopped, and an
// endpoint that served before the run keeps serving what it served.
import { DescribeEndpointCommand, DescribeEndpointConfigCommand, DescribeTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { withWorker } from '../harness/temporal';
import { injectFault, reset } from '../../src/local';
import { endpointStatusQuery, statusQuery } from '../../src/workflows';
import { eventually, invokeExample, keepInvoking, modelPackages, pipelineInput, startE2e, startPipeline, waitForStatus, type E2eEnv } from './helpers';

jest.setTimeout(240_000);

let env: E2eEnv;

beforeAll(async () => {
  env = await startE2e();
});

afterAll(async () => {
  await env?.stop();
});

it('cancelling the pipeline during training leaves the training job Stopped and deploys nothing', async () => {
  // Training would finish in about a second; the hold keeps it InProgress long enough to cancel.
  await injectFault(env.sageMakerUrl, { kind: 'hold', resource: 'training', status: 'InProgress', ms: 60_000 });
  try {
    const spec = env.makeSpec();
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, pipelineInput(spec));
      const training = await waitForStatus(handle, (s) => s.stage === 'training' && s.resources.trainingJob !== undefined);
      const jobName = training.resources.trainingJob!;
      await eventually(
        () => env.sagemakerClient.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName })).catch(() => undefined),
        (d) => d?.TrainingJobStatus === 'InProgress',
        20_000,
        `training job ${jobName} InProgress`,
      );

      await handle.cancel();
      await injectFault(env.sageMakerUrl, { kind: 'release', resource: 'endpoint', status: 'Updating' });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      const status = await handle.query(statusQuery);
      expect(status).toMatchObject({ stage: 'done', outcome: 'cancelled' });

      const job = await eventually(
        () => env.sagemakerClient.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName })),
        (d) => d.TrainingJobStatus !== 'InProgress' && d.TrainingJobStatus !== 'Stopping',
        20_000,
        `training job ${jobName} to leave InProgress/Stopping`,
      );
      expect(job.TrainingJobStatus).toBe('Stopped');
      await expect(env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: spec.deployment.endpointName }))).rejects.toThrow(/could not find/i);
    });
  } finally {
    await reset(env.sageMakerUrl);
  }
});

it('cancelling the pipeline during an endpoint update puts the endpoint back on the config that served, which keeps answering', async () => {
  const spec = env.makeSpec();
  const endpointName = spec.deployment.endpointName;
  try {
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const first = await (await startPipeline(client, taskQueue, pipelineInput(spec))).result();
      expect(first.outcome).toBe('deployed');
      const firstConfig = first.endpointConfigName!;

      // The update stays Updating until released: the cancel lands in the middle of it, whatever the machine's speed.
      await injectFault(env.sageMakerUrl, { kind: 'hold', resource: 'endpoint', status: 'Updating', ms: 600_000, count: 1 });
      const traffic = keepInvoking(env.runtimeClient, endpointName);
      const handle = await startPipeline(client, taskQueue, pipelineInput(spec));
      // The run deploys through the endpoint's entity: wait until the entity runs its request and the endpoint is Updating.
      const { deployment } = await waitForStatus(handle, (s) => s.deployment !== undefined);
      const entity = client.workflow.getHandle(deployment!.entityId);
      const running = await eventually(
        () => entity.query(endpointStatusQuery),
        (status) => status.current?.requestId === deployment!.requestId,
        60_000,
        "the entity running the run's request",
      );
      const newConfig = running.current!.endpointConfig;
      await eventually(
        async () => (await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: endpointName }))).EndpointStatus,
        (status) => status === 'Updating',
        60_000,
        'the endpoint Updating',
      );

      await handle.cancel();
      // SageMaker refuses to change an endpoint while it is Updating: the update ends (released), then the entity puts the endpoint back.
      await injectFault(env.sageMakerUrl, { kind: 'release', resource: 'endpoint', status: 'Updating' });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);

      const described = await eventually(
        () => env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: endpointName })),
        (d) => d.EndpointStatus === 'InService' && d.EndpointConfigName === firstConfig,
        120_000,
        'the endpoint back on the first config',
      );
      const tally = await traffic.stop();
      expect(described).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: firstConfig });
      expect(tally.errors).toEqual([]);
      expect(tally.ok).toBeGreaterThan(10);
      expect((await invokeExample(env.runtimeClient, endpointName)).predictions).toHaveLength(1);
      // The cancelled run's config is gone; the first run's model stays the champion.
      await expect(env.sagemakerClient.send(new DescribeEndpointConfigCommand({ EndpointConfigName: newConfig }))).rejects.toThrow(/could not find/i);
      expect(await modelPackages(env.sagemakerClient, spec.name)).toEqual([
        expect.objectContaining({ version: 1, approval: 'Approved', champion: true }),
        expect.objectContaining({ version: 2, approval: 'Rejected', champion: false }),
      ]);
    });
  } finally {
    await reset(env.sageMakerUrl);
  }
});
