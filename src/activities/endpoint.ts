// Models, endpoint configs and endpoints: create idempotently by name, deploy
// (create or update), check once, verify, roll back, delete, clean up.
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  UpdateEndpointCommand,
  type DeploymentConfig,
  type DescribeEndpointOutput,
  type ProductionVariantInstanceType,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { awsCall, awsCallOr, categorize, classifyAwsError, errorFacts, hasErrorCode, isAlreadyExistsError, isNotFoundError, notReady, terminal } from '../aws/errors';
import { isOwnedName, ownedPrefix } from '../aws/naming';
import { classifyEndpoint, endpointProblems } from '../aws/status';
import { ErrorTypes } from '../shared';
import type { SmokeTestSpec, UpdateStrategySpec } from '../spec/schema';
import { durationSeconds } from '../spec/duration';
import { activityEnv } from './context';
import type { ActivityDeps } from './deps';
import { tagsField } from './training';
import type {
  AwaitEndpointInput,
  CleanupInput,
  CleanupResult,
  CreateEndpointConfigInput,
  CreateModelInput,
  DeleteResourceInput,
  DeployEndpointInput,
  DescribeEndpointInput,
  DeployEndpointResult,
  EndpointState,
  RollbackEndpointInput,
  VerifyEndpointInput,
  VerifyResult,
} from './types';

const EXCERPT_CHARS = 500;
const IN_FLIGHT = new Set(['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting']);

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

/** Whether a dotted path (`predictions.0.score`) exists in a parsed JSON value. */
export function jsonPathExists(value: unknown, dotted: string): boolean {
  let cur: unknown = value;
  for (const part of dotted.split('.')) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(part)) return false;
      const i = Number(part);
      if (i >= cur.length) return false;
      cur = cur[i];
    } else if (cur !== null && typeof cur === 'object') {
      if (!Object.prototype.hasOwnProperty.call(cur, part)) return false;
      cur = (cur as Record<string, unknown>)[part];
    } else {
      return false;
    }
  }
  return true;
}

/** Judges one smoke-test response against the spec's expectations. */
export function judgeSmokeTest(test: SmokeTestSpec, status: number, body: string): VerifyResult {
  const response = { status, excerpt: body.slice(0, EXCERPT_CHARS) };
  if (status !== test.expectStatus) {
    return { ok: false, reason: `the smoke test got HTTP ${status}, expected ${test.expectStatus}`, response };
  }
  if (test.expectJsonPaths.length) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { ok: false, reason: `the smoke test response is not JSON, so its paths ${test.expectJsonPaths.join(', ')} cannot be checked`, response };
    }
    const missing = test.expectJsonPaths.filter((p) => !jsonPathExists(parsed, p));
    if (missing.length) return { ok: false, reason: `the smoke test response lacks ${missing.join(', ')}`, response };
  }
  return { ok: true, response };
}

function endpointState(d: DescribeEndpointOutput, name: string): EndpointState {
  return {
    endpointName: d.EndpointName ?? name,
    status: d.EndpointStatus ?? 'Unknown',
    ...(d.EndpointConfigName ? { configName: d.EndpointConfigName } : {}),
    ...(d.FailureReason ? { failureReason: d.FailureReason } : {}),
  };
}

/** Where an endpoint's container logs go: CloudWatch on AWS; on the local control plane, files in its state folder. */
export function endpointLogs(endpointName: string, local: boolean): string {
  if (!local) return `CloudWatch Logs group /aws/sagemaker/Endpoints/${endpointName}, one stream per variant instance`;
  return `local control plane: <state>/endpoints/${endpointName}/<config>-<n>-<time>/<variant>-<instance>/serve.log`;
}

export function createEndpointActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;
  const runtime = deps.clients.runtime;

  /** DescribeEndpoint, or undefined when there is no such endpoint. */
  function findEndpoint(name: string): Promise<DescribeEndpointOutput | undefined> {
    return awsCallOr(
      { operation: 'DescribeEndpoint', resource: `endpoint ${name}` },
      () => sm.send(new DescribeEndpointCommand({ EndpointName: name })),
      isNotFoundError,
      undefined,
    );
  }

  /** Whether the create made the resource. Names are this run's own: an existing one is what a lost response hid. */
  async function createOnce(operation: string, resource: string, send: () => Promise<unknown>): Promise<boolean> {
    return awsCallOr({ operation, resource }, () => send().then(() => true), isAlreadyExistsError, false);
  }

  async function createModel(input: CreateModelInput): Promise<void> {
    const env = activityEnv(deps.log);
    const created = await createOnce('CreateModel', `model ${input.modelName}`, () =>
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
    const created = await createOnce('CreateEndpointConfig', `endpoint config ${input.configName}`, () =>
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
    const d = await findEndpoint(name);
    if (!d) return null;
    const status = d.EndpointStatus ?? 'Unknown';
    if (status === 'Failed') throw failedEndpoint(name, d);
    // What serves before our change is only known once the change in flight settles.
    if (IN_FLIGHT.has(status)) throw notReady({ resource: `endpoint ${name}`, status, poll: env.attempt, detail: 'waiting for the change in flight before deploying' });
    return endpointState(d, name);
  }

  async function deployEndpoint(input: DeployEndpointInput): Promise<DeployEndpointResult> {
    const result = await deployOnce(input);
    return { ...result, logs: endpointLogs(input.endpointName, deps.clients.local) };
  }

  async function deployOnce(input: DeployEndpointInput): Promise<DeployEndpointResult> {
    const env = activityEnv(deps.log);
    const name = input.endpointName;
    const before = input.before;
    const current = await findEndpoint(name);
    if (!current) {
      const created = await createOnce('CreateEndpoint', `endpoint ${name}`, () =>
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
    if (IN_FLIGHT.has(status)) {
      // Wait for the change in flight to settle before starting ours.
      throw notReady({ resource: `endpoint ${name}`, status, poll: env.attempt, detail: 'waiting for the change in flight before updating' });
    }
    const previous = current.EndpointConfigName;
    await awsCall({ operation: 'UpdateEndpoint', resource: `endpoint ${name}` }, () =>
      sm.send(new UpdateEndpointCommand({ EndpointName: name, EndpointConfigName: input.configName, DeploymentConfig: deploymentConfig(input.strategy) })),
    );
    env.log.info('endpoint update started', { endpointName: name, configName: input.configName, previousConfigName: previous, strategy: input.strategy.type });
    return { action: 'updated', ...(previous ? { previousConfigName: previous } : {}) };
  }

  async function awaitEndpoint(input: AwaitEndpointInput): Promise<EndpointState> {
    const env = activityEnv(deps.log);
    const d = await findEndpoint(input.endpointName);
    if (!d) {
      throw terminal(ErrorTypes.AwsNotFound, `endpoint ${input.endpointName} does not exist: it was deleted while the pipeline waited for it; run the pipeline again`, {
        endpointName: input.endpointName,
      });
    }
    const c = classifyEndpoint(d);
    if (c.state === 'in-progress') throw notReady({ resource: `endpoint ${input.endpointName}`, status: c.status, poll: env.attempt });
    return endpointState(d, input.endpointName);
  }

  async function invokeSmokeTest(endpointName: string, test: SmokeTestSpec): Promise<VerifyResult> {
    const body = typeof test.body === 'string' ? test.body : JSON.stringify(test.body);
    try {
      const out = await runtime.send(
        new InvokeEndpointCommand({ EndpointName: endpointName, Body: Buffer.from(body, 'utf8'), ContentType: test.contentType, Accept: test.accept }),
      );
      const text = out.Body ? Buffer.from(out.Body).toString('utf8') : '';
      return judgeSmokeTest(test, 200, text);
    } catch (err) {
      if (hasErrorCode(err, 'ModelError')) {
        // The container answered with an error status; SageMaker relays it as ModelError.
        const e = err as { OriginalStatusCode?: number; OriginalMessage?: string; message?: string };
        return judgeSmokeTest(test, e.OriginalStatusCode ?? 500, e.OriginalMessage ?? e.message ?? '');
      }
      const facts = errorFacts(err);
      if (categorize(facts) === 'retryable') throw classifyAwsError(err, { operation: 'InvokeEndpoint', resource: `endpoint ${endpointName}` });
      return { ok: false, reason: `the smoke test request failed: ${facts.code}: ${facts.message}` };
    }
  }

  async function verifyEndpoint(input: VerifyEndpointInput): Promise<VerifyResult> {
    const env = activityEnv(deps.log);
    const d = await findEndpoint(input.endpointName);
    const problems = d ? endpointProblems(endpointState(d, input.endpointName), input.expectedConfigName) : [`endpoint ${input.endpointName} does not exist`];
    let result: VerifyResult;
    if (problems.length) result = { ok: false, reason: problems.join('; ') };
    else if (!input.smokeTest) result = { ok: true };
    else result = await invokeSmokeTest(input.endpointName, input.smokeTest);
    env.log.info(result.ok ? 'endpoint verified' : 'endpoint verification failed', { endpointName: input.endpointName, reason: result.reason });
    return result;
  }

  async function rollbackEndpoint(input: RollbackEndpointInput): Promise<void> {
    const env = activityEnv(deps.log);
    const d = await findEndpoint(input.endpointName);
    if (!d) {
      throw terminal(ErrorTypes.AwsNotFound, `cannot roll back endpoint ${input.endpointName}: it does not exist`, { endpointName: input.endpointName });
    }
    const status = d.EndpointStatus ?? 'Unknown';
    if (status === 'Updating' && d.PendingDeploymentSummary?.EndpointConfigName === input.configName) return;
    if (IN_FLIGHT.has(status)) throw notReady({ resource: `endpoint ${input.endpointName}`, status, poll: env.attempt, detail: 'waiting to roll back' });
    // Also the case after a failed update: SageMaker left it serving the old config.
    if (d.EndpointConfigName === input.configName) {
      env.log.info('endpoint already on the rollback config', { endpointName: input.endpointName, configName: input.configName });
      return;
    }
    await awsCall({ operation: 'UpdateEndpoint', resource: `endpoint ${input.endpointName}` }, () =>
      sm.send(new UpdateEndpointCommand({ EndpointName: input.endpointName, EndpointConfigName: input.configName })),
    );
    env.log.warn('endpoint rolled back', { endpointName: input.endpointName, configName: input.configName });
  }

  /** A resource already gone is deleted. */
  async function deleteQuietly(operation: string, resource: string, send: () => Promise<unknown>): Promise<void> {
    await awsCallOr({ operation, resource }, send, isNotFoundError, undefined);
  }

  async function deleteEndpoint(input: DeleteResourceInput): Promise<void> {
    await deleteQuietly('DeleteEndpoint', `endpoint ${input.name}`, () => sm.send(new DeleteEndpointCommand({ EndpointName: input.name })));
  }
  async function deleteEndpointConfig(input: DeleteResourceInput): Promise<void> {
    await deleteQuietly('DeleteEndpointConfig', `endpoint config ${input.name}`, () =>
      sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: input.name })),
    );
  }
  async function deleteModel(input: DeleteResourceInput): Promise<void> {
    await deleteQuietly('DeleteModel', `model ${input.name}`, () => sm.send(new DeleteModelCommand({ ModelName: input.name })));
  }

  interface Named {
    name: string;
    created: number;
  }

  async function listOwned(kind: 'configs' | 'models', pipeline: string): Promise<Named[]> {
    const prefix = ownedPrefix(pipeline);
    const out: Named[] = [];
    let token: string | undefined;
    do {
      if (kind === 'configs') {
        const page = await sm.send(
          new ListEndpointConfigsCommand({ NameContains: prefix, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 100, NextToken: token }),
        );
        for (const c of page.EndpointConfigs ?? []) {
          if (c.EndpointConfigName) out.push({ name: c.EndpointConfigName, created: c.CreationTime?.getTime() ?? 0 });
        }
        token = page.NextToken;
      } else {
        const page = await sm.send(new ListModelsCommand({ NameContains: prefix, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 100, NextToken: token }));
        for (const m of page.Models ?? []) if (m.ModelName) out.push({ name: m.ModelName, created: m.CreationTime?.getTime() ?? 0 });
        token = page.NextToken;
      }
    } while (token);
    // NameContains matches anywhere, and another pipeline's name may start with ours. Newest first.
    const step = kind === 'configs' ? 'config' : 'model';
    return out.filter((r) => isOwnedName(pipeline, r.name, step)).sort((a, b) => b.created - a.created || (a.name < b.name ? 1 : -1));
  }

  async function modelsOf(configName: string): Promise<string[]> {
    const d = await awsCallOr(
      { operation: 'DescribeEndpointConfig', resource: `endpoint config ${configName}` },
      () => sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: configName })),
      isNotFoundError,
      undefined,
    );
    return (d?.ProductionVariants ?? []).map((v) => v.ModelName).filter((m): m is string => !!m);
  }

  /**
   * Every config any endpoint in the account runs or is moving to. A config
   * (and its model) may be in use by an endpoint other than the spec's: a
   * renamed deployment.endpointName, a staging endpoint, one made by hand.
   */
  async function configsInUse(): Promise<Set<string>> {
    const endpoints: string[] = [];
    let token: string | undefined;
    do {
      const page = await sm.send(new ListEndpointsCommand({ MaxResults: 100, NextToken: token }));
      for (const e of page?.Endpoints ?? []) if (e.EndpointName) endpoints.push(e.EndpointName);
      token = page?.NextToken;
    } while (token);
    const inUse = new Set<string>();
    for (const name of endpoints) {
      const d = await findEndpoint(name);
      for (const c of [d?.EndpointConfigName, d?.PendingDeploymentSummary?.EndpointConfigName]) if (c) inUse.add(c);
    }
    return inUse;
  }

  async function cleanupOldVersions(input: CleanupInput): Promise<CleanupResult> {
    const env = activityEnv(deps.log);
    const keep = Math.max(1, input.keep);
    let configs: Named[];
    let models: Named[];
    try {
      configs = await listOwned('configs', input.pipeline);
      models = await listOwned('models', input.pipeline);
    } catch (err) {
      if (hasErrorCode(err, 'UnknownOperationException')) {
        env.log.warn('the control plane cannot list endpoint configs or models; nothing cleaned up', { pipeline: input.pipeline });
        return { deletedConfigs: [], deletedModels: [] };
      }
      throw classifyAwsError(err, { operation: 'ListEndpointConfigs/ListModels', resource: `pipeline ${input.pipeline}` });
    }
    if (configs.length === 0 && models.length === 0) return { deletedConfigs: [], deletedModels: [] };
    let inUse: Set<string>;
    try {
      inUse = await configsInUse();
    } catch (err) {
      // Without the list nothing can be known to be unused: delete nothing.
      if (hasErrorCode(err, 'UnknownOperationException')) {
        env.log.warn('the control plane cannot list endpoints; nothing cleaned up', { pipeline: input.pipeline });
        return { deletedConfigs: [], deletedModels: [] };
      }
      throw classifyAwsError(err, { operation: 'ListEndpoints', resource: `pipeline ${input.pipeline}` });
    }
    const endpoint = await findEndpoint(input.endpointName);
    const protectedConfigs = new Set<string>(
      [endpoint?.EndpointConfigName, endpoint?.PendingDeploymentSummary?.EndpointConfigName].filter((c): c is string => !!c),
    );
    // The live config always stays and counts towards `keep`; the newest others fill the rest.
    const keptConfigs = new Set(protectedConfigs);
    for (const c of configs) {
      if (keptConfigs.size >= keep) break;
      keptConfigs.add(c.name);
    }
    // Configs any other endpoint uses stay too, but do not count towards keep.
    for (const c of inUse) keptConfigs.add(c);
    const keptModels = new Set<string>();
    for (const c of keptConfigs) for (const m of await modelsOf(c)) keptModels.add(m);
    // The newest models also stay, which spares a concurrent run's model whose config does not exist yet.
    for (const m of models.slice(0, keep)) keptModels.add(m.name);

    const deletedConfigs: string[] = [];
    for (const c of configs) {
      if (keptConfigs.has(c.name)) continue;
      await deleteEndpointConfig({ name: c.name });
      deletedConfigs.push(c.name);
    }
    const deletedModels: string[] = [];
    for (const m of models) {
      if (keptModels.has(m.name)) continue;
      await deleteModel({ name: m.name });
      deletedModels.push(m.name);
    }
    env.log.info('old versions cleaned up', { pipeline: input.pipeline, deletedConfigs: deletedConfigs.length, deletedModels: deletedModels.length });
    return { deletedConfigs, deletedModels };
  }

  return {
    createModel,
    createEndpointConfig,
    describeEndpoint,
    deployEndpoint,
    awaitEndpoint,
    verifyEndpoint,
    rollbackEndpoint,
    deleteEndpoint,
    deleteEndpointConfig,
    deleteModel,
    cleanupOldVersions,
  };
}
