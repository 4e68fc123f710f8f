// The control plane with its real runtime and the claims-severity example:
// a local image snapshotted from the example's folder, data from its
// generator, and clients that talk to the server only through the AWS SDK.
import { execFile } from 'node:child_process';
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
