// The run's metrics, recorded through the workflow metric meter: the SDK
// drops them while a run replays, so a replay counts nothing twice and adds no
// command to the history. Exported by the worker's Prometheus endpoint.
import { metricMeter } from '@temporalio/workflow';
import { METRICS } from '../observability/names';
import type { PipelineStatus, StageTiming } from './messages';

function seconds(timing: StageTiming): number | undefined {
  if (!timing.endedAt) return undefined;
  const ms = Date.parse(timing.endedAt) - Date.parse(timing.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/** A stage has ended: its duration, and for the approval stage the wait. */
export function recordStage(pipeline: string, timing: StageTiming): void {
  const duration = seconds(timing);
  if (duration === undefined) return;
  metricMeter.createHistogram(METRICS.stageDuration, 'float', 's', 'How long each pipeline stage took').record(duration, { pipeline, stage: timing.stage });
  if (timing.stage === 'awaiting-approval') {
    metricMeter.createHistogram(METRICS.approvalWait, 'float', 's', 'How long a candidate waited for its approval decision').record(duration, { pipeline });
  }
}

/** The run has ended: its outcome, whether the gate rejected it, whether it rolled back. */
export function recordEnd(status: PipelineStatus): void {
  const pipeline = status.pipeline || 'unknown';
  metricMeter.createCounter(METRICS.pipelines, '1', 'Pipeline runs that ended, by outcome').add(1, { pipeline, outcome: status.outcome ?? 'unknown' });
  if (status.gate && !status.gate.passed) {
    metricMeter.createCounter(METRICS.gateRejections, '1', 'Runs whose candidate the quality gate rejected').add(1, { pipeline });
  }
  if (status.outcome === 'rolled-back' || status.timings.some((t) => t.stage === 'rolling-back')) {
    metricMeter.createCounter(METRICS.rollbacks, '1', 'Deployments rolled back after verification failed').add(1, { pipeline });
  }
}
