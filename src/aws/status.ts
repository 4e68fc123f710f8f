// Pure status classifiers: one Describe* output -> done / failed / in progress.
// Unlike the SDK's waiters, a Stopped job is a failure for a pipeline.
import type { DescribeEndpointOutput, DescribeTrainingJobResponse, DescribeTransformJobResponse } from '@aws-sdk/client-sagemaker';

export type ResourceState = 'done' | 'failed' | 'in-progress';

export interface Classification {
  state: ResourceState;
  /** The status as reported, with the secondary status when there is one: `InProgress (Training)`. */
  status: string;
  /** Why it failed, or what it is doing while in progress. */
  reason?: string;
}

type TrainingDescribe = Partial<
  Pick<DescribeTrainingJobResponse, 'TrainingJobStatus' | 'SecondaryStatus' | 'FailureReason' | 'SecondaryStatusTransitions'>
>;

export function classifyTrainingJob(d: TrainingDescribe): Classification {
  const status = d.TrainingJobStatus ?? 'Unknown';
  const shown = d.SecondaryStatus ? `${status} (${d.SecondaryStatus})` : status;
  switch (status) {
    case 'Completed':
      return { state: 'done', status: shown };
    case 'Failed':
      return { state: 'failed', status: shown, reason: d.FailureReason || 'SageMaker gave no FailureReason' };
    case 'Stopped':
      return {
        state: 'failed',
        status: shown,
        reason: d.FailureReason || `the job was stopped${d.SecondaryStatus === 'MaxRuntimeExceeded' ? ' when it reached its maximum runtime' : ''}`,
      };
    case 'InProgress':
    case 'Stopping': {
      const last = d.SecondaryStatusTransitions?.[d.SecondaryStatusTransitions.length - 1]?.StatusMessage;
      return { state: 'in-progress', status: shown, ...(last ? { reason: last } : {}) };
    }
    default:
      // Deleting, or a status newer than this code: not a result, so keep polling until the deadline.
      return { state: 'in-progress', status: shown };
  }
}

type EndpointDescribe = Partial<Pick<DescribeEndpointOutput, 'EndpointStatus' | 'FailureReason'>>;

export function classifyEndpoint(d: EndpointDescribe): Classification {
  const status = d.EndpointStatus ?? 'Unknown';
  switch (status) {
    case 'InService':
      // A failed update leaves the endpoint InService on the old config with a
      // FailureReason: that is "done" here; verification judges the config.
      return { state: 'done', status, ...(d.FailureReason ? { reason: d.FailureReason } : {}) };
    case 'Failed':
      return { state: 'failed', status, reason: d.FailureReason || 'SageMaker gave no FailureReason' };
    case 'OutOfService':
      return { state: 'failed', status, reason: d.FailureReason || 'the endpoint is out of service' };
    case 'UpdateRollbackFailed':
      return { state: 'failed', status, reason: d.FailureReason || 'both the update and its automatic rollback failed' };
    case 'Creating':
    case 'Updating':
    case 'SystemUpdating':
    case 'RollingBack':
    case 'Deleting':
      return { state: 'in-progress', status };
    default:
      return { state: 'in-progress', status };
  }
}

type TransformDescribe = Partial<Pick<DescribeTransformJobResponse, 'TransformJobStatus' | 'FailureReason'>>;

export function classifyTransformJob(d: TransformDescribe): Classification {
  const status = d.TransformJobStatus ?? 'Unknown';
  switch (status) {
    case 'Completed':
      return { state: 'done', status };
    case 'Failed':
      return { state: 'failed', status, reason: d.FailureReason || 'SageMaker gave no FailureReason' };
    case 'Stopped':
      return { state: 'failed', status, reason: d.FailureReason || 'the transform job was stopped' };
    default:
      return { state: 'in-progress', status };
  }
}

/** What the workflow and the verifyEndpoint activity both know of an endpoint (the activities' EndpointState). */
export interface EndpointFacts {
  endpointName: string;
  status: string;
  configName?: string;
  failureReason?: string;
}

/**
 * Every reason the endpoint is not healthily serving the expected config, the
 * most telling first; empty when it is. A failed update leaves the endpoint
 * InService on the old config with a FailureReason: the failure says why, the
 * config says what serves instead.
 */
export function endpointProblems(state: EndpointFacts, expectedConfigName: string): string[] {
  const name = `endpoint ${state.endpointName}`;
  if (state.status !== 'InService') return [`${name} is ${state.status}, not InService${state.failureReason ? `: ${state.failureReason}` : ''}`];
  const problems: string[] = [];
  const onExpected = state.configName === expectedConfigName;
  if (state.failureReason) problems.push(`${name} ${onExpected ? 'reports a failure' : 'reports a failed update'}: ${state.failureReason}`);
  if (!onExpected) problems.push(`${name} runs config ${state.configName ?? '(none)'}, not ${expectedConfigName}`);
  return problems;
}

/** Why the endpoint is not healthily serving the expected config, or undefined when it is. */
export function judgeEndpoint(state: EndpointFacts, expectedConfigName: string): string | undefined {
  return endpointProblems(state, expectedConfigName)[0];
}
