// The pipeline's activity option groups. Each proxy offers only the activities
// of its group (src/activities/types.ts), and its options are recorded in the
// history of every call: moving an activity to another proxy changes running
// workflows' commands.
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type {
  BuildActivities,
  ControlActivities,
  DataActivities,
  EndpointWaitActivities,
  EntityActivities,
  TrainingWaitActivities,
} from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import { durationMs } from '../spec/duration';
import { ErrorTypes, NON_RETRYABLE_ERROR_TYPES } from '../shared';
import type { PipelineInput } from './messages';

/**
 * Retry-as-poll intervals for the long waits, in seconds: AWS pace. The wait
 * activities pick each next interval within these bounds (a fifth of the time
 * already waited, src/activities/waiting.ts), so a job of hours is described
 * about 12 times an hour and noticed at most 5 minutes late. Changing these
 * changes the retry policy of activities scheduled from now on; replay does not
 * compare retry policies, and runs in flight keep theirs.
 */
const DEFAULT_POLL = { initialSeconds: 10, maxSeconds: 300 };

export interface PollIntervals {
  initialMs: number;
  maxMs: number;
}

/** Quick control-plane calls: retried with backoff, except for errors no retry can mend. */
export const CONTROL_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

export function controlActivities(): ControlActivities {
  return wf.proxyActivities<ControlActivities>(CONTROL_OPTIONS);
}

/** Reaching the endpoint entity: quick calls to Temporal, retried like control-plane calls. */
export function entityActivities(): EntityActivities {
  return wf.proxyActivities<EntityActivities>(CONTROL_OPTIONS);
}

/** The endpoint waits of one deployment by the endpoint entity: its request's deadline and poll intervals. */
export function endpointWaitActivities(deployTimeout: string, poll: PollIntervals): EndpointWaitActivities {
  return wf.proxyActivities<EndpointWaitActivities>({
    startToCloseTimeout: '1m',
    scheduleToCloseTimeout: durationMs(deployTimeout),
    retry: { initialInterval: poll.initialMs, backoffCoefficient: 1.5, maximumInterval: poll.maxMs, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  });
}

/** The proxies whose timeouts come from the spec: made once the spec is validated. */
export interface SpecActivities {
  trainingWait: TrainingWaitActivities;
  endpointWait: EndpointWaitActivities;
  builds: BuildActivities;
  data: DataActivities;
}

export function specActivities(spec: PipelineSpec, poll: PollIntervals): SpecActivities {
  const pollRetry = {
    initialInterval: poll.initialMs,
    backoffCoefficient: 1.5,
    maximumInterval: poll.maxMs,
    // maximumAttempts left unset (unlimited): the deadline is scheduleToCloseTimeout.
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  };
  return {
    trainingWait: wf.proxyActivities<TrainingWaitActivities>({
      startToCloseTimeout: '1m',
      scheduleToCloseTimeout: durationMs(spec.timeouts.training),
      retry: pollRetry,
    }),
    endpointWait: wf.proxyActivities<EndpointWaitActivities>({
      startToCloseTimeout: '1m',
      scheduleToCloseTimeout: durationMs(spec.timeouts.deploy),
      retry: pollRetry,
    }),
    builds: wf.proxyActivities<BuildActivities>({
      startToCloseTimeout: durationMs(spec.timeouts.build),
      heartbeatTimeout: '1m',
      retry: { ...CONTROL_OPTIONS.retry, maximumAttempts: 3 },
    }),
    // Hashing every input object can take a while on a large data set.
    // It heartbeats, so a worker lost mid-way is noticed in a minute, not at the 15-minute deadline.
    data: wf.proxyActivities<DataActivities>({ ...CONTROL_OPTIONS, startToCloseTimeout: '15m', heartbeatTimeout: '1m' }),
  };
}

/**
 * The run's poll intervals: its own `poll` input, else what the worker's
 * platform suggests, else AWS pace. Throws InvalidInput, naming the field, for
 * a value that is not a positive number of seconds.
 */
export function pollIntervals(input: PipelineInput['poll'], suggested?: { initialSeconds: number; maxSeconds: number }): PollIntervals {
  const defaults = input ? DEFAULT_POLL : (suggested ?? DEFAULT_POLL);
  const initial = input?.initialSeconds ?? defaults.initialSeconds;
  const max = input?.maxSeconds ?? Math.max(initial, defaults.maxSeconds);
  for (const [field, value] of [
    ['poll.initialSeconds', initial],
    ['poll.maxSeconds', max],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw ApplicationFailure.nonRetryable(
        `${field} must be a positive number of seconds (got ${String(value)}); omit it for the default`,
        ErrorTypes.InvalidInput,
      );
    }
  }
  return { initialMs: Math.round(initial * 1000), maxMs: Math.round(Math.max(initial, max) * 1000) };
}
