// Training jobs of the claims-severity example through the real runtime:
// processes, the /opt/ml layout, metric regexes over the log, model.tar.gz.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import {
  CreateEndpointCommand,
  CreateTrainingJobCommand,
  DescribeEndpointCommand,
  DescribeTrainingJobCommand,
  StopTrainingJobCommand,
} from '@aws-sdk/client-sagemaker';
import { liveContainerPids } from '../../../src/local/containers';
import { snapshotContext } from '../../../src/artifacts/image-store';
import { trainingJobDir } from '../../../src/local/server';
import { writeContext } from '../runtime/fixtures';
import { exampleImage, expectStatusPath, generateData, startPlane, trainingJob, trainToEnd, until, type Plane } from './helpers';
import { isProcessAlive, makeTempDir, removeDir } from '../support';

let dir: string;
let plane: Plane;
let image: string;
let data: { train: string; validation: string };
let store: string;

beforeAll(async () => {
  dir = await makeTempDir('it-training');
  store = path.join(dir, 'images');
  [image, data] = await Promise.all([exampleImage(store), generateData(path.join(dir, 'data'))]);
  plane = await startPlane({ stateDir: path.join(dir, 'home'), imageStore: store });
});
afterAll(async () => {
  await plane?.close();
  await removeDir(dir);
});

test('the example trains InProgress -> Completed with FinalMetricDataList from its metric lines and model.tar.gz at the output path', async () => {
  const out = path.join(dir, 'out');
  const { final, seen } = await trainToEnd(plane.sm, trainingJob('claims-ok', image, data, out));
  expectStatusPath(seen, ['InProgress', 'Completed']);
  expect(final.FailureReason).toBeUndefined();
  expect(final.SecondaryStatus).toBe('Completed');
  expect(final.SecondaryStatusTransitions?.map((t) => t.Status)).toEqual(['Starting', 'Downloading', 'Training', 'Uploading', 'Completed']);

  const metrics = Object.fromEntries((final.FinalMetricDataList ?? []).map((m) => [m.MetricName, m.Value]));
  expect(Object.keys(metrics).sort()).toEqual(['train:deviance', 'train:gini', 'validation:deviance', 'validation:gini']);
  expect(metrics['validation:deviance']).toBeGreaterThan(0);
  expect(metrics['validation:gini']).toBeGreaterThan(0.1);
  expect(metrics['validation:gini']).toBeLessThan(1);

  const artifact = path.join(out, 'claims-ok', 'output', 'model.tar.gz');
  expect(final.ModelArtifacts?.S3ModelArtifacts).toBe(`file://${artifact}`);
  const entries: string[] = [];
  await tar.t({ file: artifact, onReadEntry: (e) => entries.push(e.path) });
  expect(entries).toContain('model.json');

  // The kept log is named in the status messages, and its metric lines are the ones parsed.
  const mention = final.SecondaryStatusTransitions?.find((t) => t.Status === 'Training')?.StatusMessage ?? '';
  const logFile = /Log at (\S+)$/.exec(mention)?.[1];
  expect(logFile).toBe(path.join(trainingJobDir(plane.server.stateRoot, 'claims-ok'), 'train.log'));
  expect(final.SecondaryStatusTransitions?.at(-1)?.StatusMessage).toBe(`Training job completed. Log at ${logFile}`);
  const log = readFileSync(logFile as string, 'utf8');
  expect(log).toContain(`validation:deviance=${metrics['validation:deviance']};`);
});

test('a bad hyperparameter (power="abc") ends Failed with the failure file\'s text as FailureReason', async () => {
  const { final, seen } = await trainToEnd(plane.sm, trainingJob('claims-bad', image, data, path.join(dir, 'out'), { power: 'abc' }));
  expect(seen.at(-1)).toBe('Failed');
  const failureFile = path.join(trainingJobDir(plane.server.stateRoot, 'claims-bad'), 'opt', 'ml', 'output', 'failure');
  const written = readFileSync(failureFile, 'utf8').trim();
  expect(written).toContain("hyperparameter 'power' must be a number strictly between 1 and 2");
  expect(final.FailureReason).toBe(written);
  expect(final.SecondaryStatus).toBe('Failed');
  expect(final.ModelArtifacts).toBeUndefined();
  expect(existsSync(path.join(dir, 'out', 'claims-bad', 'output', 'model.tar.gz'))).toBe(false);
});

test('StopTrainingJob on a running job kills its process and ends Stopped', async () => {
  // A fixture whose train sleeps for a minute: the job is surely running when the stop arrives.
  const ctxDir = await writeContext(path.join(dir, 'sleeper'));
  const { imageUri } = await snapshotContext({ contextDir: ctxDir, repository: 'sleeper', store });
  const before = new Set(liveContainerPids());
  await plane.sm.send(new CreateTrainingJobCommand(trainingJob('sleeper', imageUri, { train: data.train }, path.join(dir, 'out'), { mode: 'sleep' })));
  const pid = await until('the train process', async () => liveContainerPids().find((p) => !before.has(p)));
  await until('SecondaryStatus Training', async () => {
    const d = await plane.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'sleeper' }));
    return d.SecondaryStatus === 'Training' ? d : undefined;
  });

  await plane.sm.send(new StopTrainingJobCommand({ TrainingJobName: 'sleeper' }));
  const seen: string[] = [];
  const d = await until('Stopped', async () => {
    const x = await plane.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'sleeper' }));
    if (seen.at(-1) !== x.TrainingJobStatus) seen.push(x.TrainingJobStatus ?? '?');
    return x.TrainingJobStatus === 'Stopped' ? x : undefined;
  });
  expectStatusPath(seen, ['Stopping', 'Stopped']);
  expect(d.FailureReason).toBeUndefined();
  expect(d.SecondaryStatusTransitions?.map((t) => t.Status).slice(-2)).toEqual(['Stopping', 'Stopped']);
  expect(isProcessAlive(pid)).toBe(false);
});

test('bad requests get SageMaker\'s error types and messages', async () => {
  const err = async (p: Promise<unknown>): Promise<Error> => p.then(() => new Error('expected a rejection'), (e: Error) => e);

  const missing = await err(plane.smOnce.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: undefined as unknown as string })));
  expect(missing.name).toBe('ValidationException');
  expect(missing.message).toBe("1 validation error detected: Value null at 'endpointConfigName' failed to satisfy constraint: Member must not be null");

  const badName = await err(plane.smOnce.send(new DescribeEndpointCommand({ EndpointName: 'bad_name!' })));
  expect(badName.name).toBe('ValidationException');
  expect(badName.message).toBe(
    "1 validation error detected: Value 'bad_name!' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
  );

  const noEndpoint = await err(plane.smOnce.send(new DescribeEndpointCommand({ EndpointName: 'nowhere' })));
  expect(noEndpoint.name).toBe('ValidationException');
  expect(noEndpoint.message).toBe('Could not find endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/nowhere".');

  const noJob = await err(plane.smOnce.send(new StopTrainingJobCommand({ TrainingJobName: 'never-started' })));
  expect(noJob.name).toBe('ValidationException');
  expect(noJob.message).toBe('Requested resource not found.');

  const dup = await err(plane.smOnce.send(new CreateTrainingJobCommand(trainingJob('claims-ok', image, data, path.join(dir, 'out')))));
  expect(dup.name).toBe('ResourceInUse');

  const s3 = await err(plane.smOnce.send(new CreateTrainingJobCommand({ ...trainingJob('s3-out', image, data, dir), OutputDataConfig: { S3OutputPath: 's3://bucket/out' } })));
  expect(s3.name).toBe('ValidationException');
  expect(s3.message).toContain('OutputDataConfig.S3OutputPath');
});
