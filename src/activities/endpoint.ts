// Models, endpoint configs and endpoints: create idempotently by name, deploy
// (create or update), check once, roll back, delete. Verification and the
// cleanup of old versions live beside this file; the factory joins them.
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  UpdateEndpointCommand,
  type DeploymentConfig,
  type DescribeEndpointOutput,
  type ProductionVariantInstanceType,
} from '@aws-sdk/client-sagemaker';
import { classifyAwsError, createIfAbsent, describeIfPresent, isEndpointBusyError, isNotFoundError, notReady, terminal } from '../aws/errors';
import { isOwnedName } from '../aws/naming';
import { tagsField } from '../aws/requests';
import { classifyEndpoint, ENDPOINT_IN_FLIGHT_STATUSES } from '../aws/status';
import { ErrorTypes } from '../shared';
import type { UpdateStrategySpec } from '../spec/schema';
import { durationSeconds } from '../spec/duration';
import { activityEnv } from './context';
import type { ActivityDeps } from './deps';
import * as calls from './endpoint-calls';
import { createCleanupActivities } from './endpoint-cleanup';
import { createVerifyActivities } from './endpoint-verify';
import { waitOnce } from './waiting';
import type {
  AwaitEndpointInput,
  ConfigRecipe,
  CreateEndpointConfigInput,
  CreateModelInput,
  DeleteResourceInput,
  DeployEndpointInput,
  DescribeEndpointInput,
  DeployEndpointResult,
  EndpointState,
  RollbackEndpointInput,
  RollbackEndpointResult,
} from './types';

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** UpdateEndpoint's DeploymentConfig for a spec strategy. The local control plane accepts and ignores it. */
export function deploymentConfig(strategy: UpdateStrategySpec): DeploymentConfig {
  const wait = clamp(durationSeconds(strategy.waitInterval), 0, 3600);
  const termination = clamp(durationSeconds(strategy.terminationWait), 0, 3600);
  let steps = 1;
  let routing: NonNullable<DeploymentConfig['BlueGreenUpdatePolicy']>['TrafficRoutingConfiguration'];
  switch (strategy.type) {
    case 'all-at-once':
      routing = { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 };
      break;
    case 'blue-green':
      routing = { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: wait };
      break;
    case 'canary':
      steps = 2;
      routing = { Type: 'CANARY', WaitIntervalInSeconds: wait, CanarySize: { Type: 'CAPACITY_PERCENT', Value: strategy.canaryPercent ?? 10 } };
      break;
    case 'linear': {
      const step = strategy.linearStepPercent ?? 20;
      steps = Math.ceil(100 / step);
      routing = { Type: 'LINEAR', WaitIntervalInSeconds: wait, LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: step } };
      break;
    }
  }
  // SageMaker's bounds: 600 s to 8 h; leave room for instances to launch on top of the bake time.
  const maxExecution = clamp(steps * (routing?.WaitIntervalInSeconds ?? 0) + termination + 1800, 600, 28_800);
  return {
    BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: routing, TerminationWaitInSeconds: termination, MaximumExecutionTimeoutInSeconds: maxExecution },
    ...(strategy.alarms.length ? { AutoRollbackConfiguration: { Alarms: strategy.alarms.map((AlarmName) => ({ AlarmName })) } } : {}),
  };
}

/** Where an endpoint's container logs go: CloudWatch on AWS; on the local control plane, files in its state folder. */
export function endpointLogs(endpointName: string, local: boolean): string {
  if (!local) return `CloudWatch Logs group /aws/sagemaker/Endpoints/${endpointName}, one stream per variant instance`;
  return `local control plane: <state>/endpoints/${endpointName}/<config>-<n>-<time>/<variant>-<instance>/serve.log`;
}

export function createEndpointActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;
  const find = (name: string) => calls.findEndpoint(sm, name);
  async function createModel(input: CreateModelInput): Promise<void> {
    const env = activityEnv(deps.log);
    const created = await createIfAbsent({ operation: 'CreateModel', resource: `model ${input.modelName}` }, () =>
      sm.send(
        new CreateModelCommand({
          ModelName: input.modelName,
          ExecutionRoleArn: input.roleArn,
          PrimaryContainer: {
            Image: input.imageUri,
            ModelDataUrl: input.modelArtifact,
            ...(Object.keys(input.environment).length ? { Environment: input.environment } : {}),
          },
          ...tagsField(input.tags),
        }),
      ),
    );
    env.log.info(created ? 'model created' : 'model already exists', { modelName: input.modelName });
  }

  async function createEndpointConfig(input: CreateEndpointConfigInput): Promise<void> {
    const env = activityEnv(deps.log);
    if (input.model) await createModel(input.model);
    const created = await createIfAbsent({ operation: 'CreateEndpointConfig', resource: `endpoint config ${input.configName}` }, () =>
      sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: input.configName,
          ProductionVariants: [
            {
              VariantName: input.variantName,
              ModelName: input.modelName,
              InstanceType: input.instanceType as ProductionVariantInstanceType,
              InitialInstanceCount: input.instanceCount,
              InitialVariantWeight: 1,
            },
          ],
          ...tagsField(input.tags),
        }),
      ),
    );
    env.log.info(created ? 'endpoint config created' : 'endpoint config already exists', { configName: input.configName });
  }

  function failedEndpoint(name: string, d: DescribeEndpointOutput) {
    return terminal(
      ErrorTypes.EndpointFailed,
      `endpoint ${name} is Failed: ${d.FailureReason ?? 'no FailureReason given'}. Delete it or fix it; champ does not recreate a failed endpoint.`,
      { endpointName: name, failureReason: d.FailureReason },
    );
  }

  async function describeEndpoint(input: DescribeEndpointInput): Promise<EndpointState | null> {
    const env = activityEnv(deps.log);
    const name = input.endpointName;
    const d = await find(name);
    if (!d) return null;
    const status = d.EndpointStatus ?? 'Unknown';
    if (status === 'Failed') throw failedEndpoint(name, d);
    // What serves before our change is only known once the change in flight settles.
    if (ENDPOINT_IN_FLIGHT_STATUSES.has(status)) throw notReady({ resource: `endpoint ${name}`, status, poll: env.attempt, detail: 'waiting for the change in flight before deploying' });
    return calls.endpointState(d, name);
  }

  /**
   * UpdateEndpoint; a change already in flight (another run's) is waited for,
   * not a failure. So is a config deleted (by another run's cleanup) right
   * after `ensureConfig` made it again, when there is a recipe to make it once more.
   */
  async function updateEndpoint(name: string, configName: string, config: DeploymentConfig | undefined, recipe: ConfigRecipe | undefined): Promise<void> {
    try {
      await sm.send(new UpdateEndpointCommand({ EndpointName: name, EndpointConfigName: configName, ...(config ? { DeploymentConfig: config } : {}) }));
    } catch (err) {
      const poll = activityEnv(deps.log).attempt;
      if (isEndpointBusyError(err)) {
        throw notReady({ resource: `endpoint ${name}`, status: 'Updating', poll, detail: 'another change started first; waiting for it to settle' });
      }
      if (recipe && isNotFoundError(err)) {
        throw notReady({ resource: `endpoint ${name}`, status: 'waiting', poll, detail: `endpoint config ${configName} was deleted meanwhile; making it again` });
      }
      throw classifyAwsError(err, { operation: 'UpdateEndpoint', resource: `endpoint ${name}` });
    }
  }

  /** Makes a config (and its model) again when another run's cleanup deleted it; names and settings as before. */
  async function ensureConfig(recipe: ConfigRecipe): Promise<void> {
    const name = recipe.config.configName;
    const found = await describeIfPresent({ operation: 'DescribeEndpointConfig', resource: `endpoint config ${name}` }, () =>
      sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name })),
    );
    if (found) return;
    activityEnv(deps.log).log.warn('endpoint config is gone (cleaned up by another run); making it again', { configName: name, modelName: recipe.model.modelName });
    await createModel(recipe.model);
    await createEndpointConfig(recipe.config);
  }

  /** A recipe for one of the pipeline's own configs (one variant, one model), read back from SageMaker; undefined for any other. */
  async function recipeOf(pipeline: string, configName: string): Promise<ConfigRecipe | undefined> {
    if (!isOwnedName(pipeline, configName, 'config')) return undefined;
    const c = await describeIfPresent({ operation: 'DescribeEndpointConfig', resource: `endpoint config ${configName}` }, () =>
      sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: configName })),
    );
    const variant = c?.ProductionVariants?.length === 1 ? c.ProductionVariants[0] : undefined;
    if (!variant?.ModelName || !variant.VariantName || !variant.InstanceType) return undefined;
    const modelName = variant.ModelName;
    const m = await describeIfPresent({ operation: 'DescribeModel', resource: `model ${modelName}` }, () => sm.send(new DescribeModelCommand({ ModelName: modelName })));
    const container = m?.PrimaryContainer;
    if (!container?.Image || !container.ModelDataUrl || !m?.ExecutionRoleArn) return undefined;
    return {
      model: { modelName, imageUri: container.Image, modelArtifact: container.ModelDataUrl, roleArn: m.ExecutionRoleArn, environment: container.Environment ?? {}, tags: {} },
      config: { configName, modelName, variantName: variant.VariantName, instanceType: variant.InstanceType, instanceCount: variant.InitialInstanceCount ?? 1, tags: {} },
    };
  }

  async function deployEndpoint(input: DeployEndpointInput): Promise<DeployEndpointResult> {
    const result = await deployOnce(input);
    const previous = result.previousConfigName;
    const previousRecipe = previous && input.pipeline ? await recipeOf(input.pipeline, previous) : undefined;
    return { ...result, logs: endpointLogs(input.endpointName, deps.clients.local), ...(previousRecipe ? { previousRecipe } : {}) };
  }

  async function deployOnce(input: DeployEndpointInput): Promise<DeployEndpointResult> {
    const env = activityEnv(deps.log);
    const name = input.endpointName;
    const before = input.before;
    const current = await find(name);
    if (!current) {
      if (input.recipe) await ensureConfig(input.recipe);
      const created = await createIfAbsent({ operation: 'CreateEndpoint', resource: `endpoint ${name}` }, () =>
        sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: input.configName, ...tagsField(input.tags) })),
      );
      if (created) {
        env.log.info('endpoint creation started', { endpointName: name, configName: input.configName });
        return { action: 'created' };
      }
      // Someone created it between our describe and create: judge it on the next attempt.
      throw notReady({ resource: `endpoint ${name}`, status: 'just created by another caller', poll: env.attempt });
    }
    const status = current.EndpointStatus ?? 'Unknown';
    if (status === 'Failed') throw failedEndpoint(name, current);
    const pending = current.PendingDeploymentSummary?.EndpointConfigName;
    if (pending === input.configName) {
      // Our update is in flight: the endpoint still serves the previous config.
      const previous = current.EndpointConfigName ?? before?.configName;
      return { action: 'updated', ...(previous ? { previousConfigName: previous } : {}) };
    }
    if (current.EndpointConfigName === input.configName) {
      // A retry after our own create or update was accepted: the endpoint no
      // longer shows what served before, so the state recorded before the call says it.
      if (status === 'Creating' || !before) return { action: 'created' };
      env.log.info('endpoint already runs this config', { endpointName: name, configName: input.configName, status });
      return { action: 'updated', ...(before.configName ? { previousConfigName: before.configName } : {}) };
    }
    if (ENDPOINT_IN_FLIGHT_STATUSES.has(status)) {
      // Wait for the change in flight to settle before starting ours.
      throw notReady({ resource: `endpoint ${name}`, status, poll: env.attempt, detail: 'waiting for the change in flight before updating' });
    }
    const previous = current.EndpointConfigName;
    if (input.recipe) await ensureConfig(input.recipe);
    await updateEndpoint(name, input.configName, deploymentConfig(input.strategy), input.recipe);
    env.log.info('endpoint update started', { endpointName: name, configName: input.configName, previousConfigName: previous, strategy: input.strategy.type });
    return { action: 'updated', ...(previous ? { previousConfigName: previous } : {}) };
  }

  async function awaitEndpoint(input: AwaitEndpointInput): Promise<EndpointState> {
    const env = activityEnv(deps.log);
    const d = await waitOnce<DescribeEndpointOutput>({
      env,
      resource: `endpoint ${input.endpointName}`,
      check: async () => {
        const d = await find(input.endpointName);
        if (!d) {
          throw terminal(ErrorTypes.AwsNotFound, `endpoint ${input.endpointName} does not exist: it was deleted while the pipeline waited for it; run the pipeline again`, {
            endpointName: input.endpointName,
          });
        }
        const c = classifyEndpoint(d);
        return c.state === 'in-progress' ? { done: false, status: c.status, phase: 'running' } : { done: true, value: d };
      },
    });
    return calls.endpointState(d, input.endpointName);
  }

  async function rollbackEndpoint(input: RollbackEndpointInput): Promise<RollbackEndpointResult> {
    const env = activityEnv(deps.log);
    const name = input.endpointName;
    const target = input.configName;
    const d = await find(name);
    if (!d) {
      throw terminal(ErrorTypes.AwsNotFound, `cannot roll back endpoint ${name}: it does not exist`, { endpointName: name });
    }
    const status = d.EndpointStatus ?? 'Unknown';
    if (status === 'Updating' && d.PendingDeploymentSummary?.EndpointConfigName === target) return { action: 'in-progress', configName: target };
    if (ENDPOINT_IN_FLIGHT_STATUSES.has(status)) throw notReady({ resource: `endpoint ${name}`, status, poll: env.attempt, detail: 'waiting to roll back' });
    const serving = d.EndpointConfigName;
    // Also the case after a failed update: SageMaker left it serving the old config.
    if (serving === target) {
      env.log.info('endpoint already on the rollback config', { endpointName: name, configName: target });
      return { action: 'already-there', configName: target };
    }
    if (input.fromConfigName && serving !== input.fromConfigName) {
      // Another run updated the endpoint after ours: rolling back would undo its update.
      env.log.warn('endpoint runs another config: not rolled back', { endpointName: name, configName: serving, ours: input.fromConfigName });
      return { action: 'superseded', ...(serving ? { configName: serving } : {}) };
    }
    if (input.recipe) await ensureConfig(input.recipe);
    await updateEndpoint(name, target, undefined, input.recipe);
    env.log.warn('endpoint rolled back', { endpointName: name, configName: target });
    return { action: 'started', configName: target };
  }

  async function deleteEndpoint(input: DeleteResourceInput): Promise<void> {
    await calls.deleteEndpoint(sm, input.name);
  }
  async function deleteEndpointConfig(input: DeleteResourceInput): Promise<void> {
    await calls.deleteEndpointConfig(sm, input.name);
  }
  async function deleteModel(input: DeleteResourceInput): Promise<void> {
    await calls.deleteModel(sm, input.name);
  }

  return {
    createModel,
    createEndpointConfig,
    describeEndpoint,
    deployEndpoint,
    awaitEndpoint,
    ...createVerifyActivities(deps),
    rollbackEndpoint,
    deleteEndpoint,
    deleteEndpointConfig,
    deleteModel,
    ...createCleanupActivities(deps),
  };
}
