// Batch transform: which model package version to run, the transform job
// (start idempotent by name, check once, stop) and what it wrote.
import {
  CreateTransformJobCommand,
  DescribeModelPackageCommand,
  DescribeTransformJobCommand,
  paginateListModelPackages,
  StopTransformJobCommand,
  type DescribeTransformJobResponse,
  type TransformInstanceType,
} from '@aws-sdk/client-sagemaker';
import { awsCall, awsCallOr, classifyAwsError, errorFacts, isAlreadyExistsError, isNotFoundError, notReady, terminal } from '../aws/errors';
import { createObjectStore } from '../aws/objects';
import { collectPages, PAGE_SIZE, tagsField } from '../aws/requests';
import { classifyTransformJob } from '../aws/status';
import { ErrorTypes } from '../shared';
import { activityEnv } from './context';
import type { ActivityDeps } from './deps';
import type {
  AwaitTransformInput,
  ModelPackageInput,
  ModelPackageInfo,
  StartTransformInput,
  StartTransformResult,
  StopTransformInput,
  TransformResult,
} from './types';

export function createTransformActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;
  const objects = deps.objects ?? createObjectStore(deps.clients.s3);

  async function describe(jobName: string): Promise<DescribeTransformJobResponse> {
    return awsCall({ operation: 'DescribeTransformJob', resource: `transform job ${jobName}` }, () =>
      sm.send(new DescribeTransformJobCommand({ TransformJobName: jobName })),
    );
  }

  /** Counts the objects under a location; 0 when it does not exist (yet). */
  async function countObjects(uri: string): Promise<number> {
    try {
      return (await objects.list(uri)).length;
    } catch {
      return 0;
    }
  }

  /** The ARN of version `version` of `group`, or undefined. */
  async function findVersion(group: string, version: number): Promise<string | undefined> {
    const all = await awsCallOr(
      { operation: 'ListModelPackages', resource: `model package group ${group}` },
      () =>
        collectPages(
          paginateListModelPackages({ client: sm, pageSize: PAGE_SIZE }, { ModelPackageGroupName: group, ModelPackageType: 'Versioned' }),
          (page) => page.ModelPackageSummaryList,
        ),
      isNotFoundError,
      [],
    );
    return all.find((p) => p.ModelPackageVersion === version)?.ModelPackageArn;
  }

  /** A version of the group, by number or by ARN: the image and model artifact a transform job runs. */
  async function describeModelPackage(input: ModelPackageInput): Promise<ModelPackageInfo> {
    const wanted = input.modelPackageArn ?? `version ${String(input.version)} of model package group ${input.modelPackageGroupName}`;
    const missing = () =>
      terminal(ErrorTypes.AwsNotFound, `${wanted} does not exist: give a version the registry holds (ListModelPackages of the group lists them)`, {
        modelPackageGroupName: input.modelPackageGroupName,
        ...(input.version !== undefined ? { version: input.version } : {}),
      });
    let arn = input.modelPackageArn;
    if (!arn) {
      if (input.version === undefined) throw terminal(ErrorTypes.InvalidInput, 'describeModelPackage needs modelPackageArn or version', { field: 'version' });
      arn = await findVersion(input.modelPackageGroupName, input.version);
      if (!arn) throw missing();
    }
    const d = await awsCallOr(
      { operation: 'DescribeModelPackage', resource: `model package ${arn}` },
      () => sm.send(new DescribeModelPackageCommand({ ModelPackageName: arn })),
      isNotFoundError,
      undefined,
    );
    if (!d) throw missing();
    const container = d.InferenceSpecification?.Containers?.[0];
    if (!container?.Image || !container.ModelDataUrl) {
      throw terminal(ErrorTypes.AwsValidation, `model package ${arn} names no image and model artifact (InferenceSpecification.Containers[0]): it cannot run a transform`);
    }
    return {
      modelPackageArn: d.ModelPackageArn ?? arn,
      version: d.ModelPackageVersion ?? input.version ?? 0,
      imageUri: container.Image,
      modelArtifact: container.ModelDataUrl,
      approval: d.ModelApprovalStatus ?? 'PendingManualApproval',
    };
  }

  async function startTransform(input: StartTransformInput): Promise<StartTransformResult> {
    const env = activityEnv(deps.log);
    const inputObjects = await countObjects(input.input.uri);
    const out = await awsCallOr(
      { operation: 'CreateTransformJob', resource: `transform job ${input.jobName}` },
      () =>
        sm.send(
          new CreateTransformJobCommand({
            TransformJobName: input.jobName,
            ModelName: input.modelName,
            TransformInput: {
              DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: input.input.uri } },
              ...(input.input.contentType ? { ContentType: input.input.contentType } : {}),
              SplitType: input.input.splitType,
            },
            TransformOutput: {
              S3OutputPath: input.outputUri,
              ...(input.accept ? { Accept: input.accept } : {}),
              AssembleWith: input.input.splitType === 'Line' ? 'Line' : 'None',
            },
            TransformResources: { InstanceType: input.instanceType as TransformInstanceType, InstanceCount: input.instanceCount },
            ...(input.input.splitType === 'Line' ? { BatchStrategy: 'SingleRecord' as const } : {}),
            ...tagsField(input.tags),
          }),
        ),
      isAlreadyExistsError,
      undefined,
    );
    if (out) {
      env.log.info('transform job created', { jobName: input.jobName, modelName: input.modelName, inputObjects });
      return { jobName: input.jobName, jobArn: out.TransformJobArn ?? '', created: true, inputObjects };
    }
    // The name is this run's own: an existing job is the one a lost response hid.
    const d = await describe(input.jobName);
    env.log.info('transform job already exists; continuing with it', { jobName: input.jobName, status: d.TransformJobStatus });
    return { jobName: input.jobName, jobArn: d.TransformJobArn ?? '', created: false, inputObjects };
  }

  async function awaitTransform(input: AwaitTransformInput): Promise<TransformResult> {
    const env = activityEnv(deps.log);
    const d = await describe(input.jobName);
    const c = classifyTransformJob(d);
    const outputUri = d.TransformOutput?.S3OutputPath ?? input.outputUri;
    if (c.state === 'in-progress') {
      const written = await countObjects(outputUri);
      const of = input.inputObjects !== undefined ? ` of ${input.inputObjects}` : '';
      throw notReady({ resource: `transform job ${input.jobName}`, status: c.status, poll: env.attempt, detail: `${written}${of} input objects answered so far in ${outputUri}` });
    }
    if (c.state === 'failed') {
      const stopped = d.TransformJobStatus === 'Stopped';
      throw terminal(
        stopped ? ErrorTypes.TransformStopped : ErrorTypes.TransformFailed,
        `transform job ${input.jobName} ${stopped ? 'was stopped' : 'failed'}: ${c.reason}. ${
          stopped ? 'A stopped job wrote only part of its output; run it again.' : 'Check the input, its content type and the model container, then run again.'
        }`,
        { jobName: input.jobName, status: c.status, failureReason: c.reason },
      );
    }
    const start = d.TransformStartTime?.getTime() ?? d.CreationTime?.getTime();
    const end = d.TransformEndTime?.getTime();
    const seconds = start !== undefined && end !== undefined ? Math.max(0, Math.round((end - start) / 1000)) : 0;
    const outputObjects = await countObjects(outputUri);
    env.log.info('transform completed', { jobName: input.jobName, outputUri, outputObjects });
    return { jobName: input.jobName, status: 'Completed', outputUri, outputObjects, seconds };
  }

  async function stopTransform(input: StopTransformInput): Promise<void> {
    const env = activityEnv(deps.log);
    try {
      await sm.send(new StopTransformJobCommand({ TransformJobName: input.jobName }));
      env.log.info('transform job stop requested', { jobName: input.jobName });
    } catch (err) {
      // Already ended (ValidationException), or never created: nothing left to stop.
      if (isNotFoundError(err) || errorFacts(err).code === 'ValidationException') {
        env.log.info('transform job needs no stop', { jobName: input.jobName, reason: errorFacts(err).message });
        return;
      }
      throw classifyAwsError(err, { operation: 'StopTransformJob', resource: `transform job ${input.jobName}` });
    }
  }

  return { describeModelPackage, startTransform, awaitTransform, stopTransform };
}
