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
