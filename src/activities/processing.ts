// Processing jobs (an evaluation program, for one): start idempotent by name,
// check once, stop. The workflow proxies awaitProcessing with a poll retry
// policy and its deadline, as awaitTraining.
import {
  CreateProcessingJobCommand,
  DescribeProcessingJobCommand,
  StopProcessingJobCommand,
  type DescribeProcessingJobResponse,
  type ProcessingInstanceType,
} from '@aws-sdk/client-sagemaker';
import { awsCall, awsCallOr, classifyAwsError, errorFacts, isAlreadyExistsError, isNotFoundError, notReady, terminal } from '../aws/errors';
import { tagsField } from '../aws/requests';
import { classifyProcessingJob } from '../aws/status';
import { ErrorTypes } from '../shared';
import { activityEnv } from './context';
import type { ActivityDeps } from './deps';
import type { AwaitProcessingInput, ProcessingResult, StartProcessingInput, StartProcessingResult, StopProcessingInput } from './types';

export function createProcessingActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;

  async function describe(jobName: string): Promise<DescribeProcessingJobResponse> {
    return awsCall({ operation: 'DescribeProcessingJob', resource: `processing job ${jobName}` }, () =>
      sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: jobName })),
    );
  }

  async function startProcessing(input: StartProcessingInput): Promise<StartProcessingResult> {
    const env = activityEnv(deps.log);
    const out = await awsCallOr(
      { operation: 'CreateProcessingJob', resource: `processing job ${input.jobName}` },
      () =>
        sm.send(
          new CreateProcessingJobCommand({
            ProcessingJobName: input.jobName,
            RoleArn: input.roleArn,
            AppSpecification: {
              ImageUri: input.imageUri,
              ...(input.entrypoint?.length ? { ContainerEntrypoint: input.entrypoint } : {}),
              ...(input.arguments?.length ? { ContainerArguments: input.arguments } : {}),
            },
            ...(Object.keys(input.environment).length ? { Environment: input.environment } : {}),
            ProcessingInputs: input.inputs.map((i) => ({
              InputName: i.name,
              S3Input: { S3Uri: i.uri, LocalPath: i.localPath, S3DataType: 'S3Prefix', S3InputMode: 'File' },
            })),
            ProcessingOutputConfig: {
              Outputs: input.outputs.map((o) => ({ OutputName: o.name, S3Output: { S3Uri: o.uri, LocalPath: o.localPath, S3UploadMode: 'EndOfJob' } })),
            },
            ProcessingResources: {
              ClusterConfig: { InstanceType: input.instanceType as ProcessingInstanceType, InstanceCount: input.instanceCount ?? 1, VolumeSizeInGB: input.volumeSizeGB ?? 30 },
            },
            StoppingCondition: { MaxRuntimeInSeconds: input.maxRuntimeSeconds },
            ...tagsField(input.tags),
          }),
        ),
      isAlreadyExistsError,
      undefined,
    );
    if (out) {
      env.log.info('processing job created', { jobName: input.jobName, imageUri: input.imageUri });
      return { jobName: input.jobName, jobArn: out.ProcessingJobArn ?? '', created: true };
    }
    // The name is this run's own: an existing job is the one a lost response hid.
    const d = await describe(input.jobName);
    env.log.info('processing job already exists; continuing with it', { jobName: input.jobName, status: d.ProcessingJobStatus });
    return { jobName: input.jobName, jobArn: d.ProcessingJobArn ?? '', created: false };
  }

  async function awaitProcessing(input: AwaitProcessingInput): Promise<ProcessingResult> {
    const env = activityEnv(deps.log);
    const d = await describe(input.jobName);
    const c = classifyProcessingJob(d);
    if (c.state === 'in-progress') throw notReady({ resource: `processing job ${input.jobName}`, status: c.status, poll: env.attempt });
    if (c.state === 'failed') {
      const stopped = d.ProcessingJobStatus === 'Stopped';
      throw terminal(
        stopped ? ErrorTypes.ProcessingStopped : ErrorTypes.ProcessingFailed,
        `processing job ${input.jobName} ${stopped ? 'was stopped' : 'failed'}: ${c.reason}${d.ExitMessage ? ` (its exit message: ${d.ExitMessage})` : ''}`,
        { jobName: input.jobName, status: c.status, failureReason: c.reason, ...(d.ExitMessage ? { exitMessage: d.ExitMessage } : {}) },
      );
    }
    const start = d.ProcessingStartTime?.getTime() ?? d.CreationTime?.getTime();
    const end = d.ProcessingEndTime?.getTime();
    const outputs = Object.fromEntries((d.ProcessingOutputConfig?.Outputs ?? []).map((o) => [o.OutputName ?? '', o.S3Output?.S3Uri ?? '']));
    env.log.info('processing completed', { jobName: input.jobName });
    return {
      jobName: input.jobName,
      status: 'Completed',
      outputs,
      ...(d.ExitMessage ? { exitMessage: d.ExitMessage } : {}),
      seconds: start !== undefined && end !== undefined ? Math.max(0, Math.round((end - start) / 1000)) : 0,
    };
  }

  async function stopProcessing(input: StopProcessingInput): Promise<void> {
    const env = activityEnv(deps.log);
    try {
      await sm.send(new StopProcessingJobCommand({ ProcessingJobName: input.jobName }));
      env.log.info('processing job stop requested', { jobName: input.jobName });
    } catch (err) {
      // Already ended (ValidationException), or never created: nothing left to stop.
      if (isNotFoundError(err) || errorFacts(err).code === 'ValidationException') return;
      throw classifyAwsError(err, { operation: 'StopProcessingJob', resource: `processing job ${input.jobName}` });
    }
  }

  return { startProcessing, awaitProcessing, stopProcessing };
}
