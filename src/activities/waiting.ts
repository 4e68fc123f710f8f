// How the long waits (training, InService) poll. Each is check-once-and-throw:
// the retry policy is the poll loop, so history stays the same size however
// long the wait, and no worker slot is held between polls. Two things around it:
//
// - A fast path: on the first attempt (and whenever the platform says the end is
//   seconds away) the activity describes again at a short interval for a few
//   seconds, heartbeating, before it throws "not ready". A wait that ends
//   quickly (a local job, an endpoint that was already settling) then ends
//   within that attempt instead of a retry later; the slot is held only those
//   seconds, and the history is the same (a retry adds no event).
// - Adaptive intervals: the "not ready" failure names its own next retry delay
//   (nextRetryDelay), which lengthens with the time already waited, shortens
//   when SageMaker reports the end is near (Uploading, Stopping) and never
//   sleeps past a training job's MaxRuntime. The run's retry policy
//   (initialInterval, maximumInterval: the poll input or the platform's
//   suggestion) bounds it.
import { Context } from '@temporalio/activity';
import { msOptionalToNumber } from '@temporalio/common/lib/time';
import { notReady } from '../aws/errors';
import type { ActivityEnv } from './context';

/** The fraction of the time already waited that the next poll may wait: the detection lag stays within it. */
export const WAITED_FRACTION = 0.2;
/** How long the fast path keeps describing before it throws "not ready". */
export const FAST_PATH_MS = 5_000;
/** The fast path's interval: a tenth of the poll's first interval, within these bounds. */
const FAST_INTERVAL = { minMs: 100, maxMs: 1_000 };
/** Used when no retry policy is known (a call outside a worker): AWS pace. */
const FALLBACK_POLICY: PollPolicy = { initialMs: 10_000, maxMs: 60_000 };
/** After a job's MaxRuntime, SageMaker takes a moment to stop it. */
const MAX_RUNTIME_MARGIN_MS = 5_000;

export interface PollPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * Where a resource is in its change, as far as waiting goes:
 * `starting` (provisioning, downloading: the work itself is still ahead),
 * `running` (training, creating, updating), `finishing` (uploading the model,
 * stopping: the end is seconds to a minute away).
 */
export type WaitPhase = 'starting' | 'running' | 'finishing';

export interface WaitFacts {
  /** Since the wait began (the first attempt was scheduled). */
  waitedMs: number;
  phase: WaitPhase;
  /** Until the platform ends the work whatever happens (a training job's MaxRuntime), when known. */
  untilForcedEndMs?: number;
}

/**
 * The next poll's delay: a fraction of the time already waited, within the
 * policy's bounds; the first interval when the end is near; half the cap while
 * a job is still starting (a container that fails, fails early in training);
 * never much past a forced end.
 */
export function nextPollDelayMs(policy: PollPolicy, facts: WaitFacts): number {
  const { initialMs, maxMs } = policy;
  if (facts.phase === 'finishing') return initialMs;
  const cap = facts.phase === 'starting' ? Math.max(initialMs, maxMs / 2) : maxMs;
  let delay = Math.min(cap, Math.max(initialMs, facts.waitedMs * WAITED_FRACTION));
  if (facts.untilForcedEndMs !== undefined) {
    delay = Math.min(delay, Math.max(initialMs, facts.untilForcedEndMs + MAX_RUNTIME_MARGIN_MS));
  }
  return Math.round(delay);
}

/** What the platform reports about a training job's SecondaryStatus, as a wait phase. */
export function trainingPhase(secondaryStatus: string | undefined, status: string | undefined): WaitPhase {
  if (status === 'Stopping') return 'finishing';
  switch (secondaryStatus) {
    case 'Uploading':
    case 'Stopping':
    case 'MaxRuntimeExceeded':
    case 'MaxWaitTimeExceeded':
    case 'Completed':
      return 'finishing';
    case 'Training':
    case 'Interrupted':
    case 'Updating':
      return 'running';
    default:
      // Starting, Pending, LaunchingMLInstances, PreparingTrainingStack, Downloading, DownloadingTrainingImage, Restarting.
      return 'starting';
  }
}

/** The poll bounds and the start of the wait, from the activity's own info (the run's retry policy). */
export function waitClock(now: () => number = Date.now): { policy: PollPolicy; startedAtMs: number; attempt: number } {
  let info: Context['info'] | undefined;
  try {
    info = Context.current().info;
  } catch {
    info = undefined;
  }
  const initialMs = msOptionalToNumber(info?.retryPolicy?.initialInterval) ?? FALLBACK_POLICY.initialMs;
  const maxMs = msOptionalToNumber(info?.retryPolicy?.maximumInterval) ?? Math.max(initialMs, FALLBACK_POLICY.maxMs);
  return {
    policy: { initialMs, maxMs: Math.max(initialMs, maxMs) },
    startedAtMs: info?.scheduledTimestampMs || now(),
    attempt: info?.attempt ?? 1,
  };
}

export function fastIntervalMs(policy: PollPolicy): number {
  return Math.min(FAST_INTERVAL.maxMs, Math.max(FAST_INTERVAL.minMs, Math.round(policy.initialMs / 10)));
}

/** One look at the resource: its result, or what it is doing now. */
export type Check<T> =
  | { done: true; value: T }
  | { done: false; status: string; phase: WaitPhase; detail?: string; untilForcedEndMs?: number };

export interface WaitOptions<T> {
  env: ActivityEnv;
  /** e.g. `training job claims-1a2b-train`: named in "not ready". */
  resource: string;
  /** Describes once; returns the result, throws a terminal failure, or says it is still in progress. */
  check: () => Promise<Check<T>>;
  now?: () => number;
  /** Overrides for tests; default FAST_PATH_MS. */
  fastPathMs?: number;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Checks the resource; on the first attempt, or when it is finishing, checks
 * again at a short interval for a few seconds; then throws "not ready" with
 * the next poll's delay.
 */
export async function waitOnce<T>(opts: WaitOptions<T>): Promise<T> {
  const now = opts.now ?? Date.now;
  const clock = waitClock(now);
  const fastPathMs = opts.fastPathMs ?? FAST_PATH_MS;
  const began = now();
  let checks = 0;
  for (;;) {
    const c = await opts.check();
    checks++;
    if (c.done) return c.value;
    const inFastPath = (clock.attempt === 1 || c.phase === 'finishing') && now() - began < fastPathMs;
    if (!inFastPath) {
      const waitedMs = Math.max(0, now() - clock.startedAtMs);
      const delay = nextPollDelayMs(clock.policy, {
        waitedMs,
        phase: c.phase,
        ...(c.untilForcedEndMs !== undefined ? { untilForcedEndMs: c.untilForcedEndMs } : {}),
      });
      throw notReady({
        resource: opts.resource,
        status: c.status,
        poll: clock.attempt,
        nextRetryDelayMs: delay,
        ...(c.detail ? { detail: c.detail } : {}),
      });
    }
    opts.env.heartbeat({ status: c.status, checks });
    await pause(fastIntervalMs(clock.policy), opts.env.signal);
  }
}
