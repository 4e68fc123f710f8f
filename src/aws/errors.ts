// Errors are classified once, here, at the activity boundary: every AWS SDK
// error becomes an ApplicationFailure whose type and retryability the
// workflow's retry policies act on, with a message a person can act on.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { isThrottlingError, isTransientError } from '@smithy/service-error-classification';
import { ErrorTypes, type ErrorType } from '../shared';

export interface AwsErrorContext {
  /** The API operation, e.g. `CreateTrainingJob`. */
  operation: string;
  /** The resource it acted on, e.g. `training job claims-1a2b-train`. */
  resource?: string;
  /** What a person should do when this is not retryable, when the generic advice is not enough. */
  hint?: string;
}

/** The fields of an AWS SDK v3 (or Node network) error that classification reads. */
export interface AwsErrorFacts {
  code: string;
  message: string;
  httpStatus?: number;
  requestId?: string;
  fault?: 'client' | 'server';
  sdkRetryable: boolean;
  /** Throttling as the SDK's retry strategy judges it (codes, HTTP 429, the throttling trait). */
  throttling: boolean;
  /** A timeout, network error or 5xx the SDK's retry strategy would retry. */
  transient: boolean;
}

/**
 * Transient failures the SDK's own classification does not name: SageMaker
 * Runtime's model still loading, and socket errors from undici or older clients.
 */
const TRANSIENT_BEYOND_SDK = new Set(['ModelNotReadyException', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'NetworkingError']);

const VALIDATION = new Set([
  'ValidationException',
  'ValidationError',
  'InvalidParameterException',
  'InvalidParameterValueException',
  'InvalidParameterCombination',
  'MissingParameter',
  'SerializationException',
  'UnknownOperationException',
  'ResourceInUse',
  'ConflictException',
]);

const QUOTA = new Set(['ResourceLimitExceeded', 'LimitExceededException', 'ServiceQuotaExceededException']);

const ACCESS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'UnrecognizedClient',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'MissingAuthenticationToken',
  'IncompleteSignature',
  'CredentialsProviderError',
  'NotAuthorized',
]);

const NOT_FOUND = new Set([
  'ResourceNotFound',
  'ResourceNotFoundException',
  'NoSuchKey',
  'NoSuchBucket',
  'NotFound',
  'RepositoryNotFoundException',
  'ImageNotFoundException',
]);

const NETWORK_MESSAGES = /socket hang up|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|network (socket )?(disconnected|error)|connection (reset|refused|closed)|timed? ?out/i;

function prop(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

type SdkErrorView = Parameters<typeof isTransientError>[0] & { code?: string };

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

/** Reads what matters off an SDK ServiceException, a Node system error or anything else thrown. */
export function errorFacts(err: unknown): AwsErrorFacts {
  const meta = prop(err, '$metadata');
  const httpStatus = prop(meta, 'httpStatusCode');
  const fault = prop(err, '$fault');
  const retryable = prop(err, '$retryable');
  // A Node system error's `code` (ECONNRESET) says more than its generic name (Error).
  const sysCode = str(prop(err, 'code'));
  const name = str(prop(err, 'name'));
  const code =
    (sysCode && /^E[A-Z_]+$|^UND_ERR/.test(sysCode) ? sysCode : undefined) ??
    str(prop(err, 'Code')) ??
    str(prop(err, '__type'))?.split('#').pop() ??
    (name && name !== 'Error' ? name : undefined) ??
    sysCode ??
    'Error';
  const message = str(prop(err, 'message')) ?? str(prop(err, 'Message')) ?? (typeof err === 'string' ? err : String(err));
  const sdkRetryable = retryable !== undefined && retryable !== null && retryable !== false;
  const cause = prop(err, 'cause');
  // The SDK's predicates read `name`: give them the code found, wherever it was.
  const sdkView: SdkErrorView = {
    name: code,
    message,
    ...(sysCode ? { code: sysCode } : {}),
    $metadata: { ...(typeof httpStatus === 'number' ? { httpStatusCode: httpStatus } : {}), ...(prop(meta, 'clockSkewCorrected') === true ? { clockSkewCorrected: true } : {}) },
    ...(sdkRetryable ? { $retryable: { throttling: prop(retryable, 'throttling') === true } } : {}),
    ...(cause instanceof Error ? { cause } : {}),
  };
  return {
    code,
    message,
    ...(typeof httpStatus === 'number' ? { httpStatus } : {}),
    ...(str(prop(meta, 'requestId')) ? { requestId: str(prop(meta, 'requestId')) } : {}),
    ...(fault === 'client' || fault === 'server' ? { fault } : {}),
    sdkRetryable,
    throttling: isThrottlingError(sdkView),
    transient: isTransientError(sdkView) || TRANSIENT_BEYOND_SDK.has(code),
  };
}

export function hasErrorCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes(errorFacts(err).code);
}

/** SageMaker reports many missing resources as ValidationException ("Could not find endpoint ..."). */
export function isNotFoundError(err: unknown): boolean {
  const f = errorFacts(err);
  // An operation the server lacks may come back as 404 too; that is no answer about the resource.
  if (f.code === 'UnknownOperationException') return false;
  if (NOT_FOUND.has(f.code) || f.httpStatus === 404) return true;
  return (
    (f.code === 'ValidationException' || f.code === 'ValidationError') &&
    /could not find|not found|does not exist|cannot find/i.test(f.message)
  );
}

/** "Already exists" on a create: SageMaker says ResourceInUse, or ValidationException "Cannot create already existing ...". */
export function isAlreadyExistsError(err: unknown): boolean {
  const f = errorFacts(err);
  if (f.code === 'ResourceInUse' || f.code === 'RepositoryAlreadyExistsException' || f.code === 'ResourceAlreadyExists') return true;
  return f.code === 'ValidationException' && /already exist/i.test(f.message);
}

/**
 * SageMaker refuses a change to an endpoint while another change is in flight
 * ("Cannot update in-progress endpoint"): a ValidationException that waiting
 * mends, so the endpoint activities poll it as not ready.
 */
export function isEndpointBusyError(err: unknown): boolean {
  const f = errorFacts(err);
  return (f.code === 'ValidationException' || f.code === 'ValidationError') && /cannot update in-progress endpoint/i.test(f.message);
}

type Category = 'retryable' | 'validation' | 'quota' | 'access' | 'not-found';

export function categorize(f: AwsErrorFacts): Category {
  // Before throttling: the SDK counts LimitExceededException as throttling, where ECR and SageMaker mean a quota.
  if (QUOTA.has(f.code)) return 'quota';
  if (f.throttling) return 'retryable';
  if (ACCESS.has(f.code)) return 'access';
  if (NOT_FOUND.has(f.code)) return 'not-found';
  if (VALIDATION.has(f.code)) {
    return /could not find|does not exist/i.test(f.message) ? 'not-found' : 'validation';
  }
  if (f.transient) return 'retryable';
  if (f.httpStatus !== undefined && f.httpStatus >= 500) return 'retryable';
  if (f.fault === 'server' || f.sdkRetryable) return 'retryable';
  if (f.httpStatus === 401 || f.httpStatus === 403) return 'access';
  if (f.httpStatus === 404) return 'not-found';
  if (f.httpStatus !== undefined && f.httpStatus >= 400) return 'validation';
  if (NETWORK_MESSAGES.test(f.message)) return 'retryable';
  // No HTTP status and no known code: the request never got an answer
  // (a dropped connection, a DNS hiccup). Another attempt may well work.
  return 'retryable';
}

const TYPE_OF: Record<Category, ErrorType> = {
  retryable: ErrorTypes.AwsRetryable,
  validation: ErrorTypes.AwsValidation,
  quota: ErrorTypes.AwsValidation,
  access: ErrorTypes.AwsAccessDenied,
  'not-found': ErrorTypes.AwsNotFound,
};

function advice(category: Category, ctx: AwsErrorContext): string {
  switch (category) {
    case 'retryable':
      return 'This is transient (throttling, a server error or a dropped connection); the activity retries with backoff.';
    case 'validation':
      return 'AWS rejected the request: fix the value it names (usually in the pipeline spec) and run the pipeline again.';
    case 'quota':
      return 'An account quota is reached: request an increase in Service Quotas or delete unused resources, then run again.';
    case 'access':
      return `The worker's credentials may not call ${ctx.operation}: refresh expired credentials or grant the worker's role permission for it, then run again.`;
    case 'not-found':
      return `Check that ${ctx.resource ?? 'the resource'} exists in this account and region (and that the worker points at the right endpoint).`;
  }
}

/**
 * A quota error is retried, with a long backoff, a bounded number of times: a
 * quota frees up when another job ends or a resource is deleted. The activity's
 * attempt counts (all its failures); from `attempts` on it fails for good.
 */
export const QUOTA_RETRY = { attempts: 4, firstDelayMs: 30_000 } as const;

/** The delay before the retry that follows failed attempt `attempt` (1-based): 30 s, 60 s, 120 s. */
export const quotaRetryDelayMs = (attempt: number): number => QUOTA_RETRY.firstDelayMs * 2 ** Math.max(0, attempt - 1);

/** The attempt of the activity this runs in; 1 outside an activity (the CLI, scripts). */
function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/** The quota SageMaker names ("The account-level service limit 'ml.m5.large for training job usage' is ..."). */
function quotaName(message: string): string | undefined {
  return /service limit '([^']+)'/i.exec(message)?.[1];
}

function quotaAdvice(f: AwsErrorFacts, attempt: number): { text: string; retryDelayMs?: number } {
  const quota = quotaName(f.message);
  const which = quota ? `the quota "${quota}"` : 'an account quota';
  const fix = `request an increase for ${quota ? 'it' : 'that quota'} in Service Quotas (or delete unused resources that count against it)`;
  if (attempt < QUOTA_RETRY.attempts) {
    const delay = quotaRetryDelayMs(attempt);
    return {
      text: `${which[0]!.toUpperCase()}${which.slice(1)} is reached (attempt ${attempt} of ${QUOTA_RETRY.attempts}): retrying in ${Math.round(delay / 1000)} s, as a quota frees up when another job ends; if it stays reached, ${fix}.`,
      retryDelayMs: delay,
    };
  }
  return { text: `${which[0]!.toUpperCase()}${which.slice(1)} is still reached after ${attempt} attempts: ${fix}, then run again.` };
}

/**
 * Turns anything an AWS call threw into the one ApplicationFailure the workflow
 * sees. `attempt` is the activity's (read from its context by default): a quota
 * error is retried with a long backoff until QUOTA_RETRY.attempts.
 */
export function classifyAwsError(err: unknown, ctx: AwsErrorContext, attempt = activityAttempt()): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const f = errorFacts(err);
  const category = categorize(f);
  const where = ctx.resource ? `${ctx.operation} (${ctx.resource})` : ctx.operation;
  const status = f.httpStatus !== undefined ? `, HTTP ${f.httpStatus}` : '';
  const quota = category === 'quota' ? quotaAdvice(f, attempt) : undefined;
  const retrying = category === 'retryable' || quota?.retryDelayMs !== undefined;
  const said = quota ? quota.text : ctx.hint && category !== 'retryable' ? ctx.hint : advice(category, ctx);
  const message = `${where} failed: ${f.code}${status}: ${f.message}. ${said}`;
  return ApplicationFailure.create({
    message,
    type: quota?.retryDelayMs !== undefined ? ErrorTypes.AwsRetryable : TYPE_OF[category],
    nonRetryable: !retrying,
    ...(quota?.retryDelayMs !== undefined ? { nextRetryDelay: quota.retryDelayMs } : {}),
    details: [
      {
        operation: ctx.operation,
        ...(ctx.resource ? { resource: ctx.resource } : {}),
        awsCode: f.code,
        ...(f.httpStatus !== undefined ? { httpStatus: f.httpStatus } : {}),
        ...(f.requestId ? { requestId: f.requestId } : {}),
      },
    ],
  });
}

/** Runs one AWS call and classifies whatever it throws. */
export async function awsCall<T>(ctx: AwsErrorContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw classifyAwsError(err, ctx);
  }
}

/**
 * Runs one AWS call; an error `expected` recognises (not found, already
 * exists) becomes `fallback`, anything else is classified.
 */
export async function awsCallOr<T, F>(ctx: AwsErrorContext, call: () => Promise<T>, expected: (err: unknown) => boolean, fallback: F): Promise<T | F> {
  try {
    return await call();
  } catch (err) {
    if (expected(err)) return fallback;
    throw classifyAwsError(err, ctx);
  }
}

/** Runs a create; false when the resource already exists. Names are a run's own, so an existing one is what a lost response hid. */
export function createIfAbsent(ctx: AwsErrorContext, send: () => Promise<unknown>): Promise<boolean> {
  return awsCallOr(ctx, () => send().then(() => true), isAlreadyExistsError, false);
}

/** Runs a describe; undefined when there is no such resource. */
export function describeIfPresent<T>(ctx: AwsErrorContext, send: () => Promise<T>): Promise<T | undefined> {
  return awsCallOr(ctx, send, isNotFoundError, undefined);
}

/** Runs a delete; a resource already gone counts as deleted. */
export async function deleteIfPresent(ctx: AwsErrorContext, send: () => Promise<unknown>): Promise<void> {
  await awsCallOr(ctx, send, isNotFoundError, undefined);
}

export interface NotReadyInfo {
  /** e.g. `training job claims-1a2b-train`. */
  resource: string;
  /** The last status seen, e.g. `InProgress (Training)`. */
  status: string;
  /** The poll number (the activity attempt). */
  poll?: number;
  detail?: string;
  /** When the next poll should come (overrides the retry policy's backoff for this retry). */
  nextRetryDelayMs?: number;
}

/** The benign, retryable failure a check-once-and-throw activity uses to ask for another poll. */
export function notReady(info: NotReadyInfo): ApplicationFailure {
  const poll = info.poll !== undefined ? ` (poll ${info.poll})` : '';
  const detail = info.detail ? `: ${info.detail}` : '';
  const failure = ApplicationFailure.create({
    message: `${info.resource} is ${info.status}${detail}; not ready yet${poll}`,
    type: ErrorTypes.NotReady,
    nonRetryable: false,
    category: ApplicationFailureCategory.BENIGN,
    details: [{ resource: info.resource, status: info.status, ...(info.poll !== undefined ? { poll: info.poll } : {}) }],
    ...(info.nextRetryDelayMs !== undefined ? { nextRetryDelay: info.nextRetryDelayMs } : {}),
  });
  // A poll is not a fault: no stack trace to store with every retry or show in the UI.
  failure.stack = '';
  return failure;
}

/** A non-retryable failure of our own vocabulary (TrainingFailed, EndpointFailed, ...). */
export function terminal(type: ErrorType, message: string, details?: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true, ...(details ? { details: [details] } : {}) });
}

/** A retryable failure of our own vocabulary. */
export function retryable(type: ErrorType, message: string, details?: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: false, ...(details ? { details: [details] } : {}) });
}
