// SageMaker's statuses, written once: the tables per resource, the pure
// classifiers (one Describe* output -> done / failed / in progress) and the
// verdict on an endpoint. The activities, the workflows and the local control
// plane all read them; so this file imports types only (workflow code bundles it).
// Unlike the SDK's waiters, a Stopped job is a failure for a pipeline.
import type {
  DescribeEndpointOutput,
  DescribeProcessingJobResponse,
  DescribeTrainingJobResponse,
  DescribeTransformJobResponse,
  EndpointStatus,
  ProcessingJobStatus,
  TrainingJobStatus,
  TransformJobStatus,
} from '@aws-sdk/client-sagemaker';

/** Every status DescribeEndpoint reports, in SageMaker's order. */
export const ENDPOINT_STATUSES = [
  'OutOfService',
  'Creating',
  'Updating',
  'SystemUpdating',
  'RollingBack',
  'InService',
  'Deleting',
  'Failed',
  'UpdateRollbackFailed',
] as const satisfies readonly EndpointStatus[];

/** A change is in flight: what the endpoint serves is only known once it settles. */
export const ENDPOINT_IN_FLIGHT_STATUSES: ReadonlySet<string> = new Set<EndpointStatus>(['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting']);

/** The endpoint is broken and stays so until someone acts; each with what to say when SageMaker gives no FailureReason. */
const ENDPOINT_FAILURES: Partial<Record<string, string>> = {
  Failed: 'SageMaker gave no FailureReason',
  OutOfService: 'the endpoint is out of service',
  UpdateRollbackFailed: 'both the update and its automatic rollback failed',
} satisfies Partial<Record<EndpointStatus, string>>;

export const ENDPOINT_FAILED_STATUSES: ReadonlySet<string> = new Set(Object.keys(ENDPOINT_FAILURES));

/** Every status DescribeTrainingJob reports. */
export const TRAINING_JOB_STATUSES = ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped', 'Deleting'] as const satisfies readonly TrainingJobStatus[];

/** Every status DescribeTransformJob reports. */
export const TRANSFORM_JOB_STATUSES = ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped'] as const satisfies readonly TransformJobStatus[];

/** Every status DescribeProcessingJob reports. */
export const PROCESSING_JOB_STATUSES = ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped'] as const satisfies readonly ProcessingJobStatus[];

/** A training or transform job still running (and holding instances); StopTrainingJob/StopTransformJob apply. */
export const JOB_RUNNING_STATUSES: ReadonlySet<string> = new Set<TrainingJobStatus & TransformJobStatus>(['InProgress', 'Stopping']);

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
  // A failed update leaves the endpoint InService on the old config with a
  // FailureReason: that is "done" here; verification judges the config.
  if (status === 'InService') return { state: 'done', status, ...(d.FailureReason ? { reason: d.FailureReason } : {}) };
  const failure = ENDPOINT_FAILURES[status];
  if (failure) return { state: 'failed', status, reason: d.FailureReason || failure };
  // In flight, or a status newer than this code: keep polling until the deadline.
  return { state: 'in-progress', status };
}

type TransformDescribe = Partial<Pick<DescribeTransformJobResponse, 'TransformJobStatus' | 'FailureReason'>>;
type ProcessingDescribe = Partial<Pick<DescribeProcessingJobResponse, 'ProcessingJobStatus' | 'FailureReason'>>;

/** Transform and processing jobs end the same way: Completed, Failed, or Stopped (a failure for the caller). */
function classifyJob(status: string, failureReason: string | undefined, kind: string): Classification {
  switch (status) {
    case 'Completed':
      return { state: 'done', status };
    case 'Failed':
      return { state: 'failed', status, reason: failureReason || 'SageMaker gave no FailureReason' };
    case 'Stopped':
      return { state: 'failed', status, reason: failureReason || `the ${kind} job was stopped` };
    default:
      return { state: 'in-progress', status };
  }
}

export function classifyTransformJob(d: TransformDescribe): Classification {
  return classifyJob(d.TransformJobStatus ?? 'Unknown', d.FailureReason, 'transform');
}

export function classifyProcessingJob(d: ProcessingDescribe): Classification {
  return classifyJob(d.ProcessingJobStatus ?? 'Unknown', d.FailureReason, 'processing');
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
