// Processing jobs in docker mode: the entrypoint and arguments run in a real
// container of the engine (asked of the engine while it runs, by its labels),
// with /opt/ml/processing mounted. Skips, saying why, without an engine or the
// node base image.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateProcessingJobCommand, DescribeProcessingJobCommand, StopProcessingJobCommand } from '@aws-sdk/client-sagemaker';
import { ROLE, startPlane, until, type Plane } from '../local/integration/helpers';
import { processingApp, writeProcessingContext } from '../local/processing-fixture';
import { makeTempDir, removeDir } from '../local/support';
import { docker, engineMissing } from './support';

const BASE = 'node:20.19.5-bookworm-slim';
const RUN = `processing-${process.pid}-${randomBytes(3).toString('hex')}`;
const IMAGE = `champ-docker-test/${RUN}:v1`;
const noEngine = engineMissing();
const skip = noEngine ?? (docker(['image', 'inspect', BASE]).status === 0 ? undefined : `the base image ${BASE} is missing (scripts/engine/base-images.sh builds it)`);
if (skip) console.warn(`docker processing tests skipped: ${skip}`);
const maybe = skip ? test.skip : test;

let dir: string;
let plane: Plane;

beforeAll(async () => {
  if (skip) return;
  dir = await makeTempDir('docker-processing');
  const context = await writeProcessingContext(path.join(dir, 'context'), BASE);
  const built = docker(['build', '-q', '-t', IMAGE, context], 300_000);
  if (built.status !== 0) throw new Error(`docker build failed: ${built.stderr}`);
  await fsp.mkdir(path.join(dir, 'data'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'data', 'rows.csv'), 'x\n1\n2\n3\n');
  plane = await startPlane({ stateDir: path.join(dir, 'home'), imageStore: path.join(dir, 'images'), isolation: 'docker' });
}, 320_000);
afterAll(async () => {
  if (skip) return;
  await plane?.close();
  docker(['rmi', '-f', IMAGE]);
  await removeDir(dir);
});

function job(name: string, mode: 'ok' | 'sleep') {
  return {
    ProcessingJobName: name,
    RoleArn: ROLE,
    AppSpecification: processingApp(IMAGE, mode),
    Environment: { GREETING: 'from docker' },
    ProcessingResources: { ClusterConfig: { InstanceCount: 1, InstanceType: 'ml.m5.large' as const, VolumeSizeInGB: 1 } },
    ProcessingInputs: [
      { InputName: 'data', S3Input: { S3Uri: pathToFileURL(path.join(dir, 'data')).href, LocalPath: '/opt/ml/processing/input/data', S3DataType: 'S3Prefix' as const } },
    ],
    ProcessingOutputConfig: {
      Outputs: [
        { OutputName: 'report', S3Output: { S3Uri: pathToFileURL(path.join(dir, `out-${name}`)).href, LocalPath: '/opt/ml/processing/output/report', S3UploadMode: 'EndOfJob' as const } },
      ],
    },
  };
}

async function status(name: string, wanted: string[]): Promise<string> {
  return until(`${name} in ${wanted.join('/')}`, async () => {
    const d = await plane.sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: name }));
    return wanted.includes(d.ProcessingJobStatus ?? '') ? (d.ProcessingJobStatus as string) : undefined;
  }, 120_000);
}

maybe('a processing job runs its entrypoint in a container of the engine, labelled as the job, and its output lands at S3Uri', async () => {
  await plane.sm.send(new CreateProcessingJobCommand(job('docker-ok', 'ok')));
  expect(await status('docker-ok', ['Completed', 'Failed'])).toBe('Completed');
  const d = await plane.sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: 'docker-ok' }));
  expect(d.ExitMessage).toBe(JSON.stringify({ files: 1 }));
  expect(await fsp.readFile(path.join(dir, 'out-docker-ok', 'counts.csv'), 'utf8')).toBe('rows.csv,4\n');
  expect(await fsp.readFile(path.join(dir, 'out-docker-ok', 'env.txt'), 'utf8')).toBe('from docker');
  const log = await fsp.readFile(path.join(plane.server.stateRoot, 'processing', 'docker-ok', 'processing.log'), 'utf8');
  expect(log).toMatch(/isolation: docker; container champ-docker-ok-/);
}, 180_000);

maybe('a stopped processing job stops its container: the engine no longer runs it and the job ends Stopped', async () => {
  await plane.sm.send(new CreateProcessingJobCommand(job('docker-stop', 'sleep')));
  const label = 'org.champ.local.processing-job=docker-stop';
  const running = await until('the container to run', async () => {
    const names = docker(['ps', '--filter', `label=${label}`, '--format', '{{.Names}}']).stdout.trim();
    return names ? names : undefined;
  }, 120_000);
  expect(running).toMatch(/^champ-docker-stop-/);
  await plane.sm.send(new StopProcessingJobCommand({ ProcessingJobName: 'docker-stop' }));
  expect(await status('docker-stop', ['Stopped', 'Failed', 'Completed'])).toBe('Stopped');
  expect(docker(['ps', '--filter', `label=${label}`, '--format', '{{.Names}}']).stdout.trim()).toBe('');
}, 180_000);
