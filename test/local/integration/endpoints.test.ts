// Endpoints of the claims-severity example through the real runtime: serve
// processes on loopback ports, blue/green updates under load, a failed update,
// a restart of the control plane, and no process left behind.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tar from 'tar';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { liveContainerPids } from '../../../src/local/containers';
import { endpointStatus, exampleImage, expectStatusPath, generateData, ROLE, startPlane, trainingJob, trainToEnd, until, type Plane } from './helpers';
import { isProcessAlive, makeTempDir, removeDir } from '../support';

interface Scored {
  prediction: number;
  risk_terms: Record<string, number>;
}
interface Answer {
  model_id: string;
  predictions: Scored[];
}

const ROW = { driver_age: 35, vehicle_age: 4, vehicle_value: 20, annual_mileage: 12, region: 'east' };

let dir: string;
let home: string;
let store: string;
let plane: Plane;
let image: string;
const artifacts: Record<'a' | 'b', string> = { a: '', b: '' };
let badArtifact: string;

const options = () => ({ stateDir: home, imageStore: store, healthTimeoutMs: 3000 });

async function deployable(suffix: string, modelDataUrl: string): Promise<string> {
  await plane.sm.send(new CreateModelCommand({ ModelName: `claims-${suffix}`, ExecutionRoleArn: ROLE, PrimaryContainer: { Image: image, ModelDataUrl: modelDataUrl } }));
  await plane.sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: `claims-config-${suffix}`,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `claims-${suffix}`, InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
    }),
  );
  return `claims-config-${suffix}`;
}

async function invokeJson(endpoint: string): Promise<Answer> {
  const out = await plane.rt.send(
    new InvokeEndpointCommand({ EndpointName: endpoint, ContentType: 'application/json', Accept: 'application/json', Body: JSON.stringify({ instances: [ROW] }) }),
  );
  return JSON.parse(Buffer.from(out.Body).toString('utf8')) as Answer;
}

beforeAll(async () => {
  dir = await makeTempDir('it-endpoints');
  home = path.join(dir, 'home');
  store = path.join(dir, 'images');
  let data: { train: string; validation: string };
  [image, data] = await Promise.all([exampleImage(store), generateData(path.join(dir, 'data'))]);
  plane = await startPlane(options());
  // Two models of the same data that differ (a strong ridge moves every coefficient), so their model_id differ.
  const out = path.join(dir, 'out');
  const [a, b] = await Promise.all([
    trainToEnd(plane.sm, trainingJob('train-a', image, data, out)),
    trainToEnd(plane.sm, trainingJob('train-b', image, data, out, { l2: '1' })),
  ]);
  for (const [k, r] of [['a', a], ['b', b]] as const) {
    if (r.final.TrainingJobStatus !== 'Completed') throw new Error(`train-${k}: ${r.final.FailureReason ?? ''}`);
    artifacts[k] = r.final.ModelArtifacts?.S3ModelArtifacts as string;
  }
  // A model archive without model.json: its serve exits 1 at once.
  const src = path.join(dir, 'bad-model');
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'README.txt'), 'no model here');
  await tar.c({ gzip: true, file: path.join(dir, 'bad-model.tar.gz'), cwd: src }, ['README.txt']);
  badArtifact = pathToFileURL(path.join(dir, 'bad-model.tar.gz')).href;
}, 45_000);

afterAll(async () => {
  await plane?.close();
  await removeDir(dir);
});

let modelIdA = '';
let modelIdB = '';

test('an endpoint goes Creating -> InService and answers JSON and CSV with predictions and risk terms', async () => {
  const config = await deployable('a', artifacts.a);
  await plane.sm.send(new CreateEndpointCommand({ EndpointName: 'claims', EndpointConfigName: config }));
  const seen: string[] = [];
  const d = await endpointStatus(plane.sm, 'claims', 'InService', seen);
  expectStatusPath(seen, ['Creating', 'InService']);
  expect(d.EndpointConfigName).toBe(config);
  expect(d.FailureReason).toBeUndefined();
  expect(d.ProductionVariants?.[0]?.DeployedImages?.[0]?.SpecifiedImage).toBe(image);
  expect(image).toMatch(/^champ\.local\/claims-severity:ctx-[0-9a-f]{16}$/);

  const json = await plane.rt.send(
    new InvokeEndpointCommand({ EndpointName: 'claims', ContentType: 'application/json', Accept: 'application/json', Body: JSON.stringify({ instances: [ROW, { ...ROW, region: 'west' }] }) }),
  );
  expect(json.InvokedProductionVariant).toBe('AllTraffic');
  expect(json.ContentType).toContain('application/json');
  const answer = JSON.parse(Buffer.from(json.Body).toString('utf8')) as Answer;
  expect(answer.predictions).toHaveLength(2);
  for (const p of answer.predictions) {
    expect(p.prediction).toBeGreaterThan(0);
    expect(Object.keys(p.risk_terms)).toEqual(expect.arrayContaining(['base', 'driver_age', 'vehicle_age', 'vehicle_value', 'annual_mileage', 'region_west']));
    const sum = Object.values(p.risk_terms).reduce((s, x) => s + x, 0);
    expect(sum).toBeCloseTo(Math.log(p.prediction), 4);
  }
  modelIdA = answer.model_id;

  const csv = await plane.rt.send(
    new InvokeEndpointCommand({ EndpointName: 'claims', ContentType: 'text/csv', Accept: 'text/csv', Body: '35,4,20,12,east\n50,10,30,8,west\n' }),
  );
  const lines = Buffer.from(csv.Body).toString('utf8').trim().split('\n');
  expect(lines[0]?.split(',').slice(0, 3)).toEqual(['prediction', 'base', 'driver_age']);
  expect(lines).toHaveLength(3);
  expect(Number(lines[1]?.split(',')[0])).toBeGreaterThan(0);
});

test('UpdateEndpoint under 4 concurrent request loops loses no request and ends serving the new model', async () => {
  const config = await deployable('b', artifacts.b);
  let stop = false;
  let updated = false;
  let total = 0;
  let afterSwitch = 0;
  const failures: string[] = [];
  const idsPerLoop: string[][] = [[], [], [], []];
  const loop = async (i: number): Promise<void> => {
    while (!stop) {
      try {
        const a = await invokeJson('claims');
        const ids = idsPerLoop[i] as string[];
        if (ids.at(-1) !== a.model_id) ids.push(a.model_id);
        if (a.predictions.length !== 1) failures.push(`loop ${i}: ${a.predictions.length} predictions`);
      } catch (e) {
        failures.push(`loop ${i}: ${(e as Error).name}: ${(e as Error).message}`);
      }
      total++;
      if (updated) afterSwitch++;
    }
  };
  const loops = [0, 1, 2, 3].map(loop);
  await until('some traffic before the update', async () => (total >= 50 ? true : undefined));
  await plane.sm.send(new UpdateEndpointCommand({ EndpointName: 'claims', EndpointConfigName: config }));
  const seen: string[] = [];
  const d = await endpointStatus(plane.sm, 'claims', 'InService', seen);
  updated = true;
  await until('500 requests in all, 50 after the switch', async () => (total >= 500 && afterSwitch >= 50 ? true : undefined), 30_000);
  stop = true;
  await Promise.all(loops);

  expect(failures).toEqual([]);
  expect(total).toBeGreaterThanOrEqual(500);
  expectStatusPath(seen, ['Updating', 'InService']);
  expect(d.EndpointConfigName).toBe(config);
  expect(d.FailureReason).toBeUndefined();
  modelIdB = (await invokeJson('claims')).model_id;
  expect(modelIdB).not.toBe(modelIdA);
  // Every loop saw the old model, then the new one, and never went back.
  for (const ids of idsPerLoop) expect(ids).toEqual([modelIdA, modelIdB]);
});

test('an update to a model whose serve never gets healthy leaves the old model serving, InService on the old config, FailureReason set', async () => {
  const config = await deployable('broken', badArtifact);
  await plane.sm.send(new UpdateEndpointCommand({ EndpointName: 'claims', EndpointConfigName: config }));
  const during = await invokeJson('claims');
  expect(during.model_id).toBe(modelIdB);
  const seen: string[] = [];
  const d = await endpointStatus(plane.sm, 'claims', 'InService', seen);
  expectStatusPath(seen, ['Updating', 'InService']);
  expect(d.EndpointConfigName).toBe('claims-config-b');
  expect(d.FailureReason).toMatch(/did not pass the ping health check \(its serve program exited with code 1\)/);
  expect(d.PendingDeploymentSummary).toBeUndefined();
  expect((await invokeJson('claims')).model_id).toBe(modelIdB);
});

test('after a restart of the control plane the endpoint serves again, and after the last close no process is left', async () => {
  const before = liveContainerPids();
  expect(before.length).toBeGreaterThanOrEqual(1);
  await plane.close();
  expect(liveContainerPids()).toEqual([]);
  for (const pid of before) expect(isProcessAlive(pid)).toBe(false);

  plane = await startPlane(options());
  const seen: string[] = [];
  const d = await endpointStatus(plane.sm, 'claims', 'InService', seen);
  expectStatusPath(seen, ['Creating', 'InService']);
  expect(d.EndpointConfigName).toBe('claims-config-b');
  expect((await invokeJson('claims')).model_id).toBe(modelIdB);
  const after = liveContainerPids();
  expect(after.length).toBe(1);
  expect(after.some((p) => before.includes(p))).toBe(false);

  await plane.close();
  expect(liveContainerPids()).toEqual([]);
  for (const pid of after) expect(isProcessAlive(pid)).toBe(false);

  // And once more, to delete it for good: DeleteEndpoint stops its process.
  plane = await startPlane(options());
  await endpointStatus(plane.sm, 'claims', 'InService');
  const serving = liveContainerPids();
  await plane.sm.send(new DeleteEndpointCommand({ EndpointName: 'claims' }));
  await until('endpoint gone', async () =>
    plane.sm.send(new DescribeEndpointCommand({ EndpointName: 'claims' })).then(
      () => undefined,
      (e: Error) => (e.name === 'ValidationException' ? true : undefined),
    ),
  );
  expect(liveContainerPids()).toEqual([]);
  for (const pid of serving) expect(isProcessAlive(pid)).toBe(false);
});
