// Models and endpoint configs: Create/Describe/Delete of each.
import { validation } from '../errors';
import { releaseImageTag } from '../image-tags';
import { key, type EndpointConfigRecord, type JsonObject, type ModelRecord } from '../state';
import {
  arn,
  compact,
  isObject,
  localPath,
  MODEL_NAME_PATTERN_TEXT,
  NAME_PATTERN,
  NAME_PATTERN_TEXT,
  nameOnly,
  nowSeconds,
  pageArgs,
  paginate,
  saveTags,
  snapshot,
  sortBy,
  timeArg,
  Validator,
  type ApiContext,
  type Handler,
} from './common';

export const missingModel = (ctx: ApiContext, name: string) =>
  validation(`Could not find model "${arn(ctx, 'model', name)}".`);

export const missingEndpointConfig = (ctx: ApiContext, name: string) =>
  validation(`Could not find endpoint configuration "${arn(ctx, 'endpoint-config', name)}".`);

export function findModel(ctx: ApiContext, name: string): ModelRecord {
  const rec = ctx.state.data.models[key(name)];
  if (!rec) throw missingModel(ctx, name);
  return rec;
}

export function findEndpointConfig(ctx: ApiContext, name: string): EndpointConfigRecord {
  const rec = ctx.state.data.endpointConfigs[key(name)];
  if (!rec) throw missingEndpointConfig(ctx, name);
  return rec;
}

/** The container a model serves with: its PrimaryContainer, else its first container. */
export function modelContainer(rec: ModelRecord): { image: string; modelDataUrl?: string; environment: Record<string, string> } {
  const d = rec.describe;
  const c = isObject(d.PrimaryContainer) ? d.PrimaryContainer : Array.isArray(d.Containers) && isObject(d.Containers[0]) ? d.Containers[0] : {};
  return {
    image: String(c.Image ?? ''),
    modelDataUrl: typeof c.ModelDataUrl === 'string' ? c.ModelDataUrl : undefined,
    environment: (isObject(c.Environment) ? c.Environment : {}) as Record<string, string>,
  };
}

function checkContainer(v: Validator, path: string): void {
  v.obj(path);
  v.str(`${path}.Image`, { max: 255 });
  v.str(`${path}.ModelDataUrl`, { max: 1024 });
  v.stringMap(`${path}.Environment`);
}

export const createModel: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('ModelName', true, MODEL_NAME_PATTERN_TEXT) as string;
  checkContainer(v, 'PrimaryContainer');
  const containers = v.arr('Containers', { max: 15 }) ?? [];
  v.str('ExecutionRoleArn', { min: 20, max: 2048 });
  const tags = v.tags();
  v.done();
  const primary = v.obj('PrimaryContainer') ?? (containers.find(isObject) as JsonObject | undefined);
  if (!primary) {
    throw validation('Either PrimaryContainer or Containers must be given: the container image (and ModelDataUrl) to serve.');
  }
  if (typeof primary.Image !== 'string' || primary.Image === '') {
    throw validation('PrimaryContainer.Image is required by the local control plane: give your container image URI.');
  }
  if (typeof primary.ModelDataUrl === 'string') localPath(primary.ModelDataUrl, 'PrimaryContainer.ModelDataUrl');

  const modelArn = arn(ctx, 'model', name);
  if (ctx.state.data.models[key(name)]) throw validation(`Cannot create already existing model "${modelArn}".`);
  ctx.state.data.models[key(name)] = {
    describe: {
      ...compact({
        PrimaryContainer: req.PrimaryContainer,
        Containers: req.Containers,
        InferenceExecutionConfig: req.InferenceExecutionConfig,
        ExecutionRoleArn: req.ExecutionRoleArn,
        VpcConfig: req.VpcConfig,
        EnableNetworkIsolation: req.EnableNetworkIsolation ?? false,
      }),
      ModelName: name,
      ModelArn: modelArn,
      CreationTime: nowSeconds(),
    },
  };
  saveTags(ctx, modelArn, tags);
  ctx.state.save();
  return { ModelArn: modelArn };
};

export const describeModel: Handler = (ctx, req) => {
  const name = nameOnly(req, 'ModelName', MODEL_NAME_PATTERN_TEXT);
  return snapshot(findModel(ctx, name).describe);
};

/**
 * SageMaker lets a model in use by an endpoint config be deleted: the endpoint
 * keeps serving. The Docker tag of its local image goes when nothing else uses it.
 */
export const deleteModel: Handler = (ctx, req) => {
  const name = nameOnly(req, 'ModelName', MODEL_NAME_PATTERN_TEXT);
  const rec = findModel(ctx, name);
  delete ctx.state.data.models[key(name)];
  delete ctx.state.data.tags[rec.describe.ModelArn];
  ctx.state.save();
  const image = modelContainer(rec).image;
  if (ctx.imageTags && image) ctx.track(releaseImageTag(ctx, ctx.imageTags, image, rec.describe.CreationTime));
  return {};
};

export const createEndpointConfig: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('EndpointConfigName') as string;
  const variants = v.arr('ProductionVariants', { required: true, min: 1, max: 10 }) ?? [];
  variants.forEach((pv, i) => {
    const p = `ProductionVariants.${i + 1}`;
    if (!isObject(pv)) {
      v.fail(p, pv, 'Member must be a structure');
      return;
    }
    if (typeof pv.VariantName !== 'string' || !NAME_PATTERN.test(pv.VariantName)) {
      v.fail(`${p}.VariantName`, pv.VariantName ?? null, pv.VariantName === undefined ? 'Member must not be null' : `Member must satisfy regular expression pattern: ${NAME_PATTERN_TEXT}`);
    }
    if (pv.ModelName !== undefined && (typeof pv.ModelName !== 'string' || !NAME_PATTERN.test(pv.ModelName))) {
      v.fail(`${p}.ModelName`, pv.ModelName, `Member must satisfy regular expression pattern: ${MODEL_NAME_PATTERN_TEXT}`);
    }
    if (pv.InitialInstanceCount !== undefined && (typeof pv.InitialInstanceCount !== 'number' || pv.InitialInstanceCount < 1)) {
      v.fail(`${p}.InitialInstanceCount`, pv.InitialInstanceCount, 'Member must have value greater than or equal to 1');
    }
    if (pv.InitialVariantWeight !== undefined && (typeof pv.InitialVariantWeight !== 'number' || pv.InitialVariantWeight < 0)) {
      v.fail(`${p}.InitialVariantWeight`, pv.InitialVariantWeight, 'Member must have value greater than or equal to 0');
    }
  });
  const tags = v.tags();
  v.done();

  const seen = new Set<string>();
  const normalized: JsonObject[] = [];
  for (const pv of variants.filter(isObject)) {
    const vn = String(pv.VariantName);
    if (seen.has(vn)) throw validation(`The VariantName '${vn}' is used more than once: each production variant needs its own name.`);
    seen.add(vn);
    if (typeof pv.ModelName !== 'string') {
      throw validation(`ProductionVariants '${vn}': ModelName is required (serverless and inference-component variants are not supported locally).`);
    }
    findModel(ctx, pv.ModelName);
    normalized.push({ ...pv, InitialVariantWeight: typeof pv.InitialVariantWeight === 'number' ? pv.InitialVariantWeight : 1 });
  }

  const configArn = arn(ctx, 'endpoint-config', name);
  if (ctx.state.data.endpointConfigs[key(name)]) {
    throw validation(`Cannot create already existing endpoint configuration "${configArn}".`);
  }
  ctx.state.data.endpointConfigs[key(name)] = {
    describe: {
      ...compact({
        DataCaptureConfig: req.DataCaptureConfig,
        KmsKeyId: req.KmsKeyId,
        AsyncInferenceConfig: req.AsyncInferenceConfig,
        ExplainerConfig: req.ExplainerConfig,
        ShadowProductionVariants: req.ShadowProductionVariants,
        ExecutionRoleArn: req.ExecutionRoleArn,
        VpcConfig: req.VpcConfig,
        EnableNetworkIsolation: req.EnableNetworkIsolation,
      }),
      EndpointConfigName: name,
      EndpointConfigArn: configArn,
      ProductionVariants: normalized,
      CreationTime: nowSeconds(),
    },
  };
  saveTags(ctx, configArn, tags);
  ctx.state.save();
  return { EndpointConfigArn: configArn };
};

export const describeEndpointConfig: Handler = (ctx, req) => {
  const name = nameOnly(req, 'EndpointConfigName');
  return snapshot(findEndpointConfig(ctx, name).describe);
};

/** Allowed even while an endpoint uses the config, as in SageMaker: the endpoint keeps serving. */
export const deleteEndpointConfig: Handler = (ctx, req) => {
  const name = nameOnly(req, 'EndpointConfigName');
  const rec = findEndpointConfig(ctx, name);
  delete ctx.state.data.endpointConfigs[key(name)];
  delete ctx.state.data.tags[rec.describe.EndpointConfigArn];
  ctx.state.save();
  return {};
};

/**
 * What ListModels and ListEndpointConfigs share: NameContains (case-insensitive),
 * CreationTimeAfter (inclusive, as documented) and CreationTimeBefore, SortBy
 * Name or CreationTime (default CreationTime), SortOrder (default Descending),
 * MaxResults 1-100 (default 10) and NextToken.
 */
function listByNameAndTime<T extends { CreationTime: number }>(req: JsonObject, all: T[], nameOf: (t: T) => string): { page: T[]; nextToken?: string } {
  const v = new Validator(req);
  const page = pageArgs(v, 10);
  const nameContains = v.str('NameContains', { max: 63, pattern: /^[a-zA-Z0-9-]+$/, patternText: '[a-zA-Z0-9-]+' });
  const by = v.oneOf('SortBy', ['Name', 'CreationTime'] as const) ?? 'CreationTime';
  const order = v.oneOf('SortOrder', ['Ascending', 'Descending'] as const) ?? 'Descending';
  const after = timeArg(v.get('CreationTimeAfter'));
  const before = timeArg(v.get('CreationTimeBefore'));
  v.done();
  const needle = nameContains?.toLowerCase();
  const matching = all
    .filter((t) => needle === undefined || nameOf(t).toLowerCase().includes(needle))
    .filter((t) => (after === undefined || t.CreationTime >= after) && (before === undefined || t.CreationTime < before));
  // Names break ties in time, so pages stay stable when several were made in the same millisecond.
  const byName = sortBy(matching, nameOf, 'Ascending');
  const sorted = by === 'Name' ? sortBy(byName, nameOf, order) : sortBy(byName, (t) => t.CreationTime, order);
  return paginate(sorted, page, JSON.stringify([needle, by, order, after, before]));
}

export const listModels: Handler = (ctx, req) => {
  const all = Object.values(ctx.state.data.models).map((r) => r.describe);
  const { page, nextToken } = listByNameAndTime(req, all, (d) => d.ModelName);
  return compact({
    Models: page.map((d) => ({ ModelName: d.ModelName, ModelArn: d.ModelArn, CreationTime: d.CreationTime })),
    NextToken: nextToken,
  });
};

export const listEndpointConfigs: Handler = (ctx, req) => {
  const all = Object.values(ctx.state.data.endpointConfigs).map((r) => r.describe);
  const { page, nextToken } = listByNameAndTime(req, all, (d) => d.EndpointConfigName);
  return compact({
    EndpointConfigs: page.map((d) => ({ EndpointConfigName: d.EndpointConfigName, EndpointConfigArn: d.EndpointConfigArn, CreationTime: d.CreationTime })),
    NextToken: nextToken,
  });
};
