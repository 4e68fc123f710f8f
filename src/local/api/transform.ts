// Batch transform: the model's serve container answers each record of the
// input (file:// only) and the answers land in `<S3OutputPath>/<file>.out`.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { JOB_RUNNING_STATUSES } from '../../aws/status';
import { resourceInUse, validation } from '../errors';
import { key, type TransformJobRecord, type TransformJobStatus } from '../state';
import { arn, compact, localPath, nameOnly, nowSeconds, saveTags, snapshot, Validator, type ApiContext, type Handler } from './common';
import { findModel, modelContainer } from './models';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** S3Prefix semantics over a local path: a folder means everything under it, else files whose path starts with it. */
async function inputFiles(prefix: string): Promise<{ root: string; files: string[] }> {
  const s = await stat(prefix).catch(() => undefined);
  if (s?.isDirectory()) return { root: prefix, files: await filesUnder(prefix) };
  if (s?.isFile()) return { root: dirname(prefix), files: [prefix] };
  const root = dirname(prefix);
  const all = await filesUnder(root).catch(() => [] as string[]);
  return { root, files: all.filter((f) => f.startsWith(prefix) || basename(f).startsWith(basename(prefix))) };
}

function end(rec: TransformJobRecord, status: TransformJobStatus, failureReason?: string): void {
  rec.describe.TransformJobStatus = status;
  rec.describe.TransformEndTime = nowSeconds();
  if (failureReason !== undefined) rec.describe.FailureReason = failureReason;
}

async function runTransform(ctx: ApiContext, k: string, token: symbol): Promise<void> {
  const live = () => ctx.live.transforms.get(k);
  const rec0 = ctx.state.data.transformJobs[k];
  if (!rec0) return;
  const d = rec0.describe;
  const input = d.TransformInput as { DataSource: { S3DataSource: { S3Uri: string } }; ContentType?: string; SplitType?: string };
  const output = d.TransformOutput as { S3OutputPath: string; Accept?: string; AssembleWith?: string };
  const tempEndpoint = `transform-job-${d.TransformJobName}`;
  let status: TransformJobStatus = 'Completed';
  let reason: string | undefined;
  let deployed = false;
  try {
    const model = findModel(ctx, d.ModelName);
    const c = modelContainer(model);
    const env = { ...c.environment, ...((d.Environment ?? {}) as Record<string, string>) };
    await ctx.endpoints.deploy(
      tempEndpoint,
      `${d.TransformJobName}-config`,
      [{ variantName: 'AllTraffic', modelName: d.ModelName, imageUri: c.image, modelDataUrl: c.modelDataUrl, environment: env, initialInstanceCount: 1, initialVariantWeight: 1 }],
      { healthTimeoutMs: ctx.healthTimeoutMs },
    );
    deployed = true;
    const prefix = localPath(input.DataSource.S3DataSource.S3Uri, 'TransformInput.DataSource.S3DataSource.S3Uri');
    const outDir = localPath(output.S3OutputPath, 'TransformOutput.S3OutputPath');
    const { root, files } = await inputFiles(prefix);
    if (files.length === 0) throw new Error(`No input files found under ${input.DataSource.S3DataSource.S3Uri}.`);
    for (const file of files) {
      const content = await readFile(file);
      const records =
        input.SplitType === 'Line'
          ? content.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => Buffer.from(l))
          : [content];
      const answers: Buffer[] = [];
      for (const body of records) {
        if (live()?.token !== token) return;
        if (live()?.stopRequested) {
          status = 'Stopped';
          break;
        }
        const res = await ctx.endpoints.invoke(tempEndpoint, { body, contentType: input.ContentType, accept: output.Accept });
        if (res.status >= 400) {
          throw new Error(`ClientError: the model answered ${res.status} for a record of ${relative(root, file)}: ${res.body.toString('utf8').slice(0, 500)}`);
        }
        answers.push(res.body);
      }
      if (status === 'Stopped') break;
      const assembled =
        output.AssembleWith === 'Line' ? Buffer.concat(answers.flatMap((a) => [a, Buffer.from('\n')])) : Buffer.concat(answers);
      const target = join(outDir, `${relative(root, file)}.out`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, assembled);
    }
  } catch (err) {
    status = 'Failed';
    reason = (err as Error).message;
  } finally {
    if (deployed || status === 'Failed') await ctx.endpoints.remove(tempEndpoint).catch(() => undefined);
  }
  if (live()?.token !== token) return;
  const rec = ctx.state.data.transformJobs[k];
  if (!rec) return;
  end(rec, status, reason);
  ctx.live.transforms.delete(k);
  ctx.state.save();
}

export const createTransformJob: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('TransformJobName') as string;
  const modelName = v.name('ModelName') as string;
  v.obj('TransformInput', true);
  v.obj('TransformInput.DataSource', true);
  v.obj('TransformInput.DataSource.S3DataSource', true);
  const dataType = v.oneOf('TransformInput.DataSource.S3DataSource.S3DataType', ['ManifestFile', 'S3Prefix', 'AugmentedManifestFile', 'Converse'] as const, true);
  const uri = v.str('TransformInput.DataSource.S3DataSource.S3Uri', { required: true, max: 1024 });
  v.oneOf('TransformInput.SplitType', ['None', 'Line', 'RecordIO', 'TFRecord'] as const);
  v.oneOf('TransformInput.CompressionType', ['None', 'Gzip'] as const);
  v.obj('TransformOutput', true);
  const out = v.str('TransformOutput.S3OutputPath', { required: true, max: 1024 });
  v.oneOf('TransformOutput.AssembleWith', ['None', 'Line'] as const);
  v.obj('TransformResources', true);
  v.str('TransformResources.InstanceType', { required: true });
  v.int('TransformResources.InstanceCount', { required: true, min: 1 });
  v.oneOf('BatchStrategy', ['MultiRecord', 'SingleRecord'] as const);
  v.int('MaxPayloadInMB', { min: 0, max: 100 });
  const env = v.stringMap('Environment');
  const tags = v.tags();
  v.done();
  if (dataType !== 'S3Prefix') throw validation(`TransformInput.DataSource.S3DataSource.S3DataType '${dataType}' is not supported locally: use S3Prefix.`);
  const split = (v.get('TransformInput.SplitType') as string | undefined) ?? 'None';
  if (split !== 'None' && split !== 'Line') throw validation(`TransformInput.SplitType '${split}' is not supported locally: use None or Line.`);
  if (v.get('TransformInput.CompressionType') === 'Gzip') throw validation("TransformInput.CompressionType 'Gzip' is not supported locally: use None.");
  localPath(uri as string, 'TransformInput.DataSource.S3DataSource.S3Uri');
  localPath(out as string, 'TransformOutput.S3OutputPath');
  const jobArn = arn(ctx, 'transform-job', name);
  const k = key(name);
  if (ctx.state.data.transformJobs[k]) {
    throw resourceInUse(`Transform job names must be unique within an AWS account and region, and a transform job with this name already exists (${jobArn})`);
  }
  findModel(ctx, modelName);
  const now = nowSeconds();
  ctx.state.data.transformJobs[k] = {
    describe: {
      ...compact({
        MaxConcurrentTransforms: req.MaxConcurrentTransforms ?? 1,
        ModelClientConfig: req.ModelClientConfig,
        MaxPayloadInMB: req.MaxPayloadInMB ?? 6,
        BatchStrategy: req.BatchStrategy,
        Environment: env,
        TransformInput: req.TransformInput,
        TransformOutput: req.TransformOutput,
        DataCaptureConfig: req.DataCaptureConfig,
        TransformResources: req.TransformResources,
        DataProcessing: req.DataProcessing,
        ExperimentConfig: req.ExperimentConfig,
      }),
      TransformJobName: name,
      TransformJobArn: jobArn,
      TransformJobStatus: 'InProgress',
      ModelName: modelName,
      CreationTime: now,
      TransformStartTime: now,
    },
  };
  saveTags(ctx, jobArn, tags);
  ctx.state.save();
  const token = Symbol(name);
  ctx.live.transforms.set(k, { token, stopRequested: false });
  ctx.track(runTransform(ctx, k, token));
  return { TransformJobArn: jobArn };
};

function findTransform(ctx: ApiContext, name: string): TransformJobRecord {
  const rec = ctx.state.data.transformJobs[key(name)];
  if (!rec) throw validation(`Could not find requested job with name ${name}`);
  return rec;
}

export const describeTransformJob: Handler = (ctx, req) => {
  const name = nameOnly(req, 'TransformJobName');
  return snapshot(findTransform(ctx, name).describe);
};

export const stopTransformJob: Handler = (ctx, req) => {
  const name = nameOnly(req, 'TransformJobName');
  const rec = findTransform(ctx, name);
  const status = rec.describe.TransformJobStatus;
  if (status !== 'InProgress') throw validation(`The request was rejected because the transform job is in status ${status}.`);
  const live = ctx.live.transforms.get(key(name));
  rec.describe.TransformJobStatus = 'Stopping';
  if (live) live.stopRequested = true;
  else end(rec, 'Stopped');
  ctx.state.save();
  return {};
};

/** After a restart: a transform cut off ends Failed, as a training job does. */
export function recoverTransformJobs(ctx: ApiContext, reason: string): void {
  for (const rec of Object.values(ctx.state.data.transformJobs)) {
    if (JOB_RUNNING_STATUSES.has(rec.describe.TransformJobStatus)) end(rec, 'Failed', reason);
  }
  ctx.state.save();
}

