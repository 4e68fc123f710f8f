// The worker process: polls the pipeline task queue and runs the workflows and
// the activities that drive SageMaker through the AWS SDK.
import { makeTelemetryFilterString, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createActivities } from './activities';
import { createAwsClients } from './aws/clients';
import { ConfigError, loadConfig, type Config } from './config';
import { defaultImageStore } from './local/image-store';
import { createLogger, temporalLogger } from './logging';

/**
 * The prebuilt bundle written by `npm run build` (dist/workflow-bundle.js, beside
 * the compiled dist/src/). Used when NODE_ENV=production; development bundles on the fly.
 */
function prebuiltBundle(): string | undefined {
  if (process.env.CHAMP_WORKFLOW_BUNDLE) return resolve(process.env.CHAMP_WORKFLOW_BUNDLE);
  return [join(__dirname, '..', 'workflow-bundle.js'), join(__dirname, '..', 'dist', 'workflow-bundle.js')].find((p) => existsSync(p));
}

function workflowSource(log: Logger): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = prebuiltBundle();
  if (bundle && (process.env.NODE_ENV === 'production' || process.env.CHAMP_WORKFLOW_BUNDLE)) {
    log.info({ bundle }, 'using prebuilt workflow bundle');
    return { workflowBundle: { code: readFileSync(bundle, 'utf8') } };
  }
  return { workflowsPath: require.resolve('./workflows') };
}

/** The local image store shared by the worker's builds and the control plane: $CHAMP_IMAGE_STORE, else <home>/images. */
export function imageStoreFor(home: string): string {
  return defaultImageStore({ CHAMP_IMAGE_STORE: process.env.CHAMP_IMAGE_STORE, CHAMP_HOME: home });
}

let runtimeInstalled = false;
function installRuntime(config: Config, log: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: temporalLogger(log.child({ component: 'temporal' })),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(config.CHAMP_METRICS_PORT > 0
        ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.CHAMP_METRICS_PORT}` } } }
        : {}),
    },
  });
}

export interface StartedWorker {
  worker: Worker;
  /** Resolves when the worker has shut down. */
  done: Promise<void>;
  connection: NativeConnection;
}

/** Creates and starts a worker; used by the worker process, `npm run dev` and the demo. */
export async function startWorker(config: Config, log: Logger): Promise<StartedWorker> {
  installRuntime(config, log);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  } catch (err) {
    throw new ConfigError(
      `cannot reach the Temporal server at ${config.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS): ${(err as Error).message}. Start one with "npm run dev" or set TEMPORAL_ADDRESS.`,
    );
  }
  const clients = createAwsClients({
    region: config.AWS_REGION,
    endpoints: {
      sagemaker: config.AWS_ENDPOINT_URL_SAGEMAKER,
      sagemakerRuntime: config.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME,
      s3: config.AWS_ENDPOINT_URL_S3,
      ecr: config.AWS_ENDPOINT_URL_ECR,
    },
  });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.CHAMP_TASK_QUEUE,
    activities: createActivities({ clients, imageStore: imageStoreFor(config.CHAMP_HOME) }),
    ...workflowSource(log),
  });
  log.info(
    { address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.CHAMP_TASK_QUEUE, local: clients.local },
    'worker polling',
  );
  const done = worker.run().finally(() => connection.close());
  return { worker, done, connection };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`champ worker: ${(err as Error).message}`);
    process.exit(2);
  }
  const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'champ-worker' });
  try {
    const { done } = await startWorker(config, log);
    // Runtime.install makes the SDK shut the worker down gracefully on SIGINT and SIGTERM.
    await done;
    log.info('worker stopped');
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`champ worker: ${err.message}`);
      process.exit(2);
    }
    log.error({ err }, 'worker failed');
    process.exit(1);
  }
}

if (require.main === module) {
  void main();
}
