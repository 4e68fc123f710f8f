// A pipeline run's side of the endpoint entity: one deployment request, sent
// through an activity (a workflow cannot send an update), then the wait for
// the entity's outcome signal. No activity holds a worker slot while the run
// waits in the queue. If the run is undone meanwhile (cancelled, failed), its
// saga withdraws the request, and waits for the entity to put the endpoint back.
import * as wf from '@temporalio/workflow';
import type { EntityActivities } from '../../activities/types';
import { durationMs } from '../../spec/duration';
import type { DeploymentRecorder } from '../deployment';
import type { DeploymentRequestView, PipelineStatus } from '../messages';
import type { Saga } from '../saga';
import { deploymentOutcomeSignal, type DeploymentOutcome, type DeploymentRequest } from './messages';

/** The patch under which trainingPipeline deploys through the endpoint entity (CONTRIBUTING.md). */
export const ENDPOINT_ENTITY_PATCH = 'endpoint-entity';

/** The run's record: where the request and what the entity made are told. */
export type RequestRecorder = DeploymentRecorder & { status: Pick<PipelineStatus, 'deployment' | 'resources' | 'logs'>; note(message: string): void };

export class EndpointRequest {
  private outcome?: DeploymentOutcome;

  constructor(
    private readonly entity: EntityActivities,
    private readonly saga: Saga,
    private readonly record: RequestRecorder,
    private readonly request: DeploymentRequest,
  ) {
    wf.setHandler(deploymentOutcomeSignal, (o) => {
      if (o?.requestId === this.request.requestId && !this.outcome) this.outcome = o;
    });
  }

  get view(): DeploymentRequestView | undefined {
    return this.record.status.deployment;
  }

  /** Sends the request and waits until the entity says how it ended. */
  async submit(): Promise<DeploymentOutcome> {
    const { requestId, plan } = this.request;
    const endpointName = plan.deployment.endpointName;
    // Registered before the call: a cancellation while it runs may land after the entity queued the request.
    const withdraw = this.saga.add(`withdraw deployment request ${requestId}`, async (reason) => {
      if (this.outcome) return;
      await this.entity.withdrawDeployment({ endpointName, requestId, reason });
      // The entity puts the endpoint back if the deployment had started: the run ends once it has.
      if (await wf.condition(() => this.outcome !== undefined, durationMs(plan.deployTimeout))) this.settle(this.outcome!);
    });
    const accepted = await this.entity.requestDeployment({ request: this.request });
    this.record.status.deployment = { entityId: accepted.entityId, requestId, state: accepted.state, ahead: accepted.ahead };
    if (accepted.outcome && !this.outcome) this.outcome = accepted.outcome;
    wf.setCurrentDetails(
      `deployment request ${requestId} to ${accepted.entityId}: ${accepted.state === 'queued' ? `${accepted.ahead} ahead` : accepted.state}; see champ endpoint status ${endpointName}`,
    );
    await wf.condition(() => this.outcome !== undefined);
    this.saga.drop(withdraw);
    return this.settle(this.outcome!);
  }

  /** Takes what the entity made and said into the run's record. */
  private settle(outcome: DeploymentOutcome): DeploymentOutcome {
    this.record.status.deployment = {
      entityId: outcome.entityId,
      requestId: outcome.requestId,
      state: 'done',
      ahead: 0,
      outcome: outcome.outcome,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    };
    for (const r of outcome.resources) {
      this.record.track(r.kind, r.name);
      if (r.deleted) this.record.markDeleted(r.kind, r.name);
      if (r.kind === 'model') this.record.status.resources.model = r.name;
      if (r.kind === 'endpoint-config') this.record.status.resources.endpointConfig = r.name;
    }
    if (outcome.previousConfigName) this.record.status.resources.previousEndpointConfig = outcome.previousConfigName;
    if (outcome.logs) this.record.status.logs.endpoint = outcome.logs;
    for (const w of outcome.warnings) this.record.note(w);
    return outcome;
  }
}
