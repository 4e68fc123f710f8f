// One deployment of a candidate to its endpoint: create the model and the
// endpoint config, create or update the endpoint, and verify it. It registers
// how to undo each step with the run's saga, and knows when an undo must keep
// the new config and model because the endpoint may still use them.
import * as wf from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { ConfigRecipe, ControlActivities, EndpointState, EndpointWaitActivities } from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import { judgeEndpoint } from '../aws/status';
import { durationMs } from '../spec/duration';
import { ErrorTypes } from '../shared';
import { DeploymentFailure } from './failures';
import type { ResourceKind } from './messages';
import type { Compensation, Saga } from './saga';

/** The parts of a spec a deployment reads: a pipeline's whole spec, or the endpoint entity's plan. */
export interface DeploymentSpecPart {
  name: PipelineSpec['name'];
  deployment: PipelineSpec['deployment'];
  training: Pick<PipelineSpec['training'], 'roleArn'>;
  timeouts: Pick<PipelineSpec['timeouts'], 'deploy'>;
}

/** Where a deployment tells what it made and what went wrong: the pipeline's RunRecord, or the entity's. */
export interface DeploymentRecorder {
  status: {
    resources: { model?: string; endpointConfig?: string; previousEndpointConfig?: string };
    logs: { endpoint?: string };
  };
  track(kind: ResourceKind, name: string): void;
  markDeleted(kind: ResourceKind, name: string): void;
  warn(message: string): void;
}

export interface DeploymentPlan {
  spec: DeploymentSpecPart;
  /** This run's model and endpoint config names. */
  model: string;
  endpointConfig: string;
  imageUri: string;
  modelArtifact: string;
  tags: Record<string, string>;
}

/**
 * The workflow's patches of this file (CONTRIBUTING.md, "The rule for workflow changes").
 * - `rollback-until-serving`: a rollback is driven again until the endpoint
 *   serves the previous config (a control-plane crash can lose the update),
 *   and never undoes another run's later update.
 * - `superseded-deploys`: a run whose endpoint another run updated after it
 *   neither rolls that back nor records its candidate as champion.
 */
export const PATCHES = { rollbackUntilServing: 'rollback-until-serving', supersededDeploys: 'superseded-deploys' } as const;

/** How many times a rollback is driven before the run gives up (each within the deploy deadline). */
const MAX_ROLLBACK_ATTEMPTS = 5;

/** Another run deployed to the endpoint after this one: the endpoint is theirs now, not ours to undo or promote. */
export class Superseded {
  constructor(readonly configName: string) {}

  get reason(): string {
    return `superseded by ${this.configName}: another run deployed it to the endpoint after this run`;
  }
}

type DeploymentActivities = Pick<ControlActivities, 'createModel' | 'createEndpointConfig' | 'verifyEndpoint' | 'deleteModel' | 'deleteEndpointConfig' | 'deleteEndpoint'>;

export class Deployment {
  /** Set when putting the endpoint back failed: it may still use our config and model, so keep them. */
  private endpointMayUseNewConfig = false;
  /** The config our update replaced (absent when we created the endpoint). */
  private previous?: string;
  /** Set when the rollback found another run's config on the endpoint and left it there. */
  supersededBy?: Superseded;

  constructor(
    private readonly control: DeploymentActivities,
    private readonly endpointWait: EndpointWaitActivities,
    private readonly saga: Saga,
    private readonly record: DeploymentRecorder,
    private readonly plan: DeploymentPlan,
  ) {}

  private get endpointName(): string {
    return this.plan.spec.deployment.endpointName;
  }

  /** Our model and config, as created, and as made again if another run's cleanup deletes them. */
  private recipe(): ConfigRecipe {
    const { model, endpointConfig, tags } = this.plan;
    const spec = this.plan.spec.deployment;
    return {
      model: { modelName: model, imageUri: this.plan.imageUri, modelArtifact: this.plan.modelArtifact, roleArn: this.plan.spec.training.roleArn, environment: spec.environment, tags },
      config: { configName: endpointConfig, modelName: model, variantName: spec.variantName, instanceType: spec.instanceType, instanceCount: spec.instanceCount, tags },
    };
  }

  /** Creates the model and the endpoint config, then creates or updates the endpoint with them. */
  async run(): Promise<void> {
    const { model, endpointConfig, tags } = this.plan;
    const spec = this.plan.spec.deployment;
    const recipe = this.recipe();

    await this.control.createModel(recipe.model);
    this.record.track('model', model);
    this.record.status.resources.model = model;
    this.saga.add(`delete model ${model}`, async () => {
      if (this.keepForEndpoint('model', model)) return;
      await this.control.deleteModel({ name: model });
      this.record.markDeleted('model', model);
    });

    await this.control.createEndpointConfig({ ...recipe.config, model: recipe.model });
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
    const deployed = await this.endpointWait.deployEndpoint({
      endpointName,
      configName: endpointConfig,
      strategy: spec.strategy,
      tags,
      before,
      pipeline: this.plan.spec.name,
      recipe,
    });
    if (deployed.logs) this.record.status.logs.endpoint = deployed.logs;
    this.saga.drop(undo);
    if (deployed.action === 'created') this.record.track('endpoint', endpointName);
    this.previous = deployed.action === 'created' ? undefined : (deployed.previousConfigName ?? before?.configName);
    this.undoEndpoint(deployed.previousConfigName ?? before?.configName, deployed.action === 'created', deployed.previousRecipe);
  }

  /** Waits for the endpoint to settle after the change. */
  async settle(): Promise<EndpointState | DeploymentFailure> {
    return DeploymentFailure.or(this.endpointWait.awaitEndpoint({ endpointName: this.endpointName }));
  }

  /**
   * Why the settled endpoint is not good, or undefined when it serves the new
   * config and passes the smoke test. Superseded when it runs a config that is
   * neither ours nor the one we replaced: another run deployed after us.
   */
  async verify(settled: EndpointState | DeploymentFailure): Promise<DeploymentFailure | Superseded | undefined> {
    if (settled instanceof DeploymentFailure) return settled;
    const other = this.otherRunsConfig(settled);
    if (other && wf.patched(PATCHES.supersededDeploys)) return new Superseded(other);
    const expected = this.plan.endpointConfig;
    const problem = judgeEndpoint(settled, expected);
    if (problem) return new DeploymentFailure('not-serving', problem);
    const verdict = await DeploymentFailure.or(
      this.control.verifyEndpoint({ endpointName: this.endpointName, expectedConfigName: expected, smokeTest: this.plan.spec.deployment.smokeTest }),
    );
    if (verdict instanceof DeploymentFailure) return verdict;
    return verdict.ok ? undefined : new DeploymentFailure('verification-failed', verdict.reason ?? 'verification failed without a reason');
  }

  /** Right before promotion: Superseded when another run's update replaced ours meanwhile (waits for a change in flight). */
  async stillServing(): Promise<Superseded | undefined> {
    if (!wf.patched(PATCHES.supersededDeploys)) return undefined;
    const state = await this.endpointWait.awaitEndpoint({ endpointName: this.endpointName });
    return state.configName === this.plan.endpointConfig ? undefined : new Superseded(state.configName ?? '(no config)');
  }

  /** The config the endpoint runs when it is neither ours nor the one we replaced. */
  private otherRunsConfig(state: EndpointState): string | undefined {
    const config = state.configName;
    return config && config !== this.plan.endpointConfig && config !== this.previous ? config : undefined;
  }

  /** Registers how to undo our change to the endpoint: delete what we created, else put back what served. */
  private undoEndpoint(previous: string | undefined, created: boolean, recipe?: ConfigRecipe): Compensation {
    const endpointName = this.endpointName;
    if (created) {
      return this.saga.add(`delete endpoint ${endpointName}`, async () => {
        if (wf.patched(PATCHES.rollbackUntilServing) && (await this.servedByAnotherRun())) return;
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
        if (wf.patched(PATCHES.rollbackUntilServing)) return this.putBack(previous, recipe);
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

  /**
   * Puts the endpoint back on `previous`, again and again until it serves it:
   * an update can be lost (a control-plane crash mid-update brings the
   * endpoint back on our config), and the run must not end rolled back while
   * the rejected model serves. Bounded by the deploy deadline and a number of
   * attempts. An endpoint that runs a third config was updated by another
   * run after ours: it is left as it is.
   */
  private async putBack(previous: string, recipe: ConfigRecipe | undefined): Promise<void> {
    const endpointName = this.endpointName;
    const ours = this.plan.endpointConfig;
    const deadline = Date.now() + durationMs(this.plan.spec.timeouts.deploy);
    for (let attempt = 1; ; attempt++) {
      const started = await this.endpointWait.rollbackEndpoint({ endpointName, configName: previous, fromConfigName: ours, ...(recipe ? { recipe } : {}) });
      if (started.action === 'superseded') return this.leaveToAnotherRun(started.configName);
      const state = await this.endpointWait.awaitEndpoint({ endpointName });
      if (state.configName === previous) return;
      if (state.configName !== ours) return this.leaveToAnotherRun(state.configName);
      const problem = `after rollback attempt ${attempt} endpoint ${endpointName} runs ${state.configName ?? '(no config)'}, not ${previous} (status ${state.status}${state.failureReason ? `: ${state.failureReason}` : ''})`;
      if (attempt >= MAX_ROLLBACK_ATTEMPTS || Date.now() >= deadline) {
        throw ApplicationFailure.nonRetryable(`${problem}; gave up after ${attempt} attempts within the deploy deadline (timeouts.deploy)`, ErrorTypes.EndpointFailed);
      }
      wf.log.warn(`${problem}; rolling back again`);
    }
  }

  /** Whether the endpoint we created now runs another run's config (then it is theirs: not deleted). */
  private async servedByAnotherRun(): Promise<boolean> {
    let state: EndpointState;
    try {
      state = await this.endpointWait.awaitEndpoint({ endpointName: this.endpointName });
    } catch (err) {
      // Gone already: nothing to keep.
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === ErrorTypes.AwsNotFound) return false;
      throw err;
    }
    const other = this.otherRunsConfig(state);
    if (other) this.leaveToAnotherRun(other);
    return other !== undefined;
  }

  /** Another run's update is on the endpoint: leave it, and keep our config and model, which its rollback may return to. */
  private leaveToAnotherRun(configName: string | undefined): void {
    this.supersededBy = new Superseded(configName ?? '(no config)');
    this.endpointMayUseNewConfig = true;
    this.record.warn(`endpoint ${this.endpointName} left on ${configName ?? '(no config)'}: ${this.supersededBy.reason}`);
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
