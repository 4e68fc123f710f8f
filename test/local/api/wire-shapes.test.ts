// Every member the control plane puts on the wire must survive the SDK's own
// deserializer: a misspelt or misplaced member is silently dropped by the SDK,
// so only a comparison of the raw JSON with the SDK's output catches it.
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  CreateTrainingJobCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  DescribeTrainingJobCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelPackageGroupsCommand,
  ListModelPackagesCommand,
  ListModelsCommand,
  ListTagsCommand,
  ListTrainingJobsCommand,
  UpdateEndpointCommand,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { useHarness } from './fake-runtime';
import { until } from '../support';

const h = useHarness({ resetEach: true });

async function raw(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(h.server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `SageMaker.${operation}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${operation}: ${JSON.stringify(json)}`);
  return json;
}

/** The member paths of the raw JSON the SDK's output lacks (or holds with a different kind of value). */
function dropped(wire: unknown, sdk: unknown, at = ''): string[] {
  if (wire === null || wire === undefined) return [];
  if (sdk === undefined) return [at || '<root>'];
  if (sdk instanceof Date) return typeof wire === 'number' ? [] : [`${at} (timestamp sent as ${typeof wire})`];
  if (Array.isArray(wire)) {
    if (!Array.isArray(sdk)) return [`${at} (not a list)`];
    return wire.flatMap((w, i) => dropped(w, (sdk as unknown[])[i], `${at}[${i}]`));
  }
  if (typeof wire === 'object') {
    if (typeof sdk !== 'object' || sdk === null) return [`${at} (not a structure)`];
    return Object.entries(wire as Record<string, unknown>).flatMap(([k, v]) =>
      dropped(v, (sdk as Record<string, unknown>)[k], at ? `${at}.${k}` : k),
    );
  }
  return typeof wire === typeof sdk ? [] : [`${at} (${typeof wire} became ${typeof sdk})`];
}

async function expectNothingDropped(operation: string, input: Record<string, unknown>, viaSdk: (sm: SageMakerClient) => Promise<object>): Promise<Record<string, unknown>> {
  const wire = await raw(operation, input);
  const sdk = { ...(await viaSdk(h.sm)) } as Record<string, unknown>;
  delete sdk.$metadata;
  expect({ operation, dropped: dropped(wire, sdk) }).toEqual({ operation, dropped: [] });
  return wire;
}

const role = 'arn:aws:iam::000000000000:role/champ-local';

test('training job describe and list answers reach the SDK whole, in every status', async () => {
  const input = {
    TrainingJobName: 'shape-job',
    AlgorithmSpecification: {
      TrainingImage: 'local/m:1',
      TrainingInputMode: 'File' as const,
      MetricDefinitions: [{ Name: 'validation:deviance', Regex: 'deviance=([0-9.]+)' }],
    },
    RoleArn: role,
    HyperParameters: { power: '1.5' },
    InputDataConfig: [{ ChannelName: 'train', DataSource: { S3DataSource: { S3DataType: 'S3Prefix' as const, S3Uri: 'file:///data/train' } } }],
    OutputDataConfig: { S3OutputPath: 'file:///tmp/out' },
    ResourceConfig: { InstanceType: 'ml.m5.large' as const, InstanceCount: 1, VolumeSizeInGB: 1 },
    StoppingCondition: { MaxRuntimeInSeconds: 600 },
    Environment: { MODE: 'x' },
    Tags: [{ Key: 'team', Value: 'pricing' }],
  };
  await h.sm.send(new CreateTrainingJobCommand(input));
  await until('run started', async () => h.training.runs.get('shape-job'));
  h.training.progress('shape-job', 'Downloading');
  h.training.progress('shape-job', 'Training');
  const describe = { TrainingJobName: 'shape-job' };
  await expectNothingDropped('DescribeTrainingJob', describe, (sm) => sm.send(new DescribeTrainingJobCommand(describe)));
  h.training.end('shape-job', {
    status: 'Completed',
    modelArtifact: 'file:///tmp/out/shape-job/output/model.tar.gz',
    finalMetrics: [{ MetricName: 'validation:deviance', Value: 0.5, Timestamp: new Date() }],
  });
  await until('Completed', async () =>
    (await h.sm.send(new DescribeTrainingJobCommand(describe))).TrainingJobStatus === 'Completed' ? true : undefined,
  );
  const wire = await expectNothingDropped('DescribeTrainingJob', describe, (sm) => sm.send(new DescribeTrainingJobCommand(describe)));
  for (const f of ['AlgorithmSpecification', 'ResourceConfig', 'StoppingCondition', 'ModelArtifacts', 'SecondaryStatusTransitions', 'FinalMetricDataList']) {
    expect(wire).toHaveProperty(f);
  }
  await expectNothingDropped('ListTrainingJobs', {}, (sm) => sm.send(new ListTrainingJobsCommand({})));
  const arn = String(wire.TrainingJobArn);
  await expectNothingDropped('ListTags', { ResourceArn: arn }, (sm) => sm.send(new ListTagsCommand({ ResourceArn: arn })));
});

test('model, endpoint config and endpoint answers reach the SDK whole: Creating, Updating (with its pending deployment) and InService', async () => {
  for (const v of ['a', 'b']) {
    await h.sm.send(
      new CreateModelCommand({
        ModelName: `shape-${v}`,
        PrimaryContainer: { Image: `local/m:${v}`, ModelDataUrl: 'file:///tmp/m.tar.gz', Environment: { A: v } },
        ExecutionRoleArn: role,
      }),
    );
    await h.sm.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: `shape-${v}`,
        ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `shape-${v}`, InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
        DataCaptureConfig: {
          EnableCapture: true,
          InitialSamplingPercentage: 50,
          DestinationS3Uri: 'file:///tmp/capture',
          CaptureOptions: [{ CaptureMode: 'Input' }],
        },
      }),
    );
  }
  await expectNothingDropped('DescribeModel', { ModelName: 'shape-a' }, (sm) => sm.send(new DescribeModelCommand({ ModelName: 'shape-a' })));
  await expectNothingDropped('ListModels', {}, (sm) => sm.send(new ListModelsCommand({})));
  await expectNothingDropped('DescribeEndpointConfig', { EndpointConfigName: 'shape-a' }, (sm) => sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'shape-a' })));
  await expectNothingDropped('ListEndpointConfigs', {}, (sm) => sm.send(new ListEndpointConfigsCommand({})));

  const deployment = {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE' as const, WaitIntervalInSeconds: 0 },
      TerminationWaitInSeconds: 0,
    },
  };
  // Deploys held until released, not for a time: a loaded machine still sees Creating and Updating.
  let release = h.endpoints.holdDeploys();
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'shape-ep', EndpointConfigName: 'shape-a', DeploymentConfig: deployment }));
  const describe = { EndpointName: 'shape-ep' };
  const creating = await expectNothingDropped('DescribeEndpoint', describe, (sm) => sm.send(new DescribeEndpointCommand(describe)));
  expect(creating).toHaveProperty('EndpointStatus', 'Creating');
  release();
  await until('InService', async () => ((await h.sm.send(new DescribeEndpointCommand(describe))).EndpointStatus === 'InService' ? true : undefined));
  await expectNothingDropped('DescribeEndpoint', describe, (sm) => sm.send(new DescribeEndpointCommand(describe)));

  release = h.endpoints.holdDeploys();
  await h.sm.send(new UpdateEndpointCommand({ EndpointName: 'shape-ep', EndpointConfigName: 'shape-b', DeploymentConfig: deployment }));
  const updating = await expectNothingDropped('DescribeEndpoint', describe, (sm) => sm.send(new DescribeEndpointCommand(describe)));
  expect(updating).toHaveProperty('EndpointStatus', 'Updating');
  expect(updating).toHaveProperty('PendingDeploymentSummary.EndpointConfigName', 'shape-b');
  expect(updating).toHaveProperty('LastDeploymentConfig');
  release();
  await expectNothingDropped('ListEndpoints', {}, (sm) => sm.send(new ListEndpointsCommand({})));
});

test('model registry answers reach the SDK whole', async () => {
  await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'shape-g', ModelPackageGroupDescription: 'd' }));
  const { ModelPackageArn } = await h.sm.send(
    new CreateModelPackageCommand({
      ModelPackageGroupName: 'shape-g',
      ModelPackageDescription: 'candidate',
      InferenceSpecification: {
        Containers: [{ Image: 'local/m:1', ModelDataUrl: 'file:///tmp/m.tar.gz' }],
        SupportedContentTypes: ['text/csv'],
        SupportedResponseMIMETypes: ['application/json'],
      },
      ModelMetrics: { ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: 'file:///tmp/metrics.json' } } },
      CustomerMetadataProperties: { gini: '0.3' },
    }),
  );
  await expectNothingDropped('DescribeModelPackageGroup', { ModelPackageGroupName: 'shape-g' }, (sm) => sm.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: 'shape-g' })));
  await expectNothingDropped('ListModelPackageGroups', {}, (sm) => sm.send(new ListModelPackageGroupsCommand({})));
  await expectNothingDropped('DescribeModelPackage', { ModelPackageName: ModelPackageArn }, (sm) => sm.send(new DescribeModelPackageCommand({ ModelPackageName: ModelPackageArn })));
  await expectNothingDropped('ListModelPackages', { ModelPackageGroupName: 'shape-g' }, (sm) => sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: 'shape-g' })));
});
