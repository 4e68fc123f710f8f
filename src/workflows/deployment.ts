// One deployment of a candidate to its endpoint: create the model and the
// endpoint config, create or update the endpoint, and verify it. It registers
// how to undo each step with the run's saga, and knows when an undo must keep
// the new config and model because the endpoint may still use them.
import { ApplicationFailure } from '@temporalio/workflow';
import type { ControlActivities, EndpointState, EndpointWaitActivities } from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import { judgeEndpoint } from '../aws/status';
import { ErrorTypes } from '../shared';
import { DeploymentFailure } from './failures';
import type { RunRecord } from './record';
import type { Compensation, Saga } from './saga';

export interface DeploymentPlan {
  spec: PipelineSpec;
  /** This run's model and endpoint config names. */
  model: string;
  endpointConfig: string;
  imageUri: string;
  modelArtifact: string;
  tags: Record<string, string>;
}

type DeploymentActivities = Pick<ControlActivities, 'createModel' | 'createEndpointConfig' | 'verifyEndpoint' | 'deleteModel' | 'deleteEndpointConfig' | 'deleteEndpoint'>;

export class Deployment {
  /** Set when putting the endpoint back failed: it may still use our config and model, so keep them. */
  private endpointMayUseNewConfig = false;

  constructor(
    private readonly control: DeploymentActivities,
    private readonly endpointWait: EndpointWaitActivities,
    private readonly saga: Saga,
    private readonly record: RunRecord,
    private readonly plan: DeploymentPlan,
  ) {}

  private get endpointName(): string {
    return this.plan.spec.deployment.endpointName;
  }

  /** Creates the model and the endpoint config, then creates or updates the endpoint with them. */
  async run(): Promise<void> {
    const { model, endpointConfig, tags } = this.plan;
    const spec = this.plan.spec.deployment;

    await this.control.createModel({
      modelName: model,
      imageUri: this.plan.imageUri,
      modelArtifact: this.plan.modelArtifact,
      roleArn: this.plan.spec.training.roleArn,
      environment: spec.environment,
      tags,
    });
    this.record.track('model', model);
    this.record.status.resources.model = model;
    this.saga.add(`delete model ${model}`, async () => {
      if (this.keepForEndpoint('model', model)) return;
      await this.control.deleteModel({ name: model });
      this.record.markDeleted('model', model);
    });

    await this.control.createEndpointConfig({
      configName: endpointConfig,
      modelName: model,
      variantName: spec.variantName,
      instanceType: spec.instanceType,
      instanceCount: spec.instanceCount,
      tags,
    });
    this.record.track('endpoint-config', endpointConfig);
    this.record.status.resources.endpointConfig = endpointConfig;
    this.saga.add(`delete endpoint config ${endpointConfig}`, async () => {
      if (this.keepForEndpoint('endpoint config', endpointConfig)) return;
      await this.control.deleteEndpointConfig({ name: endpointConfig });
      this.record.markDeleted('endpoint-config', endpointConfig);
    });

    const endpointName = this.endpointName;
    // What serves now is recorded in history before anything changes, so a
    // retry, a crash or a cancellation mid-deploy still knows what to put back.
    const before = await this.endpointWait.describeEndpoint({ endpointName });
    this.record.status.resources.previousEndpointConfig = before?.configName;
    // Registered before the call: a cancellation while it runs must undo it too.
    const undo = this.undoEndpoint(before?.configName, before === null);
    const deployed = await this.endpointWait.deployEndpoint({ endpointName, configName: endpointConfig, strategy: spec.strategy, tags, before });
    if (deployed.logs) this.record.status.logs.endpoint = deployed.logs;
    this.saga.drop(undo);
    if (deployed.action === 'created') this.record.track('endpoint', endpointName);
    this.undoEndpoint(deployed.previousConfigName ?? before?.configName, deployed.action === 'created');
  }

  /** Waits for the endpoint to settle after the change. */
  async settle(): Promise<EndpointState | DeploymentFailure> {
    return DeploymentFailure.or(this.endpointWait.awaitEndpoint({ endpointName: this.endpointName }));
  }

  /** Why the settled endpoint is not good, or undefined when it serves the new config and passes the smoke test. */
  async verify(settled: EndpointState | DeploymentFailure): Promise<DeploymentFailure | undefined> {
    if (settled instanceof DeploymentFailure) return settled;
    const expected = this.plan.endpointConfig;
    const problem = judgeEndpoint(settled, expected);
    if (problem) return new DeploymentFailure('not-serving', problem);
    const verdict = await DeploymentFailure.or(
      this.control.verifyEndpoint({ endpointName: this.endpointName, expectedConfigName: expected, smokeTest: this.plan.spec.deployment.smokeTest }),
    );
    if (verdict instanceof DeploymentFailure) return verdict;
    return verdict.ok ? undefined : new DeploymentFailure('verification-failed', verdict.reason ?? 'verification failed without a reason');
  }

  /** Registers how to undo our change to the endpoint: delete what we created, else put back what served. */
  private undoEndpoint(previous: string | undefined, created: boolean): Compensation {
    const endpointName = this.endpointName;
    if (created) {
      return this.saga.add(`delete endpoint ${endpointName}`, async () => {
        await this.guardEndpoint(() => this.control.deleteEndpoint({ name: endpointName }));
        this.record.markDeleted('endpoint', endpointName);
      });
    }
    return this.saga.add(`put endpoint ${endpointName} back on ${previous ?? '(unknown config)'}`, async () => {
      if (!previous || previous === this.plan.endpointConfig) {
        this.endpointMayUseNewConfig = true;
        throw ApplicationFailure.nonRetryable(
          `endpoint ${endpointName} was updated but its previous config is unknown; it is left as it is`,
          ErrorTypes.EndpointFailed,
        );
      }
      // The endpoint served before this run: it is put back, never deleted.
      await this.guardEndpoint(async () => {
        await this.endpointWait.rollbackEndpoint({ endpointName, configName: previous });
        const state = await this.endpointWait.awaitEndpoint({ endpointName });
        if (state.configName && state.configName !== previous) {
          throw ApplicationFailure.nonRetryable(
            `after the rollback endpoint ${endpointName} runs ${state.configName}, not ${previous} (status ${state.status}${state.failureReason ? `: ${state.failureReason}` : ''})`,
            ErrorTypes.EndpointFailed,
          );
        }
      });
    });
  }

  /** Runs a change to the endpoint; if it fails, the endpoint may be left on our config. */
  private async guardEndpoint(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.endpointMayUseNewConfig = true;
      throw err;
    }
  }

  private keepForEndpoint(what: string, name: string): boolean {
    if (!this.endpointMayUseNewConfig) return false;
    this.record.warn(`${what} ${name} kept: the endpoint may still use it`);
    return true;
  }
}
