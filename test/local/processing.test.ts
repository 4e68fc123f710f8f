// Processing jobs through the AWS SDK against the control plane with its real
// runtime, in process mode (env, and namespace where the machine offers it):
// inputs at their /opt/ml/processing LocalPath, the entrypoint and arguments,
// outputs copied to their S3Uri, ExitMessage, FailureReason, stop, runtime limit.
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CreateProcessingJobCommand,
  DescribeProcessingJobCommand,
  ListProcessingJobsCommand,
  StopProcessingJobCommand,
  type CreateProcessingJobCommandInput,
  type DescribeProcessingJobCommandOutput,
} from '@aws-sdk/client-sagemaker';
import { createProcessingActivities } from '../../src/activities/processing';
import { snapshotContext } from '../../src/artifacts/image-store';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import { namespaceIsolationAvailable } from '../../src/local/containers';
import { ROLE, startPlane, type Plane } from './integration/helpers';
import { processingApp, writeProcessingContext } from './processing-fixture';
import { makeTempDir, removeDir, until } from './support';

let dir: string;
let store: string;
let image: string;
let data: string;

beforeAll(async () => {
  dir = await makeTempDir('processing');
  store = path.join(dir, 'images');
  const context = await writeProcessingContext(path.join(dir, 'context'));
  image = (await snapshotContext({ contextDir: context, repository: 'processing-test', store })).imageUri;
  data = path.join(dir, 'data');
  await fsp.mkdir(data, { recursive: true });
  await fsp.writeFile(path.join(data, 'a.csv'), 'x\n1\n2\n');
  await fsp.writeFile(path.join(data, 'b.csv'), 'x\n1\n2\n3\n4\n');
});
afterAll(() => removeDir(dir));

function processingJob(name: string, imageUri: string, mode: 'ok' | 'fail' | 'sleep', input: string, out: string): CreateProcessingJobCommandInput {
  return {
    ProcessingJobName: name,
    RoleArn: ROLE,
    AppSpecification: processingApp(imageUri, mode),
    Environment: { GREETING: 'hello from Environment' },
    ProcessingResources: { ClusterConfig: { InstanceCount: 1, InstanceType: 'ml.m5.large', VolumeSizeInGB: 1 } },
    ProcessingInputs: [
      { InputName: 'data', S3Input: { S3Uri: pathToFileURL(input).href, LocalPath: '/opt/ml/processing/input/data', S3DataType: 'S3Prefix', S3InputMode: 'File' } },
    ],
    ProcessingOutputConfig: {
      Outputs: [{ OutputName: 'report', S3Output: { S3Uri: pathToFileURL(out).href, LocalPath: '/opt/ml/processing/output/report', S3UploadMode: 'EndOfJob' } }],
    },
    StoppingCondition: { MaxRuntimeInSeconds: 600 },
  };
}

/** Describes until the job leaves InProgress/Stopping; returns the end and every status seen. */
async function processToEnd(plane: Plane, name: string, timeoutMs = 60_000): Promise<{ final: DescribeProcessingJobCommandOutput; seen: string[] }> {
  const seen: string[] = [];
  const final = await until(
    `processing job ${name} to end`,
    async () => {
      const d = await plane.sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: name }));
      const s = d.ProcessingJobStatus ?? 'Unknown';
      if (seen[seen.length - 1] !== s) seen.push(s);
      return s === 'InProgress' || s === 'Stopping' ? undefined : d;
    },
    timeoutMs,
  );
  return { final, seen };
}

const modes: Array<'env' | 'namespace'> = ['env', 'namespace'];

describe.each(modes)('processing jobs in process mode (isolation %s)', (isolation) => {
  let plane: Plane;
  let skip: string | undefined;

  beforeAll(async () => {
    if (isolation === 'namespace' && !(await namespaceIsolationAvailable())) {
      skip = 'no private mount namespace here (needs Linux, root and unshare)';
      console.warn(`namespace processing tests skipped: ${skip}`);
      return;
    }
    plane = await startPlane({ stateDir: path.join(dir, `home-${isolation}`), imageStore: store, isolation });
  });
  afterAll(async () => plane?.close());

  test('a job copies its input to LocalPath, runs the entrypoint with its arguments and Environment, and copies the output to its S3Uri', async () => {
    if (skip) return;
    const out = path.join(dir, `out-ok-${isolation}`);
    await plane.sm.send(new CreateProcessingJobCommand(processingJob(`ok-${isolation}`, image, 'ok', data, out)));
    const { final, seen } = await processToEnd(plane, `ok-${isolation}`);
    expect(final.ProcessingJobStatus).toBe('Completed');
    expect(seen[seen.length - 1]).toBe('Completed');
    expect(final.FailureReason).toBeUndefined();
    expect(final.ExitMessage).toBe(JSON.stringify({ files: 2 }));
    expect(final.ProcessingEndTime).toBeInstanceOf(Date);
    expect(final.AppSpecification?.ContainerEntrypoint).toEqual(['node', '/opt/program/process.js']);
    expect(await fsp.readFile(path.join(out, 'counts.csv'), 'utf8')).toBe('a.csv,3\nb.csv,5\n');
    expect(await fsp.readFile(path.join(out, 'env.txt'), 'utf8')).toBe('hello from Environment');
    // The source is read, never written.
    expect((await fsp.readdir(data)).sort()).toEqual(['a.csv', 'b.csv']);

    const listed = await plane.sm.send(new ListProcessingJobsCommand({ StatusEquals: 'Completed', NameContains: `ok-${isolation}` }));
    expect(listed.ProcessingJobSummaries?.map((s) => [s.ProcessingJobName, s.ProcessingJobStatus])).toEqual([[`ok-${isolation}`, 'Completed']]);
  });

  test('a program that exits non-zero fails the job with the exit code and its last log lines, keeps its ExitMessage and uploads nothing', async () => {
    if (skip) return;
    const out = path.join(dir, `out-fail-${isolation}`);
    await plane.sm.send(new CreateProcessingJobCommand(processingJob(`fail-${isolation}`, image, 'fail', data, out)));
    const { final } = await processToEnd(plane, `fail-${isolation}`);
    expect(final.ProcessingJobStatus).toBe('Failed');
    expect(final.FailureReason).toMatch(/^AlgorithmError: the processing program exited with code 2/);
    expect(final.FailureReason).toContain('Traceback: the input has no rows');
    expect(final.ExitMessage).toBe('bad input: no rows');
    expect(existsSync(path.join(out, 'counts.csv'))).toBe(false);
  });

  test('StopProcessingJob ends a running job Stopped (through Stopping), with no FailureReason; a second stop is refused', async () => {
    if (skip) return;
    const name = `stop-${isolation}`;
    await plane.sm.send(new CreateProcessingJobCommand(processingJob(name, image, 'sleep', data, path.join(dir, `out-stop-${isolation}`))));
    await until('the program to run', async () => {
      const log = await fsp.readFile(path.join(plane.server.stateRoot, 'processing', name, 'processing.log'), 'utf8').catch(() => '');
      return log.includes('processing mode=sleep') ? true : undefined;
    }, 30_000);
    await plane.sm.send(new StopProcessingJobCommand({ ProcessingJobName: name }));
    const { final, seen } = await processToEnd(plane, name);
    expect(seen).toContain('Stopping');
    expect(final.ProcessingJobStatus).toBe('Stopped');
    expect(final.FailureReason).toBeUndefined();
    expect(final.ExitMessage).toBe('stopped by SIGTERM');
    await expect(plane.smOnce.send(new StopProcessingJobCommand({ ProcessingJobName: name }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('in status Stopped'),
    });
  });

  test('a job past MaxRuntimeInSeconds fails saying so', async () => {
    if (skip) return;
    const req = processingJob(`slow-${isolation}`, image, 'sleep', data, path.join(dir, `out-slow-${isolation}`));
    await plane.sm.send(new CreateProcessingJobCommand({ ...req, StoppingCondition: { MaxRuntimeInSeconds: 1 } }));
    const { final } = await processToEnd(plane, `slow-${isolation}`);
    expect(final.ProcessingJobStatus).toBe('Failed');
    expect(final.FailureReason).toContain('exceeded MaxRuntimeInSeconds provided (1 s)');
  });
});

describe('processing job requests', () => {
  let plane: Plane;
  beforeAll(async () => {
    plane = await startPlane({ stateDir: path.join(dir, 'home-requests'), imageStore: store, isolation: 'env' });
  });
  afterAll(async () => plane?.close());

  test('a LocalPath outside /opt/ml/processing is refused naming the field, before any job exists', async () => {
    const req = processingJob('bad-path', image, 'ok', data, path.join(dir, 'out-bad'));
    req.ProcessingInputs![0]!.S3Input!.LocalPath = '/data/input';
    await expect(plane.smOnce.send(new CreateProcessingJobCommand(req))).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('processingInputs.1.s3Input.localPath'),
    });
    await expect(plane.smOnce.send(new DescribeProcessingJobCommand({ ProcessingJobName: 'bad-path' }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Could not find requested job with name bad-path',
    });
  });

  test('an s3:// input, overlapping LocalPaths and a second job of one name are refused', async () => {
    const s3 = processingJob('s3-input', image, 'ok', data, path.join(dir, 'out-s3'));
    s3.ProcessingInputs![0]!.S3Input!.S3Uri = 's3://bucket/data';
    await expect(plane.smOnce.send(new CreateProcessingJobCommand(s3))).rejects.toThrow(/S3Uri 's3:\/\/bucket\/data' is not supported by the local control plane/);

    const overlap = processingJob('overlap', image, 'ok', data, path.join(dir, 'out-overlap'));
    overlap.ProcessingOutputConfig!.Outputs![0]!.S3Output!.LocalPath = '/opt/ml/processing/input/data/out';
    await expect(plane.smOnce.send(new CreateProcessingJobCommand(overlap))).rejects.toThrow(/overlaps/);

    const once = processingJob('twice', image, 'fail', data, path.join(dir, 'out-twice'));
    await plane.sm.send(new CreateProcessingJobCommand(once));
    await expect(plane.smOnce.send(new CreateProcessingJobCommand(once))).rejects.toMatchObject({ name: 'ResourceInUse' });
    await processToEnd(plane, 'twice');
  });
});

describe('processing activities over the control plane', () => {
  let plane: Plane;
  let clients: AwsClients;
  let activities: ReturnType<typeof createProcessingActivities>;
  beforeAll(async () => {
    plane = await startPlane({ stateDir: path.join(dir, 'home-activities'), imageStore: store, isolation: 'env' });
    clients = createAwsClients({ endpoints: { sagemaker: plane.server.url, sagemakerRuntime: plane.server.url }, env: {} });
    activities = createProcessingActivities({ clients });
  });
  afterAll(async () => {
    destroyAwsClients(clients);
    await plane?.close();
  });

  const start = (name: string, mode: 'ok' | 'fail', out: string) => {
    const app = processingApp(image, mode);
    return activities.startProcessing({
      jobName: name,
      imageUri: image,
      entrypoint: app.ContainerEntrypoint,
      arguments: app.ContainerArguments,
      environment: { GREETING: 'from the activity' },
      inputs: [{ name: 'data', uri: pathToFileURL(data).href, localPath: '/opt/ml/processing/input/data' }],
      outputs: [{ name: 'report', uri: pathToFileURL(out).href, localPath: '/opt/ml/processing/output/report' }],
      roleArn: ROLE,
      instanceType: 'ml.m5.large',
      maxRuntimeSeconds: 600,
      tags: { 'champ:pipeline': 'test' },
    });
  };
  /** Calls awaitProcessing as its retry policy would: again while it throws NotReady. */
  const awaitEnd = (name: string) =>
    until(`${name} to end`, async () => {
      try {
        return await activities.awaitProcessing({ jobName: name });
      } catch (err) {
        if ((err as { type?: string }).type === 'NotReady') return undefined;
        throw err;
      }
    }, 60_000);

  test('startProcessing is idempotent by name, and awaitProcessing returns the outputs and the exit message once Completed', async () => {
    const out = path.join(dir, 'out-activity');
    expect(await start('act-ok', 'ok', out)).toMatchObject({ jobName: 'act-ok', created: true });
    expect(await start('act-ok', 'ok', out)).toMatchObject({ jobName: 'act-ok', created: false });
    const result = await awaitEnd('act-ok');
    expect(result).toMatchObject({ status: 'Completed', outputs: { report: pathToFileURL(out).href }, exitMessage: JSON.stringify({ files: 2 }) });
    expect(await fsp.readFile(path.join(out, 'env.txt'), 'utf8')).toBe('from the activity');
  });

  test('a failed job is a non-retryable ProcessingFailed carrying the reason and the exit message', async () => {
    await start('act-fail', 'fail', path.join(dir, 'out-activity-fail'));
    const err = await until('the failure', async () => {
      try {
        await activities.awaitProcessing({ jobName: 'act-fail' });
        return new Error('completed');
      } catch (e) {
        return (e as { type?: string }).type === 'NotReady' ? undefined : (e as Error);
      }
    }, 60_000);
    expect(err).toMatchObject({ type: 'ProcessingFailed', nonRetryable: true });
    expect(err.message).toMatch(/exited with code 2.*its exit message: bad input: no rows/s);
    await expect(activities.stopProcessing({ jobName: 'act-fail' })).resolves.toBeUndefined();
  });
});
