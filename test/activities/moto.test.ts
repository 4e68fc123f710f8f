// Cross-check against a third-party AWS emulator: moto accepts the request
// shapes our activities send. Skips when moto's server is not installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createActivities } from '../../src/activities';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import { activityRunner } from './helpers';
import { freePort } from '../../src/net';

// The Python that has moto: CHAMP_PYTHON, the project's tools virtualenv
// (scripts/temporal-bin.mjs installs moto there unless moto_server is on PATH),
// or python3 on PATH.
const TOOLS_PYTHON = join(__dirname, '..', '..', '.tools', 'venv', 'bin', 'python');
const candidates = [process.env.CHAMP_PYTHON, existsSync(TOOLS_PYTHON) ? TOOLS_PYTHON : undefined, 'python3'].filter(
  (p): p is string => Boolean(p),
);
const PYTHON = candidates.find((py) => spawnSync(py, ['-c', 'import moto.server'], { timeout: 20_000 }).status === 0) ?? candidates[0]!;
const motoAvailable = spawnSync(PYTHON, ['-c', 'import moto.server'], { timeout: 20_000 }).status === 0;
if (!motoAvailable) {
  console.warn(`moto cross-check skipped: "${PYTHON} -c 'import moto.server'" failed. Install it with: npm run temporal:install (or pip install 'moto[server]')`);
}


function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitUntilListening(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await accepts(port))) {
    if (Date.now() > until) throw new Error(`moto did not listen on 127.0.0.1:${port} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

(motoAvailable ? describe : describe.skip)('activities against moto (third-party AWS emulator)', () => {
  let moto: ChildProcess | undefined;
  let clients: AwsClients;
  let stderr = '';

  beforeAll(async () => {
    const port = await freePort();
    moto = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    moto.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilListening(port, 20_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${stderr}`);
    });
    clients = createAwsClients({
      region: 'us-east-1',
      local: false,
      endpoints: { sagemaker: endpoint, sagemakerRuntime: endpoint, s3: endpoint, ecr: endpoint },
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 1,
      env: {},
    });
  }, 30_000);

  afterAll(async () => {
    if (clients) destroyAwsClients(clients);
    const child = moto;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const role = 'arn:aws:iam::123456789012:role/champ';
  const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/claims:ctx-0123456789abcdef';

  it('accepts startTraining, createModel, createEndpointConfig, deployEndpoint (create) and registerCandidate', async () => {
    const acts = createActivities({ clients });
    const run = activityRunner();
    const training = await run.run(acts.startTraining, {
      jobName: 'claims-moto-train',
      imageUri: image,
      training: {
        inputs: [{ name: 'train', uri: 's3://claims-bucket/train/', contentType: 'text/csv' }],
        outputPath: 's3://claims-bucket/output/',
        hyperparameters: { alpha: 0.5, fit_intercept: true },
        instanceType: 'ml.m5.large',
        instanceCount: 1,
        volumeSizeGB: 10,
        maxRuntime: '1h',
        roleArn: role,
        metrics: [{ name: 'validation:deviance', regex: 'deviance=([0-9.]+)' }],
        environment: { SEED: '1' },
      },
      tags: { 'champ:pipeline': 'claims' },
    });
    expect(training.created).toBe(true);
    expect(training.jobArn).toContain('claims-moto-train');
    // (moto accepts a duplicate job name, so the ResourceInUse path is proven with SDK mocks instead.)

    await run.run(acts.createModel, { modelName: 'claims-moto-model', imageUri: image, modelArtifact: 's3://claims-bucket/output/model.tar.gz', roleArn: role, environment: { A: 'b' }, tags: { t: 'v' } });
    await run.run(acts.createModel, { modelName: 'claims-moto-model', imageUri: image, modelArtifact: 's3://claims-bucket/output/model.tar.gz', roleArn: role, environment: {}, tags: {} });
    await run.run(acts.createEndpointConfig, {
      configName: 'claims-moto-config',
      modelName: 'claims-moto-model',
      variantName: 'AllTraffic',
      instanceType: 'ml.m5.large',
      instanceCount: 1,
      tags: {},
    });
    const deployed = await run.run(acts.deployEndpoint, {
      endpointName: 'claims-moto',
      configName: 'claims-moto-config',
      strategy: { type: 'all-at-once', waitInterval: '5m', terminationWait: '0s', alarms: [] },
      tags: {},
      before: null,
    });
    expect(deployed).toMatchObject({ action: 'created' });

    const registered = await run.run(acts.registerCandidate, {
      modelPackageGroupName: 'claims',
      imageUri: image,
      modelArtifact: 's3://claims-bucket/output/model.tar.gz',
      metrics: [{ name: 'validation:deviance', value: 0.42 }],
      trainingJobName: 'claims-moto-train',
      dataUri: 's3://claims-bucket/train/',
      dataFingerprint: 'a'.repeat(64),
      workflowId: 'claims-moto-wf',
    });
    expect(registered.modelPackageArn).toContain('claims');
    expect(registered.version).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
