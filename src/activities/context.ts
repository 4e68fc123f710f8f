// What an activity needs from Temporal's activity context, with a fallback so
// the same functions also run outside a worker (scripts, plain unit tests).
import { Context } from '@temporalio/activity';
import type { Logger, LogMetadata } from '@temporalio/common';

export interface ActivityEnv {
  /** Carries workflow id, run id, activity type and attempt when inside an activity. */
  log: Logger;
  /** 1 on the first attempt; for a check-once-and-throw activity, the poll number. */
  attempt: number;
  heartbeat(details?: unknown): void;
  /** Aborted when Temporal cancels the activity (delivered through heartbeats). */
  signal?: AbortSignal;
}

const silent: Logger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function activityEnv(fallback?: Logger): ActivityEnv {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined;
  }
  if (!ctx) {
    return { log: fallback ?? silent, attempt: 1, heartbeat: () => undefined };
  }
  const current = ctx;
  return {
    log: current.log,
    attempt: current.info.attempt,
    heartbeat: (details?: unknown) => current.heartbeat(details),
    signal: current.cancellationSignal,
  };
}

export type { Logger, LogMetadata };
