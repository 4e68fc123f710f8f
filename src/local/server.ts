// The local SageMaker-compatible control plane: one HTTP server on loopback
// that speaks SageMaker's JSON 1.1 protocol (POST / with X-Amz-Target),
// SageMaker Runtime's InvokeEndpoint, and a small admin API under /_champ/.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { AdminControls, parseFault } from './admin';
import type { ApiContext, Handler } from './api/common';
import { isObject } from './api/common';
import { createEndpoint, deleteEndpoint, describeEndpoint, invokeEndpoint, listEndpoints, MAX_INVOKE_BODY_BYTES, recoverEndpoints, updateEndpoint } from './api/endpoints';
import {
  createEndpointConfig,
  createModel,
  deleteEndpointConfig,
  deleteModel,
  describeEndpointConfig,
  describeModel,
  listEndpointConfigs,
  listModels,
} from './api/models';
import {
  createModelPackage,
  createModelPackageGroup,
  describeModelPackage,
  describeModelPackageGroup,
  listModelPackageGroups,
  listModelPackages,
  updateModelPackage,
} from './api/registry';
import { addTags, deleteTags, listTags } from './api/tags';
import {
  createTrainingJob,
  describeTrainingJob,
  listTrainingJobs,
  recoverTrainingJobs,
  RESTART_REASON,
  resumableTrainingContainers,
  stopTrainingJob,
} from './api/training';
import { createTransformJob, describeTransformJob, recoverTransformJobs, stopTransformJob } from './api/transform';
import { createEcrApi, ECR_TARGET_PREFIX } from './api/ecr';
import { RegistryClient } from './registry-client';
import { createProcessingJob, describeProcessingJob, listProcessingJobs, recoverProcessingJobs, stopProcessingJob } from './api/processing';
import { LocalProcessingRunner, type ProcessingRunner } from './processing-runner';
import { defaultImageStore } from '../artifacts/image-store';
import { loadLocalConfig, type IsolationSetting, type LocalConfig } from './config';
import { ContainerLauncher, reapOrphans, type PortRange } from './containers';
import { SageMakerError } from './errors';
import { LocalEndpointRuntime } from './endpoint-runtime';
import { DEFAULT_TAG_GRACE_MS, engineDocker } from './image-tags';
import type { EndpointRuntime, TrainingRunner } from './runtime';
import { LocalTrainingRunner } from './training-runner';
import { StateStore, type JsonObject } from './state';

export const LOCAL_ACCOUNT = '000000000000';

const OPERATIONS: Record<string, Handler> = {
  CreateTrainingJob: createTrainingJob,
  DescribeTrainingJob: describeTrainingJob,
  StopTrainingJob: stopTrainingJob,
  ListTrainingJobs: listTrainingJobs,
  CreateModel: createModel,
  DescribeModel: describeModel,
  DeleteModel: deleteModel,
  ListModels: listModels,
  CreateEndpointConfig: createEndpointConfig,
  DescribeEndpointConfig: describeEndpointConfig,
  DeleteEndpointConfig: deleteEndpointConfig,
  ListEndpointConfigs: listEndpointConfigs,
  CreateEndpoint: createEndpoint,
  DescribeEndpoint: describeEndpoint,
  UpdateEndpoint: updateEndpoint,
  DeleteEndpoint: deleteEndpoint,
  ListEndpoints: listEndpoints,
  CreateTransformJob: createTransformJob,
  DescribeTransformJob: describeTransformJob,
  StopTransformJob: stopTransformJob,
  CreateProcessingJob: createProcessingJob,
  DescribeProcessingJob: describeProcessingJob,
  StopProcessingJob: stopProcessingJob,
  ListProcessingJobs: listProcessingJobs,
  CreateModelPackageGroup: createModelPackageGroup,
  DescribeModelPackageGroup: describeModelPackageGroup,
  ListModelPackageGroups: listModelPackageGroups,
  CreateModelPackage: createModelPackage,
  DescribeModelPackage: describeModelPackage,
  UpdateModelPackage: updateModelPackage,
  ListModelPackages: listModelPackages,
  AddTags: addTags,
  ListTags: listTags,
  DeleteTags: deleteTags,
};

export interface LocalRuntime {
  training: TrainingRunner;
  endpoints: EndpointRuntime;
  /** Processing jobs; when left out, the containers of the default runtime run them. */
  processing?: ProcessingRunner;
}

/** Each option left out takes its value from `config` (see config.ts for the variables and defaults). */
export interface LocalSageMakerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** The champ home folder; the control plane keeps its files under `<stateDir>/local-sagemaker/`. */
  stateDir: string;
  /** The processes behind the API. Default: the local runtime (containers or processes) working under `<stateDir>/local-sagemaker/`. */
  runtime?: LocalRuntime;
  /** Where local images (`champ.local/<repo>:<tag>`) are looked up by the default runtime. Default: CHAMP_IMAGE_STORE, else `<stateDir>/images`. */
  imageStore?: string;
  /** How the default runtime runs containers. */
  isolation?: IsolationSetting;
  /** DeleteModel keeps the Docker tag of a store image a model or training job named less than this long ago (default 15 min; image-tags.ts). */
  tagGraceMs?: number;
  /** Account limits answered with ResourceLimitExceeded. */
  limits?: { maxEndpoints?: number; maxTrainingJobs?: number };
  region?: string;
  /** How long a variant may take to answer /ping. */
  healthTimeoutMs?: number;
  /** Where diagnostics go (default: stderr). */
  log?: (msg: string) => void;
  /** The settings behind every option left out. Default: `loadLocalConfig()`, from the environment. */
  config?: LocalConfig;
  /** The image registry ECR's API answers for (`host:port`); default CHAMP_LOCAL_REGISTRY. */
  registry?: string;
}

export interface LocalSageMaker {
  /** `http://127.0.0.1:<port>`: the endpoint for both the SageMaker and SageMaker Runtime clients. */
  url: string;
  port: number;
  /** `<stateDir>/local-sagemaker`. */
  stateRoot: string;
  /** Stops listening and every process (runtime.shutdown); state stays on disk as it was. */
  close(): Promise<void>;
}

/** The live container processes of the control plane working on `stateRoot` (see reapOrphans). */
export const containerLedger = (stateRoot: string): string => join(stateRoot, 'containers.json');

/** The real runtime: training runs and serving variants as containers or processes. */
export function defaultRuntime(stateRoot: string, containers: { imageStore: string; isolation: IsolationSetting; portRange?: PortRange }): LocalRuntime {
  const launcher = new ContainerLauncher({ ...containers, ledgerFile: containerLedger(stateRoot) });
  return {
    training: new LocalTrainingRunner({ launcher }),
    endpoints: new LocalEndpointRuntime({ workDir: join(stateRoot, 'endpoints'), launcher }),
    processing: new LocalProcessingRunner({ launcher }),
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new SageMakerError('ValidationException', `Request body exceeds ${limit} bytes.`, 413);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown, contentType = 'application/x-amz-json-1.1'): void {
  const e =
    err instanceof SageMakerError
      ? err
      : new SageMakerError('InternalFailure', `The local control plane failed: ${(err as Error)?.message ?? String(err)}`, 500);
  sendJson(res, e.httpStatus, e.toBody(), { 'x-amzn-errortype': e.type, 'content-type': contentType });
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);

/**
 * Listening on loopback is not enough: any web page the user opens can send
 * "simple" POSTs to 127.0.0.1 (reset everything, invoke endpoints), and a DNS
 * rebinding page can read the answers. SDK clients send no Origin and name a
 * loopback Host; browsers always send Origin on cross-site POSTs.
 */
function foreignRequest(req: IncomingMessage): string | undefined {
  if (req.headers.origin !== undefined) {
    return `Requests from web pages (Origin ${req.headers.origin}) are refused: the local control plane answers SDK clients on this machine only.`;
  }
  const host = req.headers.host;
  const hostname = host === undefined ? undefined : host.replace(/:\d+$/, '').toLowerCase();
  if (hostname === undefined || !LOOPBACK_HOSTS.has(hostname)) {
    return `Host ${String(host)} is refused: address the local control plane as http://127.0.0.1:<port> or http://localhost:<port>.`;
  }
  return undefined;
}

export async function startLocalSageMaker(opts: LocalSageMakerOptions): Promise<LocalSageMaker> {
  const config = opts.config ?? loadLocalConfig();
  const log = opts.log ?? ((m: string) => process.stderr.write(`[local-sagemaker] ${m}\n`));
  const stateRoot = resolve(opts.stateDir, 'local-sagemaker');
  const state = new StateStore(stateRoot);
  // A crash (SIGKILL, OOM) ran no exit handler: its containers still run, holding ports and CPU.
  // But a training job's container that still runs is taken up again (recoverTrainingJobs), as SageMaker's would go on.
  const resumable = resumableTrainingContainers(state, containerLedger(stateRoot));
  const reaped = reapOrphans(containerLedger(stateRoot), new Set(resumable.values()));
  if (reaped.length > 0) log(`killed ${reaped.length} container process(es) left by an earlier run that ended without stopping them: ${reaped.join(', ')}`);
  const admin = new AdminControls();
  const ecr = createEcrApi(new RegistryClient(opts.registry ?? config.CHAMP_LOCAL_REGISTRY));
  const tasks = new Set<Promise<unknown>>();
  const containers = {
    imageStore: opts.imageStore ? resolve(opts.imageStore) : defaultImageStore({ ...config, CHAMP_HOME: opts.stateDir }),
    isolation: opts.isolation ?? config.CHAMP_LOCAL_ISOLATION,
    portRange: config.CHAMP_LOCAL_PORT_RANGE,
  };
  const { training, endpoints, processing = new LocalProcessingRunner({ launcher: new ContainerLauncher(containers) }) } =
    opts.runtime ?? defaultRuntime(stateRoot, containers);
  const ctx: ApiContext = {
    state,
    region: opts.region ?? config.AWS_REGION,
    account: LOCAL_ACCOUNT,
    training,
    endpoints,
    processing,
    admin,
    healthTimeoutMs: opts.healthTimeoutMs ?? config.CHAMP_LOCAL_HEALTH_TIMEOUT_MS,
    workDir: stateRoot,
    limits: {
      maxEndpoints: opts.limits?.maxEndpoints ?? config.CHAMP_LOCAL_MAX_ENDPOINTS,
      maxTrainingJobs: opts.limits?.maxTrainingJobs ?? config.CHAMP_LOCAL_MAX_TRAINING_JOBS,
    },
    live: { training: new Map(), endpoints: new Map(), transforms: new Map(), processing: new Map() },
    track(task) {
      const t = task.catch((e: unknown) => log(`background task failed: ${(e as Error)?.stack ?? String(e)}`));
      tasks.add(t);
      void t.finally(() => tasks.delete(t));
    },
    log,
    ...(opts.runtime ? {} : { imageTags: { store: containers.imageStore, graceMs: opts.tagGraceMs ?? DEFAULT_TAG_GRACE_MS, docker: engineDocker } }),
  };

  recoverTrainingJobs(ctx, resumable);
  recoverTransformJobs(ctx, RESTART_REASON);
  recoverProcessingJobs(ctx, RESTART_REASON);
  recoverEndpoints(ctx);

  async function resetAll(): Promise<void> {
    const trainingNames = Object.values(state.data.trainingJobs)
      .filter((r) => ctx.live.training.has(r.describe.TrainingJobName.toLowerCase()))
      .map((r) => r.describe.TrainingJobName);
    const endpointNames = Object.values(state.data.endpoints).map((r) => r.describe.EndpointName);
    for (const t of ctx.live.transforms.values()) t.stopRequested = true;
    const processingNames = Object.values(state.data.processingJobs)
      .filter((r) => ctx.live.processing.has(r.describe.ProcessingJobName.toLowerCase()))
      .map((r) => r.describe.ProcessingJobName);
    ctx.live.processing.clear();
    ctx.live.training.clear();
    ctx.live.endpoints.clear();
    ctx.live.transforms.clear();
    state.reset();
    admin.reset();
    await Promise.all([
      ...trainingNames.map((n) => training.stop(n).catch((e: Error) => log(`reset: stop ${n}: ${e.message}`))),
      ...endpointNames.map((n) => endpoints.remove(n).catch((e: Error) => log(`reset: remove ${n}: ${e.message}`))),
      ...processingNames.map((n) => processing.stop(n).catch((e: Error) => log(`reset: stop ${n}: ${e.message}`))),
    ]);
  }

  function summary(): JsonObject {
    const d = state.data;
    return {
      trainingJobs: Object.values(d.trainingJobs).map((r) => ({
        name: r.describe.TrainingJobName,
        status: r.describe.TrainingJobStatus,
        secondaryStatus: r.describe.SecondaryStatus,
      })),
      models: Object.values(d.models).map((r) => r.describe.ModelName),
      endpointConfigs: Object.values(d.endpointConfigs).map((r) => r.describe.EndpointConfigName),
      endpoints: Object.values(d.endpoints).map((r) => ({
        name: r.describe.EndpointName,
        status: r.describe.EndpointStatus,
        config: r.describe.EndpointConfigName,
        serving: endpoints.isServing(r.describe.EndpointName),
      })),
      transformJobs: Object.values(d.transformJobs).map((r) => ({ name: r.describe.TransformJobName, status: r.describe.TransformJobStatus })),
      modelPackageGroups: Object.values(d.packageGroups).map((r) => r.describe.ModelPackageGroupName),
      modelPackages: Object.values(d.packages).map((r) => ({ arn: r.describe.ModelPackageArn, approval: r.describe.ModelApprovalStatus })),
      faults: JSON.parse(JSON.stringify(admin.summary())) as JsonObject,
    };
  }

  async function handleSageMaker(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const ecrOp = target.startsWith(ECR_TARGET_PREFIX) ? target.slice(ECR_TARGET_PREFIX.length) : undefined;
    const op = target.startsWith('SageMaker.') ? target.slice('SageMaker.'.length) : (ecrOp ?? '');
    const handler = ecrOp !== undefined ? ecr.operations[ecrOp] : OPERATIONS[op];
    const body = await readBody(req, 10 * 1024 * 1024);
    if (!handler) {
      throw new SageMakerError(
        'UnknownOperationException',
        target ? `Operation ${target} is not supported by the local control plane.` : 'Missing X-Amz-Target header: expected SageMaker.<Operation>.',
      );
    }
    if (!(await admin.applyOperationFault(op, req.socket))) return;
    let parsed: unknown = {};
    if (body.length > 0) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new SageMakerError('SerializationException', 'The request body is not valid JSON.');
      }
    }
    if (!isObject(parsed as JsonObject)) throw new SageMakerError('SerializationException', 'The request body must be a JSON object.');
    const out = await handler(ctx, parsed as JsonObject);
    // What the answer tells (or what a describe shows) is on disk before the caller hears it.
    await state.flush();
    sendJson(res, 200, out);
  }

  async function handleInvoke(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    // Read past the 6 MB limit, so invokeEndpoint refuses an oversize body in the runtime's words.
    const body = await readBody(req, 4 * MAX_INVOKE_BODY_BYTES);
    if (!(await admin.applyOperationFault('InvokeEndpoint', req.socket))) return;
    const header = (h: string): string | undefined => {
      const v = req.headers[h];
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    const out = await invokeEndpoint(
      ctx,
      name,
      {
        body,
        contentType: header('content-type'),
        accept: header('accept'),
        targetVariant: header('x-amzn-sagemaker-target-variant'),
        customAttributes: header('x-amzn-sagemaker-custom-attributes'),
      },
      requestId,
    );
    res.writeHead(200, {
      'content-type': out.contentType ?? 'application/octet-stream',
      'content-length': out.body.length,
      'x-amzn-invoked-production-variant': out.invokedVariant,
      ...(out.customAttributes !== undefined ? { 'x-amzn-sagemaker-custom-attributes': out.customAttributes } : {}),
      'x-amzn-requestid': requestId,
    });
    res.end(out.body);
  }

  async function handleAdmin(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, 1024 * 1024);
    if (req.method === 'POST' && path === '/_champ/reset') {
      await resetAll();
      await state.flush();
      sendJson(res, 200, { ok: true }, { 'content-type': 'application/json' });
    } else if (req.method === 'POST' && path === '/_champ/faults') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8') || 'null');
      } catch {
        throw new SageMakerError('SerializationException', 'The fault must be a JSON object.');
      }
      admin.add(parseFault(parsed));
      sendJson(res, 200, { ok: true }, { 'content-type': 'application/json' });
    } else if (req.method === 'GET' && path === '/_champ/state') {
      sendJson(res, 200, summary(), { 'content-type': 'application/json' });
    } else {
      throw new SageMakerError('UnknownOperationException', `No admin route ${req.method} ${path}: use POST /_champ/reset, POST /_champ/faults or GET /_champ/state.`, 404);
    }
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const refused = foreignRequest(req);
    if (refused) {
      sendError(res, new SageMakerError('AccessDeniedException', refused, 403));
      return;
    }
    const invoke = /^\/endpoints\/([^/]+)\/invocations$/.exec(path);
    let work: Promise<void>;
    if (req.method === 'GET' && path === '/ping') {
      work = Promise.resolve(sendJson(res, 200, { status: 'ok' }, { 'content-type': 'application/json' }));
    } else if (req.method === 'POST' && path === '/') {
      work = handleSageMaker(req, res);
    } else if (req.method === 'POST' && invoke) {
      work = handleInvoke(decodeURIComponent(invoke[1] as string), req, res).catch((e: unknown) => sendError(res, e, 'application/json'));
    } else if (path.startsWith('/_champ/')) {
      work = handleAdmin(path, req, res);
    } else {
      work = Promise.reject(new SageMakerError('UnknownOperationException', `No route ${req.method ?? ''} ${path}.`, 404));
    }
    work.catch((e: unknown) => {
      if (!(e instanceof SageMakerError)) log(`request ${req.method ?? ''} ${path} failed: ${(e as Error)?.stack ?? String(e)}`);
      if (!res.headersSent) sendError(res, e);
      else res.destroy();
    });
  });

  const port = opts.port ?? config.CHAMP_LOCAL_SAGEMAKER_PORT;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    stateRoot,
    close() {
      closed ??= (async () => {
        // What happens from here on is not persisted: the state on disk is what a crash would leave.
        state.freeze();
        await new Promise<void>((ok) => {
          server.close(() => ok());
          server.closeAllConnections();
        });
        await Promise.allSettled([training.shutdown(), endpoints.shutdown(), processing.shutdown()]);
        await Promise.race([Promise.allSettled([...tasks]), new Promise((r) => setTimeout(r, 5000).unref())]);
      })();
      return closed;
    },
  };
}

/** Where a job's working folder lives (for the runtime and for tests). */
export const trainingJobDir = (stateRoot: string, jobName: string): string => join(stateRoot, 'training', jobName);
