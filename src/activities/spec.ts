// validateSpec: the workflow's first activity parses the spec again (principle 6).
import { terminal } from '../aws/errors';
import { ErrorTypes } from '../shared';
import { SpecError, type SpecIssue } from '../spec';
import { safeParseSpec } from '../spec/parse';
import type { ValidateSpecInput, ValidateSpecResult } from './types';

/**
 * Poll intervals for the local control plane, where a training job takes
 * seconds: the Temporal dev server retries no sooner than about 1 s anyway, and
 * the waits' fast path catches what ends within the first few seconds.
 */
export const LOCAL_POLL = { initialSeconds: 1, maxSeconds: 2 };

/** Where the spec sits in the workflow input: a run started with raw JSON is fixed there. */
const SPEC_FIELD = 'input.spec';

/** `training.inputs[0].uri` -> `input.spec.training.inputs[0].uri`; the document itself -> `input.spec`. */
function inInput(issue: SpecIssue): SpecIssue {
  const path = issue.path === '' ? SPEC_FIELD : issue.path.startsWith('[') ? `${SPEC_FIELD}${issue.path}` : `${SPEC_FIELD}.${issue.path}`;
  return { ...issue, path };
}

/**
 * The spec, validated and with defaults applied; whatever arrives (raw JSON
 * from `temporal workflow start` included), anything else ends as one
 * non-retryable InvalidSpec failure naming the fields to fix as the workflow
 * input holds them (`input.spec.<field>`). The details keep the spec's own
 * paths (`<field>`), as `champ validate` names them.
 */
export async function validateSpec(input: ValidateSpecInput, local = false): Promise<ValidateSpecResult> {
  const spec: unknown = input !== null && typeof input === 'object' ? (input as { spec?: unknown }).spec : undefined;
  if (spec === undefined || spec === null) {
    throw terminal(ErrorTypes.InvalidSpec, `invalid pipeline spec: ${SPEC_FIELD} is required; start the workflow with { "spec": { ... } } (\`champ run --print-input\` writes one)`, {
      issues: [{ path: '', message: 'required' }],
    });
  }
  const result = safeParseSpec(spec);
  if (result.ok) return local ? { spec: result.spec, suggestedPoll: LOCAL_POLL } : { spec: result.spec };
  const named = new SpecError(result.error.issues.map(inInput)).format();
  throw terminal(ErrorTypes.InvalidSpec, `invalid pipeline spec: fix these fields and run again:\n${named}`, {
    issues: result.error.issues,
  });
}
