// AWS faults through the local control plane's fault injection (a real HTTP
// server, the real SDK with champ's client settings, champ's classification):
// throttling bursts, 5xx, connection resets and slow answers are retried, by
// the SDK within a call and, past its attempts, by the activity (the error is
// retryable); ResourceLimitExceeded is retried with the quota backoff, then
// fails naming the quota and the fix. The end-to-end runs of the same faults
// through a worker are in test/reliability (FAULT_CASES).
import { ListEndpointsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { ApplicationFailure } from '@temporalio/common';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import { awsCall, classifyAwsError, QUOTA_RETRY } from '../../src/aws/errors';
import { injectFault, stateSummary, type Fault, type OperationFault } from '../../src/local/admin-client';
import { ErrorTypes } from '../../src/shared';
import { useHarness } from '../local/api/fake-runtime';

const h = useHarness({ resetEach: true });
let aws: AwsClients;
beforeEach(() => {
  aws = createAwsClients({ endpoints: { sagemaker: h.server.url }, region: 'us-east-1', credentials: { accessKeyId: 'AKIDFAULTS', secretAccessKey: 'fault-secret' } });
});
afterEach(() => destroyAwsClients(aws));

/** One call as an activity makes it: the SDK's own retries inside, champ's classification of what is left. */
const list = (client: SageMakerClient = aws.sagemaker) => awsCall({ operation: 'ListEndpoints' }, () => client.send(new ListEndpointsCommand({})));

async function armed(): Promise<number> {
  const faults = (await stateSummary(h.server.url)).faults as { operationFaults?: Array<{ count: number }> };
  return (faults.operationFaults ?? []).reduce((n, f) => n + f.count, 0);
}

async function failureOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

describe.each<[string, OperationFault]>([
  ['a throttling burst', { operation: 'ListEndpoints', mode: 'throttle', count: 2 }],
  ['500 InternalFailure', { operation: 'ListEndpoints', mode: 'error', count: 2 }],
  ['503 ServiceUnavailable', { operation: 'ListEndpoints', mode: 'error', count: 2, errorType: 'ServiceUnavailable', httpStatus: 503 }],
  ['connection resets (the socket destroyed, no answer)', { operation: 'ListEndpoints', mode: 'reset', count: 2 }],
])('%s', (_name, fault) => {
  it('is retried by the SDK within one call (maxAttempts 3), which then succeeds', async () => {
    await injectFault(h.server.url, fault);
    await expect(list()).resolves.toMatchObject({ Endpoints: [] });
    expect(await armed()).toBe(0);
  });

  it('past the SDK attempts is classified retryable, and the retry (the next activity attempt) succeeds', async () => {
    await injectFault(h.server.url, { ...fault, count: 4 });
    const f = await failureOf(list());
    expect(f).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
    expect(f.message).toMatch(/transient.*retries with backoff/);
    expect(await armed()).toBe(1);
    await expect(list()).resolves.toMatchObject({ Endpoints: [] });
  });
});

describe('slow answers', () => {
  // champ's clients set no request timeout: a slow answer is waited for, bounded by the
  // activity's start-to-close timeout (then Temporal retries the activity).
  it('a slow answer is waited for and succeeds', async () => {
    await injectFault(h.server.url, { operation: 'ListEndpoints', mode: 'slow', delayMs: 1500, count: 1 });
    const started = Date.now();
    await expect(list()).resolves.toMatchObject({ Endpoints: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });
});

describe('ResourceLimitExceeded', () => {
  const quota: Fault = {
    operation: 'ListEndpoints',
    mode: 'error',
    count: 1,
    errorType: 'ResourceLimitExceeded',
    httpStatus: 400,
    message: "The account-level service limit 'ml.m5.large for endpoint usage' is 1 Instances, with current utilization of 1 Instances and a request delta of 1 Instances.",
  };

  it('is not retried by the SDK, and is retryable with the quota backoff (nextRetryDelay) on an early attempt', async () => {
    await injectFault(h.server.url, quota);
    const f = await failureOf(list());
    expect(f).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false, nextRetryDelay: 30_000 });
    expect(f.message).toContain('The quota "ml.m5.large for endpoint usage" is reached (attempt 1 of 4): retrying in 30 s');
    // The SDK made one request: the fault is used up, and the retry finds the quota free.
    expect(await armed()).toBe(0);
    await expect(list()).resolves.toMatchObject({ Endpoints: [] });
  });

  it(`fails for good on attempt ${QUOTA_RETRY.attempts}, naming the quota and the fix`, async () => {
    await injectFault(h.server.url, quota);
    const err = await aws.sagemaker.send(new ListEndpointsCommand({})).then(() => undefined, (e: unknown) => e);
    const f = classifyAwsError(err, { operation: 'CreateEndpoint', resource: 'endpoint e' }, QUOTA_RETRY.attempts);
    expect(f).toMatchObject({ type: ErrorTypes.AwsValidation, nonRetryable: true });
    expect(f.message).toMatch(/The quota "ml.m5.large for endpoint usage" is still reached after 4 attempts: request an increase for it in Service Quotas/);
  });
});
