// Cancelling a pipeline while its training job runs stops the job.
import { DescribeEndpointCommand, DescribeTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { withWorker } from '../harness/temporal';
import { injectFault, reset } from '../../src/local/admin-client';
import { statusQuery } from '../../src/workflows';
import { eventually, pipelineInput, startE2e, startPipeline, waitForStatus, type E2eEnv } from './helpers';

jest.setTimeout(90_000);

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
