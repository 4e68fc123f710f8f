// batchTransform: run a model package version (or the current champion) over
// an input location and say where the answers are. The transform job waits
// with check-once-and-throw (the retry policy is the poll); a cancelled run
// stops its job and waits until it is Stopped; the model it made for the job
// is deleted when the job has ended, whatever the ending.
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { ControlActivities, ModelPackageInfo, TransformControlActivities, TransformResult, TransformWaitActivities } from '../activities/types';
import { runKey } from '../aws/naming';
import { ErrorTypes, NON_RETRYABLE_ERROR_TYPES } from '../shared';
import { durationMs } from '../spec/duration';
import type { PipelineSpec } from '../spec/schema';
import { describe } from './failures';
import { CONTROL_OPTIONS, pollIntervals } from './options';

export type TransformStage = 'starting' | 'validating' | 'resolving-model' | 'creating-model' | 'transforming' | 'stopping' | 'cleaning-up' | 'done';

export interface BatchTransformInput {
  /** The pipeline whose registry (model package group), role, instance type and environment apply. */
  spec: PipelineSpec;
  /** The model package version to run; absent: the pipeline's current champion. */
  modelVersion?: number;
  input: { uri: string; contentType?: string; splitType?: 'None' | 'Line' };
  /** Where the answers go (`<outputUri>/<input key>.out`); default `<training.outputPath>/transform/<job name>`. */
  outputUri?: string;
  /** The Accept header sent with each request. */
  accept?: string;
  instanceType?: string;
  instanceCount?: number;
  /** Deadline for the job, as a spec duration (`2h`); default the spec's training timeout. */
  timeout?: string;
  poll?: { initialSeconds?: number; maxSeconds?: number };
  requestedBy?: string;
}

export interface BatchTransformResult {
  outcome: 'completed';
  pipeline: string;
  modelVersion: number;
  modelPackageArn: string;
  /** True when the version was the champion's (no modelVersion given). */
  champion: boolean;
  jobName: string;
  /** Where the answers are. */
  outputUri: string;
  inputObjects: number;
  outputObjects: number;
  seconds: number;
}

export interface BatchTransformStatus {
  stage: TransformStage;
  pipeline: string;
  requestedBy?: string;
  modelVersion?: number;
  modelPackageArn?: string;
  jobName?: string;
  modelName?: string;
  inputUri: string;
  outputUri?: string;
  inputObjects?: number;
  outcome?: 'completed' | 'failed' | 'cancelled';
  reason?: string;
  timings: Array<{ stage: TransformStage; startedAt: string; endedAt?: string }>;
}

export const transformStatusQuery = wf.defineQuery<BatchTransformStatus>('status');

const invalid = (field: string, message: string): ApplicationFailure =>
  ApplicationFailure.nonRetryable(`input.${field} ${message}`, ErrorTypes.InvalidInput, { field: `input.${field}` });

/** What surrounds the spec in the input, checked before any activity (validateSpec checks the spec itself). */
function checkInput(input: BatchTransformInput): void {
  if (typeof input !== 'object' || input === null) throw invalid('', 'must be an object with spec and input');
  if (typeof input.input !== 'object' || input.input === null) throw invalid('input', 'must be an object: { uri, contentType?, splitType? }');
  if (typeof input.input.uri !== 'string' || input.input.uri.trim() === '') throw invalid('input.uri', 'must be the data location (s3://bucket/prefix, or file:// locally)');
  if (input.input.splitType !== undefined && input.input.splitType !== 'None' && input.input.splitType !== 'Line') {
    throw invalid('input.splitType', `must be None or Line (got ${String(input.input.splitType)})`);
  }
  if (input.modelVersion !== undefined && (!Number.isInteger(input.modelVersion) || input.modelVersion < 1)) {
    throw invalid('modelVersion', `must be a version number of 1 or more (got ${String(input.modelVersion)}); omit it for the champion`);
  }
  if (input.instanceCount !== undefined && (!Number.isInteger(input.instanceCount) || input.instanceCount < 1)) {
    throw invalid('instanceCount', `must be a whole number of 1 or more (got ${String(input.instanceCount)})`);
  }
  if (input.outputUri !== undefined && (typeof input.outputUri !== 'string' || input.outputUri.trim() === '')) {
    throw invalid('outputUri', 'must be a location (s3://bucket/prefix, or file:// locally); omit it for the default');
  }
  if (input.timeout !== undefined) {
    try {
      durationMs(input.timeout);
    } catch {
      throw invalid('timeout', `must be a duration such as 30m or 6h (got ${String(input.timeout)})`);
    }
  }
}

export async function batchTransform(input: BatchTransformInput): Promise<BatchTransformResult> {
  const status: BatchTransformStatus = {
    stage: 'starting',
    pipeline: typeof input?.spec?.name === 'string' ? input.spec.name : '',
    requestedBy: input?.requestedBy,
    inputUri: typeof input?.input?.uri === 'string' ? input.input.uri : '',
    timings: [],
  };
  wf.setHandler(transformStatusQuery, () => status);
  const stage = async <T>(name: TransformStage, work: () => Promise<T>): Promise<T> => {
    const open = status.timings[status.timings.length - 1];
    if (open && !open.endedAt) open.endedAt = new Date().toISOString();
    status.stage = name;
    status.timings.push({ stage: name, startedAt: new Date().toISOString() });
    return work();
  };
  const end = (outcome: BatchTransformStatus['outcome'], reason?: string): void => {
    const open = status.timings[status.timings.length - 1];
    if (open && !open.endedAt) open.endedAt = new Date().toISOString();
    status.stage = 'done';
    status.outcome = outcome;
    if (reason) status.reason = reason;
  };

  const control = wf.proxyActivities<ControlActivities & TransformControlActivities>(CONTROL_OPTIONS);
  let jobName: string | undefined;
  let modelName: string | undefined;
  let started = false;
  let wait: TransformWaitActivities | undefined;
  try {
    checkInput(input);
    const { spec, poll } = await stage('validating', async () => {
      const validated = await control.validateSpec({ spec: input.spec });
      return { spec: validated.spec, poll: pollIntervals(input.poll, validated.suggestedPoll) };
    });
    status.pipeline = spec.name;
    const pollRetry = { initialInterval: poll.initialMs, backoffCoefficient: 1.5, maximumInterval: poll.maxMs, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
    wait = wf.proxyActivities<TransformWaitActivities>({
      startToCloseTimeout: '1m',
      scheduleToCloseTimeout: durationMs(input.timeout ?? spec.timeouts.training),
      retry: pollRetry,
    });

    const model = await stage('resolving-model', () => resolveModel(control, spec, input.modelVersion));
    status.modelVersion = model.version;
    status.modelPackageArn = model.modelPackageArn;

    const info = wf.workflowInfo();
    const key = runKey(info.workflowId, info.runId);
    jobName = status.jobName = `${spec.name}-${key}-bt`;
    modelName = status.modelName = `${spec.name}-${key}-btm`;
    const outputUri = (status.outputUri = input.outputUri ?? `${spec.training.outputPath.replace(/\/+$/, '')}/transform/${jobName}`);
    const tags = { ...spec.tags, 'champ:pipeline': spec.name, 'champ:workflow-id': info.workflowId };

    const madeModel = modelName;
    await stage('creating-model', () =>
      control.createModel({ modelName: madeModel, imageUri: model.imageUri, modelArtifact: model.modelArtifact, roleArn: spec.training.roleArn, environment: spec.deployment.environment, tags }),
    );
    const result = await stage('transforming', async (): Promise<TransformResult> => {
      // Marked before the create: a cancellation while startTransform runs may land after the job exists.
      started = true;
      const job = await control.startTransform({
        jobName: jobName as string,
        modelName: madeModel,
        input: { uri: input.input.uri, ...(input.input.contentType ? { contentType: input.input.contentType } : {}), splitType: input.input.splitType ?? 'Line' },
        outputUri,
        ...(input.accept ? { accept: input.accept } : {}),
        instanceType: input.instanceType ?? spec.deployment.instanceType,
        instanceCount: input.instanceCount ?? 1,
        tags,
      });
      status.inputObjects = job.inputObjects;
      return (wait as TransformWaitActivities).awaitTransform({ jobName: job.jobName, outputUri, inputObjects: job.inputObjects });
    });
    started = false;
    await stage('cleaning-up', () => deleteModelQuietly(control, madeModel));
    end('completed');
    return {
      outcome: 'completed',
      pipeline: spec.name,
      modelVersion: model.version,
      modelPackageArn: model.modelPackageArn,
      champion: input.modelVersion === undefined,
      jobName: result.jobName,
      outputUri: result.outputUri,
      inputObjects: status.inputObjects ?? 0,
      outputObjects: result.outputObjects,
      seconds: result.seconds,
    };
  } catch (err) {
    const cancelled = wf.isCancellation(err);
    const reason = cancelled ? 'batch transform cancelled' : `batch transform failed: ${describe(err)}`;
    await wf.CancellationScope.nonCancellable(async () => {
      if (started && jobName && !jobEnded(err)) {
        const name = jobName;
        await stage('stopping', async () => {
          await control.stopTransform({ jobName: name });
          // The answers written so far stay; the job is only over once SageMaker says Stopped (or it ended first).
          if (wait) await wait.awaitTransform({ jobName: name, outputUri: status.outputUri ?? '' }).catch(() => undefined);
        });
      }
      if (modelName) {
        const name = modelName;
        await stage('cleaning-up', () => deleteModelQuietly(control, name));
      }
    });
    end(cancelled ? 'cancelled' : 'failed', reason);
    throw err;
  }
}

/** The job itself ended Failed or Stopped: nothing left to stop. */
function jobEnded(err: unknown): boolean {
  const cause = err instanceof wf.ActivityFailure ? err.cause : undefined;
  return cause instanceof ApplicationFailure && (cause.type === ErrorTypes.TransformFailed || cause.type === ErrorTypes.TransformStopped);
}

async function resolveModel(control: ControlActivities & TransformControlActivities, spec: PipelineSpec, version: number | undefined): Promise<ModelPackageInfo> {
  if (version !== undefined) return control.describeModelPackage({ modelPackageGroupName: spec.name, version });
  const champion = await control.describeChampion({ modelPackageGroupName: spec.name });
  if (!champion) {
    throw ApplicationFailure.nonRetryable(
      `pipeline ${spec.name} has no champion yet: give input.modelVersion (a registered version), or deploy a model first`,
      ErrorTypes.InvalidInput,
      { field: 'input.modelVersion' },
    );
  }
  return control.describeModelPackage({ modelPackageGroupName: spec.name, modelPackageArn: champion.modelPackageArn });
}

async function deleteModelQuietly(control: ControlActivities, modelName: string): Promise<void> {
  try {
    await control.deleteModel({ name: modelName });
  } catch (err) {
    // Housekeeping: a model left behind costs nothing and blocks nothing.
    wf.log.warn('transform model not deleted', { modelName, reason: describe(err) });
  }
}
