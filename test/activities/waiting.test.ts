// The long waits: the fast path inside an attempt, "not ready" without a stack
// and with its own next retry delay, and the adaptive interval rules.
import { DescribeEndpointCommand, DescribeTrainingJobCommand, type DescribeTrainingJobResponse } from '@aws-sdk/client-sagemaker';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import { createActivities } from '../../src/activities';
import { FAST_PATH_MS, nextPollDelayMs, trainingPhase, WAITED_FRACTION } from '../../src/activities/waiting';
import { ErrorTypes } from '../../src/shared';
import { failureOf, mockedClients } from './helpers';

const AWS_POLICY = { initialMs: 10_000, maxMs: 300_000 };

/** An activity Context as the worker gives it on a retry-as-poll: attempt, when the wait began, the run's retry policy. */
function runner(info: Partial<Info>) {
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment({
    attempt: 1,
    scheduledTimestampMs: Date.now(),
    retryPolicy: { initialInterval: 1_000, maximumInterval: 2_000, backoffCoefficient: 1.5 },
    ...info,
  });
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  return { heartbeats, run: <I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> => env.run(fn, input) };
}

const completed: DescribeTrainingJobResponse = {
  TrainingJobName: 'j',
  TrainingJobArn: 'arn:j',
  TrainingJobStatus: 'Completed',
  SecondaryStatus: 'Completed',
  ModelArtifacts: { S3ModelArtifacts: 's3://b/j/model.tar.gz' },
  TrainingTimeInSeconds: 1,
} as DescribeTrainingJobResponse;
const training = { TrainingJobName: 'j', TrainingJobStatus: 'InProgress', SecondaryStatus: 'Training' } as DescribeTrainingJobResponse;

describe('nextPollDelayMs', () => {
  it('lengthens with the time already waited, within the first interval and the cap', () => {
    expect(nextPollDelayMs(AWS_POLICY, { waitedMs: 0, phase: 'running' })).toBe(10_000);
    expect(nextPollDelayMs(AWS_POLICY, { waitedMs: 600_000, phase: 'running' })).toBe(600_000 * WAITED_FRACTION);
    expect(nextPollDelayMs(AWS_POLICY, { waitedMs: 8 * 3600_000, phase: 'running' })).toBe(300_000);
  });

  it('polls at the first interval once the end is near (Uploading, Stopping)', () => {
    expect(nextPollDelayMs(AWS_POLICY, { waitedMs: 3 * 3600_000, phase: 'finishing' })).toBe(10_000);
  });

  it('keeps to half the cap while a job starts, and never sleeps far past its MaxRuntime', () => {
    expect(nextPollDelayMs(AWS_POLICY, { waitedMs: 3 * 3600_000, phase: 'starting' })).toBe(150_000);
    expect(nextPollDelayMs(AWS_POLICY, { waitedMs: 3 * 3600_000, phase: 'running', untilForcedEndMs: 40_000 })).toBe(45_000);
    expect(nextPollDelayMs(AWS_POLICY, { waitedMs: 3 * 3600_000, phase: 'running', untilForcedEndMs: -60_000 })).toBe(10_000);
  });

  it('reads SageMaker SecondaryStatus as a phase', () => {
    expect(trainingPhase('Downloading', 'InProgress')).toBe('starting');
    expect(trainingPhase('Training', 'InProgress')).toBe('running');
    expect(trainingPhase('Uploading', 'InProgress')).toBe('finishing');
    expect(trainingPhase('Training', 'Stopping')).toBe('finishing');
  });
});

describe('awaitTraining fast path', () => {
  it('on the first attempt, describes again at a short interval and returns a job that completes within seconds, heartbeating', async () => {
    const { clients, sageMakerMock } = mockedClients(true);
    sageMakerMock.on(DescribeTrainingJobCommand).resolvesOnce(training).resolvesOnce(training).resolves(completed);
    const r = runner({ attempt: 1 });
    const result = await r.run(createActivities({ clients }).awaitTraining, { jobName: 'j' });
    expect(result).toMatchObject({ jobName: 'j', status: 'Completed', modelArtifact: 's3://b/j/model.tar.gz' });
    expect(sageMakerMock.commandCalls(DescribeTrainingJobCommand)).toHaveLength(3);
    expect(r.heartbeats).toEqual([
      { status: 'InProgress (Training)', checks: 1 },
      { status: 'InProgress (Training)', checks: 2 },
    ]);
  });

  it('after the fast path, throws a benign NotReady with no stack trace and the next poll\'s delay', async () => {
    const { clients, sageMakerMock } = mockedClients(true);
    sageMakerMock.on(DescribeTrainingJobCommand).resolves(training);
    const started = Date.now();
    const f = await failureOf(runner({ attempt: 1 }).run(createActivities({ clients }).awaitTraining, { jobName: 'j' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(FAST_PATH_MS);
    expect(sageMakerMock.commandCalls(DescribeTrainingJobCommand).length).toBeGreaterThan(2);
    expect(f).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false });
    expect(f.stack).toBe('');
    // Waited a little over 5 s at a 1 s to 2 s policy: a fifth of that, within the policy.
    expect(f.nextRetryDelay).toBeGreaterThanOrEqual(1_000);
    expect(f.nextRetryDelay).toBeLessThanOrEqual(2_000);
  }, 20_000);

  it('on a later attempt, checks once and names a delay that grows with the time waited and the job\'s MaxRuntime', async () => {
    const { clients, sageMakerMock } = mockedClients();
    const now = Date.now();
    sageMakerMock.on(DescribeTrainingJobCommand).resolves({
      ...training,
      TrainingStartTime: new Date(now - 3600_000),
      StoppingCondition: { MaxRuntimeInSeconds: 7200 },
    });
    const policy = { initialInterval: 10_000, maximumInterval: 300_000, backoffCoefficient: 1.5 };
    const acts = createActivities({ clients });
    const tenMinutes = await failureOf(runner({ attempt: 9, scheduledTimestampMs: now - 600_000, retryPolicy: policy }).run(acts.awaitTraining, { jobName: 'j' }));
    expect(sageMakerMock.commandCalls(DescribeTrainingJobCommand)).toHaveLength(1);
    expect(tenMinutes.nextRetryDelay).toBeGreaterThanOrEqual(120_000);
    expect(tenMinutes.nextRetryDelay).toBeLessThan(121_000);
    expect(tenMinutes.message).toContain('poll 9');

    // One minute before MaxRuntime the job will be stopped: poll just after that, not at the 5-minute cap.
    sageMakerMock.on(DescribeTrainingJobCommand).resolves({
      ...training,
      TrainingStartTime: new Date(now - 7140_000),
      StoppingCondition: { MaxRuntimeInSeconds: 7200 },
    });
    const nearMax = await failureOf(runner({ attempt: 40, scheduledTimestampMs: now - 7200_000, retryPolicy: policy }).run(acts.awaitTraining, { jobName: 'j' }));
    expect(nearMax.nextRetryDelay).toBeGreaterThan(60_000);
    expect(nearMax.nextRetryDelay).toBeLessThanOrEqual(66_000);
  });

  it('on a later attempt, runs the fast path again while the model is uploading', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock
      .on(DescribeTrainingJobCommand)
      .resolvesOnce({ ...training, SecondaryStatus: 'Uploading' })
      .resolves(completed);
    const result = await runner({ attempt: 12 }).run(createActivities({ clients }).awaitTraining, { jobName: 'j' });
    expect(result.status).toBe('Completed');
  });
});

describe('awaitEndpoint fast path', () => {
  it('returns an endpoint that becomes InService within the first attempt', async () => {
    const { clients, sageMakerMock } = mockedClients(true);
    sageMakerMock
      .on(DescribeEndpointCommand)
      .resolvesOnce({ EndpointName: 'e', EndpointStatus: 'Creating' })
      .resolves({ EndpointName: 'e', EndpointStatus: 'InService', EndpointConfigName: 'c1' });
    expect(await runner({ attempt: 1 }).run(createActivities({ clients }).awaitEndpoint, { endpointName: 'e' })).toEqual({
      endpointName: 'e',
      status: 'InService',
      configName: 'c1',
    });
  });

  it('stops the fast path when the activity is cancelled', async () => {
    const { clients, sageMakerMock } = mockedClients(true);
    sageMakerMock.on(DescribeEndpointCommand).resolves({ EndpointName: 'e', EndpointStatus: 'Creating' });
    const env = new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs: Date.now() });
    const started = Date.now();
    const run = env.run(createActivities({ clients }).awaitEndpoint, { endpointName: 'e' });
    env.cancel();
    await expect(run).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(FAST_PATH_MS);
  });
});
