// validateSpec: the workflow's first activity parses the spec again (principle 6).
import { terminal } from '../aws/errors';
import { ErrorTypes } from '../shared';
import { safeParseSpec } from '../spec/parse';
import type { ValidateSpecInput, ValidateSpecResult } from './types';

/** Poll intervals for the local control plane, where a training job takes seconds. */
export const LOCAL_POLL = { initialSeconds: 0.5, maxSeconds: 2 };

/**
 * The spec, validated and with defaults applied; whatever arrives (raw JSON
 * from `temporal workflow start` included), anything else ends as one
 * non-retryable InvalidSpec failure naming the fields to fix.
 */
export async function validateSpec(input: ValidateSpecInput, local = false): Promise<ValidateSpecResult> {
  const spec: unknown = input !== null && typeof input === 'object' ? (input as { spec?: unknown }).spec : undefined;
  if (spec === undefined || spec === null) {
    throw terminal(ErrorTypes.InvalidSpec, 'invalid pipeline spec: the input holds no spec; start the workflow with { "spec": { ... } } (`champ run --print-input` writes one)', {
      issues: [{ path: 'spec', message: 'required' }],
    });
  }
  const result = safeParseSpec(spec);
  if (result.ok) return local ? { spec: result.spec, suggestedPoll: LOCAL_POLL } : { spec: result.spec };
  throw terminal(ErrorTypes.InvalidSpec, `invalid pipeline spec: fix these fields and run again:\n${result.error.format()}`, {
    issues: result.error.issues,
  });
}
