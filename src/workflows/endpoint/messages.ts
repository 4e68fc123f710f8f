// The endpoint entity's public shapes and messages: what a pipeline, an
// operator or the `champ endpoint` commands send it, query and get back. Pure:
// imported by the entity, the pipeline, the activity that reaches the entity,
// and clients.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeploymentSpec } from '../../spec/schema';
import type { CreatedResource } from '../messages';

/** The entity's workflow type, for starts by name (the activity that reaches it does not import workflow code). */
export const ENDPOINT_WORKFLOW = 'endpointWorkflow';
export const ENDPOINT_ID_PREFIX = 'champ-endpoint/';

/**
 * Where an endpoint lives: its AWS region, or `local-<port>` for a local
 * control plane (two local control planes stand for two accounts). The
 * worker's activities and the client compute it from the same settings.
 */
export function endpointScope(where: { local: boolean; region?: string; sagemakerEndpoint?: string }): string {
  if (where.local) {
    const port = where.sagemakerEndpoint ? portOf(where.sagemakerEndpoint) : undefined;
    return port ? `local-${port}` : 'local';
  }
  return where.region ?? 'us-east-1';
}

function portOf(url: string): string | undefined {
  const m = /^[a-z]+:\/\/[^/]*:([0-9]+)(\/|$)/i.exec(url);
  return m?.[1];
}

/** The entity's workflow id: one per endpoint, per account and region. */
export function endpointEntityId(scope: string, endpointName: string): string {
  return `${ENDPOINT_ID_PREFIX}${scope}/${endpointName}`;
}

/** What the entity needs to deploy one model to its endpoint, and to deploy it again on a rollback. */
export interface EndpointPlan {
  /** The pipeline whose model this is: its resources are named after it, and its cleanup counts them. */
  pipeline: string;
  model: string;
  endpointConfig: string;
  imageUri: string;
  modelArtifact: string;
  roleArn: string;
  deployment: DeploymentSpec;
  /** The deploy deadline (the spec's timeouts.deploy). */
  deployTimeout: string;
  tags: Record<string, string>;
}

/** What a spec says a request does while the endpoint is frozen. */
export type WhenFrozen = 'wait' | 'fail';

export interface DeploymentRequest {
  /** Deduplicates: the same id sent twice is one request (a retried activity, a client sending again). */
  requestId: string;
  plan: EndpointPlan;
  /** The run that asked: the entity signals it the outcome (absent for an operator's request). */
  requester?: { workflowId: string; runId?: string };
  requestedBy: string;
  approvedBy?: string;
  modelVersion?: number;
  modelPackageArn?: string;
  /** With modelPackageArn: the champion is recorded in this group once the model serves. */
  modelPackageGroup?: string;
  whenFrozen?: WhenFrozen;
  /** Retry-as-poll intervals for the endpoint waits, in milliseconds. */
  poll: { initialMs: number; maxMs: number };
}

export type RequestKind = 'deploy' | 'rollback';

/** How a request ended. */
export type DeploymentOutcomeKind =
  | 'deployed'
  /** It failed verification and the endpoint was put back. */
  | 'rolled-back'
  /** Something outside the entity changed the endpoint meanwhile: it was left as it is. */
  | 'superseded'
  /** It could not be deployed or put back: see the reason. */
  | 'failed'
  /** The endpoint is frozen and the request said not to wait. */
  | 'refused'
  /** Withdrawn by its requester (a cancelled run) before or while it ran; the endpoint was put back. */
  | 'withdrawn';

export interface DeploymentOutcome {
  requestId: string;
  entityId: string;
  outcome: DeploymentOutcomeKind;
  reason?: string;
  endpointConfigName: string;
  /** The config that served before (absent when the endpoint was created). */
  previousConfigName?: string;
  /** What the deployment made, and what it deleted again. */
  resources: CreatedResource[];
  logs?: string;
  warnings: string[];
}

export interface RequestAccepted {
  requestId: string;
  entityId: string;
  /** `done`: a request with this id already ended (its outcome is here). */
  state: 'queued' | 'running' | 'done';
  /** Requests ahead of this one, the running one included (0 when it runs or is done). */
  ahead: number;
  outcome?: DeploymentOutcome;
}

/** One line of the endpoint's log: what served when, who asked and who approved. */
export interface EndpointLogEntry {
  seq: number;
  requestId: string;
  kind: RequestKind;
  pipeline: string;
  modelVersion?: number;
  modelPackageArn?: string;
  imageUri: string;
  model: string;
  endpointConfig: string;
  requestedBy: string;
  approvedBy?: string;
  requester?: { workflowId: string; runId?: string };
  /** For a rollback: the request whose deployment it put back. */
  rollbackOf?: string;
  outcome?: DeploymentOutcomeKind;
  reason?: string;
  enqueuedAt: string;
  startedAt?: string;
  endedAt?: string;
}

export interface FrozenState {
  reason: string;
  by: string;
  at: string;
}

export interface EndpointEntityStatus {
  endpointName: string;
  scope: string;
  entityId: string;
  frozen?: FrozenState;
  /** The request running now. */
  current?: EndpointLogEntry;
  /** Waiting, in the order they will run. */
  queue: EndpointLogEntry[];
  /** The deployment that serves and passed verification. */
  lastGood?: EndpointLogEntry;
  /** The newest entries of the log, oldest first. */
  logTail: EndpointLogEntry[];
  /** Requests taken since the entity started. */
  requests: number;
  /** Runs of the entity so far (continue-as-new starts a new one). */
  run: number;
}

export interface RollbackInput {
  by: string;
  reason?: string;
  /** A request id or an endpoint config name from the log; default the previous good deployment. */
  to?: string;
  /** Deduplicates, like a deployment's request id; default derived from the update. */
  requestId?: string;
}

export interface FreezeInput {
  by: string;
  reason: string;
}

export interface UnfreezeInput {
  by: string;
  reason?: string;
}

export interface CancelDeploymentInput {
  requestId: string;
  reason: string;
}

/** What is carried from one run of the entity to the next. */
export interface EndpointEntityState {
  seq: number;
  run: number;
  queue: Array<{ request: DeploymentRequest; entry: EndpointLogEntry }>;
  /** Log entries with the plans they deployed (a rollback deploys a plan again), oldest first. */
  log: Array<{ entry: EndpointLogEntry; plan: EndpointPlan; modelPackageGroup?: string; poll: DeploymentRequest['poll'] }>;
  frozen?: FrozenState;
  /** Request ids seen lately, oldest first, with their outcome once they ended. */
  seen: Array<{ requestId: string; outcome?: DeploymentOutcome }>;
  /** Outcomes still to be signalled to their requesters. */
  outbox: Array<{ requester: { workflowId: string; runId?: string }; outcome: DeploymentOutcome }>;
}

export interface EndpointEntityInput {
  endpointName: string;
  scope: string;
  /** Carried across continue-as-new; absent on the first run. */
  state?: EndpointEntityState;
  /** Continue as new once the history holds this many events (default 5000; the server may suggest it earlier). */
  maxHistoryEvents?: number;
}

export const requestDeploymentUpdate = defineUpdate<RequestAccepted, [DeploymentRequest]>('requestDeployment');
export const rollbackUpdate = defineUpdate<RequestAccepted, [RollbackInput]>('rollback');
export const freezeUpdate = defineUpdate<EndpointEntityStatus, [FreezeInput]>('freeze');
export const unfreezeUpdate = defineUpdate<EndpointEntityStatus, [UnfreezeInput]>('unfreeze');
export const cancelDeploymentSignal = defineSignal<[CancelDeploymentInput]>('cancelDeployment');
export const endpointStatusQuery = defineQuery<EndpointEntityStatus>('status');
export const endpointHistoryQuery = defineQuery<EndpointLogEntry[]>('history');
/** Sent by the entity to the run that asked, when its request ends. */
export const deploymentOutcomeSignal = defineSignal<[DeploymentOutcome]>('deploymentOutcome');
