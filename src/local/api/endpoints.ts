// Over 400 lines on purpose: the endpoint family's handlers (create, update, delete, describe, list,
// invoke, recovery after a restart) share one set of record helpers and read best in one file.
// Endpoints: Create/Describe/Update/Delete/List, the status machine driven by
// the endpoint runtime, and SageMaker Runtime's InvokeEndpoint.
import { randomUUID } from 'node:crypto';
import { ENDPOINT_FAILED_STATUSES, ENDPOINT_IN_FLIGHT_STATUSES, ENDPOINT_STATUSES } from '../../aws/status';
import { resourceLimitExceeded, SageMakerError, validation } from '../errors';
import type { InvokeRequest, InvokeResponse, VariantSpec } from '../runtime';
import { key, type EndpointRecord, type EndpointStatus, type JsonObject } from '../state';
import {
  arn,
  compact,
  isObject,
  listResources,
  nameOnly,
  nowSeconds,
  saveTags,
  snapshot,
  statusEquals,
  Validator,
  type ApiContext,
  type Handler,
} from './common';
import { findEndpointConfig, findModel, modelContainer } from './models';

/** Serving, or about to: a Deleting endpoint is giving its processes back. */
const holdsProcesses = (status: string): boolean => status === 'InService' || (ENDPOINT_IN_FLIGHT_STATUSES.has(status) && status !== 'Deleting');

const missingEndpoint = (ctx: ApiContext, name: string) =>
  validation(`Could not find endpoint "${arn(ctx, 'endpoint', name)}".`);

/** SageMaker's refusal of an UpdateEndpoint or DeleteEndpoint while another change is in flight. */
const inProgress = (rec: EndpointRecord) => validation(`Cannot update in-progress endpoint "${rec.describe.EndpointArn}".`);

function findEndpoint(ctx: ApiContext, name: string): EndpointRecord {
  const rec = ctx.state.data.endpoints[key(name)];
  if (!rec) throw missingEndpoint(ctx, name);
  return rec;
}

/** Resolves a config's variants to what the runtime starts (image, model data, environment). */
export function variantSpecs(ctx: ApiContext, configName: string): VariantSpec[] {
  const config = findEndpointConfig(ctx, configName);
  return config.describe.ProductionVariants.map((pv) => {
    const model = findModel(ctx, String(pv.ModelName));
    const c = modelContainer(model);
    return {
      variantName: String(pv.VariantName),
      modelName: model.describe.ModelName,
      imageUri: c.image,
      modelDataUrl: c.modelDataUrl,
      environment: c.environment,
      initialInstanceCount: typeof pv.InitialInstanceCount === 'number' ? pv.InitialInstanceCount : 1,
      initialVariantWeight: typeof pv.InitialVariantWeight === 'number' ? pv.InitialVariantWeight : 1,
      ...(typeof pv.InstanceType === 'string' ? { instanceType: pv.InstanceType } : {}),
    };
  });
}

function describeVariants(specs: VariantSpec[], at: number): JsonObject[] {
  return specs.map((s) => ({
    VariantName: s.variantName,
    DeployedImages: [{ SpecifiedImage: s.imageUri, ResolvedImage: s.imageUri, ResolutionTime: at }],
    CurrentWeight: s.initialVariantWeight,
    DesiredWeight: s.initialVariantWeight,
    CurrentInstanceCount: s.initialInstanceCount,
    DesiredInstanceCount: s.initialInstanceCount,
  }));
}

/**
 * DescribeEndpoint's DataCaptureConfig is a DataCaptureConfigSummary, not the
 * config's DataCaptureConfig (the SDK drops members of the wrong shape).
 * Nothing is captured locally, so CaptureStatus says Stopped.
 */
function dataCaptureSummary(config: JsonObject | undefined): JsonObject | undefined {
  if (!isObject(config)) return undefined;
  return {
    EnableCapture: config.EnableCapture === true,
    CaptureStatus: 'Stopped',
    CurrentSamplingPercentage: typeof config.InitialSamplingPercentage === 'number' ? config.InitialSamplingPercentage : 0,
    DestinationS3Uri: typeof config.DestinationS3Uri === 'string' ? config.DestinationS3Uri : '',
    KmsKeyId: typeof config.KmsKeyId === 'string' ? config.KmsKeyId : '',
  };
}

function clearPending(rec: EndpointRecord): void {
  delete rec.pendingConfigName;
  delete rec.pendingVariants;
  delete rec.pendingDataCapture;
}

function setStatus(rec: EndpointRecord, status: EndpointStatus): void {
  rec.describe.EndpointStatus = status;
  rec.describe.LastModifiedTime = nowSeconds();
}

type DeployMode = 'create' | 'update' | 'recover';

interface DeploymentOptions {
  dataCapture?: JsonObject;
  /**
   * A restart resuming an update first brings the old config back (so the
   * endpoint serves while it updates); the update starts when that settles.
   * It resolves to the restore's failure, if any.
   */
  after?: Promise<string | undefined>;
}

const failureText = (err: unknown): string => (err instanceof Error ? err.message : String(err)) || 'The variant never became healthy.';

/**
 * Runs one deployment in the background and moves the record when it ends:
 * create/recover end InService or Failed; a failed update returns to
 * InService on the config that kept serving, with FailureReason set (Failed
 * when nothing serves: the old config could not be brought back after a restart).
 */
function startDeployment(
  ctx: ApiContext,
  rec: EndpointRecord,
  configName: string,
  specs: VariantSpec[],
  mode: DeployMode,
  opts: DeploymentOptions = {},
): void {
  const name = rec.describe.EndpointName;
  const k = key(name);
  const token = Symbol(name);
  ctx.live.endpoints.set(k, token);
  const sinceMs = Date.now();
  const holdStatus = mode === 'update' ? 'Updating' : 'Creating';
  const current = (): EndpointRecord | undefined =>
    ctx.live.endpoints.get(k) === token ? ctx.state.data.endpoints[k] : undefined;
  let restoreFailure: string | undefined;

  const task = (opts.after ?? Promise.resolve(undefined))
    .then((restore) => {
      restoreFailure = restore;
      // Deleted or reset while the old config came back: nothing left to update.
      if (!current()) return undefined;
      return ctx.endpoints.deploy(name, configName, specs, { healthTimeoutMs: ctx.healthTimeoutMs }).then(() => undefined, failureText);
    })
    .then(async (failure) => {
      await ctx.admin.holdUntil('endpoint', holdStatus, sinceMs);
      const r = current();
      if (!r) {
        // Deleted or reset meanwhile: make sure nothing this deployment started keeps running.
        const now = ctx.state.data.endpoints[k];
        if (!now || now.describe.EndpointStatus === 'Deleting') await ctx.endpoints.remove(name).catch(() => undefined);
        return;
      }
      const d = r.describe;
      const at = nowSeconds();
      if (failure === undefined) {
        d.EndpointConfigName = configName;
        d.ProductionVariants = describeVariants(specs, at);
        if (mode === 'update') {
          if (opts.dataCapture) d.DataCaptureConfig = opts.dataCapture;
          else delete d.DataCaptureConfig;
        }
        r.variants = specs;
        delete d.FailureReason;
        if (mode === 'update' && d.PendingDeploymentSummary !== undefined) delete d.PendingDeploymentSummary;
        setStatus(r, 'InService');
      } else if (mode === 'update' && restoreFailure === undefined) {
        d.FailureReason = failure;
        delete d.PendingDeploymentSummary;
        setStatus(r, 'InService');
      } else if (mode === 'update') {
        d.FailureReason = `${failure} The config it served before could not be brought back after a restart of the local control plane: ${restoreFailure}`;
        delete d.PendingDeploymentSummary;
        setStatus(r, 'Failed');
      } else {
        d.FailureReason = failure;
        setStatus(r, 'Failed');
      }
      clearPending(r);
      ctx.live.endpoints.delete(k);
      ctx.state.save();
    });
  ctx.track(task);
}

export const createEndpoint: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('EndpointName') as string;
  const configName = v.name('EndpointConfigName') as string;
  v.obj('DeploymentConfig');
  const tags = v.tags();
  v.done();
  const endpointArn = arn(ctx, 'endpoint', name);
  if (ctx.state.data.endpoints[key(name)]) throw validation(`Cannot create already existing endpoint "${endpointArn}".`);
  const config = findEndpointConfig(ctx, configName);
  const specs = variantSpecs(ctx, configName);
  // Endpoints that hold (or are about to hold) serving processes count; Failed and Deleting ones do not.
  const holding = Object.values(ctx.state.data.endpoints).filter((r) => holdsProcesses(r.describe.EndpointStatus)).length;
  if (holding >= ctx.limits.maxEndpoints) {
    throw resourceLimitExceeded(
      'Number of endpoints',
      ctx.limits.maxEndpoints,
      holding,
      'Endpoints',
      `at most ${ctx.limits.maxEndpoints} endpoints serve at once; delete one or raise CHAMP_LOCAL_MAX_ENDPOINTS`,
    );
  }
  const now = nowSeconds();
  const rec: EndpointRecord = {
    describe: {
      ...compact({ DataCaptureConfig: dataCaptureSummary(config.describe.DataCaptureConfig as JsonObject | undefined), LastDeploymentConfig: req.DeploymentConfig }),
      EndpointName: name,
      EndpointArn: endpointArn,
      EndpointConfigName: config.describe.EndpointConfigName,
      EndpointStatus: 'Creating',
      CreationTime: now,
      LastModifiedTime: now,
    },
  };
  ctx.state.data.endpoints[key(name)] = rec;
  saveTags(ctx, endpointArn, tags);
  ctx.state.save();
  startDeployment(ctx, rec, config.describe.EndpointConfigName, specs, 'create');
  return { EndpointArn: endpointArn };
};

export const describeEndpoint: Handler = (ctx, req) => {
  const name = nameOnly(req, 'EndpointName');
  return snapshot(findEndpoint(ctx, name).describe);
};

export const updateEndpoint: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('EndpointName') as string;
  const configName = v.name('EndpointConfigName') as string;
  v.obj('DeploymentConfig');
  v.done();
  const rec = findEndpoint(ctx, name);
  const status = rec.describe.EndpointStatus;
  if (status === 'Failed') {
    throw validation(`Cannot update failed endpoint "${rec.describe.EndpointArn}": delete it and create it again.`);
  }
  if (status !== 'InService') throw inProgress(rec);
  const config = findEndpointConfig(ctx, configName);
  const specs = variantSpecs(ctx, configName);
  const d = rec.describe;
  const capture = dataCaptureSummary(config.describe.DataCaptureConfig as JsonObject | undefined);
  rec.pendingConfigName = config.describe.EndpointConfigName;
  rec.pendingVariants = specs;
  if (capture) rec.pendingDataCapture = capture;
  d.PendingDeploymentSummary = {
    EndpointConfigName: config.describe.EndpointConfigName,
    ProductionVariants: specs.map((s) => ({
      VariantName: s.variantName,
      DesiredWeight: s.initialVariantWeight,
      DesiredInstanceCount: s.initialInstanceCount,
    })),
    StartTime: nowSeconds(),
  };
  if (isObject(req.DeploymentConfig)) d.LastDeploymentConfig = req.DeploymentConfig;
  else if (req.RetainDeploymentConfig !== true) delete d.LastDeploymentConfig;
  setStatus(rec, 'Updating');
  ctx.state.save();
  startDeployment(ctx, rec, config.describe.EndpointConfigName, specs, 'update', capture ? { dataCapture: capture } : {});
  return { EndpointArn: d.EndpointArn };
};

function removeEndpoint(ctx: ApiContext, rec: EndpointRecord): void {
  const name = rec.describe.EndpointName;
  const k = key(name);
  const token = Symbol(name);
  ctx.live.endpoints.set(k, token);
  const sinceMs = Date.now();
  setStatus(rec, 'Deleting');
  ctx.state.save();
  ctx.track(
    ctx.endpoints
      .remove(name)
      .catch((e: Error) => ctx.log(`remove ${name}: ${e.message}`))
      .then(() => ctx.admin.holdUntil('endpoint', 'Deleting', sinceMs))
      .then(() => {
        if (ctx.live.endpoints.get(k) !== token) return;
        ctx.live.endpoints.delete(k);
        delete ctx.state.data.endpoints[k];
        delete ctx.state.data.tags[rec.describe.EndpointArn];
        ctx.state.save();
      }),
  );
}

/**
 * SageMaker refuses to delete an endpoint while it is Creating or Updating,
 * in the words it uses for an update ("Cannot update in-progress endpoint"):
 * the caller waits for InService or Failed, then deletes.
 */
export const deleteEndpoint: Handler = (ctx, req) => {
  const name = nameOnly(req, 'EndpointName');
  const rec = findEndpoint(ctx, name);
  const status = rec.describe.EndpointStatus;
  if (status === 'Deleting') return {};
  if (status === 'Creating' || status === 'Updating') throw inProgress(rec);
  removeEndpoint(ctx, rec);
  return {};
};

export const listEndpoints: Handler = (ctx, req) => {
  const all = Object.values(ctx.state.data.endpoints).map((r) => r.describe);
  return listResources(req, all, {
    nameOf: (d) => d.EndpointName,
    times: (d) => [d.CreationTime, d.LastModifiedTime],
    sortKeys: { Name: (d) => d.EndpointName, CreationTime: (d) => d.CreationTime, Status: (d) => d.EndpointStatus },
    defaultOrder: 'Descending',
    nameContainsPattern: '[a-zA-Z0-9-]+',
    filters: statusEquals(ENDPOINT_STATUSES, (d) => d.EndpointStatus),
    field: 'Endpoints',
    summary: (d) => ({
      EndpointName: d.EndpointName,
      EndpointArn: d.EndpointArn,
      CreationTime: d.CreationTime,
      LastModifiedTime: d.LastModifiedTime,
      EndpointStatus: d.EndpointStatus,
    }),
  });
};

/**
 * After a restart: endpoints that served come back (Creating, then InService);
 * half-deleted ones go. An update that was accepted is not lost, as SageMaker
 * never loses one: the endpoint stays Updating, its old config serves again,
 * then the update runs to its own end (InService on the new config, or on the
 * old one with FailureReason).
 */
export function recoverEndpoints(ctx: ApiContext): void {
  for (const rec of Object.values(ctx.state.data.endpoints)) {
    const d = rec.describe;
    if (d.EndpointStatus === 'Deleting') {
      delete ctx.state.data.endpoints[key(d.EndpointName)];
      continue;
    }
    if (ENDPOINT_FAILED_STATUSES.has(d.EndpointStatus)) continue;
    let specs = rec.variants;
    if (!specs) {
      try {
        specs = variantSpecs(ctx, d.EndpointConfigName);
      } catch (err) {
        d.FailureReason = `The local control plane restarted and could not bring the endpoint back: ${(err as Error).message}`;
        setStatus(rec, 'Failed');
        clearPending(rec);
        continue;
      }
    }
    const update = pendingUpdate(ctx, rec);
    if (update) {
      resumeUpdate(ctx, rec, specs, update);
      continue;
    }
    clearPending(rec);
    delete d.PendingDeploymentSummary;
    setStatus(rec, 'Creating');
    startDeployment(ctx, rec, d.EndpointConfigName, specs, 'recover');
  }
  ctx.state.save();
}

interface PendingUpdate {
  configName: string;
  specs: VariantSpec[];
  dataCapture?: JsonObject;
}

/** The update an Updating endpoint had accepted, if it can still be deployed. */
function pendingUpdate(ctx: ApiContext, rec: EndpointRecord): PendingUpdate | undefined {
  const configName = rec.pendingConfigName;
  if (rec.describe.EndpointStatus !== 'Updating' || !configName) return undefined;
  let specs = rec.pendingVariants;
  if (!specs) {
    // A state file written before the variants were kept: resolve them now.
    try {
      specs = variantSpecs(ctx, configName);
    } catch (err) {
      rec.describe.FailureReason = `The local control plane restarted during the update to ${configName} and could not resume it: ${(err as Error).message}`;
      return undefined;
    }
  }
  return { configName, specs, ...(rec.pendingDataCapture ? { dataCapture: rec.pendingDataCapture } : {}) };
}

function resumeUpdate(ctx: ApiContext, rec: EndpointRecord, served: VariantSpec[], update: PendingUpdate): void {
  const d = rec.describe;
  setStatus(rec, 'Updating');
  const restore = ctx.endpoints
    .deploy(d.EndpointName, d.EndpointConfigName, served, { healthTimeoutMs: ctx.healthTimeoutMs })
    .then(() => undefined, failureText);
  startDeployment(ctx, rec, update.configName, update.specs, 'update', {
    after: restore,
    ...(update.dataCapture ? { dataCapture: update.dataCapture } : {}),
  });
}

export function endpointNotFound(ctx: ApiContext, name: string): SageMakerError {
  return new SageMakerError('ValidationError', `Endpoint ${name} of account ${ctx.account} not found.`, 400);
}

/** InvokeEndpoint's Body limit (botocore's BodyBlob max: 6 MB). */
export const MAX_INVOKE_BODY_BYTES = 6 * 1024 * 1024;
/** ModelError's Message and OriginalMessage: at most 2048 characters each (botocore's shapes). */
const MAX_ERROR_TEXT = 2048;
/** The container name SageMaker's ModelError names for a model with one (primary) container. */
const PRIMARY_CONTAINER = 'primary';

/**
 * What SageMaker Runtime checks before a request reaches a container: the body
 * size (as the runtime words an oversize body) and CustomAttributes (at most
 * 1024 ASCII characters). The header is sensitive, so its value is not echoed.
 */
function checkInvokeRequest(req: InvokeRequest, requestId: string): void {
  if (req.body.length > MAX_INVOKE_BODY_BYTES) {
    throw new SageMakerError(
      'ValidationError',
      `Request ${requestId} has oversize body. (Local control plane: InvokeEndpoint takes at most ${MAX_INVOKE_BODY_BYTES} bytes (6 MB); this body has ${req.body.length} bytes. Send large inputs with a batch transform job.)`,
      413,
    );
  }
  const attrs = req.customAttributes;
  if (attrs === undefined) return;
  const problem =
    attrs.length > 1024 ? 'Member must have length less than or equal to 1024' : isAscii(attrs) ? undefined : 'Member must satisfy regular expression pattern: \\p{ASCII}*';
  if (problem) throw new SageMakerError('ValidationError', `1 validation error detected: Value at 'customAttributes' failed to satisfy constraint: ${problem}`, 400);
}

const isAscii = (text: string): boolean => [...text].every((c) => c.charCodeAt(0) < 128);

const clip = (text: string): string => (text.length > MAX_ERROR_TEXT ? text.slice(0, MAX_ERROR_TEXT) : text);

/**
 * SageMaker Runtime's InvokeEndpoint. A container's 4xx/5xx becomes ModelError
 * (HTTP 424) in the runtime's words: "Received client|server error (<status>)
 * from primary with message "<body>". See <log url> in account <id> for more
 * information.", with OriginalStatusCode, OriginalMessage and LogStreamArn.
 */
export async function invokeEndpoint(ctx: ApiContext, name: string, req: InvokeRequest, requestId: string = randomUUID()): Promise<InvokeResponse> {
  const rec = ctx.state.data.endpoints[key(name)];
  if (!rec) throw endpointNotFound(ctx, name);
  checkInvokeRequest(req, requestId);
  if (!ctx.endpoints.isServing(rec.describe.EndpointName)) {
    // An endpoint that has served and is being brought back (after a restart) exists: a retry will reach it.
    if (rec.variants && !ENDPOINT_FAILED_STATUSES.has(rec.describe.EndpointStatus) && rec.describe.EndpointStatus !== 'Deleting') {
      throw new SageMakerError(
        'ServiceUnavailable',
        `The endpoint ${name} is starting its containers again after a restart of the local control plane (status ${rec.describe.EndpointStatus}); retry shortly.`,
        503,
      );
    }
    throw endpointNotFound(ctx, name);
  }
  if (req.targetVariant !== undefined) {
    const names = (rec.variants ?? []).map((s) => s.variantName);
    if (!names.includes(req.targetVariant)) {
      throw new SageMakerError(
        'ValidationError',
        `Variant ${req.targetVariant} not found for endpoint ${name}; its variants are: ${names.join(', ')}.`,
        400,
      );
    }
  }
  let res: InvokeResponse;
  try {
    res = await ctx.endpoints.invoke(rec.describe.EndpointName, req);
  } catch (err) {
    throw new SageMakerError('ServiceUnavailable', `The endpoint ${name} could not be reached: ${(err as Error).message}`, 503);
  }
  if (res.status >= 400) {
    const kind = res.status >= 500 ? 'server' : 'client';
    const original = clip(res.body.toString('utf8'));
    const logGroup = `/aws/sagemaker/Endpoints/${rec.describe.EndpointName}`;
    const where = `See https://${ctx.region}.console.aws.amazon.com/cloudwatch/home?region=${ctx.region}#logEventViewer:group=${logGroup} in account ${ctx.account} for more information.`;
    const head = `Received ${kind} error (${res.status}) from ${PRIMARY_CONTAINER} with message "`;
    // The whole message stays within 2048 characters: the container's text is what gives way.
    const room = MAX_ERROR_TEXT - head.length - where.length - 3;
    const shown = original.length > room ? `${original.slice(0, Math.max(0, room - 3))}...` : original;
    throw new SageMakerError('ModelError', `${head}${shown}". ${where}`, 424, {
      OriginalStatusCode: res.status,
      OriginalMessage: original,
      LogStreamArn: `arn:aws:logs:${ctx.region}:${ctx.account}:log-group:${logGroup}`,
    });
  }
  return res;
}
