// The control plane with its real runtime and the claims-severity example:
// a local image snapshotted from the example's folder, data from its
// generator, and clients that talk to the server only through the AWS SDK.
import { execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateTrainingJobCommand,
  DescribeEndpointCommand,
  DescribeTrainingJobCommand,
  SageMakerClient,
  type CreateTrainingJobCommandInput,
  type DescribeEndpointCommandOutput,
  type DescribeTrainingJobCommandOutput,
} from '@aws-sdk/client-sagemaker';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { snapshotContext } from '../../../src/artifacts/image-store';
import { startLocalSageMaker, type LocalSageMaker, type LocalSageMakerOptions } from '../../../src/local/server';
import { until as waitUntil } from '../support';

export const EXAMPLE_DIR = path.resolve(__dirname, '../../../examples/claims-severity');
export const ROLE = 'arn:aws:iam::000000000000:role/champ-local';

// The regexes the example's README documents for its metric lines.
export const METRIC_DEFINITIONS = [
  { Name: 'train:deviance', Regex: 'train:deviance=([0-9.eE+-]+);' },
  { Name: 'train:gini', Regex: 'train:gini=([0-9.eE+-]+);' },
  { Name: 'validation:deviance', Regex: 'validation:deviance=([0-9.eE+-]+);' },
  { Name: 'validation:gini', Regex: 'validation:gini=([0-9.eE+-]+);' },
];

const run = promisify(execFile);
const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

/** `generate.py --rows <rows> --seed <seed> --out <dir>`: train/train.csv, validation/validation.csv, truth.json. */
export async function generateData(out: string, rows = 5000, seed = 3): Promise<{ train: string; validation: string }> {
  await run('python3', [path.join(EXAMPLE_DIR, 'generate.py'), '--rows', String(rows), '--seed', String(seed), '--out', out], { timeout: 30_000 });
  return { train: pathToFileURL(path.join(out, 'train')).href, validation: pathToFileURL(path.join(out, 'validation')).href };
}

/** The example folder as a local image `champ.local/claims-severity:ctx-<hash16>` in `store`. */
export async function exampleImage(store: string): Promise<string> {
  return (await snapshotContext({ contextDir: EXAMPLE_DIR, repository: 'claims-severity', store })).imageUri;
}

export interface Plane {
  server: LocalSageMaker;
  sm: SageMakerClient;
  /** No retries: a test sees the first answer. */
  smOnce: SageMakerClient;
  /** No retries: a lost invocation is a failure, never hidden by the SDK trying again. */
  rt: SageMakerRuntimeClient;
  close(): Promise<void>;
}

export async function startPlane(opts: LocalSageMakerOptions): Promise<Plane> {
  const server = await startLocalSageMaker({ region: 'us-east-1', log: () => undefined, ...opts, port: 0 });
  const common = { endpoint: server.url, region: 'us-east-1', credentials };
  const sm = new SageMakerClient(common);
  const smOnce = new SageMakerClient({ ...common, maxAttempts: 1 });
  const rt = new SageMakerRuntimeClient({ ...common, maxAttempts: 1 });
  return {
    server,
    sm,
    smOnce,
    rt,
    async close() {
      sm.destroy();
      smOnce.destroy();
      rt.destroy();
      await server.close();
    },
  };
}

export function trainingJob(
  name: string,
  image: string,
  data: { train: string; validation?: string },
  output: string,
  hyperParameters: Record<string, string> = {},
): CreateTrainingJobCommandInput {
  return {
    TrainingJobName: name,
    AlgorithmSpecification: { TrainingImage: image, TrainingInputMode: 'File', MetricDefinitions: METRIC_DEFINITIONS },
    RoleArn: ROLE,
    HyperParameters: hyperParameters,
    InputDataConfig: [
      { ChannelName: 'train', ContentType: 'text/csv', DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: data.train } } },
      ...(data.validation
        ? [{ ChannelName: 'validation', ContentType: 'text/csv', DataSource: { S3DataSource: { S3DataType: 'S3Prefix' as const, S3Uri: data.validation } } }]
        : []),
    ],
    OutputDataConfig: { S3OutputPath: pathToFileURL(output).href },
    ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 1 },
    StoppingCondition: { MaxRuntimeInSeconds: 120 },
  };
}

/** Real containers take seconds to start and stop, not milliseconds: a longer default wait. */
export const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> =>
  waitUntil(what, probe, timeoutMs);

/** Trains and waits for a terminal status, recording every TrainingJobStatus seen on the way. */
export async function trainToEnd(
  sm: SageMakerClient,
  input: CreateTrainingJobCommandInput,
  timeoutMs = 30_000,
): Promise<{ final: DescribeTrainingJobCommandOutput; seen: string[] }> {
  await sm.send(new CreateTrainingJobCommand(input));
  const seen: string[] = [];
  const final = await until(
    `training job ${input.TrainingJobName} to end`,
    async () => {
      const d = await sm.send(new DescribeTrainingJobCommand({ TrainingJobName: input.TrainingJobName }));
      const s = d.TrainingJobStatus ?? '?';
      if (seen[seen.length - 1] !== s) seen.push(s);
      return ['Completed', 'Failed', 'Stopped'].includes(s) ? d : undefined;
    },
    timeoutMs,
  );
  return { final, seen };
}

/** Waits until the endpoint is in `status`, recording every EndpointStatus seen on the way. */
export async function endpointStatus(
  sm: SageMakerClient,
  name: string,
  status: string,
  seen: string[] = [],
  timeoutMs = 20_000,
): Promise<DescribeEndpointCommandOutput> {
  return until(
    `endpoint ${name} ${status}`,
    async () => {
      const d = await sm.send(new DescribeEndpointCommand({ EndpointName: name }));
      const s = d.EndpointStatus ?? '?';
      if (seen[seen.length - 1] !== s) seen.push(s);
      if (s === 'Failed' && status !== 'Failed') throw new Error(`endpoint ${name} Failed: ${d.FailureReason ?? ''}`);
      return s === status ? d : undefined;
    },
    timeoutMs,
  );
}

export interface PlaneProcess {
  url: string;
  pid: number;
  /** What it printed on stdout so far (its URL, its isolation line). */
  stdout(): string;
  sm: SageMakerClient;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to its process group (the server under tsx); containers it started are left, as after a crash. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `src/local/main.ts` as a process of its own, with exactly `env` as its
 * environment plus PATH and HOME: what it was started with is what a container
 * could try to read from /proc.
 */
export async function spawnPlane(home: string, env: Record<string, string>): Promise<PlaneProcess> {
  const root = path.resolve(__dirname, '../../..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/local/main.ts', '--port', '0', '--state-dir', home], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 30 s; stderr: ${err}`)), 30_000);
    const look = (): void => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stdout.on('data', look);
    void exited.then((e) => reject(new Error(`exited early (${String(e.code)}); stderr: ${err}`)));
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  const sm = new SageMakerClient({ endpoint: url, region: 'us-east-1', credentials });
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    url,
    pid: child.pid as number,
    stdout: () => out,
    sm,
    exited,
    async kill() {
      sm.destroy();
      if (!gone()) process.kill(-(child.pid as number), 'SIGKILL');
      await exited;
    },
    async stop() {
      sm.destroy();
      if (!gone()) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * Statuses seen by polling follow `path`, or a tail of it: a loaded machine may
 * be too slow to catch the first one (InService before the first Describe).
 */
export function expectStatusPath(seen: string[], path: string[]): void {
  expect(path.map((_, i) => path.slice(i))).toContainEqual(seen);
}
