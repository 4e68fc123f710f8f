// What went wrong, as values the workflow can branch on and put in words.
import { ActivityFailure, ApplicationFailure, TemporalFailure, TimeoutFailure } from '@temporalio/workflow';
import { ErrorTypes } from '../shared';

export type DeploymentFailureKind =
  /** The platform reports the endpoint failed (an activity's EndpointFailed). */
  | 'endpoint-failed'
  /** The smoke test's request failed outright (an activity's SmokeTestFailed). */
  | 'smoke-test-failed'
  /** The endpoint did not settle before the deploy deadline. */
  | 'timed-out'
  /** The endpoint settled, but not healthily on the new config. */
  | 'not-serving'
  /** verifyEndpoint's verdict: the wrong config, or a smoke test answered badly. */
  | 'verification-failed';

/** Why a new deployment is not good: the pipeline rolls it back. */
export class DeploymentFailure {
  constructor(
    readonly kind: DeploymentFailureKind,
    readonly reason: string,
  ) {}

  /** The failure an endpoint activity's error stands for, or undefined when it is not one (the pipeline's own failure). */
  static of(err: unknown): DeploymentFailure | undefined {
    if (!(err instanceof ActivityFailure)) return undefined;
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type === ErrorTypes.EndpointFailed) return new DeploymentFailure('endpoint-failed', cause.message);
    if (cause instanceof ApplicationFailure && cause.type === ErrorTypes.SmokeTestFailed) return new DeploymentFailure('smoke-test-failed', cause.message);
    if (cause instanceof TimeoutFailure) return new DeploymentFailure('timed-out', `endpoint did not settle in time (${err.activityType} timed out)`);
    return undefined;
  }

  /** The call's result, or the deployment failure its error stands for; any other error is thrown. */
  static async or<T>(call: Promise<T>): Promise<T | DeploymentFailure> {
    try {
      return await call;
    } catch (err) {
      const failure = DeploymentFailure.of(err);
      if (!failure) throw err;
      return failure;
    }
  }
}

/** An error in one line, with the activity and failure type that raised it. */
export function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return `${err.activityType}: ${describe(err.cause)}`;
  if (err instanceof ApplicationFailure) return err.type ? `${err.type}: ${err.message}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * What the workflow fails with: a Temporal failure as it is; anything else is
 * a bug in champ, made a non-retryable PipelineBug, since a plain Error would
 * only fail the workflow task and retry forever.
 */
export function workflowFailure(err: unknown, reason: string): unknown {
  if (err instanceof TemporalFailure) return err;
  return ApplicationFailure.create({ type: ErrorTypes.PipelineBug, message: reason, nonRetryable: true, cause: err instanceof Error ? err : undefined });
}
