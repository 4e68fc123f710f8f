// validateSpec: the workflow's first activity parses the spec again (principle 6).
import { terminal } from '../aws/errors';
import { ErrorTypes } from '../shared';
import { safeParseSpec } from '../spec/parse';
import type { ValidateSpecInput, ValidateSpecResult } from './types';

export async function validateSpec(input: ValidateSpecInput): Promise<ValidateSpecResult> {
  const result = safeParseSpec(input.spec);
  if (result.ok) return { spec: result.spec };
  throw terminal(ErrorTypes.InvalidSpec, `invalid pipeline spec: fix these fields and run again:\n${result.error.format()}`, {
    issues: result.error.issues,
  });
}
