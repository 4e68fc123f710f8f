// SageMaker's error vocabulary. The type names are the wire names the AWS SDK
// maps to its exception classes (`err.name`), so they must match exactly.

export type SageMakerErrorType =
  | 'ValidationException'
  | 'ResourceNotFound'
  | 'ResourceInUse'
  | 'ResourceLimitExceeded'
  | 'ThrottlingException'
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'InternalFailure'
  | 'AccessDeniedException'
  // SageMaker Runtime
  | 'ValidationError'
  | 'ModelError'
  | 'ServiceUnavailable';

export class SageMakerError extends Error {
  constructor(
    readonly type: SageMakerErrorType | string,
    message: string,
    readonly httpStatus = 400,
    /** Extra members of the error shape (e.g. ModelError's OriginalStatusCode). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
  }

  toBody(): Record<string, unknown> {
    return { __type: this.type, message: this.message, ...this.extra };
  }
}

export const validation = (message: string): SageMakerError => new SageMakerError('ValidationException', message);

export const resourceInUse = (message: string): SageMakerError => new SageMakerError('ResourceInUse', message);

export const resourceNotFound = (message: string): SageMakerError => new SageMakerError('ResourceNotFound', message);

/**
 * SageMaker's quota refusal ("The account-level service limit '...' is N Units,
 * with current utilization of N Units and a request delta of 1 Units. ..."),
 * followed by how to lift the local limit.
 */
export function resourceLimitExceeded(limitName: string, limit: number, current: number, unit: string, localFix: string): SageMakerError {
  return new SageMakerError(
    'ResourceLimitExceeded',
    `The account-level service limit '${limitName}' is ${limit} ${unit}, with current utilization of ${current} ${unit} and a request delta of 1 ${unit}. ` +
      `Please use AWS Service Quotas to request an increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an increase for this quota. ` +
      `(Local control plane: ${localFix}.)`,
  );
}

/** One constraint violation, phrased as the service phrases it. */
export interface ConstraintViolation {
  /** The member path in camelCase, as SageMaker prints it: `algorithmSpecification.trainingImage`. */
  path: string;
  value: unknown;
  constraint: string;
}

function showValue(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return `'${String(value)}'`;
  return `'${JSON.stringify(value)}'`;
}

/** "1 validation error detected: Value 'x' at 'trainingJobName' failed to satisfy constraint: ..." */
export function constraintErrors(violations: ConstraintViolation[]): SageMakerError {
  const n = violations.length;
  const head = `${n} validation error${n === 1 ? '' : 's'} detected: `;
  const parts = violations.map(
    (v) => `Value ${showValue(v.value)} at '${v.path}' failed to satisfy constraint: ${v.constraint}`,
  );
  return validation(head + parts.join('; '));
}
