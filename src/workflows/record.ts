// What a run tells the world while it runs and when it ends: the status query,
// the search attributes, the resources it created, its warnings and its result.
import * as wf from '@temporalio/workflow';
import type { BuildImageResult, ChampionInfo, RegisteredCandidate, TrainingResult } from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import { SEARCH_ATTRIBUTE_KEYS } from '../shared';
import { MAX_PIPELINE_NAME } from './input';
import { recordEnd, recordStage } from './metrics';
import type {
  ApprovalDecision,
  CreatedResource,
  PipelineEnd,
  PipelineInput,
  PipelineOutcome,
  PipelineResult,
  PipelineStage,
  PipelineStatus,
  ResourceKind,
  StageTiming,
} from './messages';

/** What the run has made so far, for its result. */
export interface RunFacts {
  image?: BuildImageResult;
  training?: TrainingResult;
  candidate?: RegisteredCandidate;
  decision?: ApprovalDecision;
  /** Set once the endpoint took the new config. */
  deployed?: { endpointName: string; endpointConfigName: string };
}

export class RunRecord {
  readonly status: PipelineStatus;
  private readonly created: CreatedResource[] = [];
  private readonly warnings: string[] = [];

  constructor(input: PipelineInput) {
    // Read before validation, so the status names the pipeline from the start.
    const raw = input.spec as Partial<PipelineSpec> | undefined;
    this.status = {
      stage: 'starting',
      pipeline: typeof raw?.name === 'string' ? raw.name : '',
      trigger: input.trigger ?? 'manual',
      requestedBy: input.requestedBy,
      candidate: { metrics: [] },
      champion: null,
      resources: { endpoint: raw?.deployment?.endpointName ?? '' },
      logs: {},
      timings: [],
      ignoredSignals: 0,
    };
  }

  /** Makes the run findable by its pipeline's name, when the input gives one. */
  announce(limitLength: boolean): void {
    const name = this.status.pipeline;
    // A name longer than the spec allows is refused by validateSpec, which names the field; as a
    // search attribute it would fail the run first, without saying why (limited since 'input-check').
    if (name && !(limitLength && name.length > MAX_PIPELINE_NAME)) wf.upsertSearchAttributes([{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: name }]);
  }

  async stage<T>(stage: PipelineStage, fn: () => Promise<T>): Promise<T> {
    this.closeOpenTiming();
    this.status.stage = stage;
    const timing: StageTiming = { stage, startedAt: new Date().toISOString() };
    this.status.timings.push(timing);
    wf.upsertSearchAttributes([{ key: SEARCH_ATTRIBUTE_KEYS.stage, value: stage }]);
    wf.log.info(`stage ${stage}`, { pipeline: this.status.pipeline });
    const result = await fn();
    timing.endedAt = new Date().toISOString();
    recordStage(this.status.pipeline, timing);
    return result;
  }

  closeOpenTiming(): void {
    const last = this.status.timings[this.status.timings.length - 1];
    if (last && !last.endedAt) last.endedAt = new Date().toISOString();
  }

  track(kind: ResourceKind, name: string): void {
    this.created.push({ kind, name });
  }

  markDeleted(kind: ResourceKind, name: string): void {
    for (const r of this.created) if (r.kind === kind && r.name === name) r.deleted = true;
  }

  /** Logged now and returned with the result. */
  warn(message: string): void {
    wf.log.warn(message);
    this.note(message);
  }

  /** Returned with the result (the caller logged it already). */
  note(message: string): void {
    this.warnings.push(message);
  }

  noteChampion(champion: ChampionInfo | null): void {
    this.status.champion = champion ? { version: champion.version, metrics: champion.metrics } : null;
  }

  end(outcome: PipelineEnd, reason?: string): void {
    this.status.stage = 'done';
    this.status.outcome = outcome;
    this.status.reason = reason;
    wf.upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTE_KEYS.stage, value: 'done' },
      { key: SEARCH_ATTRIBUTE_KEYS.outcome, value: outcome },
    ]);
    wf.log.info(`pipeline ${outcome}`, { pipeline: this.status.pipeline, reason });
    recordEnd(this.status);
  }

  /** Ends the run with a result. */
  finish(outcome: PipelineOutcome, reason: string | undefined, facts: RunFacts): PipelineResult {
    this.end(outcome, reason);
    const { training, candidate, decision } = facts;
    return {
      outcome,
      reason,
      modelVersion: candidate?.version,
      modelPackageArn: candidate?.modelPackageArn,
      imageUri: facts.image?.imageUri,
      trainingJobName: training?.jobName,
      endpointName: facts.deployed?.endpointName,
      endpointConfigName: facts.deployed?.endpointConfigName,
      metrics: training?.metrics,
      gate: this.status.gate,
      approval: decision ? { decision: decision.decision, reviewer: decision.reviewer, comment: decision.comment, via: decision.via } : undefined,
      resourcesCreated: this.created,
      logs: this.status.logs,
      timings: this.status.timings.map((t) => ({ ...t, endedAt: t.endedAt ?? t.startedAt })),
      warnings: this.warnings,
      ...(this.status.deployment ? { deployment: this.status.deployment } : {}),
    };
  }
}
