// The worker process: polls the pipeline task queue and runs the workflows and
// the activities that drive SageMaker through the AWS SDK.
import { bundleWorkflowCode, makeTelemetryFilterString, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createActivities } from './activities';
import { defaultImageStore } from './artifacts/image-store';
import { createAwsClients, type AwsClients } from './aws/clients';
import { dataConverterFor, ENCODING_FAILURE_CONVERTER_PATH } from './codec';
import { ConfigError, loadConfigOrExit, type Config } from './config';
import { createLogger, temporalLogger } from './logging';
import { metricsAddress, metricsTelemetry, metricsVariable } from './observability/metrics';
import { connectionOptions, explainConnectionFailure, type TemporalSettings } from './temporal-connection';

/** The bundle file `npm run build` writes: with payload encryption on, the one whose failure converter encodes failures too. */
const bundleFile = (encrypted: boolean): string => (encrypted ? 'workflow-bundle-encrypted.js' : 'workflow-bundle.js');

/**
 * The prebuilt bundle written by `npm run build` (dist/workflow-bundle.js, or
 * dist/workflow-bundle-encrypted.js with encryption on, beside the compiled
 * dist/src/). Used when NODE_ENV=production; development bundles on the fly.
 */
function prebuiltBundle(encrypted: boolean): string | undefined {
  if (process.env.CHAMP_WORKFLOW_BUNDLE) return resolve(process.env.CHAMP_WORKFLOW_BUNDLE);
  return [join(__dirname, '..', bundleFile(encrypted)), join(__dirname, '..', 'dist', bundleFile(encrypted))].find((p) => existsSync(p));
}

/** The newest modification time of the sources a bundle is made from (src/**, package-lock.json); undefined when not running from sources. */
function newestSourceMs(): number | undefined {
  if (!existsSync(join(__dirname, 'workflows', 'index.ts'))) return undefined;
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(__dirname);
  const lock = join(__dirname, '..', 'package-lock.json');
  if (existsSync(lock)) newest = Math.max(newest, statSync(lock).mtimeMs);
  return newest;
}

/**
 * Development (running from sources): a bundle newer than every source is used
 * as is; `npm run build`'s, or the one the last start wrote to the cache. Saves
 * the seconds webpack takes at each `npm run dev`.
 */
function devBundle(encrypted: boolean): { fresh?: string; cache?: string; newest?: number } {
  const newest = newestSourceMs();
  if (newest === undefined) return {};
  const cache = join(__dirname, '..', 'node_modules', '.cache', 'champ', encrypted ? 'workflow-bundle-encrypted.js' : 'workflow-bundle.js');
  // The build's bundle for the same setting: only the encrypted one has the encoding failure converter.
  const built = join(__dirname, '..', 'dist', bundleFile(encrypted));
  const fresh = [built, cache].find((p) => existsSync(p) && statSync(p).mtimeMs > newest);
  return { ...(fresh ? { fresh } : {}), cache, newest };
}

async function workflowSource(log: Logger, encrypted: boolean): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  const bundle = prebuiltBundle(encrypted);
  const production = process.env.NODE_ENV === 'production' || process.env.CHAMP_WORKFLOW_BUNDLE;
  const dev = production ? {} : devBundle(encrypted);
  if (dev.fresh) {
    log.info({ bundle: dev.fresh }, 'using the workflow bundle: it is newer than every source file');
    return { workflowBundle: { code: readFileSync(dev.fresh, 'utf8') } };
  }
  if (bundle && production) {
    log.info({ bundle }, 'using prebuilt workflow bundle');
    if (encrypted && !bundle.endsWith(bundleFile(true)))
      log.warn(
        { bundle },
        `payloads are encrypted, but failures a workflow raises keep their message in plain text unless the bundle was built with failureConverterPath ${ENCODING_FAILURE_CONVERTER_PATH} (docs/encryption.md)`,
      );
    return { workflowBundle: { code: readFileSync(bundle, 'utf8') } };
  }
  // Bundled here rather than by Worker.create so that webpack's multi-line
  // report goes to debug, not into every `npm run dev` terminal.
  const started = Date.now();
  const bundler = temporalLogger(log.child({ component: 'bundler' }), { quiet: true });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: bundler,
    ...(encrypted ? { failureConverterPath: ENCODING_FAILURE_CONVERTER_PATH } : {}),
  });
  log.info({ ms: Date.now() - started }, 'workflow code bundled');
  if (dev.cache) {
    try {
      mkdirSync(dirname(dev.cache), { recursive: true });
      writeFileSync(dev.cache, code);
      // Dated just after the newest source as it was before bundling: a source changed meanwhile makes it stale.
      const dated = new Date((dev.newest ?? 0) + 1);
      utimesSync(dev.cache, dated, dated);
    } catch (err) {
      log.debug({ err, cache: dev.cache }, 'could not keep the workflow bundle for the next start');
    }
  }
  return { workflowBundle: { code } };
}

/** Startup failures a person can fix, in one line naming the variable. */
export function explainStartupError(err: unknown, config: Config): ConfigError | undefined {
  const message = String((err as Error)?.message ?? err);
  if (/prometheus/i.test(message) && /in use/i.test(message)) {
    return new ConfigError(
      `${metricsVariable(config)}: ${metricsAddress(config)} is already in use (another worker?); set CHAMP_METRICS_PORT to a free port, or 0 to turn the metrics off`,
    );
  }
  return undefined;
}

/**
 * Workflows kept in memory between their tasks. The SDK's default grows with
 * the heap (about 2,000 on a 4 GiB heap), and a pipeline waiting on training
 * or approval sits in it for hours doing nothing, at about 0.45 MB each. A
 * waiting pipeline is woken only when its wait ends; evicted, it then replays
 * its history (tens of events, milliseconds) instead.
 */
const WORKFLOW_CACHE_SIZE = 250;

let runtimeInstalled = false;
function installRuntime(config: Config, log: Logger): void {
  if (runtimeInstalled) return;
  try {
    Runtime.install({
      logger: temporalLogger(log.child({ component: 'temporal' })),
      telemetryOptions: {
        logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
        ...metricsTelemetry(config),
      },
    });
  } catch (err) {
    throw explainStartupError(err, config) ?? err;
  }
  runtimeInstalled = true;
}

export interface StartedWorker {
  worker: Worker;
  /** Resolves when the worker has shut down. */
  done: Promise<void>;
  connection: NativeConnection;
}

/**
 * The region the AWS clients resolved through the SDK's default chain
 * (AWS_REGION, AWS_DEFAULT_REGION, the profile's region in ~/.aws/config);
 * none is a start-up error rather than a failure inside the first activity.
 */
export async function resolveAwsRegion(clients: AwsClients): Promise<string> {
  let region: string | undefined;
  try {
    region = await clients.sagemaker.config.region();
  } catch {
    region = undefined;
  }
  if (!region) {
    throw new ConfigError(
      'no AWS region: set AWS_REGION (e.g. AWS_REGION=us-east-1), or AWS_PROFILE to a profile whose ~/.aws/config section has a region',
    );
  }
  return region;
}

/** Where the address came from, and how the connection is secured, for messages. */
function describeTarget(t: TemporalSettings): string {
  return [t.profile ? `profile "${t.profile}"` : 'TEMPORAL_ADDRESS', ...(t.security === 'plain' ? [] : [t.security])].join(', ');
}

async function connectTemporal(t: TemporalSettings): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(connectionOptions(t));
  } catch (err) {
    const why = explainConnectionFailure(err, t);
    const hint = /^(connection refused|unknown host|no answer in time)/.test(why) ? ' Start one with "npm run dev" or set TEMPORAL_ADDRESS.' : '';
    throw new ConfigError(`cannot reach the Temporal server at ${t.address} (${describeTarget(t)}): ${why}.${hint}`);
  }
}

/** Creates and starts a worker; used by the worker process, `npm run dev` and the demo. */
export async function startWorker(config: Config, log: Logger): Promise<StartedWorker> {
  installRuntime(config, log);
  const clients = createAwsClients({
    region: config.AWS_REGION,
    endpoints: {
      sagemaker: config.AWS_ENDPOINT_URL_SAGEMAKER,
      sagemakerRuntime: config.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME,
      s3: config.AWS_ENDPOINT_URL_S3,
      ecr: config.AWS_ENDPOINT_URL_ECR,
    },
  });
  const region = await resolveAwsRegion(clients);
  log.debug({ region, local: clients.local }, 'AWS clients ready');
  const connection = await connectTemporal(config.temporal);
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.CHAMP_TASK_QUEUE,
    activities: createActivities({ clients, imageStore: defaultImageStore(config), localIsolation: config.CHAMP_LOCAL_ISOLATION }),
    maxCachedWorkflows: WORKFLOW_CACHE_SIZE,
    // CHAMP_PAYLOAD_KEYS: inputs, results and messages are stored encrypted (docs/encryption.md).
    dataConverter: dataConverterFor(config.CHAMP_PAYLOAD_KEYS),
    ...(await workflowSource(log, config.CHAMP_PAYLOAD_KEYS !== undefined)),
  });
  log.info(
    {
      address: config.TEMPORAL_ADDRESS,
      namespace: config.TEMPORAL_NAMESPACE,
      temporalSecurity: config.temporal.security,
      ...(config.temporal.profile ? { temporalProfile: config.temporal.profile } : {}),
      region,
      taskQueue: config.CHAMP_TASK_QUEUE,
      local: clients.local,
      payloadEncryption: config.CHAMP_PAYLOAD_KEYS ? `on (key ${config.CHAMP_PAYLOAD_KEYS.encryptingId})` : 'off',
    },
    'worker polling',
  );
  const done = worker.run().finally(() => connection.close());
  return { worker, done, connection };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit('champ worker');
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
