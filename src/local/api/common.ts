// What every operation handler shares: its context, request validation in
// SageMaker's own words, ARNs, time, pagination.
import { localPathOf } from '../../artifacts/file-uri';
import type { EndpointRuntime, TrainingRunner } from '../runtime';
import type { ProcessingRunner } from '../processing-runner';
import { constraintErrors, validation, type ConstraintViolation } from '../errors';
import type { AdminControls } from '../admin';
import type { ImageTagPolicy } from '../image-tags';
import type { EpochSeconds, Json, JsonObject, StateStore, Tag } from '../state';

export interface ApiContext {
  state: StateStore;
  region: string;
  account: string;
  training: TrainingRunner;
  endpoints: EndpointRuntime;
  processing: ProcessingRunner;
  admin: AdminControls;
  healthTimeoutMs: number;
  /** Folder for per-job working folders (training runs, transform outputs scratch). */
  workDir: string;
  /** Account quotas: beyond them a create answers ResourceLimitExceeded. */
  limits: { maxEndpoints: number; maxTrainingJobs: number };
  /** Keeps a background task (a run, a deployment) known so shutdown can wait for it. */
  track(task: Promise<unknown>): void;
  /**
   * The live background work per resource key. A callback whose token is no
   * longer the live one (the resource was deleted, reset or redeployed) is stale
   * and changes nothing.
   */
  live: {
    training: Map<string, symbol>;
    endpoints: Map<string, symbol>;
    transforms: Map<string, { token: symbol; stopRequested: boolean }>;
    processing: Map<string, symbol>;
  };
  log(msg: string): void;
  /** When set, DeleteModel removes the Docker tag of a store image nothing uses any more (image-tags.ts). */
  imageTags?: ImageTagPolicy;
}

export type Handler = (ctx: ApiContext, req: JsonObject) => Promise<JsonObject> | JsonObject;

export const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
export const NAME_PATTERN_TEXT = '^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}';

/** NameContains of every List* operation: letters, digits and hyphens. */
export const NAME_CONTAINS = /^[a-zA-Z0-9-]+$/;

/** ModelName's own pattern, as CreateModel's messages print it (the same names as NAME_PATTERN). */
export const MODEL_NAME_PATTERN_TEXT = '^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?';

export const nowSeconds = (): EpochSeconds => Date.now() / 1000;

export function arn(ctx: ApiContext, type: string, name: string): string {
  return `arn:aws:sagemaker:${ctx.region}:${ctx.account}:${type}/${name.toLowerCase()}`;
}

const camel = (segment: string): string => segment.charAt(0).toLowerCase() + segment.slice(1);

export const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Collects constraint violations over a request body, then throws them all at
 * once as SageMaker does ("2 validation errors detected: ...").
 * Paths are written as the wire names (`AlgorithmSpecification.TrainingImage`).
 */
export class Validator {
  private readonly violations: ConstraintViolation[] = [];

  constructor(private readonly body: JsonObject) {}

  get(path: string): Json | undefined {
    let cur: Json | undefined = this.body;
    for (const seg of path.split('.')) {
      if (!isObject(cur)) return undefined;
      cur = cur[seg];
    }
    return cur;
  }

  fail(path: string, value: unknown, constraint: string): void {
    this.violations.push({ path: path.split('.').map(camel).join('.'), value, constraint });
  }

  private present(path: string, required: boolean): Json | undefined {
    const dot = path.lastIndexOf('.');
    // A missing parent is reported once, not again for each of its members.
    if (dot > 0 && !isObject(this.get(path.slice(0, dot)))) return undefined;
    const v = this.get(path);
    if (v === undefined || v === null) {
      if (required) this.fail(path, null, 'Member must not be null');
      return undefined;
    }
    return v;
  }

  str(
    path: string,
    opts: { required?: boolean; pattern?: RegExp; patternText?: string; max?: number; min?: number } = {},
  ): string | undefined {
    const v = this.present(path, opts.required ?? false);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.fail(path, v, 'Member must be a string');
      return undefined;
    }
    if (opts.max !== undefined && v.length > opts.max) {
      this.fail(path, v, `Member must have length less than or equal to ${opts.max}`);
      return undefined;
    }
    if (opts.min !== undefined && v.length < opts.min) {
      this.fail(path, v, `Member must have length greater than or equal to ${opts.min}`);
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.fail(path, v, `Member must satisfy regular expression pattern: ${opts.patternText ?? opts.pattern.source}`);
      return undefined;
    }
    return v;
  }

  /**
   * A SageMaker resource name: 1-63 characters, alphanumerics and single or
   * repeated hyphens inside. `patternText` is the pattern as the resource's
   * shape words it in messages (models: MODEL_NAME_PATTERN_TEXT).
   */
  name(path: string, required = true, patternText = NAME_PATTERN_TEXT): string | undefined {
    return this.str(path, { required, max: 63, pattern: NAME_PATTERN, patternText });
  }

  int(path: string, opts: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const v = this.present(path, opts.required ?? false);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.fail(path, v, 'Member must be an integer');
      return undefined;
    }
    if (opts.min !== undefined && v < opts.min) {
      this.fail(path, v, `Member must have value greater than or equal to ${opts.min}`);
      return undefined;
    }
    if (opts.max !== undefined && v > opts.max) {
      this.fail(path, v, `Member must have value less than or equal to ${opts.max}`);
      return undefined;
    }
    return v;
  }

  num(path: string, opts: { required?: boolean; min?: number } = {}): number | undefined {
    const v = this.present(path, opts.required ?? false);
    if (v === undefined) return undefined;
    if (typeof v !== 'number') {
      this.fail(path, v, 'Member must be a number');
      return undefined;
    }
    if (opts.min !== undefined && v < opts.min) {
      this.fail(path, v, `Member must have value greater than or equal to ${opts.min}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(path: string, values: readonly T[], required = false): T | undefined {
    const v = this.present(path, required);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      this.fail(path, v, `Member must satisfy enum value set: [${values.join(', ')}]`);
      return undefined;
    }
    return v as T;
  }

  obj(path: string, required = false): JsonObject | undefined {
    const v = this.present(path, required);
    if (v === undefined) return undefined;
    if (!isObject(v)) {
      this.fail(path, v, 'Member must be a structure');
      return undefined;
    }
    return v;
  }

  arr(path: string, opts: { required?: boolean; min?: number; max?: number } = {}): Json[] | undefined {
    const v = this.present(path, opts.required ?? false);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.fail(path, v, 'Member must be a list');
      return undefined;
    }
    if (opts.min !== undefined && v.length < opts.min) {
      this.fail(path, v, `Member must have length greater than or equal to ${opts.min}`);
      return undefined;
    }
    if (opts.max !== undefined && v.length > opts.max) {
      this.fail(path, v, `Member must have length less than or equal to ${opts.max}`);
      return undefined;
    }
    return v;
  }

  /** A map of string to string (HyperParameters, Environment). */
  stringMap(path: string): Record<string, string> | undefined {
    const o = this.obj(path);
    if (!o) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== 'string') {
        this.fail(`${path}.${k}`, v, 'Member must be a string');
        continue;
      }
      out[k] = v;
    }
    return out;
  }

  tags(path = 'Tags'): Tag[] {
    const list = this.arr(path, { max: 50 }) ?? [];
    const tags: Tag[] = [];
    list.forEach((t, i) => {
      if (!isObject(t) || typeof t.Key !== 'string' || t.Key.length === 0) {
        this.fail(`${path}.${i + 1}.member.key`, isObject(t) ? t.Key : t, 'Member must not be null');
        return;
      }
      tags.push({ Key: t.Key, Value: typeof t.Value === 'string' ? t.Value : '' });
    });
    return tags;
  }

  /** Throws every violation found so far as one ValidationException. */
  done(): void {
    if (this.violations.length > 0) throw constraintErrors(this.violations);
  }
}

/** The one name a Describe*, Delete* or Stop* request carries, checked; any other member is refused. */
export function nameOnly(req: JsonObject, path: string, patternText = NAME_PATTERN_TEXT): string {
  const v = new Validator(req);
  const name = v.name(path, true, patternText) as string;
  v.done();
  return name;
}

/** Epoch seconds from a request timestamp (the SDK sends numbers; accept ISO strings too). */
export function timeArg(v: Json | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t / 1000;
  }
  return undefined;
}

/** Strips undefined so records stay plain JSON. */
export function compact<T extends Record<string, unknown>>(o: T): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined) out[k] = v as Json;
  }
  return out;
}

/** Deep copy of a record's answer, so later changes to the record do not leak into a response in flight. */
export const snapshot = (o: JsonObject): JsonObject => JSON.parse(JSON.stringify(o)) as JsonObject;

export interface PageArgs {
  maxResults: number;
  nextToken?: string;
}

/** MaxResults (1-100 unless the operation's shape says otherwise; `max: undefined` for none) and NextToken. */
export function pageArgs(v: Validator, defaultMax: number, bounds: { min?: number; max?: number } = { min: 1, max: 100 }): PageArgs {
  const maxResults = v.int('MaxResults', { min: bounds.min ?? 1, ...(bounds.max !== undefined ? { max: bounds.max } : {}) }) ?? defaultMax;
  const nextToken = v.str('NextToken', { max: 8192 });
  return { maxResults, nextToken };
}

/** Slices a sorted list; the token is an opaque offset bound to the listing's filters. */
export function paginate<T>(items: T[], args: PageArgs, fingerprint: string): { page: T[]; nextToken?: string } {
  let start = 0;
  if (args.nextToken !== undefined) {
    let decoded: { o?: unknown; f?: unknown } = {};
    try {
      decoded = JSON.parse(Buffer.from(args.nextToken, 'base64url').toString('utf8')) as typeof decoded;
    } catch {
      throw validation('Invalid pagination token: the NextToken was not issued by this operation.');
    }
    if (typeof decoded.o !== 'number' || decoded.f !== fingerprint) {
      throw validation('Invalid pagination token: the NextToken was not issued by this operation with these filters.');
    }
    start = decoded.o;
  }
  const page = items.slice(start, start + args.maxResults);
  const end = start + page.length;
  const nextToken =
    end < items.length ? Buffer.from(JSON.stringify({ o: end, f: fingerprint })).toString('base64url') : undefined;
  return { page, nextToken };
}

export type SortOrder = 'Ascending' | 'Descending';

export function sortBy<T>(items: T[], keyOf: (t: T) => string | number, order: SortOrder): T[] {
  const sorted = [...items].sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return order === 'Descending' ? sorted.reverse() : sorted;
}

/** The filters common to SageMaker's List* operations over time. */
function timeFilters(v: Validator): (created: number, modified?: number) => boolean {
  const ca = timeArg(v.get('CreationTimeAfter'));
  const cb = timeArg(v.get('CreationTimeBefore'));
  const ma = timeArg(v.get('LastModifiedTimeAfter'));
  const mb = timeArg(v.get('LastModifiedTimeBefore'));
  return (created, modified) =>
    (ca === undefined || created > ca) &&
    (cb === undefined || created < cb) &&
    (ma === undefined || modified === undefined || modified > ma) &&
    (mb === undefined || modified === undefined || modified < mb);
}

/** The StatusEquals filter of a List* operation, checked against the resource's status table. */
export function statusEquals<T>(statuses: readonly string[], statusOf: (t: T) => string): NonNullable<ListSpec<T, string>['filters']> {
  return (v) => {
    const status = v.oneOf('StatusEquals', statuses);
    return { keep: (t) => !status || statusOf(t) === status, bound: [status] };
  };
}

export interface ListSpec<T, By extends string> {
  nameOf: (t: T) => string;
  times: (t: T) => [created: number, modified?: number];
  /** The sort key for each SortBy value, in the order SageMaker lists the enum. */
  sortKeys: Record<By | 'CreationTime', (t: T) => string | number>;
  defaultOrder: SortOrder;
  /**
   * The operation's own filters, validated after NameContains; the values in
   * `bound` tie a NextToken to them, as NameContains, SortBy and SortOrder are.
   */
  filters?: (v: Validator) => { keep: (t: T) => boolean; bound: unknown[] };
  /**
   * How the operation's shape writes NameContains' pattern in its messages
   * (`[a-zA-Z0-9-]+` for endpoints, `[a-zA-Z0-9\\-]+` by default); the pattern is the same.
   */
  nameContainsPattern?: string;
  /** The answer's member that holds the page, e.g. `Endpoints`. */
  field: string;
  /** One item of the page as the operation summarizes it; undefined members are left out. */
  summary: (t: T) => Record<string, unknown>;
}

/**
 * The List* shape most resources share: MaxResults (1-100, default 10) and
 * NextToken, NameContains (case-insensitive), the operation's own filters,
 * SortBy (default CreationTime), SortOrder and the time filters. Answers
 * the page of summaries and the NextToken.
 */
export function listResources<T, By extends string>(req: JsonObject, all: T[], spec: ListSpec<T, By>): JsonObject {
  const v = new Validator(req);
  const page = pageArgs(v, 10);
  const nameContains = v.str('NameContains', { max: 63, pattern: NAME_CONTAINS, patternText: spec.nameContainsPattern ?? '[a-zA-Z0-9\\-]+' });
  const own = spec.filters?.(v) ?? { keep: () => true, bound: [] };
  const by = v.oneOf('SortBy', Object.keys(spec.sortKeys) as (By | 'CreationTime')[]) ?? 'CreationTime';
  const order = v.oneOf('SortOrder', ['Ascending', 'Descending'] as const) ?? spec.defaultOrder;
  const inTime = timeFilters(v);
  v.done();
  const needle = nameContains?.toLowerCase();
  const matching = all
    .filter((t) => !needle || spec.nameOf(t).toLowerCase().includes(needle))
    .filter(own.keep)
    .filter((t) => inTime(...spec.times(t)));
  const sorted = sortBy(matching, spec.sortKeys[by], order);
  const { page: items, nextToken } = paginate(sorted, page, JSON.stringify([nameContains, ...own.bound, by, order]));
  return compact({ [spec.field]: items.map((t) => compact(spec.summary(t))), NextToken: nextToken });
}

export function saveTags(ctx: ApiContext, resourceArn: string, tags: Tag[]): void {
  if (tags.length === 0) return;
  const existing = ctx.state.data.tags[resourceArn] ?? [];
  for (const t of tags) {
    const i = existing.findIndex((e) => e.Key === t.Key);
    if (i >= 0) existing[i] = t;
    else existing.push(t);
  }
  ctx.state.data.tags[resourceArn] = existing;
}

/** Reads a file:// URI as a local path; other schemes are refused with the field named. */
export function localPath(uri: string, field: string): string {
  const local = localPathOf(uri);
  if (local === undefined) {
    throw validation(
      `${field} '${uri}' is not supported by the local control plane: use a file:// URI (local mode has no S3).`,
    );
  }
  return local;
}
