// An unmodified bring-your-own-container image of the usual SageMaker kind
// (test/fixtures/images/sagemaker-style: nginx on 8080 in front of gunicorn on a
// socket in /tmp, programs under /opt/program, nginx's logs symlinked to
// /dev/stdout) trains, serves, keeps two endpoints apart and survives an
// UpdateEndpoint under load, in docker mode. Its base comes from Debian's
// packages (test/fixtures/images/build-base.sh, cached). Without an engine, or
// where that base cannot be built, the tests report themselves skipped with why.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { planeIdFor } from '../../src/local/containers/docker';
import { containerLedger } from '../../src/local/server';
import { endpointStatus, ROLE, startPlane, trainingJob, trainToEnd, until, type Plane } from '../local/integration/helpers';
import { makeTempDir, removeDir } from '../local/support';
import { docker, engineMissing, lastLine } from './support';

const FIXTURES = path.resolve(__dirname, '../fixtures/images');
const RUN = `sm-style-${process.pid}-${randomBytes(3).toString('hex')}`;
const IMAGE = `champ-fixture/sagemaker-style:${RUN}`;

/** The base image's tag, or why there is none. */
function fixtureBase(): { tag?: string; missing?: string } {
  const noEngine = engineMissing();
  if (noEngine) return { missing: noEngine };
  // Cached: a second run takes a second; the first debootstraps (a few minutes).
  const built = spawnSync(path.join(FIXTURES, 'build-base.sh'), [], { encoding: 'utf8', timeout: 900_000 });
  if (built.status !== 0) return { missing: `the fixture's base could not be built (test/fixtures/images/build-base.sh: ${lastLine(built.stderr ?? '') || String(built.error ?? built.status)})` };
  return { tag: lastLine(built.stdout) };
}

const base = fixtureBase();
if (base.missing) console.warn(`SageMaker-style image tests skipped: ${base.missing}`);

(base.missing ? describe.skip : describe)(`a SageMaker-style image (nginx + gunicorn) in docker mode${base.missing ? ` (skipped: ${base.missing})` : ''}`, () => {
  let dir: string;
  let plane: Plane;
  const artifacts: Record<string, string> = {};

  beforeAll(async () => {
    const built = docker(['build', '-q', '--build-arg', `BASE=${base.tag}`, '--label', `org.champ.test=${RUN}`, '-t', IMAGE, path.join(FIXTURES, 'sagemaker-style')], 300_000);
    if (built.status !== 0) throw new Error(`docker build of ${IMAGE} failed: ${built.stderr}`);
    dir = await makeTempDir('sm-style');
    plane = await startPlane({ stateDir: path.join(dir, 'home'), isolation: 'docker' });
  }, 360_000);

  afterAll(async () => {
    await plane?.close();
    if (plane) {
      const left = docker(['ps', '-aq', '--filter', `label=org.champ.local.plane=${planeIdFor(containerLedger(plane.server.stateRoot))}`]).stdout.split('\n').filter(Boolean);
      if (left.length > 0) docker(['rm', '-f', ...left]);
    }
    docker(['rmi', '-f', IMAGE]);
    if (dir) await removeDir(dir);
  });

  const invoke = async (endpoint: string, x: string): Promise<{ model: string; prediction: number }> => {
    const out = await plane.rt.send(new InvokeEndpointCommand({ EndpointName: endpoint, Body: Buffer.from(x), ContentType: 'text/plain' }));
    return JSON.parse(Buffer.from(out.Body!).toString()) as { model: string; prediction: number };
  };

  const deploy = async (model: string, config: string): Promise<void> => {
    await plane.sm.send(new CreateModelCommand({
      ModelName: model,
      ExecutionRoleArn: ROLE,
      PrimaryContainer: { Image: IMAGE, ModelDataUrl: artifacts[model], Environment: { MODEL_SERVER_WORKERS: '2' } },
    }));
    await plane.sm.send(new CreateEndpointConfigCommand({
      EndpointConfigName: config,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: model, InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
    }));
  };

  it('trains two models with its train program', async () => {
    const data = path.join(dir, 'data');
    await fsp.mkdir(data, { recursive: true });
    await fsp.writeFile(path.join(data, 'numbers.csv'), '1,2,3\n4,5,6\n');
    for (const [name, scale] of [['model-a', '1'], ['model-b', '10']] as const) {
      const { final } = await trainToEnd(plane.sm, trainingJob(`train-${name}`, IMAGE, { train: pathToFileURL(data).href }, path.join(dir, 'out'), { name, scale }), 90_000);
      expect([final.TrainingJobStatus, final.FailureReason]).toEqual(['Completed', undefined]);
      artifacts[name] = final.ModelArtifacts!.S3ModelArtifacts!;
    }
  }, 240_000);

  it('serves two endpoints from the image, each with its own model (each container its own /tmp/gunicorn.sock), nginx logging to /dev/stdout', async () => {
    await deploy('model-a', 'cfg-a');
    await deploy('model-b', 'cfg-b');
    await plane.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-a', EndpointConfigName: 'cfg-a' }));
    await plane.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-b', EndpointConfigName: 'cfg-b' }));
    await endpointStatus(plane.sm, 'ep-a', 'InService', [], 120_000);
    await endpointStatus(plane.sm, 'ep-b', 'InService', [], 120_000);
    for (let i = 0; i < 10; i++) {
      expect(await invoke('ep-a', '2')).toMatchObject({ model: 'model-a', prediction: 7 });
      expect(await invoke('ep-b', '2')).toMatchObject({ model: 'model-b', prediction: 70 });
    }
    // nginx's access log is a symlink to /dev/stdout: its lines reach the endpoint's log.
    const logs = (await fsp.readdir(path.join(plane.server.stateRoot, 'endpoints', 'ep-a'), { recursive: true })).filter((f) => f.endsWith('serve.log'));
    expect(logs.length).toBeGreaterThan(0);
    await until('nginx access lines in the serve log', async () => {
      for (const f of logs) {
        const text = await fsp.readFile(path.join(plane.server.stateRoot, 'endpoints', 'ep-a', f), 'utf8');
        if (/"POST \/invocations HTTP\/1\.1" 200/.test(text)) return true;
      }
      return undefined;
    });
  }, 300_000);

  it('survives an UpdateEndpoint under load: at least 500 requests, none dropped, then the new model answers', async () => {
    const failures: string[] = [];
    const models: string[] = [];
    let updated = false;
    const worker = async (): Promise<void> => {
      // Bounded by count as well as by the update: a stuck update fails the test instead of looping forever.
      while ((!updated || models.length < 500) && models.length + failures.length < 20_000) {
        try {
          models.push((await invoke('ep-a', '1')).model);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    await until('some requests before the update', async () => (models.length >= 50 ? true : undefined), 30_000);
    await plane.sm.send(new UpdateEndpointCommand({ EndpointName: 'ep-a', EndpointConfigName: 'cfg-b' }));
    await endpointStatus(plane.sm, 'ep-a', 'InService', [], 120_000);
    updated = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(models.length).toBeGreaterThanOrEqual(500);
    expect(models).toContain('model-a');
    expect(models[models.length - 1]).toBe('model-b');
    expect(await invoke('ep-a', '3')).toMatchObject({ model: 'model-b', prediction: 105 });
    for (const ep of ['ep-a', 'ep-b']) await plane.sm.send(new DeleteEndpointCommand({ EndpointName: ep }));
  }, 300_000);
});
