// Processing jobs: CreateProcessingJob, DescribeProcessingJob, StopProcessingJob,
// ListProcessingJobs. The container runs the AppSpecification's entrypoint and
// arguments with each input at its /opt/ml/processing/... LocalPath; outputs
// are copied to their S3Uri (file://) when it completes.
import { join } from 'node:path';
import { JOB_RUNNING_STATUSES, PROCESSING_JOB_STATUSES } from '../../aws/status';
import { checkFolderLinks } from '../../spec/context';
import { resourceInUse, validation } from '../errors';
import { PROCESSING_ROOT, type ProcessingOutcome, type ProcessingRunRequest } from '../processing-runner';
import { key, type Json, type JsonObject, type ProcessingJobRecord, type ProcessingJobStatus } from '../state';
import {
  arn,
  compact,
  isObject,
  listResources,
  localPath,
  nameOnly,
  nowSeconds,
  saveTags,
  snapshot,
  statusEquals,
  Validator,
  type ApiContext,
  type Handler,
} from './common';

const ROLE_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const IO_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const DEFAULT_MAX_RUNTIME = 86400;

/** Where the job's log is kept. */
export const processingLogFile = (ctx: ApiContext, jobName: string): string => join(ctx.workDir, 'processing', jobName, 'processing.log');

function find(ctx: ApiContext, name: string): ProcessingJobRecord {
  const rec = ctx.state.data.processingJobs[key(name)];
  if (!rec) throw validation(`Could not find requested job with name ${name}`);
  return rec;
}

function finish(rec: ProcessingJobRecord, outcome: ProcessingOutcome): void {
  const d = rec.describe;
  const now = nowSeconds();
  d.ProcessingJobStatus = outcome.status;
  d.ProcessingEndTime = now;
  d.LastModifiedTime = now;
  if (outcome.failureReason !== undefined) d.FailureReason = outcome.failureReason;
  if (outcome.exitMessage !== undefined) d.ExitMessage = outcome.exitMessage;
}

/** A LocalPath in SageMaker's rule: absolute, under /opt/ml/processing/, no `..`. */
function checkLocalPath(v: Validator, at: string, value: string | undefined): void {
  if (value === undefined) return;
  const segments = value.split('/');
  if (!value.startsWith(`${PROCESSING_ROOT}/`) || segments.includes('..') || value.length > 256) {
    v.fail(at, value, `Member must be an absolute path under ${PROCESSING_ROOT}/ (at most 256 characters, no ..)`);
  }
}

function runRequest(ctx: ApiContext, d: ProcessingJobRecord['describe']): ProcessingRunRequest {
  const app = d.AppSpecification as JsonObject;
  const cluster = (d.ProcessingResources as JsonObject).ClusterConfig as JsonObject;
  const stop = (d.StoppingCondition ?? {}) as JsonObject;
  const inputs = ((d.ProcessingInputs ?? []) as JsonObject[]).map((i) => {
    const s3 = i.S3Input as JsonObject;
    return { name: String(i.InputName), uri: String(s3.S3Uri), localPath: String(s3.LocalPath) };
  });
  const outputs = (((d.ProcessingOutputConfig as JsonObject | undefined)?.Outputs ?? []) as JsonObject[]).map((o) => {
    const s3 = o.S3Output as JsonObject;
    return { name: String(o.OutputName), uri: String(s3.S3Uri), localPath: String(s3.LocalPath) };
  });
  const jobDir = join(ctx.workDir, 'processing', d.ProcessingJobName);
  return {
    jobName: d.ProcessingJobName,
    imageUri: String(app.ImageUri),
    jobDir,
    logFile: processingLogFile(ctx, d.ProcessingJobName),
    ...(Array.isArray(app.ContainerEntrypoint) ? { entrypoint: app.ContainerEntrypoint.map(String) } : {}),
    ...(Array.isArray(app.ContainerArguments) ? { arguments: app.ContainerArguments.map(String) } : {}),
    environment: (d.Environment ?? {}) as Record<string, string>,
    inputs,
    outputs,
    instanceType: String(cluster.InstanceType ?? 'local'),
    maxRuntimeSeconds: typeof stop.MaxRuntimeInSeconds === 'number' ? stop.MaxRuntimeInSeconds : DEFAULT_MAX_RUNTIME,
    jobConfig: {
      ProcessingJobArn: d.ProcessingJobArn,
      ProcessingJobName: d.ProcessingJobName,
      AppSpecification: app,
      Environment: d.Environment ?? {},
      ProcessingInputs: d.ProcessingInputs ?? [],
      ProcessingOutputConfig: d.ProcessingOutputConfig ?? { Outputs: [] },
      ProcessingResources: d.ProcessingResources,
      StoppingCondition: { MaxRuntimeInSeconds: typeof stop.MaxRuntimeInSeconds === 'number' ? stop.MaxRuntimeInSeconds : DEFAULT_MAX_RUNTIME },
    },
  };
}

async function runJob(ctx: ApiContext, k: string, token: symbol): Promise<void> {
  const current = (): ProcessingJobRecord | undefined =>
    ctx.live.processing.get(k) === token ? ctx.state.data.processingJobs[k] : undefined;
  const rec0 = current();
  if (!rec0) return;
  let outcome: ProcessingOutcome;
  try {
    outcome = await ctx.processing.run(runRequest(ctx, rec0.describe));
  } catch (err) {
    outcome = { status: 'Failed', failureReason: `InternalServerError: the processing runner failed: ${(err as Error).message}` };
  }
  const rec = current();
  if (!rec) return;
  // A stop that arrived as the program ended still wins, as it would have a moment earlier.
  finish(rec, rec.describe.ProcessingJobStatus === 'Stopping' ? { ...outcome, status: 'Stopped', failureReason: undefined } : outcome);
  if (rec.describe.ProcessingJobStatus === 'Stopped') delete rec.describe.FailureReason;
  ctx.state.save();
  ctx.live.processing.delete(k);
}

export const createProcessingJob: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('ProcessingJobName') as string;
  v.obj('ProcessingResources', true);
  v.obj('ProcessingResources.ClusterConfig', true);
  v.int('ProcessingResources.ClusterConfig.InstanceCount', { required: true, min: 1, max: 100 });
  v.str('ProcessingResources.ClusterConfig.InstanceType', { required: true, max: 64 });
  v.int('ProcessingResources.ClusterConfig.VolumeSizeInGB', { required: true, min: 1, max: 16384 });
  v.obj('AppSpecification', true);
  v.str('AppSpecification.ImageUri', { required: true, max: 255 });
  for (const field of ['ContainerEntrypoint', 'ContainerArguments'] as const) {
    const list = v.arr(`AppSpecification.${field}`, { min: field === 'ContainerEntrypoint' ? 1 : 0, max: 100 }) ?? [];
    list.forEach((w, i) => {
      if (typeof w !== 'string' || w.length === 0 || w.length > 256) {
        v.fail(`AppSpecification.${field}.${i + 1}`, w, 'Member must be a string of 1 to 256 characters');
      }
    });
  }
  v.str('RoleArn', { required: true, min: 20, max: 2048, pattern: ROLE_PATTERN });
  v.obj('StoppingCondition');
  v.int('StoppingCondition.MaxRuntimeInSeconds', { required: v.get('StoppingCondition') !== undefined, min: 1, max: 777600 });
  const env = v.stringMap('Environment');
  if (env && Object.keys(env).length > 100) v.fail('Environment', env, 'Member must have length less than or equal to 100');
  const inputs = v.arr('ProcessingInputs', { max: 10 }) ?? [];
  const outputs = v.arr('ProcessingOutputConfig.Outputs', { required: isObject(req.ProcessingOutputConfig), max: 10 }) ?? [];
  // List members are checked through a view that keys them 1, 2, ... (the Validator walks objects only).
  const indexed = (list: Json[]): JsonObject => Object.fromEntries(list.map((item, i) => [String(i + 1), item]));
  const iv = new Validator({ ProcessingInputs: indexed(inputs), ProcessingOutputConfig: { Outputs: indexed(outputs) } });
  const seenInputs = new Set<string>();
  inputs.forEach((input, i) => {
    const at = `ProcessingInputs.${i + 1}`;
    if (!isObject(input)) return iv.fail(at, input, 'Member must be a structure');
    iv.str(`${at}.InputName`, { required: true, pattern: IO_NAME, patternText: '[a-zA-Z0-9_-]{1,64}' });
    if (typeof input.InputName === 'string') {
      if (seenInputs.has(input.InputName)) iv.fail(`${at}.InputName`, input.InputName, 'Member must be unique among ProcessingInputs');
      seenInputs.add(input.InputName);
    }
    if (input.DatasetDefinition !== undefined) iv.fail(`${at}.DatasetDefinition`, input.DatasetDefinition, 'is not supported locally: use S3Input with a file:// S3Uri');
    iv.obj(`${at}.S3Input`, input.DatasetDefinition === undefined);
    iv.str(`${at}.S3Input.S3Uri`, { required: true, max: 1024 });
    checkLocalPath(iv, `${at}.S3Input.LocalPath`, iv.str(`${at}.S3Input.LocalPath`, { required: true }));
    iv.oneOf(`${at}.S3Input.S3DataType`, ['ManifestFile', 'S3Prefix'] as const, true);
    iv.oneOf(`${at}.S3Input.S3InputMode`, ['Pipe', 'File'] as const);
    iv.oneOf(`${at}.S3Input.S3DataDistributionType`, ['FullyReplicated', 'ShardedByS3Key'] as const);
    iv.oneOf(`${at}.S3Input.S3CompressionType`, ['None', 'Gzip'] as const);
  });
  iv.obj('ProcessingOutputConfig');
  const seenOutputs = new Set<string>();
  outputs.forEach((output, i) => {
    const at = `ProcessingOutputConfig.Outputs.${i + 1}`;
    if (!isObject(output)) return iv.fail(at, output, 'Member must be a structure');
    iv.str(`${at}.OutputName`, { required: true, pattern: IO_NAME, patternText: '[a-zA-Z0-9_-]{1,64}' });
    if (typeof output.OutputName === 'string') {
      if (seenOutputs.has(output.OutputName)) iv.fail(`${at}.OutputName`, output.OutputName, 'Member must be unique among Outputs');
      seenOutputs.add(output.OutputName);
    }
    if (output.FeatureStoreOutput !== undefined) iv.fail(`${at}.FeatureStoreOutput`, output.FeatureStoreOutput, 'is not supported locally: use S3Output');
    iv.obj(`${at}.S3Output`, output.FeatureStoreOutput === undefined);
    iv.str(`${at}.S3Output.S3Uri`, { required: true, max: 1024 });
    checkLocalPath(iv, `${at}.S3Output.LocalPath`, iv.str(`${at}.S3Output.LocalPath`, { required: true }));
    iv.oneOf(`${at}.S3Output.S3UploadMode`, ['Continuous', 'EndOfJob'] as const, true);
  });
  const tags = v.tags();
  v.done();
  iv.done();

  // What the local control plane cannot do as SageMaker does is refused before anything runs.
  inputs.forEach((input, i) => {
    const s3 = (input as JsonObject).S3Input as JsonObject;
    const at = `ProcessingInputs.${i + 1}.S3Input`;
    if (s3.S3DataType === 'ManifestFile') throw validation(`${at}.S3DataType 'ManifestFile' is not supported locally: use S3Prefix.`);
    if (s3.S3InputMode === 'Pipe') throw validation(`${at}.S3InputMode 'Pipe' is not supported locally: use File.`);
    if (s3.S3CompressionType === 'Gzip') throw validation(`${at}.S3CompressionType 'Gzip' is not supported locally: use None.`);
    const folder = localPath(String(s3.S3Uri), `${at}.S3Uri`);
    const links = checkFolderLinks(folder, `${at}.S3Uri`, `input "${String((input as JsonObject).InputName)}"`);
    if (links.length > 0) throw validation(links.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  });
  const localPaths = [
    ...inputs.map((i) => String(((i as JsonObject).S3Input as JsonObject).LocalPath)),
    ...outputs.map((o) => String(((o as JsonObject).S3Output as JsonObject).LocalPath)),
  ].map((p) => p.replace(/\/+$/, ''));
  localPaths.forEach((p, i) => {
    const clash = localPaths.find((q, j) => j !== i && (q === p || q.startsWith(`${p}/`)));
    if (clash) throw validation(`LocalPath ${p} overlaps ${clash}: give each input and output its own folder under ${PROCESSING_ROOT}/.`);
  });
  outputs.forEach((output, i) => {
    const s3 = (output as JsonObject).S3Output as JsonObject;
    localPath(String(s3.S3Uri), `ProcessingOutputConfig.Outputs.${i + 1}.S3Output.S3Uri`);
  });

  const k = key(name);
  const jobArn = arn(ctx, 'processing-job', name);
  if (ctx.state.data.processingJobs[k]) {
    throw resourceInUse(`Processing job names must be unique within an AWS account and region, and a processing job with this name already exists (${jobArn})`);
  }
  const now = nowSeconds();
  const rec: ProcessingJobRecord = {
    describe: {
      ...compact({
        ProcessingInputs: req.ProcessingInputs,
        ProcessingOutputConfig: req.ProcessingOutputConfig,
        ProcessingResources: req.ProcessingResources,
        StoppingCondition: req.StoppingCondition,
        AppSpecification: req.AppSpecification,
        Environment: env,
        NetworkConfig: req.NetworkConfig,
        RoleArn: req.RoleArn,
        ExperimentConfig: req.ExperimentConfig,
      }),
      ProcessingJobName: name,
      ProcessingJobArn: jobArn,
      ProcessingJobStatus: 'InProgress',
      CreationTime: now,
      LastModifiedTime: now,
      // The local runner starts at once.
      ProcessingStartTime: now,
    },
  };
  ctx.state.data.processingJobs[k] = rec;
  saveTags(ctx, jobArn, tags);
  ctx.state.save();
  const token = Symbol(name);
  ctx.live.processing.set(k, token);
  ctx.track(runJob(ctx, k, token));
  return { ProcessingJobArn: jobArn };
};

export const describeProcessingJob: Handler = (ctx, req) => snapshot(find(ctx, nameOnly(req, 'ProcessingJobName')).describe);

export const stopProcessingJob: Handler = (ctx, req) => {
  const name = nameOnly(req, 'ProcessingJobName');
  const rec = find(ctx, name);
  const status = rec.describe.ProcessingJobStatus;
  if (status !== 'InProgress') throw validation(`The request was rejected because the processing job is in status ${status}.`);
  rec.describe.ProcessingJobStatus = 'Stopping';
  rec.describe.LastModifiedTime = nowSeconds();
  ctx.state.save();
  const k = key(name);
  if (ctx.live.processing.has(k)) {
    ctx.track(ctx.processing.stop(rec.describe.ProcessingJobName).catch((e: Error) => ctx.log(`stop ${k}: ${e.message}`)));
  } else {
    finish(rec, { status: 'Stopped' });
    ctx.state.save();
  }
  return {};
};

export const listProcessingJobs: Handler = (ctx, req) => {
  const all = Object.values(ctx.state.data.processingJobs).map((r) => r.describe);
  return listResources(req, all, {
    nameOf: (d) => d.ProcessingJobName,
    times: (d) => [d.CreationTime, d.LastModifiedTime],
    sortKeys: { Name: (d) => d.ProcessingJobName, CreationTime: (d) => d.CreationTime, Status: (d) => d.ProcessingJobStatus },
    defaultOrder: 'Ascending',
    filters: statusEquals(PROCESSING_JOB_STATUSES, (d) => d.ProcessingJobStatus),
    field: 'ProcessingJobSummaries',
    summary: (d) => ({
      ProcessingJobName: d.ProcessingJobName,
      ProcessingJobArn: d.ProcessingJobArn,
      CreationTime: d.CreationTime,
      ProcessingEndTime: d.ProcessingEndTime,
      LastModifiedTime: d.LastModifiedTime,
      ProcessingJobStatus: d.ProcessingJobStatus,
      FailureReason: d.FailureReason,
      ExitMessage: d.ExitMessage,
    }),
  });
};

/** After a restart: a job that was running has lost its process; it ends Failed and says why. */
export function recoverProcessingJobs(ctx: ApiContext, reason: string): void {
  let changed = false;
  for (const rec of Object.values(ctx.state.data.processingJobs)) {
    if (JOB_RUNNING_STATUSES.has(rec.describe.ProcessingJobStatus)) {
      finish(rec, { status: 'Failed', failureReason: reason });
      changed = true;
    }
  }
  if (changed) ctx.state.save();
}

export type { ProcessingJobStatus };
