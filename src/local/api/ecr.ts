// The ECR subset the worker's build stage uses, in ECR's JSON 1.1 protocol
// (X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>), over a
// real local registry: repositories are records of the control plane, their
// URIs name the registry (`127.0.0.1:5000/<name>`), and DescribeImages asks the
// registry for the manifests, so an image counts as pushed only when it is.
// Shapes follow botocore's ecr service-2.json; errors are ECR's exception names.
import { randomBytes } from 'node:crypto';
import { SageMakerError } from '../errors';
import { RegistryUnavailable, type RegistryClient, type RegistryImage } from '../registry-client';
import type { EcrRepositoryRecord, Json, JsonObject, Tag } from '../state';
import { compact, isObject, nowSeconds, saveTags, snapshot, type ApiContext, type Handler } from './common';

export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';

/** ECR's repositoryName pattern and length (CreateRepository). */
const REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const REPOSITORY_NAME_TEXT = '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*';
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/;
const IMAGE_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
/** How long a GetAuthorizationToken token is valid, as ECR's are. */
const TOKEN_SECONDS = 12 * 3600;

const ecrError = (type: string, message: string, status = 400): SageMakerError => new SageMakerError(type, message, status);

/** "Invalid parameter at 'repositoryName' failed to satisfy constraint: '...'", as ECR words it. */
const invalidParameter = (field: string, constraint: string): SageMakerError =>
  ecrError('InvalidParameterException', `Invalid parameter at '${field}' failed to satisfy constraint: '${constraint}'`);

const repositoryNotFound = (name: string, registryId: string): SageMakerError =>
  ecrError('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${registryId}'`);

/** The registry is down: ECR's ServerException, with what to do about it. */
function serverError(err: unknown): never {
  if (err instanceof RegistryUnavailable) throw ecrError('ServerException', err.message, 500);
  throw err;
}

function str(req: JsonObject, field: string, opts: { required?: boolean; pattern?: RegExp; patternText?: string; min?: number; max?: number } = {}): string | undefined {
  const v = req[field];
  if (v === undefined || v === null) {
    if (opts.required) throw invalidParameter(field, 'Member must not be null');
    return undefined;
  }
  if (typeof v !== 'string') throw invalidParameter(field, 'Member must be a string');
  if (opts.min !== undefined && v.length < opts.min) throw invalidParameter(field, `Member must have length greater than or equal to ${opts.min}`);
  if (opts.max !== undefined && v.length > opts.max) throw invalidParameter(field, `Member must have length less than or equal to ${opts.max}`);
  if (opts.pattern && !opts.pattern.test(v)) throw invalidParameter(field, `must satisfy regular expression '${opts.patternText ?? opts.pattern.source}'`);
  return v;
}

function list(req: JsonObject, field: string, min: number, max: number): Json[] | undefined {
  const v = req[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalidParameter(field, 'Member must be a list');
  if (v.length < min) throw invalidParameter(field, `Member must have length greater than or equal to ${min}`);
  if (v.length > max) throw invalidParameter(field, `Member must have length less than or equal to ${max}`);
  return v;
}

function maxResults(req: JsonObject): number | undefined {
  const v = req.maxResults;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParameter('maxResults', 'Member must be an integer');
  if (v < 1 || v > 1000) throw invalidParameter('maxResults', 'Member must have value between 1 and 1000');
  return v;
}

/** The registry this request is about: ours, unless it names another account's. */
function registryIdOf(ctx: ApiContext, req: JsonObject): string {
  return str(req, 'registryId', { pattern: /^[0-9]{12}$/, patternText: '[0-9]{12}' }) ?? ctx.account;
}

/** A page of `items` from an opaque offset token bound to `bound` (the request's other members). */
function page<T>(items: T[], req: JsonObject, bound: string): { items: T[]; nextToken?: string } {
  const max = maxResults(req) ?? 100;
  const token = str(req, 'nextToken');
  let start = 0;
  if (token !== undefined) {
    let decoded: { o?: unknown; b?: unknown } = {};
    try {
      decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof decoded;
    } catch {
      // Falls through to the refusal below.
    }
    if (typeof decoded.o !== 'number' || decoded.b !== bound) {
      throw invalidParameter('nextToken', 'Member must be a token this operation returned for the same request');
    }
    start = decoded.o;
  }
  const slice = items.slice(start, start + max);
  const end = start + slice.length;
  return end < items.length ? { items: slice, nextToken: Buffer.from(JSON.stringify({ o: end, b: bound })).toString('base64url') } : { items: slice };
}

export interface EcrApi {
  /** The handlers by operation name (the part after the target prefix). */
  operations: Record<string, Handler>;
  /** `host:port` of the registry the repository URIs name. */
  registry: string;
}

export function createEcrApi(registry: RegistryClient): EcrApi {
  const repositoryArn = (ctx: ApiContext, name: string): string => `arn:aws:ecr:${ctx.region}:${ctx.account}:repository/${name}`;

  function repositoryShape(record: EcrRepositoryRecord): JsonObject {
    return { ...snapshot(record.describe), repositoryUri: `${registry.address}/${record.describe.repositoryName}` };
  }

  function repositoryOf(ctx: ApiContext, req: JsonObject): EcrRepositoryRecord {
    const registryId = registryIdOf(ctx, req);
    const name = str(req, 'repositoryName', { required: true, min: 2, max: 256, pattern: REPOSITORY_NAME, patternText: REPOSITORY_NAME_TEXT }) as string;
    const record = registryId === ctx.account ? ctx.state.data.ecrRepositories[name] : undefined;
    if (!record) throw repositoryNotFound(name, registryId);
    return record;
  }

  function createRepository(ctx: ApiContext, req: JsonObject): JsonObject {
    const registryId = registryIdOf(ctx, req);
    const name = str(req, 'repositoryName', { required: true, min: 2, max: 256, pattern: REPOSITORY_NAME, patternText: REPOSITORY_NAME_TEXT }) as string;
    const mutability = str(req, 'imageTagMutability', { pattern: /^(MUTABLE|IMMUTABLE)$/, patternText: 'MUTABLE|IMMUTABLE' }) ?? 'MUTABLE';
    const scanning = req.imageScanningConfiguration;
    if (scanning !== undefined && scanning !== null && !isObject(scanning)) throw invalidParameter('imageScanningConfiguration', 'Member must be a structure');
    const scanOnPush = isObject(scanning) ? scanning.scanOnPush : undefined;
    if (scanOnPush !== undefined && typeof scanOnPush !== 'boolean') throw invalidParameter('imageScanningConfiguration.scanOnPush', 'Member must be a boolean');
    const encryption = req.encryptionConfiguration;
    if (encryption !== undefined && encryption !== null && !isObject(encryption)) throw invalidParameter('encryptionConfiguration', 'Member must be a structure');
    const encryptionType = isObject(encryption) ? str(encryption, 'encryptionType', { pattern: /^(AES256|KMS|KMS_DSSE)$/, patternText: 'AES256|KMS|KMS_DSSE' }) : undefined;
    const tags: Tag[] = [];
    (list(req, 'tags', 0, 200) ?? []).forEach((t, i) => {
      if (!isObject(t) || typeof t.Key !== 'string' || t.Key.length === 0) throw invalidParameter(`tags.${i + 1}.member.Key`, 'Member must not be null');
      tags.push({ Key: t.Key, Value: typeof t.Value === 'string' ? t.Value : '' });
    });
    if (registryId !== ctx.account) {
      throw ecrError('InvalidParameterException', `Invalid parameter at 'registryId' failed to satisfy constraint: 'the local registry's id is ${ctx.account}'`);
    }
    if (ctx.state.data.ecrRepositories[name]) {
      throw ecrError('RepositoryAlreadyExistsException', `The repository with name '${name}' already exists in the registry with id '${registryId}'`);
    }
    const arn = repositoryArn(ctx, name);
    const record: EcrRepositoryRecord = {
      describe: compact({
        repositoryArn: arn,
        registryId,
        repositoryName: name,
        createdAt: nowSeconds(),
        imageTagMutability: mutability,
        imageScanningConfiguration: { scanOnPush: scanOnPush ?? false },
        encryptionConfiguration: compact({
          encryptionType: encryptionType ?? 'AES256',
          kmsKey: isObject(encryption) && typeof encryption.kmsKey === 'string' ? encryption.kmsKey : undefined,
        }),
      }) as EcrRepositoryRecord['describe'],
    };
    ctx.state.data.ecrRepositories[name] = record;
    saveTags(ctx, arn, tags);
    ctx.state.save();
    return { repository: repositoryShape(record) };
  }

  function describeRepositories(ctx: ApiContext, req: JsonObject): JsonObject {
    const registryId = registryIdOf(ctx, req);
    const names = list(req, 'repositoryNames', 1, 100);
    const own = registryId === ctx.account ? ctx.state.data.ecrRepositories : {};
    let records: EcrRepositoryRecord[];
    if (names) {
      records = names.map((n, i) => {
        if (typeof n !== 'string' || !REPOSITORY_NAME.test(n)) {
          throw invalidParameter(`repositoryNames.${i + 1}.member`, `must satisfy regular expression '${REPOSITORY_NAME_TEXT}'`);
        }
        const r = own[n];
        if (!r) throw repositoryNotFound(n, registryId);
        return r;
      });
    } else {
      records = Object.values(own).sort((a, b) => a.describe.createdAt - b.describe.createdAt);
    }
    const { items, nextToken } = page(records, req, JSON.stringify([registryId, names ?? null]));
    return compact({ repositories: items.map(repositoryShape), nextToken });
  }

  function detail(ctx: ApiContext, record: EcrRepositoryRecord, image: RegistryImage, tags: string[]): JsonObject {
    return compact({
      registryId: record.describe.registryId,
      repositoryName: record.describe.repositoryName,
      imageDigest: image.digest,
      imageTags: tags.length > 0 ? [...tags].sort() : undefined,
      imageSizeInBytes: image.sizeInBytes,
      imagePushedAt: image.createdAt,
      imageManifestMediaType: image.mediaType,
      artifactMediaType: image.configMediaType,
    });
  }

  /** Every tagged image of the repository, with all its tags, by digest. */
  async function taggedImages(repository: string): Promise<Map<string, { image: RegistryImage; tags: string[] }>> {
    const tags = await registry.tags(repository);
    const byDigest = new Map<string, { image: RegistryImage; tags: string[] }>();
    // A few at a time: a repository gains a tag per build.
    for (let i = 0; i < tags.length; i += 8) {
      const batch = tags.slice(i, i + 8);
      const images = await Promise.all(batch.map((t) => registry.image(repository, t)));
      images.forEach((image, j) => {
        if (!image) return;
        const entry = byDigest.get(image.digest) ?? { image, tags: [] };
        entry.tags.push(batch[j] as string);
        byDigest.set(image.digest, entry);
      });
    }
    return byDigest;
  }

  async function describeImages(ctx: ApiContext, req: JsonObject): Promise<JsonObject> {
    const record = repositoryOf(ctx, req);
    const name = record.describe.repositoryName;
    const ids = list(req, 'imageIds', 1, 100);
    const filter = req.filter;
    if (filter !== undefined && filter !== null && !isObject(filter)) throw invalidParameter('filter', 'Member must be a structure');
    const tagStatus = isObject(filter) ? str(filter, 'tagStatus', { pattern: /^(TAGGED|UNTAGGED|ANY)$/, patternText: 'TAGGED|UNTAGGED|ANY' }) : undefined;
    if (ids && (req.maxResults !== undefined || req.nextToken !== undefined)) {
      throw ecrError('InvalidParameterException', 'Invalid parameter: maxResults and nextToken cannot be used with imageIds');
    }
    try {
      if (ids) {
        const wanted = ids.map((id, i) => {
          if (!isObject(id)) throw invalidParameter(`imageIds.${i + 1}.member`, 'Member must be a structure');
          const tag = str(id, 'imageTag', { pattern: IMAGE_TAG, patternText: '[a-zA-Z0-9-_.]+' });
          const digest = str(id, 'imageDigest', { pattern: IMAGE_DIGEST, patternText: '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+' });
          if (tag === undefined && digest === undefined) throw ecrError('InvalidParameterException', `Invalid parameter at 'imageIds.${i + 1}.member': give an imageTag or an imageDigest`);
          return { tag, digest };
        });
        const details: JsonObject[] = [];
        const seen = new Set<string>();
        let all: Map<string, { image: RegistryImage; tags: string[] }> | undefined;
        for (const id of wanted) {
          const image = await registry.image(name, id.digest ?? (id.tag as string));
          if (!image || (id.tag !== undefined && id.digest !== undefined && image.digest !== id.digest)) {
            throw ecrError(
              'ImageNotFoundException',
              `The image with imageId {imageDigest:'${id.digest ?? 'null'}', imageTag:'${id.tag ?? 'null'}'} does not exist within the repository with name '${name}' in the registry with id '${record.describe.registryId}'`,
            );
          }
          if (seen.has(image.digest)) continue;
          seen.add(image.digest);
          all ??= await taggedImages(name);
          details.push(detail(ctx, record, image, all.get(image.digest)?.tags ?? (id.tag ? [id.tag] : [])));
        }
        return { imageDetails: details };
      }
      // The registry knows tagged images only: UNTAGGED finds none.
      const images = tagStatus === 'UNTAGGED' ? [] : [...(await taggedImages(name)).values()];
      images.sort((a, b) => (a.image.createdAt ?? 0) - (b.image.createdAt ?? 0) || a.image.digest.localeCompare(b.image.digest));
      const { items, nextToken } = page(images, req, JSON.stringify([name, tagStatus ?? null]));
      return compact({ imageDetails: items.map((e) => detail(ctx, record, e.image, e.tags)), nextToken });
    } catch (err) {
      return serverError(err);
    }
  }

  function getAuthorizationToken(ctx: ApiContext, req: JsonObject): JsonObject {
    const ids = list(req, 'registryIds', 1, 10);
    ids?.forEach((id, i) => {
      if (typeof id !== 'string' || !/^[0-9]{12}$/.test(id)) throw invalidParameter(`registryIds.${i + 1}.member`, "must satisfy regular expression '[0-9]{12}'");
    });
    // The local registry takes any credentials: the token is a fresh random one, as ECR's change on every call.
    const token = Buffer.from(`AWS:${randomBytes(24).toString('base64url')}`).toString('base64');
    const expiresAt = nowSeconds() + TOKEN_SECONDS;
    return { authorizationData: (ids ?? [ctx.account]).map(() => ({ authorizationToken: token, expiresAt, proxyEndpoint: `http://${registry.address}` })) };
  }

  return {
    registry: registry.address,
    operations: {
      CreateRepository: createRepository,
      DescribeRepositories: describeRepositories,
      DescribeImages: describeImages,
      GetAuthorizationToken: getAuthorizationToken,
    },
  };
}
