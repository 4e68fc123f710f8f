// batchTransform end to end: the champion (or a named version) answers every
// row of an input, the output location is in the result, and a cancelled run
// leaves its transform job Stopped.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeModelCommand, DescribeTransformJobCommand } from '@aws-sdk/client-sagemaker';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { runCli } from '../../src/client';
import { stringify as toYaml } from 'yaml';
import { temporalAddress, withWorker } from '../harness/temporal';
import { batchTransform, transformStatusQuery, type BatchTransformInput, type BatchTransformStatus } from '../../src/workflows';
import { eventually, FAST_POLL, pipelineInput, runPipeline, startE2e, uniqueSuffix, type E2eEnv } from './helpers';

jest.setTimeout(180_000);

let env: E2eEnv;
let spec: ReturnType<E2eEnv['makeSpec']>;
let rows: string;

/** The validation file's feature columns without header or target: one request per line. */
function writeRows(count: number): string {
  const source = readFileSync(join(env.home, 'data', 'validation', 'validation.csv'), 'utf8').trim().split('\n').slice(1);
  const lines = Array.from({ length: count }, (_, i) => (source[i % source.length] as string).split(',').slice(1).join(','));
  const dir = join(env.home, `rows-${count}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rows.csv'), `${lines.join('\n')}\n`);
  return `file://${dir}`;
}

beforeAll(async () => {
  env = await startE2e();
  spec = env.makeSpec();
  rows = writeRows(40);
  // A champion to run: one pipeline run that deploys.
  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    const { result } = await runPipeline(client, taskQueue, pipelineInput(spec));
    expect(result.outcome).toBe('deployed');
  });
});
afterAll(async () => env?.stop());

function transformInput(extra: Partial<BatchTransformInput> = {}): BatchTransformInput {
  return { spec, input: { uri: rows, contentType: 'text/csv', splitType: 'Line' }, accept: 'application/json', poll: FAST_POLL, requestedBy: 'e2e', ...extra };
}

it('a batch transform of the champion writes one prediction for every input row and names the output location in its result', async () => {
  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start(batchTransform, { taskQueue, workflowId: `bt-${uniqueSuffix()}`, args: [transformInput()] });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'completed', pipeline: spec.name, modelVersion: 1, champion: true, inputObjects: 1, outputObjects: 1 });
    expect(result.outputUri).toBe(`${spec.training.outputPath}/transform/${result.jobName}`);

    const outDir = result.outputUri.replace(/^file:\/\//, '');
    expect(readdirSync(outDir)).toEqual(['rows.csv.out']);
    const answers = readFileSync(join(outDir, 'rows.csv.out'), 'utf8').split('\n').filter((l) => l.trim() !== '');
    expect(answers).toHaveLength(40);
    for (const line of answers) {
      const answer = JSON.parse(line) as { predictions: Array<{ prediction: number }> };
      expect(answer.predictions).toHaveLength(1);
      expect(answer.predictions[0]!.prediction).toBeGreaterThan(0);
    }

    const status: BatchTransformStatus = await handle.query(transformStatusQuery);
    expect(status).toMatchObject({ stage: 'done', outcome: 'completed', jobName: result.jobName, modelVersion: 1 });
    expect(status.timings.map((t) => t.stage)).toEqual(['validating', 'resolving-model', 'creating-model', 'transforming', 'cleaning-up']);
    const job = await env.sagemakerClient.send(new DescribeTransformJobCommand({ TransformJobName: result.jobName }));
    expect(job.TransformJobStatus).toBe('Completed');
    // The model made for the job is gone once the job has ended.
    await expect(env.sagemakerClient.send(new DescribeModelCommand({ ModelName: status.modelName }))).rejects.toThrow(/could not find/i);
  });
});

it('cancelling a batch transform stops its job, which ends Stopped', async () => {
  const many = writeRows(100_000);
  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start(batchTransform, {
      taskQueue,
      workflowId: `bt-cancel-${uniqueSuffix()}`,
      args: [transformInput({ modelVersion: 1, input: { uri: many, contentType: 'text/csv', splitType: 'Line' } })],
    });
    const jobName = await eventually(
      async () => (await handle.query(transformStatusQuery).catch(() => undefined))?.jobName,
      (name) => name !== undefined,
      60_000,
      'the transform job name',
    );
    await eventually(
      () => env.sagemakerClient.send(new DescribeTransformJobCommand({ TransformJobName: jobName })).catch(() => undefined),
      (d) => d?.TransformJobStatus === 'InProgress',
      60_000,
      `transform job ${String(jobName)} InProgress`,
    );
    await handle.cancel();
    const err = await handle.result().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    // The run waited for the stop: the job is Stopped when the run ends.
    const job = await env.sagemakerClient.send(new DescribeTransformJobCommand({ TransformJobName: jobName }));
    expect(job.TransformJobStatus).toBe('Stopped');
    const status = await handle.query(transformStatusQuery);
    expect(status).toMatchObject({ stage: 'done', outcome: 'cancelled' });
    expect(status.timings.map((t) => t.stage)).toContain('stopping');
  });
});

it('a version the registry does not hold fails the run naming it, before any job exists', async () => {
  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start(batchTransform, { taskQueue, workflowId: `bt-missing-${uniqueSuffix()}`, args: [transformInput({ modelVersion: 9 })] });
    await expect(handle.result()).rejects.toMatchObject({ cause: { cause: { message: expect.stringContaining(`version 9 of model package group ${spec.name} does not exist`) } } });
    const status = await handle.query(transformStatusQuery);
    expect(status).toMatchObject({ outcome: 'failed' });
    expect(status.jobName).toBeUndefined();
  });
});

it('champ transform --wait runs the champion over a local folder and prints where the answers are', async () => {
  const specFile = join(env.home, 'transform.yaml');
  writeFileSync(specFile, toYaml(spec));
  await withWorker({ activities: env.activities }, async ({ taskQueue }) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['transform', specFile, '--input', rows.replace(/^file:\/\//, ''), '--wait', '--poll-seconds', '0.2'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue },
    });
    expect({ code, err }).toEqual({ code: 0, err: [] });
    const text = out.join('\n');
    expect(text).toContain('the champion of ' + spec.name);
    expect(text).toMatch(/completed: version 1 answered 1 input object/);
    const answers = /answers: (file:\/\/\S+)/.exec(text)?.[1];
    expect(readdirSync(answers!.replace(/^file:\/\//, ''))).toEqual(['rows.csv.out']);
  });
});
