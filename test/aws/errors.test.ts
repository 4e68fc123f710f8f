import { ResourceInUse, ResourceNotFound, SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { ApplicationFailure } from '@temporalio/common';
import { classifyAwsError, isAlreadyExistsError, isEndpointBusyError, isNotFoundError, notReady, QUOTA_RETRY } from '../../src/aws/errors';
import { ErrorTypes } from '../../src/shared';

function serviceError(name: string, status: number, message = `${name} happened`): SageMakerServiceException {
  return new SageMakerServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, requestId: 'req-1' }, message });
}

function netError(code: string, message = `connect ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

const ctx = { operation: 'CreateTrainingJob', resource: 'training job p-abc-train' };

describe('classifyAwsError', () => {
  it.each([
    ['ThrottlingException', 400],
    ['TooManyRequestsException', 429],
    ['RequestLimitExceeded', 503],
    ['InternalFailure', 500],
    ['ServiceUnavailable', 503],
    ['SomethingNew', 502],
  ])('%s (HTTP %d) is retryable AwsRetryable', (name, status) => {
    const f = classifyAwsError(serviceError(name, status), ctx);
    expect(f.type).toBe(ErrorTypes.AwsRetryable);
    expect(f.nonRetryable).toBe(false);
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT'])('a %s network error is retryable', (code) => {
    expect(classifyAwsError(netError(code), ctx)).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
  });

  it('a socket hang up and a TimeoutError are retryable', () => {
    expect(classifyAwsError(new Error('socket hang up'), ctx).nonRetryable).toBe(false);
    const timeout = Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
    expect(classifyAwsError(timeout, ctx)).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
  });

  it.each([
    ['ValidationException', ErrorTypes.AwsValidation],
    ['AccessDeniedException', ErrorTypes.AwsAccessDenied],
    ['UnrecognizedClientException', ErrorTypes.AwsAccessDenied],
    ['ExpiredTokenException', ErrorTypes.AwsAccessDenied],
    ['ResourceNotFound', ErrorTypes.AwsNotFound],
  ])('%s is non-retryable %s', (name, type) => {
    const f = classifyAwsError(serviceError(name, name.startsWith('Access') ? 403 : 400), ctx);
    expect(f.type).toBe(type);
    expect(f.nonRetryable).toBe(true);
  });

  it('names the operation, the resource, the AWS code and what to do', () => {
    const f = classifyAwsError(serviceError('ValidationException', 400, "Value 'x' at 'roleArn' failed"), ctx);
    expect(f.message).toContain('CreateTrainingJob (training job p-abc-train) failed: ValidationException, HTTP 400');
    expect(f.message).toContain("Value 'x' at 'roleArn' failed");
    expect(f.message).toMatch(/fix the value/);
    expect(f.details?.[0]).toEqual({ operation: 'CreateTrainingJob', resource: 'training job p-abc-train', awsCode: 'ValidationException', httpStatus: 400, requestId: 'req-1' });
  });

  describe('a quota error (ResourceLimitExceeded)', () => {
    const limit = serviceError(
      'ResourceLimitExceeded',
      400,
      "The account-level service limit 'ml.m5.large for training job usage' is 2 Instances, with current utilization of 2 Instances and a request delta of 1 Instances.",
    );

    it('is retried with a long, growing backoff (the server waits nextRetryDelay), naming the quota', () => {
      const delays = [1, 2, 3].map((attempt) => {
        const f = classifyAwsError(limit, ctx, attempt);
        expect(f).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
        expect(f.message).toContain('The quota "ml.m5.large for training job usage" is reached');
        expect(f.message).toContain(`attempt ${attempt} of ${QUOTA_RETRY.attempts}`);
        return f.nextRetryDelay;
      });
      expect(delays).toEqual([30_000, 60_000, 120_000]);
      expect(classifyAwsError(limit, ctx, 1).message).toMatch(/retrying in 30 s/);
    });

    it(`fails for good from attempt ${QUOTA_RETRY.attempts} on, naming the quota and the fix (Service Quotas)`, () => {
      const f = classifyAwsError(limit, ctx, QUOTA_RETRY.attempts);
      expect(f).toMatchObject({ type: ErrorTypes.AwsValidation, nonRetryable: true });
      expect(f.nextRetryDelay).toBeUndefined();
      expect(f.message).toContain('CreateTrainingJob (training job p-abc-train) failed: ResourceLimitExceeded, HTTP 400');
      expect(f.message).toContain(`The quota "ml.m5.large for training job usage" is still reached after ${QUOTA_RETRY.attempts} attempts`);
      expect(f.message).toMatch(/request an increase for it in Service Quotas/);
    });

    it('says "an account quota" when the message names none', () => {
      expect(classifyAwsError(serviceError('ServiceQuotaExceededException', 400, 'too many'), ctx, QUOTA_RETRY.attempts).message).toMatch(
        /An account quota is still reached after 4 attempts: request an increase for that quota in Service Quotas/,
      );
    });

    it('outside an activity counts as a first attempt (retryable)', () => {
      expect(classifyAwsError(limit, ctx).nonRetryable).toBe(false);
    });
  });

  it('reads a missing endpoint reported as ValidationException as not found', () => {
    const e = serviceError('ValidationException', 400, 'Could not find endpoint "x".');
    expect(isNotFoundError(e)).toBe(true);
    expect(classifyAwsError(e, ctx).type).toBe(ErrorTypes.AwsNotFound);
  });

  it('recognises SageMaker refusing a change while another is in flight, and nothing else', () => {
    expect(isEndpointBusyError(serviceError('ValidationException', 400, 'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:1:endpoint/x".'))).toBe(true);
    expect(isEndpointBusyError(serviceError('ValidationException', 400, 'Cannot update failed endpoint "arn:x": delete it and create it again.'))).toBe(false);
    expect(isEndpointBusyError(serviceError('ThrottlingException', 400, 'Cannot update in-progress endpoint'))).toBe(false);
  });

  it('recognises "already exists" in both of SageMaker\'s phrasings', () => {
    expect(isAlreadyExistsError(new ResourceInUse({ $metadata: {}, message: 'in use' }))).toBe(true);
    expect(isAlreadyExistsError(serviceError('ValidationException', 400, 'Cannot create already existing model "arn:..."'))).toBe(true);
    expect(isAlreadyExistsError(serviceError('ValidationException', 400, 'bad role'))).toBe(false);
    expect(isNotFoundError(new ResourceNotFound({ $metadata: {}, message: 'nope' }))).toBe(true);
  });

  it('passes an ApplicationFailure through unchanged (classified once)', () => {
    const original = ApplicationFailure.nonRetryable('already classified', ErrorTypes.TrainingFailed);
    expect(classifyAwsError(original, ctx)).toBe(original);
  });
});

describe('notReady', () => {
  it('is a retryable NotReady that reports the last status and the poll number', () => {
    const f = notReady({ resource: 'training job j', status: 'InProgress (Training)', poll: 4 });
    expect(f).toMatchObject({ type: ErrorTypes.NotReady, nonRetryable: false, category: 'BENIGN' });
    expect(f.message).toBe('training job j is InProgress (Training); not ready yet (poll 4)');
  });
});

describe('classifyAwsError with the SDK classification', () => {
  it('keeps LimitExceededException a quota, which the SDK counts as throttling: the quota backoff, then final', () => {
    expect(classifyAwsError(serviceError('LimitExceededException', 400), ctx, 1)).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false, nextRetryDelay: 30_000 });
    expect(classifyAwsError(serviceError('LimitExceededException', 400), ctx, QUOTA_RETRY.attempts)).toMatchObject({ type: ErrorTypes.AwsValidation, nonRetryable: true });
  });
  it('retries throttling named only in __type, and a DNS failure', () => {
    expect(classifyAwsError({ __type: 'com.amazon.coral#ThrottlingException', message: 'slow down' }, ctx).nonRetryable).toBe(false);
    expect(classifyAwsError(netError('ENOTFOUND'), ctx).nonRetryable).toBe(false);
  });
  it('retries a model still loading', () => {
    expect(classifyAwsError(serviceError('ModelNotReadyException', 424), ctx)).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
  });
});
