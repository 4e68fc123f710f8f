import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import { ContainerLauncher, dockerAvailable, liveContainerPids, namespaceIsolationAvailable, type IsolationMode } from '../../../src/local/containers';
import { snapshotContext } from '../../../src/artifacts/image-store';
import type { TrainingProgress, TrainingRunRequest } from '../../../src/local/runtime';
import { LocalTrainingRunner } from '../../../src/local/training-runner';
import { writeContext } from './fixtures';
import { isProcessAlive, makeTempDir, removeDir } from '../support';

let root: string;
let store: string;
let imageUri: string;

beforeAll(async () => {
  root = await makeTempDir('training');
  store = path.join(root, 'store');
  const ctx = await writeContext(path.join(root, 'ctx'));
  imageUri = (await snapshotContext({ contextDir: ctx, repository: 'fixture', store })).imageUri;
  await fsp.mkdir(path.join(root, 'data', 'train'), { recursive: true });
  await fsp.writeFile(path.join(root, 'data', 'train', 'part-1.csv'), 'rows-1');
  await fsp.writeFile(path.join(root, 'data', 'extra.csv'), 'rows-2');
});

afterAll(async () => {
  await removeDir(root);
});

let seq = 0;
function request(overrides: Partial<TrainingRunRequest> = {}): TrainingRunRequest {
  const jobName = `job-${++seq}`;
  return {
    jobName,
    imageUri,
    jobDir: path.join(root, 'jobs', jobName),
    hyperParameters: { mode: 'ok', alpha: '0.3' },
    inputDataConfig: [
      { ChannelName: 'train', DataSource: { S3DataSource: { S3Uri: `file://${root}/data/train`, S3DataType: 'S3Prefix' } }, ContentType: 'text/csv' },
      { ChannelName: 'extra', DataSource: { S3DataSource: { S3Uri: `file://${root}/data/extra.csv` } } },
    ],
    resourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 1 },
    outputPath: `file://${root}/output`,
    maxRuntimeSeconds: 60,
    metricDefinitions: [
      { Name: 'train:loss', Regex: 'loss=([0-9.]+)' },
      { Name: 'validation:rmse', Regex: 'validation:rmse=([0-9.]+)' },
      { Name: 'never:seen', Regex: 'never=([0-9.]+)' },
    ],
    environment: {},
    ...overrides,
  };
}

async function archiveEntries(file: string): Promise<Record<string, string>> {
  const dir = await fsp.mkdtemp(path.join(root, 'untar-'));
  await tar.x({ file, cwd: dir });
  const out: Record<string, string> = {};
  for (const name of await fsp.readdir(dir)) out[name] = await fsp.readFile(path.join(dir, name), 'utf8');
  return out;
}

const modes: IsolationMode[] = ['env'];

describe('LocalTrainingRunner', () => {
  beforeAll(async () => {
    if (await namespaceIsolationAvailable()) modes.push('namespace');
  });

  it.each(['env', 'namespace'] as const)(
    'completes in %s isolation with the last value of each metric and model.tar.gz at <output>/<job>/output',
    async (mode) => {
      if (!modes.includes(mode)) {
        console.warn(`skipping ${mode} isolation: not available here`);
        return;
      }
      const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: mode }) });
      // In namespace mode the program writes through the literal /opt/ml path, proving the bind mount.
      const req = request({ environment: mode === 'namespace' ? { USE_OPT_ML: '1' } : {} });
      const progress: TrainingProgress[] = [];
      const outcome = await runner.run(req, (p) => progress.push(p));

      expect(outcome.failureReason).toBeUndefined();
      expect(outcome.status).toBe('Completed');
      expect(progress.map((p) => p.secondaryStatus)).toEqual(['Starting', 'Downloading', 'Training', 'Uploading']);
      expect(outcome.finalMetrics.map((m) => [m.MetricName, m.Value])).toEqual([
        ['train:loss', 0.5],
        ['validation:rmse', 0.25],
      ]);
      expect(outcome.finalMetrics[0]!.Timestamp).toBeInstanceOf(Date);
      const artifact = path.join(root, 'output', req.jobName, 'output', 'model.tar.gz');
      expect(outcome.modelArtifact).toBe(`file://${artifact}`);
      expect(await archiveEntries(artifact)).toEqual({ 'model.txt': 'data=rows-1rows-2;alpha=0.3', 'host.txt': 'algo-1' });

      expect(outcome.logFile).toBe(path.join(req.jobDir, 'train.log'));
      const log = await fsp.readFile(outcome.logFile, 'utf8');
      expect(log).toContain('epoch=2 loss=0.5');
      expect(log).toContain('validation:rmse=0.25');
      if (mode === 'namespace') {
        // The bind mount was private to the job: the host's /opt/ml saw nothing.
        await expect(fsp.access('/opt/ml/model/model.txt')).rejects.toThrow();
      }
      const config = path.join(req.jobDir, 'opt', 'ml', 'input', 'config');
      expect(JSON.parse(await fsp.readFile(path.join(config, 'resourceconfig.json'), 'utf8'))).toMatchObject({
        current_host: 'algo-1',
        hosts: ['algo-1'],
        network_interface_name: 'eth0',
      });
      expect(JSON.parse(await fsp.readFile(path.join(config, 'inputdataconfig.json'), 'utf8'))).toEqual({
        train: { ContentType: 'text/csv', TrainingInputMode: 'File', S3DistributionType: 'FullyReplicated', RecordWrapperType: 'None' },
        extra: { TrainingInputMode: 'File', S3DistributionType: 'FullyReplicated', RecordWrapperType: 'None' },
      });
    },
  );

  it('fails with the text of output/failure', async () => {
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'env' }) });
    const outcome = await runner.run(request({ hyperParameters: { mode: 'fail' } }), () => undefined);
    expect(outcome).toMatchObject({ status: 'Failed', failureReason: 'bad hyperparameter alpha: must be positive' });
    expect(outcome.modelArtifact).toBeUndefined();
  });

  it('fails as an AlgorithmError with the exit code and the last log lines when there is no output/failure', async () => {
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'env' }) });
    const outcome = await runner.run(request({ hyperParameters: { mode: 'crash' } }), () => undefined);
    expect(outcome.status).toBe('Failed');
    expect(outcome.failureReason).toMatch(/^AlgorithmError: the training program \(train\) exited with code 3/);
    expect(outcome.failureReason).toContain('Traceback: something broke deep inside');
  });

  it('ends Stopped with secondary status MaxRuntimeExceeded (as SageMaker documents) when the run outlasts MaxRuntimeInSeconds', async () => {
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'env' }), stopGraceMs: 500 });
    const started = Date.now();
    const outcome = await runner.run(request({ hyperParameters: { mode: 'sleep' }, maxRuntimeSeconds: 1 }), () => undefined);
    expect(outcome.status).toBe('Stopped');
    expect(outcome.secondaryStatus).toBe('MaxRuntimeExceeded');
    expect(outcome.failureReason).toBeUndefined();
    expect(outcome.modelArtifact).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends Stopped when stop() is called during training, without leaving the process behind', async () => {
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'env' }), stopGraceMs: 500 });
    const req = request({ hyperParameters: { mode: 'sleep' } });
    const progress: string[] = [];
    let sawTraining!: () => void;
    const training = new Promise<void>((resolve) => (sawTraining = resolve));
    const done = runner.run(req, (p) => {
      progress.push(p.secondaryStatus);
      if (p.secondaryStatus === 'Training') sawTraining();
    });
    await training;
    await waitFor(async () => (await fsp.readFile(path.join(req.jobDir, 'train.log'), 'utf8')).includes('sleeping'));
    const pids = liveContainerPids();
    expect(pids).toHaveLength(1);
    await runner.stop(req.jobName);
    const outcome = await done;
    expect(pids.filter(isProcessAlive)).toEqual([]);
    expect(outcome.status).toBe('Stopped');
    expect(outcome.failureReason).toBeUndefined();
    expect(progress).toContain('Stopping');
  });

  it('fails with a ClientError naming the field when a channel is not a file:// location', async () => {
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'env' }) });
    const outcome = await runner.run(
      request({ inputDataConfig: [{ ChannelName: 'train', DataSource: { S3DataSource: { S3Uri: 's3://bucket/train' } } }] }),
      () => undefined,
    );
    expect(outcome.status).toBe('Failed');
    expect(outcome.failureReason).toMatch(/^ClientError: InputDataConfig\[train\]\.DataSource\.S3DataSource\.S3Uri "s3:\/\/bucket\/train" is not a file:\/\/ URI/);
  });

  it('fails with a clear reason when the image is neither local nor runnable by Docker', async () => {
    if (await dockerAvailable()) return; // an engine would try to pull it instead
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'auto' }) });
    const outcome = await runner.run(request({ imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1' }), () => undefined);
    expect(outcome.status).toBe('Failed');
    expect(outcome.failureReason).toContain(
      'image 123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1 is not in the local image store and no Docker engine answers',
    );
  });

  it('a run resumed after a control plane restart, with no container left to re-attach to, runs the program again from a fresh layout', async () => {
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'env' }) });
    const req = request();
    const first = await runner.run(req, () => undefined);
    expect(first.status).toBe('Completed');
    // What the killed attempt left behind must not leak into the new one.
    await fsp.writeFile(path.join(req.jobDir, 'opt', 'ml', 'model', 'stale.bin'), 'old');
    const gone = await runner.run({ ...req, resume: { dockerName: 'champ-no-such-container-0' } }, () => undefined);
    expect(gone.status).toBe('Completed');
    const again = await runner.run({ ...req, resume: {} }, () => undefined);
    expect(again.status).toBe('Completed');
    const log = await fsp.readFile(again.logFile, 'utf8');
    expect(log).toContain('[champ] the local control plane restarted while the job ran: the training program runs again from the start');
    await expect(fsp.access(path.join(req.jobDir, 'opt', 'ml', 'model', 'stale.bin'))).rejects.toThrow();
    expect(again.finalMetrics.map((m) => m.MetricName).sort()).toEqual(['train:loss', 'validation:rmse']);
  });

  it('shutdown() stops every run', async () => {
    const runner = new LocalTrainingRunner({ launcher: new ContainerLauncher({ imageStore: store, isolation: 'env' }), stopGraceMs: 500 });
    const training = new Set<number>();
    const runs = [0, 1].map((i) =>
      runner.run(request({ hyperParameters: { mode: 'sleep' } }), (p) => {
        if (p.secondaryStatus === 'Training') training.add(i);
      }),
    );
    // Both programs started (whatever the machine's speed), so shutdown() stops running containers.
    await waitFor(async () => training.size === 2, 30_000);
    await runner.shutdown();
    expect((await Promise.all(runs)).map((o) => o.status)).toEqual(['Stopped', 'Stopped']);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
