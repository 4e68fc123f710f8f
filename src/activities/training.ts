// Training: start (idempotent by name), wait (check, a fast path, then "not ready"), stop; plus the data fingerprint.
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  StopTrainingJobCommand,
  type CreateTrainingJobRequest,
  type DescribeTrainingJobResponse,
  type TrainingInstanceType,
} from '@aws-sdk/client-sagemaker';
import { awsCall, awsCallOr, classifyAwsError, errorFacts, isAlreadyExistsError, isNotFoundError, terminal } from '../aws/errors';
import { createObjectStore, fingerprintLocations } from '../aws/objects';
import { tagsField } from '../aws/requests';
import { classifyTrainingJob } from '../aws/status';
import { ErrorTypes } from '../shared';
import { durationSeconds } from '../spec/duration';
import { localPathOf } from '../artifacts/file-uri';
import { checkFolderLinks } from '../spec/context';
import { activityEnv } from './context';
import { progressHeartbeat } from './progress';
import { trainingPhase, waitOnce } from './waiting';
import type { ActivityDeps } from './deps';
import type {
  AwaitTrainingInput,
  FingerprintDataInput,
  FingerprintDataResult,
  StartTrainingInput,
  StartTrainingResult,
  StopTrainingInput,
  TrainingResult,
} from './types';

/**
 * A local data folder must not hold links out of it or back into it (the spec
 * loader checks this, but a raw input through the temporal CLI skips it).
 */
function refuseLinksOut(input: FingerprintDataInput): void {
  const issues = input.inputs.flatMap((channel, i) => {
    let folder: string | undefined;
    try {
      folder = localPathOf(channel.uri);
    } catch {
      return [];
    }
    return folder === undefined ? [] : checkFolderLinks(folder, `training.inputs[${i}].uri`, `channel "${channel.name}"`);
  });
  if (issues.length > 0) {
    throw terminal(ErrorTypes.InvalidSpec, issues.map((i) => `${i.path}: ${i.message}`).join('; '), { field: issues[0]!.path });
  }
}

/** SageMaker hyperparameters are always strings; the container converts them back. */
export function hyperParameterStrings(hp: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(hp).map(([k, v]) => [k, String(v)]));
}

export function createTrainingJobRequest(input: StartTrainingInput): CreateTrainingJobRequest {
  const t = input.training;
  const metrics = t.metrics.map((m) => ({ Name: m.name, Regex: m.regex }));
  return {
    TrainingJobName: input.jobName,
    RoleArn: t.roleArn,
    AlgorithmSpecification: {
      TrainingImage: input.imageUri,
      TrainingInputMode: 'File',
      ...(metrics.length ? { MetricDefinitions: metrics } : {}),
    },
    HyperParameters: hyperParameterStrings(t.hyperparameters),
    InputDataConfig: t.inputs.map((c) => ({
      ChannelName: c.name,
      ContentType: c.contentType,
      DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: c.uri, S3DataDistributionType: 'FullyReplicated' } },
    })),
    OutputDataConfig: { S3OutputPath: t.outputPath },
    ResourceConfig: { InstanceType: t.instanceType as TrainingInstanceType, InstanceCount: t.instanceCount, VolumeSizeInGB: t.volumeSizeGB },
    StoppingCondition: { MaxRuntimeInSeconds: durationSeconds(t.maxRuntime) },
    ...(Object.keys(t.environment).length ? { Environment: t.environment } : {}),
    ...tagsField(input.tags),
  };
}

function logsLocation(d: DescribeTrainingJobResponse, local: boolean): string {
  const job = d.TrainingJobName ?? 'unknown';
  if (!local) return `CloudWatch Logs group /aws/sagemaker/TrainingJobs, streams ${job}/algo-1-*`;
  // The control plane keeps the log with the job; its last status message is the best pointer the API carries.
  const transitions = d.SecondaryStatusTransitions ?? [];
  const mention = [...transitions].reverse().find((t) => t.StatusMessage && /log/i.test(t.StatusMessage))?.StatusMessage;
  return mention ? `local control plane: ${mention}` : `local control plane: the log of training job ${job} is kept in its state folder`;
}

export function createTrainingActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;
  const objects = deps.objects ?? createObjectStore(deps.clients.s3);
  const now = deps.now ?? (() => new Date());

  async function describe(jobName: string): Promise<DescribeTrainingJobResponse> {
    return awsCall({ operation: 'DescribeTrainingJob', resource: `training job ${jobName}` }, () =>
      sm.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName })),
    );
  }

  async function startTraining(input: StartTrainingInput): Promise<StartTrainingResult> {
    const env = activityEnv(deps.log);
    const request = createTrainingJobRequest(input);
    const out = await awsCallOr(
      { operation: 'CreateTrainingJob', resource: `training job ${input.jobName}` },
      () => sm.send(new CreateTrainingJobCommand(request)),
      isAlreadyExistsError,
      undefined,
    );
    if (out) {
      env.log.info('training job created', { jobName: input.jobName, imageUri: input.imageUri });
      return { jobName: input.jobName, jobArn: out.TrainingJobArn ?? '', created: true };
    }
    // The name is this run's own, so an existing job is the one a lost response hid from us.
    const d = await describe(input.jobName);
    env.log.info('training job already exists; continuing with it', { jobName: input.jobName, status: d.TrainingJobStatus });
    return { jobName: input.jobName, jobArn: d.TrainingJobArn ?? '', created: false };
  }

  /** How long until SageMaker stops the job at its MaxRuntime, once it is training. */
  function untilMaxRuntimeMs(d: DescribeTrainingJobResponse): number | undefined {
    const max = d.StoppingCondition?.MaxRuntimeInSeconds;
    const start = d.TrainingStartTime?.getTime();
    if (max === undefined || start === undefined) return undefined;
    return start + max * 1000 - now().getTime();
  }

  async function awaitTraining(input: AwaitTrainingInput): Promise<TrainingResult> {
    const env = activityEnv(deps.log);
    const d = await waitOnce<DescribeTrainingJobResponse>({
      env,
      resource: `training job ${input.jobName}`,
      now: () => now().getTime(),
      check: async () => {
        const d = await describe(input.jobName);
        const c = classifyTrainingJob(d);
        if (c.state !== 'in-progress') return { done: true, value: d };
        const phase = trainingPhase(d.SecondaryStatus, d.TrainingJobStatus);
        const untilForcedEndMs = phase === 'running' ? untilMaxRuntimeMs(d) : undefined;
        return { done: false, status: c.status, phase, ...(c.reason ? { detail: c.reason } : {}), ...(untilForcedEndMs !== undefined ? { untilForcedEndMs } : {}) };
      },
    });
    const c = classifyTrainingJob(d);
    if (c.state === 'failed') {
      const stopped = d.TrainingJobStatus === 'Stopped';
      throw terminal(
        stopped ? ErrorTypes.TrainingStopped : ErrorTypes.TrainingFailed,
        `training job ${input.jobName} ${stopped ? 'was stopped' : 'failed'}: ${c.reason}. ${
          stopped ? 'A stopped job is not a result; run the pipeline again.' : 'Read its log, fix the container or the data, and run again.'
        }`,
        { jobName: input.jobName, status: c.status, failureReason: c.reason, logs: logsLocation(d, deps.clients.local) },
      );
    }
    const start = d.TrainingStartTime?.getTime();
    const end = (d.TrainingEndTime ?? now()).getTime();
    const seconds = d.TrainingTimeInSeconds ?? (start !== undefined ? Math.max(0, Math.round((end - start) / 1000)) : 0);
    const metrics = (d.FinalMetricDataList ?? [])
      .filter((m) => m.MetricName !== undefined && typeof m.Value === 'number' && Number.isFinite(m.Value))
      .map((m) => ({ name: m.MetricName as string, value: m.Value as number }));
    const modelArtifact = d.ModelArtifacts?.S3ModelArtifacts;
    if (!modelArtifact) {
      throw terminal(ErrorTypes.TrainingFailed, `training job ${input.jobName} completed without a model artifact: make the container write /opt/ml/model`, {
        jobName: input.jobName,
      });
    }
    env.log.info('training completed', { jobName: input.jobName, seconds, metrics: metrics.length });
    return { jobName: input.jobName, status: 'Completed', metrics, modelArtifact, trainingSeconds: seconds, logs: logsLocation(d, deps.clients.local) };
  }

  async function stopTraining(input: StopTrainingInput): Promise<void> {
    const env = activityEnv(deps.log);
    try {
      await sm.send(new StopTrainingJobCommand({ TrainingJobName: input.jobName }));
      env.log.info('training job stop requested', { jobName: input.jobName });
    } catch (err) {
      // Already stopped or finished (ValidationException), or never created: nothing left to stop.
      if (isNotFoundError(err) || errorFacts(err).code === 'ValidationException') {
        env.log.info('training job needs no stop', { jobName: input.jobName, reason: errorFacts(err).message });
        return;
      }
      throw classifyAwsError(err, { operation: 'StopTrainingJob', resource: `training job ${input.jobName}` });
    }
  }

  async function fingerprintData(input: FingerprintDataInput): Promise<FingerprintDataResult> {
    const env = activityEnv(deps.log);
    refuseLinksOut(input);
    // Hashing a large local data set takes minutes: heartbeat with how far it got, and stop when cancelled.
    const beat = progressHeartbeat(env);
    try {
      beat.phase('fingerprint');
      const result = await fingerprintLocations(
        objects,
        input.inputs.map((c) => ({ name: c.name, uri: c.uri })),
        { signal: env.signal, onProgress: (p) => beat.progress(p) },
      );
      env.log.info('data fingerprinted', { objects: result.objects, bytes: result.bytes });
      return result;
    } finally {
      beat.stop();
    }
  }

  return { startTraining, awaitTraining, stopTraining, fingerprintData };
}
