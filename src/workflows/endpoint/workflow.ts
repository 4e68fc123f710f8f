// endpointWorkflow: one long-lived workflow per endpoint (per account and
// region). Deployment requests arrive as updates (update-with-start), run one
// at a time in arrival order; each creates the model and config, creates or
// updates the endpoint, waits, verifies and rolls back on failure (the
// pipeline's own Deployment, ../deployment.ts), then records the champion and
// cleans up old versions: here only, so nothing is deleted while another
// deployment to this endpoint uses it. It continues as new before its history
// grows large, carrying its state (./book.ts).
import * as wf from '@temporalio/workflow';
import { Deployment, Superseded } from '../deployment';
import { describe } from '../failures';
import type { CreatedResource, ResourceKind } from '../messages';
import { controlActivities, endpointWaitActivities } from '../options';
import { Saga } from '../saga';
import { EndpointBook } from './book';
import {
  cancelDeploymentSignal,
  deploymentOutcomeSignal,
  endpointHistoryQuery,
  endpointStatusQuery,
  freezeUpdate,
  requestDeploymentUpdate,
  rollbackUpdate,
  unfreezeUpdate,
  type DeploymentOutcome,
  type EndpointEntityInput,
  type EndpointEntityState,
} from './messages';

/**
 * The entity's patches (CONTRIBUTING.md, "The rule for workflow changes").
 * - `entity-checks-serving`: right before the champion is recorded, the
 *   endpoint is checked to still serve the deployment (a change made outside
 *   the entity may have replaced it); if not, the request ends superseded.
 */
export const ENTITY_PATCHES = { checksServing: 'entity-checks-serving' } as const;

/** History events after which the entity continues as new, unless its input says otherwise. */
export const DEFAULT_MAX_HISTORY_EVENTS = 5000;

type Outcome = Omit<DeploymentOutcome, 'requestId' | 'entityId'>;
type Queued = EndpointEntityState['queue'][number];

export async function endpointWorkflow(input: EndpointEntityInput): Promise<void> {
  const book = new EndpointBook(input);
  wf.setHandler(requestDeploymentUpdate, (req) => book.request(req), { validator: (req) => book.validateRequest(req) });
  wf.setHandler(rollbackUpdate, (req) => book.rollback(req, wf.currentUpdateInfo()?.id ?? `${book.status().requests + 1}`), { validator: (req) => book.validateRollback(req) });
  wf.setHandler(freezeUpdate, (req) => book.freeze(req), { validator: (req) => book.validateFreeze(req) });
  wf.setHandler(unfreezeUpdate, () => book.unfreeze(), { validator: (req) => book.validateUnfreeze(req) });
  wf.setHandler(cancelDeploymentSignal, (req) => book.cancel(req));
  wf.setHandler(endpointStatusQuery, () => book.status());
  wf.setHandler(endpointHistoryQuery, () => book.history());

  const limit = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const tooLong = (): boolean => {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= limit;
  };
  // At least one request runs per run, so a small limit still makes progress.
  let ranOne = false;
  for (;;) {
    describeIdle(book);
    await wf.condition(() => book.hasOutbox || book.next() !== undefined || tooLong());
    if (book.hasOutbox) {
      await tell(book);
      continue;
    }
    const item = book.next();
    if (tooLong() && (ranOne || !item)) {
      await wf.condition(wf.allHandlersFinished);
      if (book.hasOutbox) continue;
      wf.log.info('continuing as new', { endpoint: book.endpointName, historyLength: wf.workflowInfo().historyLength });
      return wf.continueAsNew<typeof endpointWorkflow>({ ...input, state: book.carry() });
    }
    if (!item) continue;
    ranOne = true;
    await run(book, item);
  }
}

function describeIdle(book: EndpointBook): void {
  const s = book.status();
  const frozen = s.frozen ? `frozen by ${s.frozen.by}: ${s.frozen.reason} (champ endpoint unfreeze ${s.endpointName})` : 'accepting deployments';
  wf.setCurrentDetails(`endpoint ${s.endpointName}: ${frozen}; ${s.queue.length} waiting; serving ${s.lastGood?.endpointConfig ?? '(nothing verified yet)'}`);
}

/** Signals each ended request's run; a run that is gone does not hold up the queue. */
async function tell(book: EndpointBook): Promise<void> {
  for (const { requester, outcome } of book.takeOutbox()) {
    try {
      await wf.getExternalWorkflowHandle(requester.workflowId, requester.runId).signal(deploymentOutcomeSignal, outcome);
    } catch (err) {
      wf.log.warn('the requesting run could not be told the outcome', { requester: requester.workflowId, requestId: outcome.requestId, error: describe(err) });
    }
  }
}

/** Runs one request in its own cancellation scope, so a requester's withdrawal aborts it (and puts the endpoint back). */
async function run(book: EndpointBook, item: Queued): Promise<void> {
  const scope = new wf.CancellationScope();
  let withdrawn: string | undefined;
  book.start(item, (reason) => {
    withdrawn = reason;
    scope.cancel();
  });
  const { entry } = item;
  wf.setCurrentDetails(`endpoint ${book.endpointName}: ${entry.kind} ${entry.requestId} (${entry.endpointConfig}) for ${entry.requestedBy}`);
  wf.log.info(`${entry.kind} started`, { endpoint: book.endpointName, requestId: entry.requestId, config: entry.endpointConfig });
  let outcome: Outcome;
  try {
    outcome = await scope.run(() => deploy(item, () => withdrawn));
  } catch (err) {
    // deploy() ends every path with an outcome; a cancellation that reached past it still ends this request only.
    outcome = { outcome: withdrawn ? 'withdrawn' : 'failed', reason: withdrawn ?? describe(err), endpointConfigName: entry.endpointConfig, resources: [], warnings: [] };
  }
  const done = book.finish(item, outcome);
  wf.log.info(`${entry.kind} ${done.outcome}`, { endpoint: book.endpointName, requestId: entry.requestId, reason: done.reason });
}

/** What one deployment made and what went wrong, for its outcome (the pipeline's RunRecord plays this part in a run). */
class EntityRecorder {
  readonly status: { resources: { model?: string; endpointConfig?: string; previousEndpointConfig?: string }; logs: { endpoint?: string } } = { resources: {}, logs: {} };
  readonly created: CreatedResource[] = [];
  readonly warnings: string[] = [];

  track(kind: ResourceKind, name: string): void {
    this.created.push({ kind, name });
  }

  markDeleted(kind: ResourceKind, name: string): void {
    for (const r of this.created) if (r.kind === kind && r.name === name) r.deleted = true;
  }

  warn(message: string): void {
    wf.log.warn(message);
    this.note(message);
  }

  note(message: string): void {
    this.warnings.push(message);
  }
}

async function deploy(item: Queued, withdrawn: () => string | undefined): Promise<Outcome> {
  const { request } = item;
  const plan = request.plan;
  const control = controlActivities();
  const recorder = new EntityRecorder();
  const saga = new Saga((message) => recorder.note(message));
  const deployment = new Deployment(control, endpointWaitActivities(plan.deployTimeout, request.poll), saga, recorder, {
    spec: { name: plan.pipeline, deployment: plan.deployment, training: { roleArn: plan.roleArn }, timeouts: { deploy: plan.deployTimeout } },
    model: plan.model,
    endpointConfig: plan.endpointConfig,
    imageUri: plan.imageUri,
    modelArtifact: plan.modelArtifact,
    tags: plan.tags,
  });
  const ended = (outcome: Outcome['outcome'], reason?: string): Outcome => ({
    outcome,
    ...(reason ? { reason } : {}),
    endpointConfigName: plan.endpointConfig,
    ...(recorder.status.resources.previousEndpointConfig ? { previousConfigName: recorder.status.resources.previousEndpointConfig } : {}),
    resources: recorder.created,
    ...(recorder.status.logs.endpoint ? { logs: recorder.status.logs.endpoint } : {}),
    warnings: recorder.warnings,
  });
  try {
    await deployment.run();
    const failure = await deployment.verify(await deployment.settle());
    if (failure instanceof Superseded) {
      saga.clear();
      return ended('superseded', failure.reason);
    }
    if (failure) {
      wf.log.warn('verification failed, rolling back', { endpoint: plan.deployment.endpointName, kind: failure.kind, reason: failure.reason });
      // A withdrawal arriving now must not leave the endpoint half put back.
      await wf.CancellationScope.nonCancellable(() => saga.unwind(`rolled back: ${failure.reason}`, 'strict'));
      return ended(deployment.supersededBy ? 'superseded' : 'rolled-back', failure.reason);
    }
    // The endpoint serves a verified model: nothing after this point rolls it back.
    saga.clear();
    if (wf.patched(ENTITY_PATCHES.checksServing)) {
      // The champion record must name the model that serves.
      const replaced = await wf.CancellationScope.nonCancellable(() => deployment.stillServing());
      if (replaced) return ended('superseded', replaced.reason);
    }
    await wf.CancellationScope.nonCancellable(() => promote(request, recorder, control));
    return ended('deployed');
  } catch (err) {
    const cancelled = wf.isCancellation(err);
    const reason = cancelled ? `withdrawn: ${withdrawn() ?? 'cancelled'}` : `deployment failed: ${describe(err)}`;
    if (saga.pending) await wf.CancellationScope.nonCancellable(() => saga.unwind(reason, 'lenient'));
    return ended(cancelled ? 'withdrawn' : 'failed', reason);
  }
}

/** Records the champion and cleans up old versions: serialized with every other change to the endpoint. */
async function promote(request: Queued['request'], recorder: EntityRecorder, control: ReturnType<typeof controlActivities>): Promise<void> {
  const { plan } = request;
  const endpointName = plan.deployment.endpointName;
  if (request.modelPackageArn && request.modelPackageGroup) {
    await control.markChampion({ modelPackageGroupName: request.modelPackageGroup, modelPackageArn: request.modelPackageArn, endpointName });
  }
  try {
    const cleaned = await control.cleanupOldVersions({ pipeline: plan.pipeline, endpointName, keep: plan.deployment.keep });
    wf.log.info('old versions cleaned up', { configs: cleaned.deletedConfigs, models: cleaned.deletedModels });
  } catch (err) {
    // Housekeeping: the next deployment cleans up again, so this one stands.
    recorder.warn(`old versions not cleaned up: ${describe(err)}`);
  }
}
