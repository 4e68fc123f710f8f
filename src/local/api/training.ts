// Training jobs: CreateTrainingJob, DescribeTrainingJob, StopTrainingJob, ListTrainingJobs.
import { join } from 'node:path';
import { JOB_RUNNING_STATUSES, TRAINING_JOB_STATUSES } from '../../aws/status';
import { checkFolderLinks } from '../../spec/context';
import { describeBacktrackingProblem, findBacktrackingProblem } from '../../spec/regex-safety';
import { listOrphanContainers, planeIdFor } from '../containers';
import { resourceInUse, resourceLimitExceeded, validation } from '../errors';
import type { TrainingOutcome, TrainingProgress, TrainingRunRequest } from '../runtime';
import { key, type Json, type JsonObject, type TrainingJobRecord, type TrainingJobStatus } from '../state';
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

/** Why a transform job that ran when the control plane restarted ended Failed (training jobs are taken up again instead). */
export const RESTART_REASON = 'The local control plane restarted while the job was running; start a new job.';

/** SageMaker's MetricDefinition.Regex limit. */
const MAX_METRIC_REGEX_LENGTH = 500;

const ROLE_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;

const notFound = () => validation('Requested resource not found.');

function find(ctx: ApiContext, name: string): TrainingJobRecord {
  const rec = ctx.state.data.trainingJobs[key(name)];
  if (!rec) throw notFound();
  return rec;
}

/** Where the job's log is kept: the runner writes `<jobDir>/train.log` (see TrainingRunRequest.logFile). */
export const trainingLogFile = (ctx: ApiContext, jobName: string): string => join(ctx.workDir, 'training', jobName, 'train.log');

/** Status messages name the kept log, so a caller of DescribeTrainingJob can find it (there is no CloudWatch locally). */
const withLog = (message: string, logFile: string | undefined): string =>
  logFile ? `${message.replace(/\.?\s*$/, '')}. Log at ${logFile}` : message;

function transition(rec: TrainingJobRecord, status: string, message: string, now = nowSeconds()): void {
  const d = rec.describe;
  const last = d.SecondaryStatusTransitions[d.SecondaryStatusTransitions.length - 1];
  if (last && last.EndTime === undefined) last.EndTime = now;
  d.SecondaryStatusTransitions.push({ Status: status, StartTime: now, StatusMessage: message });
  d.SecondaryStatus = status;
  d.LastModifiedTime = now;
}

function finish(
  rec: TrainingJobRecord,
  status: Exclude<TrainingJobStatus, 'InProgress' | 'Stopping'>,
  detail: { failureReason?: string; outcome?: TrainingOutcome; logFile?: string },
): void {
  const d = rec.describe;
  const now = nowSeconds();
  const maxRuntime = status === 'Stopped' && detail.outcome?.secondaryStatus === 'MaxRuntimeExceeded';
  const message =
    status === 'Completed'
      ? 'Training job completed'
      : maxRuntime
        ? `Training job runtime exceeded MaxRuntimeInSeconds provided (${String((d.StoppingCondition as JsonObject | undefined)?.MaxRuntimeInSeconds ?? 86400)} s)`
        : status === 'Stopped'
          ? 'Training job stopped'
          : (detail.failureReason ?? 'Training job failed');
  transition(rec, maxRuntime ? 'MaxRuntimeExceeded' : status, withLog(message, detail.logFile || undefined), now);
  const last = d.SecondaryStatusTransitions[d.SecondaryStatusTransitions.length - 1];
  if (last) last.EndTime = now;
  d.TrainingJobStatus = status;
  d.TrainingEndTime = now;
  const start = typeof d.TrainingStartTime === 'number' ? d.TrainingStartTime : d.CreationTime;
  const seconds = Math.max(0, Math.round(now - start));
  d.TrainingTimeInSeconds = seconds;
  d.BillableTimeInSeconds = seconds;
  if (detail.failureReason !== undefined) d.FailureReason = detail.failureReason;
  const o = detail.outcome;
  if (o) {
    if (o.modelArtifact && status !== 'Failed') d.ModelArtifacts = { S3ModelArtifacts: o.modelArtifact };
    d.FinalMetricDataList = o.finalMetrics.map((m) => ({
      MetricName: m.MetricName,
      Value: m.Value,
      Timestamp: m.Timestamp.getTime() / 1000,
    }));
  }
}

function runRequest(ctx: ApiContext, d: TrainingJobRecord['describe'], resume?: TrainingRunRequest['resume']): TrainingRunRequest {
  const algo = d.AlgorithmSpecification as JsonObject;
  const rc = d.ResourceConfig as JsonObject;
  const out = d.OutputDataConfig as JsonObject;
  const stop = d.StoppingCondition as JsonObject;
  const metricDefs = Array.isArray(algo.MetricDefinitions) ? algo.MetricDefinitions : [];
  return {
    jobName: d.TrainingJobName,
    imageUri: String(algo.TrainingImage),
    jobDir: join(ctx.workDir, 'training', d.TrainingJobName),
    logFile: trainingLogFile(ctx, d.TrainingJobName),
    hyperParameters: (d.HyperParameters ?? {}) as Record<string, string>,
    inputDataConfig: (d.InputDataConfig ?? []) as unknown as TrainingRunRequest['inputDataConfig'],
    resourceConfig: {
      InstanceType: String(rc.InstanceType ?? 'local'),
      InstanceCount: typeof rc.InstanceCount === 'number' ? rc.InstanceCount : 1,
      VolumeSizeInGB: typeof rc.VolumeSizeInGB === 'number' ? rc.VolumeSizeInGB : 1,
    },
    outputPath: String(out.S3OutputPath),
    maxRuntimeSeconds: typeof stop.MaxRuntimeInSeconds === 'number' ? stop.MaxRuntimeInSeconds : 86400,
    metricDefinitions: metricDefs.filter(isObject).map((m) => ({ Name: String(m.Name), Regex: String(m.Regex) })),
    environment: (d.Environment ?? {}) as Record<string, string>,
    ...(resume ? { resume, maxRuntimeSeconds: remainingRuntime(d) } : {}),
  };
}

const maxRuntimeOf = (d: TrainingJobRecord['describe']): number => {
  const stop = d.StoppingCondition as JsonObject | undefined;
  return typeof stop?.MaxRuntimeInSeconds === 'number' ? stop.MaxRuntimeInSeconds : 86400;
};

/** What is left of MaxRuntimeInSeconds, counted from the job's start (a restart does not reset SageMaker's clock). */
function remainingRuntime(d: TrainingJobRecord['describe'], now = nowSeconds()): number {
  const start = typeof d.TrainingStartTime === 'number' ? d.TrainingStartTime : d.CreationTime;
  return Math.floor(maxRuntimeOf(d) - (now - start));
}

async function runJob(ctx: ApiContext, k: string, token: symbol, resume?: TrainingRunRequest['resume']): Promise<void> {
  const startedMs = Date.now();
  const current = (): TrainingJobRecord | undefined =>
    ctx.live.training.get(k) === token ? ctx.state.data.trainingJobs[k] : undefined;
  const rec0 = current();
  if (!rec0) return;
  const logFile = trainingLogFile(ctx, rec0.describe.TrainingJobName);

  const injected = resume ? undefined : ctx.admin.takeTrainingFailure();
  if (injected !== undefined) {
    await ctx.admin.holdUntil('training', 'InProgress', startedMs);
    const rec = current();
    if (rec && rec.describe.TrainingJobStatus === 'InProgress') {
      finish(rec, 'Failed', { failureReason: injected });
      ctx.state.save();
    }
    ctx.live.training.delete(k);
    return;
  }

  const onProgress = (p: TrainingProgress): void => {
    const rec = current();
    if (!rec) return;
    const status = rec.describe.TrainingJobStatus;
    if (status !== 'InProgress' && !(status === 'Stopping' && p.secondaryStatus === 'Stopping')) return;
    if (rec.describe.SecondaryStatus === p.secondaryStatus) return;
    const named = p.secondaryStatus === 'Starting' || p.secondaryStatus === 'Downloading' ? undefined : logFile;
    transition(rec, p.secondaryStatus, withLog(p.message, named));
    if (p.secondaryStatus === 'Training' && rec.describe.TrainingStartTime === undefined) {
      rec.describe.TrainingStartTime = nowSeconds();
    }
    ctx.state.save();
  };

  let outcome: TrainingOutcome;
  try {
    outcome = await ctx.training.run(runRequest(ctx, rec0.describe, resume), onProgress);
  } catch (err) {
    outcome = { status: 'Failed', failureReason: `The training runner failed: ${(err as Error).message}`, finalMetrics: [], logFile: '' };
  }
  if (current()?.describe.TrainingJobStatus === 'InProgress') {
    await ctx.admin.holdUntil('training', 'InProgress', startedMs);
  }
  const rec = current();
  if (!rec) return;
  // A stop that arrived while a finished run was held InProgress wins, as it would have on a still-running job.
  const status = rec.describe.TrainingJobStatus === 'Stopping' ? 'Stopped' : outcome.status;
  finish(rec, status, {
    failureReason: status === 'Failed' ? outcome.failureReason ?? 'Training failed' : undefined,
    outcome,
    logFile: outcome.logFile || undefined,
  });
  if (outcome.logFile) rec.describe.LocalLogFile = outcome.logFile;
  ctx.state.save();
  ctx.live.training.delete(k);
}

export const createTrainingJob: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('TrainingJobName');
  v.obj('AlgorithmSpecification', true);
  v.oneOf('AlgorithmSpecification.TrainingInputMode', ['Pipe', 'File', 'FastFile'], true);
  const image = v.str('AlgorithmSpecification.TrainingImage', { max: 255 });
  v.str('RoleArn', { required: true, min: 20, max: 2048, pattern: ROLE_PATTERN });
  v.obj('OutputDataConfig', true);
  const outputPath = v.str('OutputDataConfig.S3OutputPath', { required: true, max: 1024 });
  v.obj('ResourceConfig', true);
  v.int('ResourceConfig.InstanceCount', { min: 0 });
  v.int('ResourceConfig.VolumeSizeInGB', { required: true, min: 0 });
  v.obj('StoppingCondition', true);
  v.int('StoppingCondition.MaxRuntimeInSeconds', { min: 1 });
  const hp = v.stringMap('HyperParameters');
  const env = v.stringMap('Environment');
  const channels = v.arr('InputDataConfig', { min: 1, max: 20 }) ?? [];
  channels.forEach((c, i) => {
    if (!isObject(c)) return;
    if (typeof c.ChannelName !== 'string' || !/^[A-Za-z0-9.\-_]+$/.test(c.ChannelName) || c.ChannelName.length > 64) {
      v.fail(`InputDataConfig.${i + 1}.ChannelName`, c.ChannelName ?? null, 'Member must satisfy regular expression pattern: [A-Za-z0-9\\.\\-_]+');
    }
    const uri = isObject(c.DataSource) && isObject(c.DataSource.S3DataSource) ? c.DataSource.S3DataSource.S3Uri : undefined;
    if (typeof uri !== 'string') v.fail(`InputDataConfig.${i + 1}.DataSource.S3DataSource.S3Uri`, uri ?? null, 'Member must not be null');
  });
  const metrics = v.arr('AlgorithmSpecification.MetricDefinitions', { max: 40 }) ?? [];
  metrics.forEach((m, i) => {
    if (!isObject(m) || typeof m.Name !== 'string' || typeof m.Regex !== 'string') {
      v.fail(`AlgorithmSpecification.MetricDefinitions.${i + 1}`, m, 'Member must have Name and Regex strings');
    } else {
      const at = `AlgorithmSpecification.MetricDefinitions.${i + 1}.Regex`;
      if (m.Regex.length < 1 || m.Regex.length > MAX_METRIC_REGEX_LENGTH) {
        v.fail(at, m.Regex, `Member must have length between 1 and ${MAX_METRIC_REGEX_LENGTH}`);
        return;
      }
      try {
        new RegExp(m.Regex);
      } catch {
        v.fail(at, m.Regex, 'Member must be a valid regular expression');
        return;
      }
      // The runner applies these to every log line in the control plane's own
      // thread: one that backtracks catastrophically would stall every request.
      const problem = findBacktrackingProblem(m.Regex);
      if (problem) v.fail(at, m.Regex, `Member ${describeBacktrackingProblem(problem)}`);
    }
  });
  const tags = v.tags();
  v.done();
  if (!image) throw validation('AlgorithmSpecification.TrainingImage is required by the local control plane (AlgorithmName is not supported): give your container image URI.');
  localPath(outputPath as string, 'OutputDataConfig.S3OutputPath');
  channels.forEach((c, i) => {
    if (!isObject(c)) return;
    const src = (c.DataSource as JsonObject).S3DataSource as JsonObject;
    const folder = localPath(String(src.S3Uri), `InputDataConfig channel '${String(c.ChannelName)}' S3Uri`);
    // The runner copies a channel's folder: a link out of it or back into it would copy what no one named, or never end.
    const links = checkFolderLinks(folder, `InputDataConfig.${i + 1}.DataSource.S3DataSource.S3Uri`, `channel "${String(c.ChannelName)}"`);
    if (links.length > 0) throw validation(links.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  });

  const jobName = name as string;
  const k = key(jobName);
  const jobArn = arn(ctx, 'training-job', jobName);
  if (ctx.state.data.trainingJobs[k]) {
    throw resourceInUse(
      `Training job names must be unique within an AWS account and region, and a training job with this name already exists (${jobArn})`,
    );
  }
  const running = Object.values(ctx.state.data.trainingJobs).filter(
    (r) => JOB_RUNNING_STATUSES.has(r.describe.TrainingJobStatus),
  ).length;
  if (running >= ctx.limits.maxTrainingJobs) {
    const type = isObject(req.ResourceConfig) && typeof req.ResourceConfig.InstanceType === 'string' ? req.ResourceConfig.InstanceType : 'ml.m5.large';
    throw resourceLimitExceeded(
      `${type} for training job usage`,
      ctx.limits.maxTrainingJobs,
      running,
      'Instances',
      `at most ${ctx.limits.maxTrainingJobs} training jobs run at once; wait for one to end, stop one, or raise CHAMP_LOCAL_MAX_TRAINING_JOBS`,
    );
  }
  const now = nowSeconds();
  const echo = (f: string): Json | undefined => req[f];
  const rec: TrainingJobRecord = {
    describe: {
      ...compact({
        TrainingJobName: jobName,
        TrainingJobArn: jobArn,
        HyperParameters: hp ?? {},
        AlgorithmSpecification: echo('AlgorithmSpecification'),
        RoleArn: echo('RoleArn'),
        InputDataConfig: echo('InputDataConfig'),
        OutputDataConfig: echo('OutputDataConfig'),
        ResourceConfig: echo('ResourceConfig'),
        StoppingCondition: echo('StoppingCondition'),
        VpcConfig: echo('VpcConfig'),
        CheckpointConfig: echo('CheckpointConfig'),
        DebugHookConfig: echo('DebugHookConfig'),
        ExperimentConfig: echo('ExperimentConfig'),
        RetryStrategy: echo('RetryStrategy'),
        Environment: env,
        EnableNetworkIsolation: echo('EnableNetworkIsolation') ?? false,
        EnableInterContainerTrafficEncryption: echo('EnableInterContainerTrafficEncryption') ?? false,
        EnableManagedSpotTraining: echo('EnableManagedSpotTraining') ?? false,
      }),
      TrainingJobName: jobName,
      TrainingJobArn: jobArn,
      TrainingJobStatus: 'InProgress',
      SecondaryStatus: 'Starting',
      SecondaryStatusTransitions: [{ Status: 'Starting', StartTime: now, StatusMessage: 'Starting the training job' }],
      CreationTime: now,
      LastModifiedTime: now,
      // The local runner starts at once: the training clock starts at creation.
      TrainingStartTime: now,
    },
  };
  ctx.state.data.trainingJobs[k] = rec;
  saveTags(ctx, jobArn, tags);
  ctx.state.save();
  const token = Symbol(jobName);
  ctx.live.training.set(k, token);
  ctx.track(runJob(ctx, k, token));
  return { TrainingJobArn: jobArn };
};

export const describeTrainingJob: Handler = (ctx, req) => {
  const name = nameOnly(req, 'TrainingJobName');
  const d = snapshot(find(ctx, name).describe);
  delete d.LocalLogFile;
  return d;
};

export const stopTrainingJob: Handler = async (ctx, req) => {
  const name = nameOnly(req, 'TrainingJobName');
  const rec = find(ctx, name);
  const status = rec.describe.TrainingJobStatus;
  if (status !== 'InProgress') {
    throw validation(`The request was rejected because the training job is in status ${status}.`);
  }
  rec.describe.TrainingJobStatus = 'Stopping';
  transition(rec, 'Stopping', 'Stopping the training job');
  ctx.state.save();
  const k = key(name);
  if (ctx.live.training.has(k)) {
    ctx.track(ctx.training.stop(rec.describe.TrainingJobName).catch((e: Error) => ctx.log(`stop ${k}: ${e.message}`)));
  } else {
    finish(rec, 'Stopped', {});
    ctx.state.save();
  }
  return {};
};

export const listTrainingJobs: Handler = (ctx, req) => {
  const all = Object.values(ctx.state.data.trainingJobs).map((r) => r.describe);
  return listResources(req, all, {
    nameOf: (d) => d.TrainingJobName,
    times: (d) => [d.CreationTime, d.LastModifiedTime],
    sortKeys: { Name: (d) => d.TrainingJobName, CreationTime: (d) => d.CreationTime, Status: (d) => d.TrainingJobStatus },
    defaultOrder: 'Ascending',
    filters: statusEquals(TRAINING_JOB_STATUSES, (d) => d.TrainingJobStatus),
    field: 'TrainingJobSummaries',
    summary: (d) => ({
      TrainingJobName: d.TrainingJobName,
      TrainingJobArn: d.TrainingJobArn,
      CreationTime: d.CreationTime,
      TrainingEndTime: d.TrainingEndTime,
      LastModifiedTime: d.LastModifiedTime,
      TrainingJobStatus: d.TrainingJobStatus,
      SecondaryStatus: d.SecondaryStatus,
    }),
  });
};

/**
 * The Docker containers a killed control plane left running training jobs that
 * are still InProgress, by job key: `reapOrphans` keeps them, and
 * `recoverTrainingJobs` re-attaches to them.
 */
export function resumableTrainingContainers(state: ApiContext['state'], ledgerFile: string): Map<string, string> {
  const found = new Map<string, string>();
  if (!Object.values(state.data.trainingJobs).some((r) => r.describe.TrainingJobStatus === 'InProgress')) return found;
  for (const c of listOrphanContainers(planeIdFor(ledgerFile))) {
    if (!c.running || !c.trainingJob) continue;
    const k = key(c.trainingJob);
    if (state.data.trainingJobs[k]?.describe.TrainingJobStatus === 'InProgress' && !found.has(k)) found.set(k, c.name);
  }
  return found;
}

/**
 * After a restart, as SageMaker keeps a job running whatever happens to its
 * API: a job that was InProgress goes on. Under Docker its container may still
 * run: the plane re-attaches to it (`containers`, from
 * resumableTrainingContainers) and waits for its exit. Otherwise its process
 * died with the plane: the program runs again from the start with the same
 * inputs, within what is left of MaxRuntimeInSeconds. A job that was Stopping
 * ends Stopped; one already past its MaxRuntime ends Stopped/MaxRuntimeExceeded.
 */
export function recoverTrainingJobs(ctx: ApiContext, containers: ReadonlyMap<string, string> = new Map()): void {
  let changed = false;
  for (const [k, rec] of Object.entries(ctx.state.data.trainingJobs)) {
    const d = rec.describe;
    if (!JOB_RUNNING_STATUSES.has(d.TrainingJobStatus)) continue;
    changed = true;
    const logFile = trainingLogFile(ctx, d.TrainingJobName);
    if (d.TrainingJobStatus === 'Stopping') {
      finish(rec, 'Stopped', { logFile });
      continue;
    }
    if (remainingRuntime(d) <= 0) {
      finish(rec, 'Stopped', { outcome: { status: 'Stopped', secondaryStatus: 'MaxRuntimeExceeded', finalMetrics: [], logFile }, logFile });
      continue;
    }
    const dockerName = containers.get(k);
    transition(
      rec,
      dockerName ? 'Training' : 'Starting',
      dockerName
        ? `The local control plane restarted: re-attaching to the training container ${dockerName}`
        : 'The local control plane restarted while the job ran: running the training program again from the start',
    );
    const token = Symbol(d.TrainingJobName);
    ctx.live.training.set(k, token);
    ctx.track(runJob(ctx, k, token, dockerName ? { dockerName } : {}));
  }
  if (changed) ctx.state.save();
}
