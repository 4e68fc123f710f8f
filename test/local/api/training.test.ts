import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  ListTrainingJobsCommand,
  StopTrainingJobCommand,
  type CreateTrainingJobCommandInput,
} from '@aws-sdk/client-sagemaker';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { injectFault } from '../../../src/local/admin-client';
import { rejectionOf, useHarness } from './fake-runtime';
import { until } from '../support';

const h = useHarness({ resetEach: true });

const jobInput = (name: string): CreateTrainingJobCommandInput => ({
  TrainingJobName: name,
  AlgorithmSpecification: {
    TrainingImage: 'local/claims:abc123',
    TrainingInputMode: 'File',
    MetricDefinitions: [{ Name: 'validation:rmse', Regex: 'rmse=([0-9.]+)' }],
  },
  RoleArn: 'arn:aws:iam::000000000000:role/champ-local',
  HyperParameters: { epochs: '3' },
  InputDataConfig: [{ ChannelName: 'train', DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 'file:///data/train' } } }],
  OutputDataConfig: { S3OutputPath: 'file:///tmp/out' },
  ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 1 },
  StoppingCondition: { MaxRuntimeInSeconds: 600 },
});

const describe_ = (name: string) => h.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: name }));

test('a training job moves InProgress -> Completed with secondary transitions, artifacts and final metrics, dates as Date', async () => {
  const created = await h.sm.send(new CreateTrainingJobCommand(jobInput('job-ok')));
  expect(created.TrainingJobArn).toBe('arn:aws:sagemaker:us-east-1:000000000000:training-job/job-ok');
  await until('run started', async () => h.training.runs.get('job-ok'));
  const req = h.training.runs.get('job-ok')!.req;
  expect(req).toMatchObject({
    imageUri: 'local/claims:abc123',
    hyperParameters: { epochs: '3' },
    outputPath: 'file:///tmp/out',
    maxRuntimeSeconds: 600,
    metricDefinitions: [{ Name: 'validation:rmse', Regex: 'rmse=([0-9.]+)' }],
  });
  expect(req.jobDir).toContain('local-sagemaker');

  let d = await describe_('job-ok');
  expect(d.TrainingJobStatus).toBe('InProgress');
  expect(d.SecondaryStatus).toBe('Starting');
  expect(d.CreationTime).toBeInstanceOf(Date);

  h.training.progress('job-ok', 'Downloading');
  h.training.progress('job-ok', 'Training');
  d = await describe_('job-ok');
  expect(d.SecondaryStatus).toBe('Training');

  const at = new Date();
  h.training.end('job-ok', {
    status: 'Completed',
    modelArtifact: 'file:///tmp/out/job-ok/output/model.tar.gz',
    finalMetrics: [{ MetricName: 'validation:rmse', Value: 0.42, Timestamp: at }],
  });
  d = await until('Completed', async () => {
    const x = await describe_('job-ok');
    return x.TrainingJobStatus === 'Completed' ? x : undefined;
  });
  expect(d.ModelArtifacts?.S3ModelArtifacts).toBe('file:///tmp/out/job-ok/output/model.tar.gz');
  expect(d.FinalMetricDataList).toEqual([{ MetricName: 'validation:rmse', Value: 0.42, Timestamp: new Date(at.getTime()) }]);
  expect(d.SecondaryStatusTransitions?.map((t) => t.Status)).toEqual(['Starting', 'Downloading', 'Training', 'Completed']);
  expect(d.SecondaryStatusTransitions?.every((t) => t.EndTime instanceof Date)).toBe(true);
  expect(d.TrainingEndTime).toBeInstanceOf(Date);
  expect(typeof d.TrainingTimeInSeconds).toBe('number');
  expect(typeof d.BillableTimeInSeconds).toBe('number');
  expect(d.HyperParameters).toEqual({ epochs: '3' });
  expect(d.ResourceConfig).toEqual({ InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 1 });
});

test('a failing run ends Failed with the runtime reason', async () => {
  await h.sm.send(new CreateTrainingJobCommand(jobInput('job-bad')));
  await until('run started', async () => h.training.runs.get('job-bad'));
  h.training.end('job-bad', { status: 'Failed', failureReason: 'AlgorithmError: division by zero' });
  const d = await until('Failed', async () => {
    const x = await describe_('job-bad');
    return x.TrainingJobStatus === 'Failed' ? x : undefined;
  });
  expect(d.FailureReason).toBe('AlgorithmError: division by zero');
  expect(d.SecondaryStatus).toBe('Failed');
});

test('StopTrainingJob moves the job to Stopping, asks the runner to stop, and ends Stopped; a second stop is refused', async () => {
  await h.sm.send(new CreateTrainingJobCommand(jobInput('job-stop')));
  await until('run started', async () => h.training.runs.get('job-stop'));
  await h.sm.send(new StopTrainingJobCommand({ TrainingJobName: 'job-stop' }));
  const d = await until('Stopped', async () => {
    const x = await describe_('job-stop');
    return x.TrainingJobStatus === 'Stopped' ? x : undefined;
  });
  expect(h.training.stopped).toContain('job-stop');
  expect(d.SecondaryStatusTransitions?.map((t) => t.Status)).toEqual(['Starting', 'Stopping', 'Stopped']);
  const err = await rejectionOf(h.smOnce.send(new StopTrainingJobCommand({ TrainingJobName: 'job-stop' })));
  expect(err.name).toBe('ValidationException');
  expect(err.message).toBe('The request was rejected because the training job is in status Stopped.');
});

test('fail-next-training fails the next job with the given reason without running it', async () => {
  await injectFault(h.server.url, { kind: 'fail-next-training', reason: 'CapacityError: no ml.m5.large capacity' });
  await h.sm.send(new CreateTrainingJobCommand(jobInput('job-injected')));
  const d = await until('Failed', async () => {
    const x = await describe_('job-injected');
    return x.TrainingJobStatus === 'Failed' ? x : undefined;
  });
  expect(d.FailureReason).toBe('CapacityError: no ml.m5.large capacity');
  expect(h.training.started.map((r) => r.jobName)).not.toContain('job-injected');
});

test('a hold keeps a finished job InProgress for at least the held time', async () => {
  const holdMs = 1000;
  await injectFault(h.server.url, { kind: 'hold', resource: 'training', status: 'InProgress', ms: holdMs });
  const t0 = Date.now();
  await h.sm.send(new CreateTrainingJobCommand(jobInput('job-held')));
  await until('run started', async () => h.training.runs.get('job-held'));
  h.training.end('job-held', { status: 'Completed', modelArtifact: 'file:///tmp/m.tar.gz' });
  // Every answer is stamped when it arrived, so a slow machine only means fewer answers inside the hold, never a wrong verdict.
  const seen: Array<{ ms: number; status: string }> = [];
  await until('Completed', async () => {
    const status = (await describe_('job-held')).TrainingJobStatus ?? '?';
    seen.push({ ms: Date.now() - t0, status });
    return status === 'Completed' ? true : undefined;
  });
  expect(seen.filter((s) => s.ms < holdMs && s.status !== 'InProgress')).toEqual([]);
  expect(seen.find((s) => s.status === 'Completed')?.ms).toBeGreaterThanOrEqual(holdMs);
});

test('a duplicate training job name is ResourceInUse with SageMaker\'s message', async () => {
  await h.sm.send(new CreateTrainingJobCommand(jobInput('job-dup')));
  const err = await rejectionOf(h.smOnce.send(new CreateTrainingJobCommand(jobInput('job-dup'))));
  expect(err.name).toBe('ResourceInUse');
  expect(err.message).toBe(
    'Training job names must be unique within an AWS account and region, and a training job with this name already exists (arn:aws:sagemaker:us-east-1:000000000000:training-job/job-dup)',
  );
  expect(err.$metadata?.httpStatusCode).toBe(400);
});

test('a missing training job is a ValidationException "Requested resource not found."', async () => {
  const err = await rejectionOf(h.smOnce.send(new DescribeTrainingJobCommand({ TrainingJobName: 'no-such-job' })));
  expect(err.name).toBe('ValidationException');
  expect(err.message).toBe('Requested resource not found.');
});

test('a bad name and missing members are reported together, named in camelCase as SageMaker does', async () => {
  const input = jobInput('bad_name');
  delete (input as Partial<CreateTrainingJobCommandInput>).RoleArn;
  const err = await rejectionOf(h.smOnce.send(new CreateTrainingJobCommand(input)));
  expect(err.name).toBe('ValidationException');
  expect(err.message).toBe(
    "2 validation errors detected: Value 'bad_name' at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
  );
});

test('an s3:// output path is refused locally with the field named', async () => {
  const input = { ...jobInput('job-s3'), OutputDataConfig: { S3OutputPath: 's3://bucket/out' } };
  const err = await rejectionOf(h.smOnce.send(new CreateTrainingJobCommand(input)));
  expect(err.name).toBe('ValidationException');
  expect(err.message).toContain('OutputDataConfig.S3OutputPath');
  expect(err.message).toContain('file://');
});

test('ListTrainingJobs filters by NameContains and StatusEquals and paginates with NextToken', async () => {
  for (const n of ['list-a-1', 'list-a-2', 'list-a-3', 'other-1']) {
    await h.sm.send(new CreateTrainingJobCommand(jobInput(n)));
  }
  await until('runs started', async () => (h.training.runs.size >= 4 ? true : undefined));
  h.training.end('list-a-2', { status: 'Failed', failureReason: 'x' });
  await until('Failed', async () => ((await describe_('list-a-2')).TrainingJobStatus === 'Failed' ? true : undefined));

  const names: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await h.sm.send(new ListTrainingJobsCommand({ NameContains: 'LIST-A', MaxResults: 2, NextToken: token, SortBy: 'Name', SortOrder: 'Ascending' }));
    names.push(...(page.TrainingJobSummaries ?? []).map((s) => s.TrainingJobName!));
    token = page.NextToken;
    pages += 1;
  } while (token);
  expect(names).toEqual(['list-a-1', 'list-a-2', 'list-a-3']);
  expect(pages).toBe(2);

  const failed = await h.sm.send(new ListTrainingJobsCommand({ StatusEquals: 'Failed' }));
  expect(failed.TrainingJobSummaries?.map((s) => s.TrainingJobName)).toEqual(['list-a-2']);
  expect(failed.TrainingJobSummaries?.[0]?.CreationTime).toBeInstanceOf(Date);
});

test('a run past MaxRuntimeInSeconds ends Stopped with SecondaryStatus MaxRuntimeExceeded and no FailureReason, as SageMaker documents', async () => {
  await h.sm.send(new CreateTrainingJobCommand(jobInput('job-long')));
  await until('run started', async () => h.training.runs.get('job-long'));
  h.training.progress('job-long', 'Training');
  h.training.end('job-long', { status: 'Stopped', secondaryStatus: 'MaxRuntimeExceeded' });
  const d = await until('Stopped', async () => {
    const x = await describe_('job-long');
    return x.TrainingJobStatus === 'Stopped' ? x : undefined;
  });
  expect(d.SecondaryStatus).toBe('MaxRuntimeExceeded');
  expect(d.FailureReason).toBeUndefined();
  const last = d.SecondaryStatusTransitions?.at(-1);
  expect(last?.Status).toBe('MaxRuntimeExceeded');
  expect(last?.StatusMessage).toMatch(/^Training job runtime exceeded MaxRuntimeInSeconds provided \(600 s\)/);
  expect(last?.EndTime).toBeInstanceOf(Date);
});

test('a metric regex that backtracks catastrophically is refused at CreateTrainingJob, naming MetricDefinitions.N.Regex; no job starts', async () => {
  const input = jobInput('job-redos');
  input.AlgorithmSpecification!.MetricDefinitions = [
    { Name: 'ok', Regex: 'loss=([0-9.]+)' },
    { Name: 'wedge', Regex: '^(a+)+$' },
  ];
  const err = await rejectionOf(h.smOnce.send(new CreateTrainingJobCommand(input)));
  expect(err.name).toBe('ValidationException');
  expect(err.message).toContain("at 'algorithmSpecification.metricDefinitions.2.regex'");
  expect(err.message).toContain('catastrophic backtracking');
  expect(h.training.started.map((r) => r.jobName)).not.toContain('job-redos');
  expect((await rejectionOf(describe_('job-redos'))).name).toBe('ValidationException');

  const tooLong = jobInput('job-long-regex');
  tooLong.AlgorithmSpecification!.MetricDefinitions = [{ Name: 'x', Regex: `x=(${'a'.repeat(500)})` }];
  const long = await rejectionOf(h.smOnce.send(new CreateTrainingJobCommand(tooLong)));
  expect(long.message).toContain("at 'algorithmSpecification.metricDefinitions.1.regex'");
});

test('a channel folder with a link out of it or looping back is refused at CreateTrainingJob, naming the channel', async () => {
  const root = mkdtempSync(join(process.env.CHAMP_TEST_RUN_DIR ?? tmpdir(), 'channel-links-'));
  try {
    const data = join(root, 'train');
    mkdirSync(data);
    writeFileSync(join(data, 'a.csv'), 'x\n1\n');
    symlinkSync('.', join(data, 'loop'));
    const input = jobInput('job-loop');
    input.InputDataConfig = [{ ChannelName: 'train', DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: pathToFileURL(data).href } } }];
    const err = await rejectionOf(h.smOnce.send(new CreateTrainingJobCommand(input)));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain('InputDataConfig.1.DataSource.S3DataSource.S3Uri');
    expect(err.message).toContain('loop');
    expect(h.training.started.map((r) => r.jobName)).not.toContain('job-loop');

    rmSync(join(data, 'loop'));
    symlinkSync('/etc/passwd', join(data, 'out'));
    const out = await rejectionOf(h.smOnce.send(new CreateTrainingJobCommand(input)));
    expect(out.message).toContain('outside');

    rmSync(join(data, 'out'));
    await h.sm.send(new CreateTrainingJobCommand(input));
    await until('run started', async () => h.training.runs.get('job-loop'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
