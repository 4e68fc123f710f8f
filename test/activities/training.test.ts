import { CreateTrainingJobCommand, DescribeTrainingJobCommand, ResourceInUse, StopTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createActivities } from '../../src/activities';
import type { StartTrainingInput } from '../../src/activities/types';
import { ErrorTypes } from '../../src/shared';
import { activityRunner, awsError, failureOf, mockedClients } from './helpers';

const startInput = (): StartTrainingInput => ({
  jobName: 'claims-0123456789ab-train',
  imageUri: 'champ.local/claims:ctx-0123456789abcdef',
  training: {
    inputs: [{ name: 'train', uri: 's3://bucket/claims/train/', contentType: 'text/csv' }],
    outputPath: 's3://bucket/claims/output/',
    hyperparameters: { alpha: 0.5, iterations: 20, fit_intercept: true, solver: 'irls' },
    instanceType: 'ml.m5.large',
    instanceCount: 1,
    volumeSizeGB: 10,
    maxRuntime: '2h',
    roleArn: 'arn:aws:iam::123456789012:role/sm',
    metrics: [{ name: 'validation:deviance', regex: 'deviance=([0-9.]+)' }],
    environment: { SEED: '7' },
  },
  tags: { 'champ:pipeline': 'claims' },
});

describe('startTraining', () => {
  it('sends CreateTrainingJob with string hyperparameters, S3Prefix channels and the runtime in seconds', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: 'arn:job' });
    const r = await activityRunner().run(createActivities({ clients }).startTraining, startInput());
    expect(r).toEqual({ jobName: 'claims-0123456789ab-train', jobArn: 'arn:job', created: true });
    const req = sageMakerMock.commandCalls(CreateTrainingJobCommand)[0]!.args[0].input;
    expect(req.HyperParameters).toEqual({ alpha: '0.5', iterations: '20', fit_intercept: 'true', solver: 'irls' });
    expect(req.AlgorithmSpecification).toEqual({
      TrainingImage: 'champ.local/claims:ctx-0123456789abcdef',
      TrainingInputMode: 'File',
      MetricDefinitions: [{ Name: 'validation:deviance', Regex: 'deviance=([0-9.]+)' }],
    });
    expect(req.InputDataConfig?.[0]?.DataSource?.S3DataSource).toMatchObject({ S3DataType: 'S3Prefix', S3Uri: 's3://bucket/claims/train/' });
    expect(req.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 7200 });
    expect(req.Tags).toEqual([{ Key: 'champ:pipeline', Value: 'claims' }]);
    expect(req.Environment).toEqual({ SEED: '7' });
  });

  it('on ResourceInUse describes the job and continues with it (created false)', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(CreateTrainingJobCommand).rejects(new ResourceInUse({ $metadata: { httpStatusCode: 400 }, message: 'Training job names must be unique' }));
    sageMakerMock.on(DescribeTrainingJobCommand).resolves({ TrainingJobArn: 'arn:existing', TrainingJobStatus: 'InProgress' });
    const r = await activityRunner().run(createActivities({ clients }).startTraining, startInput());
    expect(r).toEqual({ jobName: 'claims-0123456789ab-train', jobArn: 'arn:existing', created: false });
  });

  it('classifies a throttling storm as retryable on every attempt, then succeeds', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const throttled = awsError('ThrottlingException', 400, 'Rate exceeded');
    sageMakerMock.on(CreateTrainingJobCommand).rejectsOnce(throttled).rejectsOnce(throttled).rejectsOnce(throttled).resolves({ TrainingJobArn: 'arn:job' });
    const acts = createActivities({ clients });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const f = await failureOf(activityRunner(attempt).run(acts.startTraining, startInput()));
      expect(f).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
      expect(f.message).toContain('CreateTrainingJob (training job claims-0123456789ab-train)');
    }
    expect((await activityRunner(4).run(acts.startTraining, startInput())).created).toBe(true);
  });

  it('classifies a 5xx as retryable and a ValidationException as non-retryable', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const acts = createActivities({ clients });
    sageMakerMock.on(CreateTrainingJobCommand).rejectsOnce(awsError('InternalFailure', 500)).rejectsOnce(awsError('ValidationException', 400, 'bad role'));
    expect(await failureOf(activityRunner().run(acts.startTraining, startInput()))).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
    expect(await failureOf(activityRunner().run(acts.startTraining, startInput()))).toMatchObject({ type: ErrorTypes.AwsValidation, nonRetryable: true });
  });
});

describe('awaitTraining', () => {
  it('throws a benign NotReady with the secondary status and poll number while the job runs', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeTrainingJobCommand).resolves({ TrainingJobName: 'j', TrainingJobStatus: 'InProgress', SecondaryStatus: 'Training' });
    const f = await failureOf(activityRunner(7).run(createActivities({ clients }).awaitTraining, { jobName: 'j' }));
    expect(f).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false });
    expect(f.message).toContain('InProgress (Training)');
    expect(f.message).toContain('poll 7');
  });

  it('returns metrics, the artifact, the seconds and the CloudWatch log location when Completed', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeTrainingJobCommand).resolves({
      TrainingJobName: 'j',
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      FinalMetricDataList: [{ MetricName: 'validation:deviance', Value: 0.42, Timestamp: new Date() }],
      ModelArtifacts: { S3ModelArtifacts: 's3://b/out/j/output/model.tar.gz' },
      TrainingTimeInSeconds: 61,
    });
    const r = await activityRunner().run(createActivities({ clients }).awaitTraining, { jobName: 'j' });
    expect(r).toEqual({
      jobName: 'j',
      status: 'Completed',
      metrics: [{ name: 'validation:deviance', value: 0.42 }],
      modelArtifact: 's3://b/out/j/output/model.tar.gz',
      trainingSeconds: 61,
      logs: 'CloudWatch Logs group /aws/sagemaker/TrainingJobs, streams j/algo-1-*',
    });
  });

  it('fails non-retryable TrainingFailed carrying the FailureReason', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeTrainingJobCommand).resolves({ TrainingJobName: 'j', TrainingJobStatus: 'Failed', FailureReason: 'AlgorithmError: ValueError: NaN in column 3' });
    const f = await failureOf(activityRunner().run(createActivities({ clients }).awaitTraining, { jobName: 'j' }));
    expect(f).toMatchObject({ type: ErrorTypes.TrainingFailed, nonRetryable: true });
    expect(f.message).toContain('NaN in column 3');
    expect(f.details?.[0]).toMatchObject({ failureReason: 'AlgorithmError: ValueError: NaN in column 3' });
  });

  it('fails non-retryable TrainingStopped for a Stopped job (not success)', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeTrainingJobCommand).resolves({ TrainingJobName: 'j', TrainingJobStatus: 'Stopped', ModelArtifacts: { S3ModelArtifacts: 's3://x' } });
    expect(await failureOf(activityRunner().run(createActivities({ clients }).awaitTraining, { jobName: 'j' }))).toMatchObject({
      type: ErrorTypes.TrainingStopped,
      nonRetryable: true,
    });
  });
});

describe('stopTraining', () => {
  it('treats a job that already finished (ValidationException) as stopped', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(StopTrainingJobCommand).rejects(awsError('ValidationException', 400, 'The job status is Completed'));
    await expect(activityRunner().run(createActivities({ clients }).stopTraining, { jobName: 'j' })).resolves.toBeUndefined();
  });
  it('still retries a throttled stop', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(StopTrainingJobCommand).rejects(awsError('ThrottlingException', 400));
    expect(await failureOf(activityRunner().run(createActivities({ clients }).stopTraining, { jobName: 'j' }))).toMatchObject({ nonRetryable: false });
  });
});

describe('validateSpec', () => {
  it('rejects a bad spec non-retryably, naming the field', async () => {
    const { clients } = mockedClients();
    const f = await failureOf(createActivities({ clients }).validateSpec({ spec: { name: 'Bad Name!' } }));
    expect(f).toMatchObject({ type: ErrorTypes.InvalidSpec, nonRetryable: true });
    expect(f.message).toContain('name:');
    expect(f.message).toContain('training');
  });
});

describe('fingerprintData', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'champ-fingerprint-'));
    mkdirSync(join(dir, 'train'));
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'train', `part-${i}.csv`), 'a,b\n1,2\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const input = () => ({ inputs: [{ name: 'train', uri: pathToFileURL(join(dir, 'train')).href, contentType: 'text/csv' }] });

  it('heartbeats with the objects and bytes hashed', async () => {
    const { clients } = mockedClients(true);
    const runner = activityRunner();
    const r = await runner.run(createActivities({ clients }).fingerprintData, input());
    expect(r).toMatchObject({ objects: 5, bytes: 40 });
    expect(runner.heartbeats).toContainEqual({ phase: 'fingerprint', files: 5, bytes: 40 });
  });

  it('stops when cancelled (an abandoned attempt does not keep hashing)', async () => {
    const { clients } = mockedClients(true);
    const env = new MockActivityEnvironment();
    let hashedAfterCancel = 0;
    let cancelled = false;
    env.on('heartbeat', (d: { files?: number }) => {
      if (cancelled) hashedAfterCancel = Math.max(hashedAfterCancel, d.files ?? 0);
      if (!cancelled) {
        cancelled = true;
        env.cancel();
      }
    });
    await expect(env.run(createActivities({ clients }).fingerprintData, input())).rejects.toBeInstanceOf(CancelledFailure);
    expect(hashedAfterCancel).toBeLessThan(5);
  });

  it('refuses a data folder with a link out of it or looping back, naming the channel field (a raw input skips the loader)', async () => {
    const { clients } = mockedClients(true);
    symlinkSync('/etc/passwd', join(dir, 'train', 'peek.csv'));
    const f = await failureOf(activityRunner().run(createActivities({ clients }).fingerprintData, input()));
    expect(f).toMatchObject({ type: ErrorTypes.InvalidSpec, nonRetryable: true });
    expect(f.message).toMatch(/^training\.inputs\[0\]\.uri: channel "train": peek\.csv is a symbolic link to \/etc\/passwd/);
    rmSync(join(dir, 'train', 'peek.csv'));
    symlinkSync('.', join(dir, 'train', 'again'));
    const loop = await failureOf(activityRunner().run(createActivities({ clients }).fingerprintData, input()));
    expect(loop.message).toContain('training.inputs[0].uri');
  });
});
