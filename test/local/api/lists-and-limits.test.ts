import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateTrainingJobCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  DescribeModelPackageGroupCommand,
  DescribeTrainingJobCommand,
  DescribeTransformJobCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  StopTrainingJobCommand,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { injectFault } from '../../../src/local/admin-client';
import { rejectionOf, useHarness } from './fake-runtime';
import { until } from '../support';

const h = useHarness({ limits: { maxEndpoints: 2, maxTrainingJobs: 1 }, resetEach: true });

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function models(names: string[]): Promise<Date[]> {
  const times: Date[] = [];
  for (const n of names) {
    times.push(new Date());
    await h.sm.send(new CreateModelCommand({ ModelName: n, PrimaryContainer: { Image: 'local/m:1' } }));
    await h.sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: n, ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: n }] }));
    // Distinct creation times, so time order and name order differ on purpose below.
    await pause(15);
  }
  return times;
}

test('ListModels filters by NameContains, sorts newest first by default, and pages with MaxResults and NextToken', async () => {
  await models(['pipe-b-1', 'pipe-a-2', 'other-3', 'PIPE-c-4']);
  const first = await h.sm.send(new ListModelsCommand({ NameContains: 'pipe', MaxResults: 2 }));
  expect(first.Models?.map((m) => m.ModelName)).toEqual(['PIPE-c-4', 'pipe-a-2']);
  expect(first.Models?.[0]).toEqual({ ModelName: 'PIPE-c-4', ModelArn: 'arn:aws:sagemaker:us-east-1:000000000000:model/pipe-c-4', CreationTime: expect.any(Date) });
  expect(first.NextToken).toEqual(expect.any(String));
  const second = await h.sm.send(new ListModelsCommand({ NameContains: 'pipe', MaxResults: 2, NextToken: first.NextToken }));
  expect(second.Models?.map((m) => m.ModelName)).toEqual(['pipe-b-1']);
  expect(second.NextToken).toBeUndefined();

  const byName = await h.sm.send(new ListModelsCommand({ SortBy: 'Name', SortOrder: 'Ascending' }));
  // Code-point order, as the names are stored: upper case before lower case.
  expect(byName.Models?.map((m) => m.ModelName)).toEqual(['PIPE-c-4', 'other-3', 'pipe-a-2', 'pipe-b-1']);
  const oldest = await h.sm.send(new ListModelsCommand({ SortBy: 'CreationTime', SortOrder: 'Ascending', MaxResults: 1 }));
  expect(oldest.Models?.map((m) => m.ModelName)).toEqual(['pipe-b-1']);
});

test('ListEndpointConfigs filters by CreationTimeAfter (inclusive) and CreationTimeBefore, and refuses a token issued for other filters', async () => {
  await models(['cfg-1', 'cfg-2', 'cfg-3']);
  const all = (await h.sm.send(new ListEndpointConfigsCommand({ SortOrder: 'Ascending' }))).EndpointConfigs ?? [];
  expect(all.map((c) => c.EndpointConfigName)).toEqual(['cfg-1', 'cfg-2', 'cfg-3']);
  expect(all[0]?.EndpointConfigArn).toBe('arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/cfg-1');
  const t2 = all[1]?.CreationTime as Date;
  const t3 = all[2]?.CreationTime as Date;
  const window = await h.sm.send(new ListEndpointConfigsCommand({ CreationTimeAfter: t2, CreationTimeBefore: t3 }));
  expect(window.EndpointConfigs?.map((c) => c.EndpointConfigName)).toEqual(['cfg-2']);

  const page = await h.sm.send(new ListEndpointConfigsCommand({ MaxResults: 1 }));
  const err = await rejectionOf(h.smOnce.send(new ListEndpointConfigsCommand({ MaxResults: 1, NameContains: 'cfg', NextToken: page.NextToken })));
  expect(err.name).toBe('ValidationException');
  const bad = await rejectionOf(h.smOnce.send(new ListModelsCommand({ MaxResults: 101, SortBy: 'Size' as 'Name' })));
  expect(bad.message).toBe(
    "2 validation errors detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100; " +
      "Value 'Size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [Name, CreationTime]",
  );
});

test('CreateEndpoint beyond CHAMP_LOCAL_MAX_ENDPOINTS is ResourceLimitExceeded; a deleted endpoint frees its place', async () => {
  await models(['m']);
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-1', EndpointConfigName: 'm' }));
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-2', EndpointConfigName: 'm' }));
  const err = await rejectionOf(h.smOnce.send(new CreateEndpointCommand({ EndpointName: 'ep-3', EndpointConfigName: 'm' })));
  expect(err.name).toBe('ResourceLimitExceeded');
  expect(err.$metadata?.httpStatusCode).toBe(400);
  expect(err.message).toMatch(/^The account-level service limit 'Number of endpoints' is 2 Endpoints, with current utilization of 2 Endpoints and a request delta of 1 Endpoints\. /);
  expect(err.message).toContain('CHAMP_LOCAL_MAX_ENDPOINTS');

  // SageMaker refuses to delete an endpoint while it is Creating.
  await until('ep-1 InService', async () => ((await h.sm.send(new DescribeEndpointCommand({ EndpointName: 'ep-1' }))).EndpointStatus === 'InService' ? true : undefined));
  await h.sm.send(new DeleteEndpointCommand({ EndpointName: 'ep-1' }));
  await until('ep-1 deleted', async () => (h.endpoints.serving.has('ep-1') ? undefined : true));
  await until('ep-3 accepted', async () => h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-3', EndpointConfigName: 'm' })));
});

const job = (name: string) =>
  new CreateTrainingJobCommand({
    TrainingJobName: name,
    AlgorithmSpecification: { TrainingImage: 'local/m:1', TrainingInputMode: 'File' },
    RoleArn: 'arn:aws:iam::000000000000:role/champ-local',
    OutputDataConfig: { S3OutputPath: 'file:///tmp/out' },
    ResourceConfig: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeSizeInGB: 1 },
    StoppingCondition: { MaxRuntimeInSeconds: 60 },
  });

test('CreateTrainingJob beyond CHAMP_LOCAL_MAX_TRAINING_JOBS running jobs is ResourceLimitExceeded naming the instance type', async () => {
  await h.sm.send(job('run-1'));
  const err = await rejectionOf(h.smOnce.send(job('run-2')));
  expect(err.name).toBe('ResourceLimitExceeded');
  expect(err.message).toMatch(/^The account-level service limit 'ml\.m5\.xlarge for training job usage' is 1 Instances, with current utilization of 1 Instances/);
  await until('run-1 started', async () => h.training.runs.get('run-1'));
  h.training.end('run-1', { status: 'Completed' });
  await until('run-2 accepted once run-1 ended', async () => h.sm.send(job('run-2')));
});

test('the training status messages name the kept log, and a stop during a held InProgress ends Stopped', async () => {
  // The stop must land inside the hold: held until released, so no machine is too slow to get there in time.
  await injectFault(h.server.url, { kind: 'hold', resource: 'training', status: 'InProgress', ms: 600_000, count: 1 });
  await h.sm.send(job('logged'));
  await until('run started', async () => h.training.runs.get('logged'));
  h.training.progress('logged', 'Training', 'Training in progress.');
  h.training.end('logged', { status: 'Completed', logFile: '/var/champ/logged/train.log' });
  await pause(50);
  expect((await h.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'logged' }))).TrainingJobStatus).toBe('InProgress');
  await h.sm.send(new StopTrainingJobCommand({ TrainingJobName: 'logged' }));
  expect((await h.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'logged' }))).TrainingJobStatus).toBe('Stopping');
  await injectFault(h.server.url, { kind: 'release', resource: 'training', status: 'InProgress' });
  const d = await until(
    'Stopped',
    async () => {
      const x = await h.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'logged' }));
      return x.TrainingJobStatus === 'Stopped' ? x : undefined;
    },
    15_000,
  );
  const messages = d.SecondaryStatusTransitions?.map((t) => `${t.Status}: ${t.StatusMessage ?? ''}`);
  expect(messages?.find((m) => m.startsWith('Training:'))).toMatch(/^Training: Training in progress\. Log at \/.+\/local-sagemaker\/training\/logged\/train\.log$/);
  expect(messages?.at(-1)).toBe('Stopped: Training job stopped. Log at /var/champ/logged/train.log');
  expect(d.FailureReason).toBeUndefined();
}, 30_000);

test('missing resources are ValidationException in SageMaker\'s words for every operation of the subset, never ResourceNotFound', async () => {
  const cases: Array<[Promise<unknown>, string]> = [
    [h.smOnce.send(new DescribeTrainingJobCommand({ TrainingJobName: 'nope' })), 'Requested resource not found.'],
    [h.smOnce.send(new StopTrainingJobCommand({ TrainingJobName: 'nope' })), 'Requested resource not found.'],
    [h.smOnce.send(new DescribeTransformJobCommand({ TransformJobName: 'nope' })), 'Could not find requested job with name nope'],
    [h.smOnce.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: 'nope' })), 'ModelPackageGroup nope does not exist.'],
    [
      h.smOnce.send(new UpdateModelPackageCommand({ ModelPackageArn: 'arn:aws:sagemaker:us-east-1:000000000000:model-package/nope/1', ModelApprovalStatus: 'Approved' })),
      'ModelPackage arn:aws:sagemaker:us-east-1:000000000000:model-package/nope/1 does not exist.',
    ],
  ];
  for (const [call, message] of cases) {
    const err = await rejectionOf(call);
    expect({ name: err.name, message: err.message }).toEqual({ name: 'ValidationException', message });
  }
});
