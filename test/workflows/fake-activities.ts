// An in-memory fake of the pipeline's activities for workflow tests: every
// call is recorded, every function can be replaced per test.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { createEntityActivities } from '../../src/activities/endpoint-entity';
import type { PipelineActivities, TrainingResult } from '../../src/activities/types';
import type { PipelineSpec } from '../../src/spec/schema';
import { ErrorTypes } from '../../src/shared';

export type ActivityName = keyof PipelineActivities;

export interface FakeCall {
  name: ActivityName;
  input: Record<string, unknown>;
}

export interface FakeActivities {
  activities: PipelineActivities;
  calls: FakeCall[];
  /** Activity names in call order. */
  names(): ActivityName[];
  /** Inputs of every call to `name`. */
  inputs(name: ActivityName): Record<string, unknown>[];
  /** The config the fake endpoint serves, or undefined when it does not exist. */
  endpoint: { configName?: string };
}

export const CANDIDATE_ARN = 'arn:aws:sagemaker:us-east-1:000000000000:model-package/demo/7';
export const CANDIDATE_VERSION = 7;

export function notReady(what: string): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorTypes.NotReady, message: `${what} still in progress`, category: ApplicationFailureCategory.BENIGN });
}

export function trainingResult(jobName: string, metrics = [{ name: 'rmse', value: 0.3 }]): TrainingResult {
  return { jobName, status: 'Completed', metrics, modelArtifact: 'file:///tmp/out/model.tar.gz', trainingSeconds: 3, logs: 'file:///tmp/out/train.log' };
}

/**
 * A fake that deploys happily: training reports rmse 0.3, there is no
 * champion, the endpoint is created (or updated, when `servingConfig` says
 * an endpoint already serves) and verifies.
 */
export function fakeActivities(overrides: Partial<PipelineActivities> = {}, opts: { servingConfig?: string } = {}): FakeActivities {
  const calls: FakeCall[] = [];
  const endpoint: { configName?: string } = { configName: opts.servingConfig };

  const defaults: PipelineActivities = {
    // The real requests to the endpoint entity (a Temporal client call): the entity runs on the test worker with these
    // fakes. Each test's worker has its own task queue, and so its own entity of the endpoint.
    ...createEntityActivities(async () => `test-${Context.current().info.taskQueue}`),
    async validateSpec({ spec }) {
      return { spec: spec as PipelineSpec };
    },
    async buildImage({ pipeline }) {
      return { imageUri: `000000000000.dkr.ecr.us-east-1.amazonaws.com/${pipeline}:c0ffee`, contentHash: 'c0ffee', built: true };
    },
    async fingerprintData() {
      return { fingerprint: 'fp-new', objects: 2, bytes: 100 };
    },
    async startTraining({ jobName }) {
      return { jobName, jobArn: `arn:aws:sagemaker:us-east-1:000000000000:training-job/${jobName}`, created: true };
    },
    async awaitTraining({ jobName }) {
      return trainingResult(jobName);
    },
    async stopTraining() {},
    async describeChampion() {
      return null;
    },
    async registerCandidate() {
      return { modelPackageArn: CANDIDATE_ARN, version: CANDIDATE_VERSION, created: true };
    },
    async setApproval() {},
    async createModel() {},
    async createEndpointConfig() {},
    async describeEndpoint({ endpointName }) {
      return endpoint.configName ? { endpointName, status: 'InService', configName: endpoint.configName } : null;
    },
    async deployEndpoint({ configName }) {
      const previous = endpoint.configName;
      endpoint.configName = configName;
      const logs = 'file:///tmp/endpoints/demo-endpoint/serve.log';
      return previous ? { action: 'updated', previousConfigName: previous, logs } : { action: 'created', logs };
    },
    async awaitEndpoint({ endpointName }) {
      return { endpointName, status: 'InService', configName: endpoint.configName };
    },
    async verifyEndpoint() {
      return { ok: true, response: { status: 200, excerpt: '{"predictions":[1]}' } };
    },
    async rollbackEndpoint({ configName }) {
      endpoint.configName = configName;
      return { action: 'started', configName };
    },
    async deleteEndpoint() {
      endpoint.configName = undefined;
    },
    async deleteEndpointConfig() {},
    async deleteModel() {},
    async markChampion() {},
    async cleanupOldVersions() {
      return { deletedConfigs: [], deletedModels: [] };
    },
  };

  const merged = { ...defaults, ...overrides };
  const activities = Object.fromEntries(
    (Object.keys(merged) as ActivityName[]).map((name) => [
      name,
      (input: Record<string, unknown>) => {
        calls.push({ name, input });
        return (merged[name] as (i: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as PipelineActivities;

  return {
    activities,
    calls,
    endpoint,
    names: () => calls.map((c) => c.name),
    inputs: (name) => calls.filter((c) => c.name === name).map((c) => c.input),
  };
}

/** A validated spec (defaults applied); `patch` adjusts it for one test. */
export function testSpec(patch?: (spec: PipelineSpec) => void): PipelineSpec {
  const spec: PipelineSpec = {
    name: 'demo',
    image: { context: 'examples/demo', dockerfile: 'Dockerfile' },
    training: {
      inputs: [{ name: 'train', uri: 'file:///data/demo/train', contentType: 'text/csv' }],
      outputPath: 'file:///data/demo/out',
      hyperparameters: {},
      instanceType: 'ml.m5.large',
      instanceCount: 1,
      volumeSizeGB: 10,
      maxRuntime: '1h',
      roleArn: 'arn:aws:iam::000000000000:role/champ-local',
      metrics: [{ name: 'rmse', regex: 'rmse=([0-9.]+)' }],
      environment: {},
    },
    gate: {
      thresholds: [{ metric: 'rmse', op: '<=', value: 0.5 }],
      champion: { metric: 'rmse', direction: 'minimize', minImprovement: 0 },
    },
    approval: { required: false, timeout: '1h', onTimeout: 'reject' },
    deployment: {
      endpointName: 'demo-endpoint',
      instanceType: 'ml.m5.large',
      instanceCount: 1,
      variantName: 'AllTraffic',
      strategy: { type: 'all-at-once', waitInterval: '5m', terminationWait: '0s', alarms: [] },
      keep: 3,
      whenFrozen: 'wait',
      environment: {},
    },
    timeouts: { build: '10m', training: '1h', deploy: '30m' },
    tags: {},
  };
  patch?.(spec);
  return spec;
}
