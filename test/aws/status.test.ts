import type { EndpointStatus, TrainingJobStatus, TransformJobStatus } from '@aws-sdk/client-sagemaker';
import {
  classifyEndpoint,
  classifyTrainingJob,
  classifyTransformJob,
  ENDPOINT_FAILED_STATUSES,
  ENDPOINT_IN_FLIGHT_STATUSES,
  ENDPOINT_STATUSES,
  endpointProblems,
  JOB_RUNNING_STATUSES,
  judgeEndpoint,
  TRAINING_JOB_STATUSES,
  TRANSFORM_JOB_STATUSES,
} from '../../src/aws/status';

describe('classifyTrainingJob', () => {
  it('treats Completed as done', () => {
    expect(classifyTrainingJob({ TrainingJobStatus: 'Completed', SecondaryStatus: 'Completed' }).state).toBe('done');
  });
  it('treats Stopped as failed, not done, and says so even without a FailureReason', () => {
    const c = classifyTrainingJob({ TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxRuntimeExceeded' });
    expect(c.state).toBe('failed');
    expect(c.reason).toMatch(/maximum runtime/);
  });
  it('carries the FailureReason of a Failed job', () => {
    const c = classifyTrainingJob({ TrainingJobStatus: 'Failed', FailureReason: 'AlgorithmError: boom' });
    expect(c).toEqual({ state: 'failed', status: 'Failed', reason: 'AlgorithmError: boom' });
  });
  it.each(['InProgress', 'Stopping'] as const)('treats %s as in progress with the secondary status shown', (status) => {
    const c = classifyTrainingJob({
      TrainingJobStatus: status,
      SecondaryStatus: 'Training',
      SecondaryStatusTransitions: [{ Status: 'Training', StartTime: new Date(), StatusMessage: 'Training image download completed' }],
    });
    expect(c.state).toBe('in-progress');
    expect(c.status).toBe(`${status} (Training)`);
    expect(c.reason).toBe('Training image download completed');
  });
});

describe('classifyEndpoint', () => {
  it.each(['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting'] as const)('treats %s as in progress', (s) => {
    expect(classifyEndpoint({ EndpointStatus: s }).state).toBe('in-progress');
  });
  it('treats InService as done, keeping a FailureReason left by a failed update', () => {
    expect(classifyEndpoint({ EndpointStatus: 'InService', FailureReason: 'new variant unhealthy' })).toEqual({
      state: 'done',
      status: 'InService',
      reason: 'new variant unhealthy',
    });
  });
  it('treats Failed as failed with its FailureReason', () => {
    expect(classifyEndpoint({ EndpointStatus: 'Failed', FailureReason: 'ping failed' })).toEqual({ state: 'failed', status: 'Failed', reason: 'ping failed' });
  });
  it.each(['OutOfService', 'UpdateRollbackFailed'] as const)('treats %s as failed', (s) => {
    expect(classifyEndpoint({ EndpointStatus: s }).state).toBe('failed');
  });
});

describe('classifyTransformJob', () => {
  it('maps Completed, Failed, Stopped and InProgress', () => {
    expect(classifyTransformJob({ TransformJobStatus: 'Completed' }).state).toBe('done');
    expect(classifyTransformJob({ TransformJobStatus: 'Failed', FailureReason: 'x' })).toEqual({ state: 'failed', status: 'Failed', reason: 'x' });
    expect(classifyTransformJob({ TransformJobStatus: 'Stopped' }).state).toBe('failed');
    expect(classifyTransformJob({ TransformJobStatus: 'InProgress' }).state).toBe('in-progress');
  });
});

describe('judgeEndpoint', () => {
  const base = { endpointName: 'claims', status: 'InService', configName: 'new' };
  it('passes an endpoint InService on the expected config', () => {
    expect(judgeEndpoint(base, 'new')).toBeUndefined();
    expect(endpointProblems(base, 'new')).toEqual([]);
  });
  it('names a status other than InService first, with its reason', () => {
    expect(judgeEndpoint({ ...base, status: 'Failed', failureReason: 'boom' }, 'new')).toBe('endpoint claims is Failed, not InService: boom');
    expect(judgeEndpoint({ ...base, status: 'Updating', configName: 'old' }, 'new')).toBe('endpoint claims is Updating, not InService');
  });
  it('calls a FailureReason on another config a failed update, and also says what serves', () => {
    const state = { ...base, configName: 'old', failureReason: 'new variant failed ping' };
    expect(judgeEndpoint(state, 'new')).toBe('endpoint claims reports a failed update: new variant failed ping');
    expect(endpointProblems(state, 'new')).toEqual(['endpoint claims reports a failed update: new variant failed ping', 'endpoint claims runs config old, not new']);
  });
  it('names the config an endpoint runs instead of the expected one', () => {
    expect(judgeEndpoint({ ...base, configName: 'old' }, 'new')).toBe('endpoint claims runs config old, not new');
    expect(judgeEndpoint({ endpointName: 'claims', status: 'InService' }, 'new')).toBe('endpoint claims runs config (none), not new');
  });
  it('calls a FailureReason on the expected config a failure', () => {
    expect(judgeEndpoint({ ...base, failureReason: 'scaling failed' }, 'new')).toBe('endpoint claims reports a failure: scaling failed');
  });
});

describe('status tables', () => {
  it('list every status the SDK knows for each resource (checked when the test compiles)', () => {
    type Complete<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
    const endpoint: Complete<EndpointStatus, (typeof ENDPOINT_STATUSES)[number]> = true;
    const training: Complete<TrainingJobStatus, (typeof TRAINING_JOB_STATUSES)[number]> = true;
    const transform: Complete<TransformJobStatus, (typeof TRANSFORM_JOB_STATUSES)[number]> = true;
    expect([endpoint, training, transform]).toEqual([true, true, true]);
  });
  it('classify every in-flight endpoint status as in progress and every failed one as failed', () => {
    for (const s of ENDPOINT_STATUSES) {
      const expected = s === 'InService' ? 'done' : ENDPOINT_FAILED_STATUSES.has(s) ? 'failed' : 'in-progress';
      expect([s, classifyEndpoint({ EndpointStatus: s }).state]).toEqual([s, expected]);
      if (ENDPOINT_IN_FLIGHT_STATUSES.has(s)) expect(expected).toBe('in-progress');
    }
  });
  it('classify a transform job as in progress exactly while it runs', () => {
    for (const s of TRANSFORM_JOB_STATUSES) {
      const state = classifyTransformJob({ TransformJobStatus: s }).state;
      expect([s, state === 'in-progress']).toEqual([s, JOB_RUNNING_STATUSES.has(s)]);
    }
  });
});
