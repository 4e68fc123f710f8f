// The pipeline's public shapes and messages: what a client sends, queries and
// gets back. Pure: imported by the workflow and, through index.ts, by clients.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MetricValue } from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import type { DeploymentOutcomeKind } from './endpoint/messages';
import type { GateResult } from './gate';

/** How a run ended when it returned a result. */
export type PipelineOutcome =
  | 'deployed'
  | 'rejected-by-gate'
  | 'rejected-by-reviewer'
  | 'approval-timed-out'
  | 'rolled-back'
  | 'skipped-data-unchanged'
  /** Another run of the pipeline deployed to the endpoint after this one: its candidate was neither rolled back nor made champion. */
  | 'superseded'
  /** The endpoint was frozen and the spec's deployment.whenFrozen said not to wait: the approved candidate was not deployed. */
  | 'endpoint-frozen';

/** How a run ended, including the ends where the workflow fails or is cancelled (no result). */
export type PipelineEnd = PipelineOutcome | 'failed' | 'cancelled';

export type PipelineStage =
  | 'starting'
  | 'validating'
  | 'building'
  | 'fingerprinting'
  | 'training'
  | 'gating'
  | 'registering'
  | 'awaiting-approval'
  | 'deploying'
  | 'awaiting-endpoint'
  | 'verifying'
  | 'rolling-back'
  | 'promoting'
  | 'compensating'
  | 'done';

export type PipelineTrigger = 'manual' | 'schedule';

export interface PipelineInput {
  spec: PipelineSpec;
  trigger?: PipelineTrigger;
  /** Who started the run (a user name, or the schedule id). Recorded, never trusted for approval. */
  requestedBy?: string;
  /** Retry-as-poll intervals for the long waits; defaults 10 s growing to 300 s (AWS), each wait picking its interval within them. Local runs pass about 1 s. */
  poll?: { initialSeconds?: number; maxSeconds?: number };
}

export interface StageTiming {
  stage: PipelineStage;
  startedAt: string;
  /** Absent while the stage runs. */
  endedAt?: string;
}

export type ResourceKind = 'image' | 'training-job' | 'model-package' | 'model' | 'endpoint-config' | 'endpoint';

export interface CreatedResource {
  kind: ResourceKind;
  name: string;
  /** True when a rollback or compensation removed it again. */
  deleted?: boolean;
}

export type ApprovalVia = 'update' | 'signal' | 'timeout' | 'auto';

export interface ApprovalDecision {
  decision: 'approved' | 'rejected';
  reviewer: string;
  comment: string;
  modelVersion: number;
  via: ApprovalVia;
}

/** The run's request to its endpoint's entity (runs started before the entity existed deploy on their own). */
export interface DeploymentRequestView {
  /** The endpoint entity's workflow id. */
  entityId: string;
  requestId: string;
  /** Until it ends: queued behind `ahead` others, or running. */
  state: 'queued' | 'running' | 'done';
  ahead: number;
  outcome?: DeploymentOutcomeKind;
  reason?: string;
}

export interface PipelineResult {
  outcome: PipelineOutcome;
  reason?: string;
  modelVersion?: number;
  modelPackageArn?: string;
  imageUri?: string;
  trainingJobName?: string;
  endpointName?: string;
  endpointConfigName?: string;
  metrics?: MetricValue[];
  gate?: GateResult;
  approval?: { decision: ApprovalDecision['decision']; reviewer: string; comment: string; via: ApprovalVia };
  resourcesCreated: CreatedResource[];
  /** Where to read the training job's and the endpoint's logs. */
  logs: { training?: string; endpoint?: string };
  timings: Array<Required<StageTiming>>;
  /** Things that went wrong without changing the outcome (e.g. old versions not cleaned up). */
  warnings: string[];
  /** The deployment request to the endpoint's entity, and how it ended. */
  deployment?: DeploymentRequestView;
}

export interface ApprovalStatus {
  required: boolean;
  awaiting: boolean;
  modelVersion?: number;
  /** ISO time at which spec.approval.onTimeout applies. */
  deadline?: string;
  decision?: ApprovalDecision['decision'];
  reviewer?: string;
}

export interface PipelineStatus {
  stage: PipelineStage;
  outcome?: PipelineEnd;
  reason?: string;
  pipeline: string;
  trigger: PipelineTrigger;
  requestedBy?: string;
  candidate: { version?: number; metrics: MetricValue[] };
  /** Null until the gate looked the champion up, and when there is none. */
  champion: { version?: number; metrics: MetricValue[] } | null;
  gate?: GateResult;
  approval?: ApprovalStatus;
  resources: {
    imageUri?: string;
    trainingJob?: string;
    model?: string;
    endpointConfig?: string;
    endpoint: string;
    /** The config the endpoint served before this run's deployment (absent: it did not exist). */
    previousEndpointConfig?: string;
    modelPackageArn?: string;
  };
  /** Where to read the training job's and the endpoint's logs. */
  logs: { training?: string; endpoint?: string };
  timings: StageTiming[];
  /** Approval signals that arrived when no approval was awaited or named another version. */
  ignoredSignals: number;
  /** The deployment request to the endpoint's entity, once made. */
  deployment?: DeploymentRequestView;
}

export interface ApproveInput {
  modelVersion: number;
  reviewer: string;
  comment?: string;
}

export interface RejectInput {
  modelVersion: number;
  reviewer: string;
  reason: string;
}

/** For the Web UI and `temporal workflow signal`, which cannot send updates. */
export interface ApprovalSignalInput {
  approved: boolean;
  reviewer?: string;
  comment?: string;
  /** When given, the signal only counts for that version. */
  modelVersion?: number;
}

export const statusQuery = defineQuery<PipelineStatus>('status');
export const approveUpdate = defineUpdate<ApprovalDecision, [ApproveInput]>('approve');
export const rejectUpdate = defineUpdate<ApprovalDecision, [RejectInput]>('reject');
export const approvalSignal = defineSignal<[ApprovalSignalInput]>('approval');
