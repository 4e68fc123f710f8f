// dataWatcher: retrain exactly once per new data. On its schedule it
// fingerprints the training inputs (S3 keys, ETags and sizes; content hashes
// for file://) and starts trainingPipeline under a workflow id derived from
// the pipeline and the fingerprint, with REJECT_DUPLICATE: two watchers that
// race on the same new data start one run, and data already trained on (or
// being trained on) starts nothing. A check that finds nothing new is one
// activity and one refused child start: a handful of history events.
import * as wf from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { DataActivities } from '../activities/types';
import { ErrorTypes, SEARCH_ATTRIBUTE_KEYS } from '../shared';
import type { PipelineInput } from './messages';
import { CONTROL_OPTIONS } from './options';
import { trainingPipeline } from './pipeline';

export const WATCHER_WORKFLOW = 'dataWatcher';

export type WatchOutcome = 'started' | 'skipped-seen';

export interface WatchResult {
  /** `started`: new data, a pipeline run started; `skipped-seen`: a run for this fingerprint exists (running or done). */
  outcome: WatchOutcome;
  pipeline: string;
  fingerprint: string;
  objects: number;
  bytes: number;
  /** The pipeline run of this fingerprint: the one started now, or the one that had it. */
  pipelineWorkflowId: string;
  reason: string;
}

/** The pipeline run's id for one fingerprint of one pipeline: the same data always names the same run. */
export function pipelineIdForData(pipeline: string, fingerprint: string): string {
  return `${pipeline}-data-${fingerprint.replace(/[^a-f0-9]/gi, '').slice(0, 24)}`;
}

export async function dataWatcher(input: PipelineInput): Promise<WatchResult> {
  const spec = input?.spec;
  if (typeof spec?.name !== 'string' || !Array.isArray(spec.training?.inputs) || spec.training.inputs.length === 0) {
    throw wf.ApplicationFailure.nonRetryable('input.spec must be a validated pipeline spec with training.inputs (champ schedule apply gives one)', ErrorTypes.InvalidInput, {
      field: 'input.spec',
    });
  }
  const data = wf.proxyActivities<DataActivities>({ ...CONTROL_OPTIONS, startToCloseTimeout: '15m', heartbeatTimeout: '1m' });
  const seen = await data.fingerprintData({ inputs: spec.training.inputs });
  const pipelineWorkflowId = pipelineIdForData(spec.name, seen.fingerprint);
  const facts = { pipeline: spec.name, fingerprint: seen.fingerprint, objects: seen.objects, bytes: seen.bytes, pipelineWorkflowId };
  let result: WatchResult;
  try {
    await wf.startChild(trainingPipeline, {
      workflowId: pipelineWorkflowId,
      args: [{ spec, trigger: 'schedule', requestedBy: input.requestedBy ?? `watcher ${wf.workflowInfo().workflowId}`, ...(input.poll ? { poll: input.poll } : {}) }],
      // Never a second run for the same data, whether the first is still running or long done.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      // The pipeline outlives this check: it may wait a day for an approval.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    result = { outcome: 'started', ...facts, reason: `new data (${seen.objects} objects, ${seen.bytes} bytes): started ${pipelineWorkflowId}` };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    result = { outcome: 'skipped-seen', ...facts, reason: `data unchanged: ${pipelineWorkflowId} already ran (or runs) on fingerprint ${seen.fingerprint.slice(0, 12)}` };
  }
  wf.upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name },
    { key: SEARCH_ATTRIBUTE_KEYS.outcome, value: result.outcome },
  ]);
  wf.log.info('data watcher checked', { pipeline: spec.name, outcome: result.outcome, pipelineWorkflowId });
  return result;
}
