import {
  CreateEndpointCommand,
  CreateModelCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  CreateEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand, ModelError } from '@aws-sdk/client-sagemaker-runtime';
import { createActivities } from '../../src/activities';
import { deploymentConfig } from '../../src/activities/endpoint';
import { jsonPathExists } from '../../src/activities/endpoint-verify';
import type { ConfigRecipe, DeployEndpointInput } from '../../src/activities/types';
import { ErrorTypes } from '../../src/shared';
import { activityRunner, awsError, failureOf, mockedClients } from './helpers';

const strategy = { type: 'all-at-once' as const, waitInterval: '5m', terminationWait: '0s', alarms: [] };
const deployInput = (over: Partial<DeployEndpointInput> = {}): DeployEndpointInput => ({ endpointName: 'claims', configName: 'claims-new-config', strategy, tags: {}, before: { endpointName: 'claims', status: 'InService', configName: 'claims-old-config' }, ...over });
const missing = () => awsError('ValidationException', 400, 'Could not find endpoint "claims".');
const AWS_LOGS = 'CloudWatch Logs group /aws/sagemaker/Endpoints/claims, one stream per variant instance';
const smokeTest = { contentType: 'application/json', accept: 'application/json', body: { instances: [[1, 2]] }, expectStatus: 200, expectJsonPaths: ['predictions.0.score'] };

describe('deployEndpoint', () => {
  it('creates the endpoint when DescribeEndpoint says it does not exist', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).rejects(missing());
    sageMakerMock.on(CreateEndpointCommand).resolves({ EndpointArn: 'arn:ep' });
    const r = await activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput());
    expect(r).toEqual({ action: 'created', logs: AWS_LOGS });
    expect(sageMakerMock.commandCalls(CreateEndpointCommand)[0]!.args[0].input).toMatchObject({ EndpointName: 'claims', EndpointConfigName: 'claims-new-config' });
  });

  it('updates an InService endpoint with the strategy\'s DeploymentConfig and reports the previous config', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointName: 'claims', EndpointStatus: 'InService', EndpointConfigName: 'claims-old-config' });
    sageMakerMock.on(UpdateEndpointCommand).resolves({ EndpointArn: 'arn:ep' });
    const canary = { type: 'canary' as const, canaryPercent: 10, waitInterval: '10m', terminationWait: '5m', alarms: ['claims-5xx'] };
    const r = await activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput({ strategy: canary }));
    expect(r).toEqual({ action: 'updated', previousConfigName: 'claims-old-config', logs: AWS_LOGS });
    const req = sageMakerMock.commandCalls(UpdateEndpointCommand)[0]!.args[0].input;
    expect(req.EndpointConfigName).toBe('claims-new-config');
    expect(req.DeploymentConfig).toEqual({
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: 'CANARY', WaitIntervalInSeconds: 600, CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 } },
        TerminationWaitInSeconds: 300,
        MaximumExecutionTimeoutInSeconds: 2 * 600 + 300 + 1800,
      },
      AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'claims-5xx' }] },
    });
  });

  it('reports the previous config recorded before the call when a retry finds our update already finished', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-new-config' });
    expect(await activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput())).toEqual({
      action: 'updated',
      previousConfigName: 'claims-old-config',
      logs: AWS_LOGS,
    });
    expect(sageMakerMock.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
  });

  it('reports a first deployment as created when a retry finds the endpoint it created already InService', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-new-config' });
    expect(await activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput({ before: null }))).toEqual({ action: 'created', logs: AWS_LOGS });
    expect(sageMakerMock.commandCalls(CreateEndpointCommand)).toHaveLength(0);
    expect(sageMakerMock.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
  });

  it('refuses a Failed endpoint non-retryably with its FailureReason', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'Failed', FailureReason: 'The primary container did not pass the ping health check' });
    const f = await failureOf(activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput()));
    expect(f).toMatchObject({ type: ErrorTypes.EndpointFailed, nonRetryable: true });
    expect(f.message).toContain('ping health check');
    expect(f.message).toContain('champ does not recreate a failed endpoint');
    expect(sageMakerMock.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
  });

  it('waits (NotReady) while another change is in flight, but recognises its own pending update', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const acts = createActivities({ clients });
    sageMakerMock
      .on(DescribeEndpointCommand)
      .resolvesOnce({ EndpointStatus: 'Updating', EndpointConfigName: 'a', PendingDeploymentSummary: { EndpointConfigName: 'other' } })
      .resolvesOnce({ EndpointStatus: 'Updating', EndpointConfigName: 'a', PendingDeploymentSummary: { EndpointConfigName: 'claims-new-config' } });
    expect(await failureOf(activityRunner().run(acts.deployEndpoint, deployInput()))).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false });
    expect(await activityRunner().run(acts.deployEndpoint, deployInput())).toEqual({ action: 'updated', previousConfigName: 'a', logs: AWS_LOGS });
    expect(sageMakerMock.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
  });
});

/** SageMaker's answer when a change starts while another is in flight. */
const busy = () => awsError('ValidationException', 400, 'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/claims".');

const recipeOf = (pipeline: string, key: string): ConfigRecipe => ({
  model: { modelName: `${pipeline}-${key}-model`, imageUri: 'img:1', modelArtifact: 's3://b/model.tar.gz', roleArn: 'arn:aws:iam::000000000000:role/r', environment: { A: '1' }, tags: {} },
  config: { configName: `${pipeline}-${key}-config`, modelName: `${pipeline}-${key}-model`, variantName: 'AllTraffic', instanceType: 'ml.m5.large', instanceCount: 1, tags: {} },
});

describe('endpoint changes beside other runs (issue 10, finding 2)', () => {
  it('deployEndpoint: "Cannot update in-progress endpoint" (another run started first) is a retryable NotReady, not a validation failure', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-old-config' });
    sageMakerMock.on(UpdateEndpointCommand).rejects(busy());
    const f = await failureOf(activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput()));
    expect(f).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false });
    expect(f.message).toContain('another change started first');
  });

  it('rollbackEndpoint: "Cannot update in-progress endpoint" is a retryable NotReady', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-new-config' });
    sageMakerMock.on(UpdateEndpointCommand).rejects(busy());
    const f = await failureOf(activityRunner().run(createActivities({ clients }).rollbackEndpoint, { endpointName: 'claims', configName: 'claims-old-config' }));
    expect(f).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false });
  });

  it('rollbackEndpoint leaves an endpoint that runs neither our config nor the one to put back: another run deployed after ours', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-third-config' });
    const r = await activityRunner().run(createActivities({ clients }).rollbackEndpoint, { endpointName: 'claims', configName: 'claims-old-config', fromConfigName: 'claims-new-config' });
    expect(r).toEqual({ action: 'superseded', configName: 'claims-third-config' });
    expect(sageMakerMock.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
  });

  it('rollbackEndpoint makes the config to put back (and its model) again when another run\'s cleanup deleted it, then updates', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const recipe = recipeOf('claims', '0123456789ab');
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-new-config' });
    sageMakerMock.on(DescribeEndpointConfigCommand).rejects(awsError('ValidationException', 400, 'Could not find endpoint configuration "claims-0123456789ab-config".'));
    sageMakerMock.on(CreateModelCommand).resolves({});
    sageMakerMock.on(CreateEndpointConfigCommand).resolves({});
    sageMakerMock.on(UpdateEndpointCommand).resolves({});
    const r = await activityRunner().run(createActivities({ clients }).rollbackEndpoint, {
      endpointName: 'claims',
      configName: recipe.config.configName,
      fromConfigName: 'claims-new-config',
      recipe,
    });
    expect(r).toEqual({ action: 'started', configName: recipe.config.configName });
    expect(sageMakerMock.commandCalls(CreateModelCommand)[0]!.args[0].input).toMatchObject({ ModelName: recipe.model.modelName, PrimaryContainer: { Image: 'img:1', Environment: { A: '1' } } });
    expect(sageMakerMock.commandCalls(CreateEndpointConfigCommand)[0]!.args[0].input).toMatchObject({ EndpointConfigName: recipe.config.configName });
    expect(sageMakerMock.commandCalls(UpdateEndpointCommand)[0]!.args[0].input).toMatchObject({ EndpointConfigName: recipe.config.configName });
  });

  it('deployEndpoint makes its own config again when it is gone, and returns a recipe of the previous config when the pipeline owns it', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const ours = recipeOf('claims', 'aaaaaaaaaaaa');
    const previous = recipeOf('claims', 'bbbbbbbbbbbb');
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: previous.config.configName });
    sageMakerMock.on(DescribeEndpointConfigCommand, { EndpointConfigName: ours.config.configName }).rejects(awsError('ValidationException', 400, 'Could not find endpoint configuration.'));
    sageMakerMock.on(DescribeEndpointConfigCommand, { EndpointConfigName: previous.config.configName }).resolves({
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: previous.model.modelName, InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
    });
    sageMakerMock.on(DescribeModelCommand).resolves({ ExecutionRoleArn: previous.model.roleArn, PrimaryContainer: { Image: 'img:1', ModelDataUrl: 's3://b/model.tar.gz', Environment: { A: '1' } } });
    sageMakerMock.on(CreateModelCommand).resolves({});
    sageMakerMock.on(CreateEndpointConfigCommand).resolves({});
    sageMakerMock.on(UpdateEndpointCommand).resolves({});
    const r = await activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput({ configName: ours.config.configName, pipeline: 'claims', recipe: ours }));
    expect(r).toEqual({ action: 'updated', previousConfigName: previous.config.configName, previousRecipe: previous, logs: AWS_LOGS });
    expect(sageMakerMock.commandCalls(CreateEndpointConfigCommand).map((c) => c.args[0].input.EndpointConfigName)).toEqual([ours.config.configName]);
  });

  it('createEndpointConfig makes its model again first when given one (another run\'s cleanup may have deleted it since it was created)', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const recipe = recipeOf('claims', 'aaaaaaaaaaaa');
    sageMakerMock.on(CreateModelCommand).resolves({});
    sageMakerMock.on(CreateEndpointConfigCommand).resolves({});
    await activityRunner().run(createActivities({ clients }).createEndpointConfig, { ...recipe.config, model: recipe.model });
    expect(sageMakerMock.commandCalls(CreateModelCommand).map((c) => c.args[0].input.ModelName)).toEqual([recipe.model.modelName]);
    expect(sageMakerMock.commandCalls(CreateEndpointConfigCommand)).toHaveLength(1);
  });

  it('an update to a config deleted again right after it was made is retried (NotReady) when there is a recipe, and fails as not found when there is none', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const recipe = recipeOf('claims', 'aaaaaaaaaaaa');
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-old-config' });
    sageMakerMock.on(DescribeEndpointConfigCommand).resolves({});
    sageMakerMock.on(UpdateEndpointCommand).rejects(awsError('ValidationException', 400, 'Could not find endpoint configuration "claims-aaaaaaaaaaaa-config".'));
    const acts = createActivities({ clients });
    const input = deployInput({ configName: recipe.config.configName });
    expect(await failureOf(activityRunner().run(acts.deployEndpoint, { ...input, recipe }))).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false });
    expect(await failureOf(activityRunner().run(acts.deployEndpoint, input))).toMatchObject({ type: ErrorTypes.AwsNotFound, nonRetryable: true });
  });

  it('deployEndpoint returns no recipe for a previous config another pipeline (or a person) owns', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'made-by-hand' });
    sageMakerMock.on(UpdateEndpointCommand).resolves({});
    const r = await activityRunner().run(createActivities({ clients }).deployEndpoint, deployInput({ pipeline: 'claims' }));
    expect(r).toEqual({ action: 'updated', previousConfigName: 'made-by-hand', logs: AWS_LOGS });
    expect(sageMakerMock.commandCalls(DescribeEndpointConfigCommand)).toHaveLength(0);
  });
});

describe('describeEndpoint', () => {
  it('returns null for a missing endpoint, waits while a change is in flight, and returns the settled state', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const acts = createActivities({ clients });
    sageMakerMock
      .on(DescribeEndpointCommand)
      .rejectsOnce(missing())
      .resolvesOnce({ EndpointName: 'claims', EndpointStatus: 'Updating', EndpointConfigName: 'a', PendingDeploymentSummary: { EndpointConfigName: 'b' } })
      .resolvesOnce({ EndpointName: 'claims', EndpointStatus: 'InService', EndpointConfigName: 'b' });
    expect(await activityRunner().run(acts.describeEndpoint, { endpointName: 'claims' })).toBeNull();
    expect(await failureOf(activityRunner(3).run(acts.describeEndpoint, { endpointName: 'claims' }))).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false });
    expect(await activityRunner().run(acts.describeEndpoint, { endpointName: 'claims' })).toEqual({ endpointName: 'claims', status: 'InService', configName: 'b' });
  });

  it('refuses a Failed endpoint non-retryably with its FailureReason', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'Failed', FailureReason: 'image not found' });
    const f = await failureOf(activityRunner().run(createActivities({ clients }).describeEndpoint, { endpointName: 'claims' }));
    expect(f).toMatchObject({ type: ErrorTypes.EndpointFailed, nonRetryable: true });
    expect(f.message).toContain('image not found');
  });
});

describe('deploymentConfig', () => {
  it('maps all-at-once, blue-green and linear', () => {
    expect(deploymentConfig(strategy).BlueGreenUpdatePolicy?.TrafficRoutingConfiguration).toEqual({ Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 });
    expect(deploymentConfig({ ...strategy, type: 'blue-green' }).BlueGreenUpdatePolicy?.TrafficRoutingConfiguration).toEqual({ Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 300 });
    const linear = deploymentConfig({ ...strategy, type: 'linear', linearStepPercent: 25 }).BlueGreenUpdatePolicy!;
    expect(linear.TrafficRoutingConfiguration).toEqual({ Type: 'LINEAR', WaitIntervalInSeconds: 300, LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: 25 } });
    expect(linear.MaximumExecutionTimeoutInSeconds).toBe(4 * 300 + 1800);
  });
});

describe('awaitEndpoint', () => {
  it('throws NotReady while Creating and returns the state once InService or Failed', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const acts = createActivities({ clients });
    sageMakerMock
      .on(DescribeEndpointCommand)
      .resolvesOnce({ EndpointName: 'claims', EndpointStatus: 'Creating' })
      .resolvesOnce({ EndpointName: 'claims', EndpointStatus: 'InService', EndpointConfigName: 'c1' })
      .resolvesOnce({ EndpointName: 'claims', EndpointStatus: 'Failed', EndpointConfigName: 'c1', FailureReason: 'boom' });
    expect(await failureOf(activityRunner(2).run(acts.awaitEndpoint, { endpointName: 'claims' }))).toMatchObject({ type: ErrorTypes.NotReady });
    expect(await activityRunner().run(acts.awaitEndpoint, { endpointName: 'claims' })).toEqual({ endpointName: 'claims', status: 'InService', configName: 'c1' });
    expect(await activityRunner().run(acts.awaitEndpoint, { endpointName: 'claims' })).toEqual({
      endpointName: 'claims',
      status: 'Failed',
      configName: 'c1',
      failureReason: 'boom',
    });
  });
  it('fails AwsNotFound when the endpoint is gone', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).rejects(missing());
    expect(await failureOf(activityRunner().run(createActivities({ clients }).awaitEndpoint, { endpointName: 'claims' }))).toMatchObject({
      type: ErrorTypes.AwsNotFound,
      nonRetryable: true,
    });
  });
});

describe('verifyEndpoint', () => {
  it('detects an endpoint left InService on the old config by a failed update', async () => {
    const { clients, sageMakerMock, runtimeMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'old', FailureReason: 'new variant failed ping' });
    const r = await activityRunner().run(createActivities({ clients }).verifyEndpoint, { endpointName: 'claims', expectedConfigName: 'new', smokeTest });
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('runs config old, not new');
    expect(r.reason).toContain('new variant failed ping');
    expect(runtimeMock.calls()).toHaveLength(0);
  });

  it('fails on a FailureReason even when the config matches', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'new', FailureReason: 'scaling failed' });
    const r = await activityRunner().run(createActivities({ clients }).verifyEndpoint, { endpointName: 'claims', expectedConfigName: 'new' });
    expect(r).toEqual({ ok: false, reason: 'endpoint claims reports a failure: scaling failed' });
  });

  it('passes when the smoke test answers with every expected JSON path, sending the body as JSON', async () => {
    const { clients, sageMakerMock, runtimeMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'new' });
    runtimeMock.on(InvokeEndpointCommand).resolves({ Body: Buffer.from('{"predictions":[{"score":0.7}]}') as never, ContentType: 'application/json' });
    const r = await activityRunner().run(createActivities({ clients }).verifyEndpoint, { endpointName: 'claims', expectedConfigName: 'new', smokeTest });
    expect(r).toEqual({ ok: true, response: { status: 200, excerpt: '{"predictions":[{"score":0.7}]}' } });
    const sent = runtimeMock.commandCalls(InvokeEndpointCommand)[0]!.args[0].input;
    expect(Buffer.from(sent.Body as Uint8Array).toString()).toBe('{"instances":[[1,2]]}');
    expect(sent).toMatchObject({ ContentType: 'application/json', Accept: 'application/json' });
  });

  it('fails when a JSON path is missing, and keeps the excerpt within 500 characters', async () => {
    const { clients, sageMakerMock, runtimeMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'new' });
    runtimeMock.on(InvokeEndpointCommand).resolves({ Body: Buffer.from(JSON.stringify({ predictions: [], pad: 'x'.repeat(2000) })) as never });
    const r = await activityRunner().run(createActivities({ clients }).verifyEndpoint, { endpointName: 'claims', expectedConfigName: 'new', smokeTest });
    expect(r.ok).toBe(false);
    expect(r.reason).toBe('the smoke test response lacks predictions.0.score');
    expect(r.response?.excerpt.length).toBe(500);
  });

  it('reads the container\'s status from a ModelError', async () => {
    const { clients, sageMakerMock, runtimeMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'new' });
    runtimeMock.on(InvokeEndpointCommand).rejects(new ModelError({ $metadata: { httpStatusCode: 424 }, message: 'Received client error (415)', OriginalStatusCode: 415, OriginalMessage: 'unsupported content type' }));
    const r = await activityRunner().run(createActivities({ clients }).verifyEndpoint, { endpointName: 'claims', expectedConfigName: 'new', smokeTest });
    expect(r).toEqual({ ok: false, reason: 'the smoke test got HTTP 415, expected 200', response: { status: 415, excerpt: 'unsupported content type' } });
  });

  it('retries (rather than judges) a throttled smoke test', async () => {
    const { clients, sageMakerMock, runtimeMock } = mockedClients();
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'new' });
    runtimeMock.on(InvokeEndpointCommand).rejects(awsError('ThrottlingException', 400));
    expect(await failureOf(activityRunner().run(createActivities({ clients }).verifyEndpoint, { endpointName: 'claims', expectedConfigName: 'new', smokeTest }))).toMatchObject({
      type: ErrorTypes.AwsRetryable,
    });
  });
});

describe('jsonPathExists', () => {
  it('follows object keys and numeric array indices', () => {
    const v = { a: [{ b: null }, { c: 0 }] };
    expect(jsonPathExists(v, 'a.0.b')).toBe(true);
    expect(jsonPathExists(v, 'a.1.c')).toBe(true);
    expect(jsonPathExists(v, 'a.2')).toBe(false);
    expect(jsonPathExists(v, 'a.x')).toBe(false);
    expect(jsonPathExists(v, 'a.0.b.z')).toBe(false);
  });
});

describe('creates and deletes', () => {
  it('treats "Cannot create already existing model" as ours and a missing model on delete as fine', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const acts = createActivities({ clients });
    sageMakerMock.on(CreateModelCommand).rejects(awsError('ValidationException', 400, 'Cannot create already existing model "arn:aws:sagemaker:us-east-1:1:model/m".'));
    await expect(
      activityRunner().run(acts.createModel, { modelName: 'm', imageUri: 'i', modelArtifact: 's3://a', roleArn: 'arn:aws:iam::123456789012:role/r', environment: {}, tags: {} }),
    ).resolves.toBeUndefined();
    sageMakerMock.on(DeleteModelCommand).rejects(awsError('ValidationException', 400, 'Could not find model "m".'));
    await expect(activityRunner().run(acts.deleteModel, { name: 'm' })).resolves.toBeUndefined();
  });
});

describe('cleanupOldVersions', () => {
  const day = (n: number) => new Date(Date.UTC(2025, 0, n));
  it('keeps the newest configs including the live one, and never deletes the live config or its model', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(ListEndpointConfigsCommand).resolves({
      EndpointConfigs: [
        { EndpointConfigName: 'claims-e-config', CreationTime: day(5), EndpointConfigArn: 'a' },
        { EndpointConfigName: 'claims-d-config', CreationTime: day(4), EndpointConfigArn: 'a' },
        { EndpointConfigName: 'claims-c-config', CreationTime: day(3), EndpointConfigArn: 'a' },
        { EndpointConfigName: 'claims-b-config', CreationTime: day(2), EndpointConfigArn: 'a' },
        { EndpointConfigName: 'other-claims-x-config', CreationTime: day(1), EndpointConfigArn: 'a' },
      ],
    });
    sageMakerMock.on(ListModelsCommand).resolves({
      Models: ['e', 'd', 'c', 'b'].map((k, i) => ({ ModelName: `claims-${k}-model`, CreationTime: day(5 - i), ModelArn: 'a' })),
    });
    sageMakerMock.on(ListEndpointsCommand).resolves({ Endpoints: [{ EndpointName: 'claims', EndpointArn: 'a', CreationTime: day(1), LastModifiedTime: day(1), EndpointStatus: 'InService' }] });
    // The live config is an old one (a rollback happened).
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-b-config' });
    sageMakerMock.on(DescribeEndpointConfigCommand).callsFake((input: { EndpointConfigName: string }) => ({
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: input.EndpointConfigName.replace('-config', '-model') }],
    }));
    sageMakerMock.on(DeleteEndpointConfigCommand).resolves({});
    sageMakerMock.on(DeleteModelCommand).resolves({});
    const r = await activityRunner().run(createActivities({ clients }).cleanupOldVersions, { pipeline: 'claims', endpointName: 'claims', keep: 2 });
    expect(r.deletedConfigs.sort()).toEqual(['claims-c-config', 'claims-d-config']);
    expect(r.deletedModels.sort()).toEqual(['claims-c-model']);
    expect(r.deletedConfigs).not.toContain('claims-b-config');
    expect(r.deletedModels).not.toContain('claims-b-model');
    expect(r.deletedConfigs).not.toContain('other-claims-x-config');
  });

  it('never deletes a config or model that another endpoint uses, even one outside the pipeline', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const summary = (EndpointName: string) => ({ EndpointName, EndpointArn: 'a', CreationTime: day(1), LastModifiedTime: day(1), EndpointStatus: 'InService' as const });
    sageMakerMock.on(ListEndpointConfigsCommand).resolves({
      EndpointConfigs: ['e', 'd', 'c', 'b'].map((k, i) => ({ EndpointConfigName: `claims-${k}-config`, CreationTime: day(5 - i), EndpointConfigArn: 'a' })),
    });
    sageMakerMock.on(ListModelsCommand).resolves({
      Models: ['e', 'd', 'c', 'b'].map((k, i) => ({ ModelName: `claims-${k}-model`, CreationTime: day(5 - i), ModelArn: 'a' })),
    });
    // Two pages: the spec's endpoint, then the old name the spec used before and a hand-made one.
    sageMakerMock
      .on(ListEndpointsCommand)
      .resolvesOnce({ Endpoints: [summary('claims')], NextToken: 'p2' })
      .resolvesOnce({ Endpoints: [summary('claims-old-name'), summary('adhoc')] });
    const serving: Record<string, string> = { claims: 'claims-e-config', 'claims-old-name': 'claims-c-config', adhoc: 'adhoc-config' };
    sageMakerMock.on(DescribeEndpointCommand).callsFake((input: { EndpointName: string }) => ({
      EndpointName: input.EndpointName,
      EndpointStatus: 'InService',
      EndpointConfigName: serving[input.EndpointName],
    }));
    // adhoc-config was made by hand around this pipeline's model d.
    sageMakerMock.on(DescribeEndpointConfigCommand).callsFake((input: { EndpointConfigName: string }) => ({
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: input.EndpointConfigName === 'adhoc-config' ? 'claims-d-model' : input.EndpointConfigName.replace('-config', '-model') }],
    }));
    sageMakerMock.on(DeleteEndpointConfigCommand).resolves({});
    sageMakerMock.on(DeleteModelCommand).resolves({});
    const r = await activityRunner().run(createActivities({ clients }).cleanupOldVersions, { pipeline: 'claims', endpointName: 'claims', keep: 1 });
    expect(r.deletedConfigs.sort()).toEqual(['claims-b-config', 'claims-d-config']);
    expect(r.deletedModels.sort()).toEqual(['claims-b-model']);
  });

  it('deletes nothing when the endpoints cannot be listed', async () => {
    const { clients, sageMakerMock } = mockedClients(true);
    sageMakerMock.on(ListEndpointConfigsCommand).resolves({ EndpointConfigs: [{ EndpointConfigName: 'claims-b-config', CreationTime: day(1), EndpointConfigArn: 'a' }] });
    sageMakerMock.on(ListModelsCommand).resolves({ Models: [{ ModelName: 'claims-b-model', CreationTime: day(1), ModelArn: 'a' }] });
    sageMakerMock.on(ListEndpointsCommand).rejects(awsError('UnknownOperationException', 400, 'ListEndpoints is not supported'));
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointStatus: 'InService', EndpointConfigName: 'claims-z-config' });
    const r = await activityRunner().run(createActivities({ clients }).cleanupOldVersions, { pipeline: 'claims', endpointName: 'claims', keep: 1 });
    expect(r).toEqual({ deletedConfigs: [], deletedModels: [] });
    expect(sageMakerMock.commandCalls(DeleteEndpointConfigCommand)).toHaveLength(0);
  });

  it('reports nothing cleaned (and warns) when the control plane cannot list', async () => {
    const { clients, sageMakerMock } = mockedClients(true);
    sageMakerMock.on(ListEndpointConfigsCommand).rejects(awsError('UnknownOperationException', 400, 'ListEndpointConfigs is not supported'));
    const runner = activityRunner();
    expect(await runner.run(createActivities({ clients }).cleanupOldVersions, { pipeline: 'claims', endpointName: 'claims', keep: 2 })).toEqual({
      deletedConfigs: [],
      deletedModels: [],
    });
    expect(runner.logs.some((l) => l.level === 'warn')).toBe(true);
  });
});
