import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateModelCommand,
  CreateTransformJobCommand,
  DescribeTransformJobCommand,
  type CreateTransformJobCommandInput,
} from '@aws-sdk/client-sagemaker';
import { rejectionOf, useHarness } from './fake-runtime';
import { until } from '../support';

const h = useHarness();
beforeAll(async () => {
  await h.sm.send(new CreateModelCommand({ ModelName: 'batch-model', PrimaryContainer: { Image: 'local/batch:1' } }));
});

const input = (name: string, inDir: string, outDir: string): CreateTransformJobCommandInput => ({
  TransformJobName: name,
  ModelName: 'batch-model',
  TransformInput: { DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `file://${inDir}` } }, ContentType: 'text/csv', SplitType: 'Line' },
  TransformOutput: { S3OutputPath: `file://${outDir}`, AssembleWith: 'Line', Accept: 'application/json' },
  TransformResources: { InstanceType: 'ml.m5.large', InstanceCount: 1 },
});

test('a transform job answers each line of each input file into <output>/<file>.out and ends Completed', async () => {
  const inDir = join(h.home, 'batch-in');
  const outDir = join(h.home, 'batch-out');
  mkdirSync(join(inDir, 'sub'), { recursive: true });
  writeFileSync(join(inDir, 'a.csv'), '1,2\n3,4\n');
  writeFileSync(join(inDir, 'sub', 'b.csv'), '5,6\n');
  await h.sm.send(new CreateTransformJobCommand(input('batch-ok', inDir, outDir)));
  const d = await until('Completed', async () => {
    const x = await h.sm.send(new DescribeTransformJobCommand({ TransformJobName: 'batch-ok' }));
    return x.TransformJobStatus === 'InProgress' ? undefined : x;
  });
  expect(d.FailureReason).toBeUndefined();
  expect(d.TransformJobStatus).toBe('Completed');
  expect(d.TransformEndTime).toBeInstanceOf(Date);
  const lines = readFileSync(join(outDir, 'a.csv.out'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { input: string });
  expect(lines.map((l) => l.input)).toEqual(['1,2', '3,4']);
  expect(JSON.parse(readFileSync(join(outDir, 'sub', 'b.csv.out'), 'utf8').trim())).toMatchObject({ input: '5,6', accept: 'application/json' });
  expect(h.endpoints.serving.size).toBe(0);
});

test('a record the model rejects fails the transform job with the model\'s answer', async () => {
  const inDir = join(h.home, 'batch-bad');
  mkdirSync(inDir, { recursive: true });
  writeFileSync(join(inDir, 'x.csv'), 'ok\nfail\n');
  await h.sm.send(new CreateTransformJobCommand(input('batch-bad', inDir, join(h.home, 'batch-bad-out'))));
  const d = await until('Failed', async () => {
    const x = await h.sm.send(new DescribeTransformJobCommand({ TransformJobName: 'batch-bad' }));
    return x.TransformJobStatus === 'Failed' ? x : undefined;
  });
  expect(d.FailureReason).toContain('unsupported input');
});

test('a transform job of a missing model is refused with the model named', async () => {
  const err = await rejectionOf(h.smOnce.send(new CreateTransformJobCommand({ ...input('batch-nomodel', '/tmp', '/tmp'), ModelName: 'ghost' })));
  expect([err.name, err.message]).toEqual(['ValidationException', 'Could not find model "arn:aws:sagemaker:us-east-1:000000000000:model/ghost".']);
});
