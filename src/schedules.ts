// Temporal Schedules for pipelines: a spec's `schedule` section becomes one
// Schedule, `champ-<name>`, that starts `trainingPipeline` (or, with schedule.watch, the data watcher) with trigger
// 'schedule'. Temporal Schedules replace cron and CloudWatch rules.
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { PIPELINE_WORKFLOW, SEARCH_ATTRIBUTE_KEYS } from './shared';
import type { PipelineSpec, ScheduleSpecType } from './spec/schema';
import type { PipelineInput } from './workflows';

/** The workflow a watching schedule starts (src/workflows/watcher.ts): one pipeline run per new data fingerprint. */
export const WATCHER_WORKFLOW = 'dataWatcher';

export const SCHEDULE_ID_PREFIX = 'champ-';

/**
 * Runs missed while the server was down are taken when it is back only if at
 * most this late. A retraining run hours late would compete with the next
 * one on the same data, so a missed run is skipped rather than replayed;
 * `champ schedule trigger` (or a backfill) starts one by hand.
 */
export const CATCHUP_WINDOW = '1 minute';

export const OVERLAP_POLICY: Record<ScheduleSpecType['overlap'], ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

export function scheduleIdFor(pipelineName: string): string {
  return `${SCHEDULE_ID_PREFIX}${pipelineName}`;
}

/** Thrown for a spec with no `schedule` section: nothing to schedule. */
export class NoScheduleError extends Error {
  override name = 'NoScheduleError';
  constructor(readonly pipeline: string) {
    super(`pipeline "${pipeline}" has no schedule: add schedule.cron (e.g. "0 3 * * 1") to its spec`);
  }
}

/**
 * What a schedule's memo holds. Only the name: a memo cannot be changed by an
 * update, so the cron is read from the action's spec, which always is current.
 */
export type ScheduleMemo = {
  pipeline: string;
};

// Typed by the workflow, so `args` must be its input. The type goes by name:
// a schedule's action is stored, and described back, with the name only.
// trainingPipeline or dataWatcher: both take a PipelineInput.
type PipelineAction = ScheduleOptionsStartWorkflowAction<(input: PipelineInput) => Promise<unknown>>;

/** Whether the spec's schedule starts the data watcher rather than the pipeline itself. */
export function watchesData(spec: PipelineSpec): boolean {
  return spec.schedule?.watch?.enabled === true;
}

/** The Schedule that runs `spec` on its cron. Pure. */
export function scheduleOptionsFor(spec: PipelineSpec, opts: { taskQueue: string }): ScheduleOptions<PipelineAction> {
  const schedule = spec.schedule;
  if (!schedule) throw new NoScheduleError(spec.name);
  const scheduleId = scheduleIdFor(spec.name);
  const input: PipelineInput = { spec, trigger: 'schedule', requestedBy: `schedule ${scheduleId}` };
  const memo: ScheduleMemo = { pipeline: spec.name };
  return {
    scheduleId,
    spec: { cronExpressions: [schedule.cron.trim()], ...(schedule.timezone ? { timezone: schedule.timezone } : {}) },
    action: {
      type: 'startWorkflow',
      // Watching: each scheduled check fingerprints the data and starts the pipeline only for new data.
      workflowType: watchesData(spec) ? WATCHER_WORKFLOW : PIPELINE_WORKFLOW,
      taskQueue: opts.taskQueue,
      // Temporal appends the scheduled time, so every run has its own id.
      workflowId: watchesData(spec) ? `${spec.name}-watch` : `${spec.name}-scheduled`,
      args: [input],
      typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name }],
    },
    policies: { overlap: OVERLAP_POLICY[schedule.overlap], catchupWindow: CATCHUP_WINDOW },
    memo,
  };
}

/**
 * Creates the pipeline's schedule, or brings an existing one in line with the
 * spec (cron, time zone, action, policies). Its paused state and note are
 * kept: applying a changed spec does not resume a schedule someone paused.
 */
export async function applySchedule(client: Client, spec: PipelineSpec, taskQueue: string): Promise<'created' | 'updated'> {
  const options = scheduleOptionsFor(spec, { taskQueue });
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(options.scheduleId).update(
    (previous: ScheduleDescription): ScheduleUpdateOptions<PipelineAction> => ({
      spec: options.spec,
      action: options.action,
      policies: options.policies,
      state: { paused: previous.state.paused, note: previous.state.note, remainingActions: previous.state.remainingActions },
    }),
  );
  return 'updated';
}
