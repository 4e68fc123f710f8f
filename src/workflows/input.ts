// The workflow's own check of its input, for runs started without the champ
// client (the `temporal` CLI, another SDK, a schedule made by hand). The spec
// itself is validated by the validateSpec activity; this checks what surrounds
// it, before anything is recorded or called, and names the field.
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorTypes } from '../shared';
import type { PipelineInput } from './messages';

const FIELDS = new Set(['spec', 'trigger', 'requestedBy', 'poll']);
const TRIGGERS = new Set(['manual', 'schedule']);
const POLL_FIELDS = new Set(['initialSeconds', 'maxSeconds']);
const MAX_REQUESTED_BY = 256;
/** Poll intervals SageMaker waits make sense with: a millisecond to an hour. */
const POLL_RANGE = { min: 0.001, max: 3600 };
/** The longest pipeline name the spec allows; a longer one is never a search attribute (validateSpec refuses it). */
export const MAX_PIPELINE_NAME = 32;

function refuse(message: string): never {
  throw ApplicationFailure.nonRetryable(message, ErrorTypes.InvalidInput);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The input, or a non-retryable InvalidInput naming what is wrong. `strict`
 * adds the checks of what surrounds the spec; runs started before them replay
 * without (patched).
 */
export function checkedInput(input: PipelineInput | null | undefined, strict: boolean): PipelineInput {
  const usage = 'start trainingPipeline with {"spec": <the pipeline spec>}';
  if (strict && input !== null && input !== undefined && !isObject(input)) refuse(`input.spec is required, in an input object: ${usage}`);
  if (input?.spec === undefined || input.spec === null) refuse(`input.spec is required: ${usage}`);
  if (!strict) return input;
  const raw = input as unknown as Record<string, unknown>;
  if (!isObject(raw.spec)) refuse(`input.spec must be an object (the pipeline spec as JSON), got ${kind(raw.spec)}`);
  for (const field of Object.keys(raw)) {
    if (!FIELDS.has(field)) refuse(`input.${field} is not a field of the input; the fields are ${[...FIELDS].join(', ')}`);
  }
  if (raw.trigger !== undefined && !TRIGGERS.has(raw.trigger as string)) {
    refuse(`input.trigger must be "manual" or "schedule", got ${describeValue(raw.trigger)}; omit it for "manual"`);
  }
  const by = raw.requestedBy;
  if (by !== undefined && (typeof by !== 'string' || by.length > MAX_REQUESTED_BY || hasControlCharacter(by))) {
    refuse(`input.requestedBy must be a name: text of at most ${MAX_REQUESTED_BY} characters without control characters, got ${describeValue(by)}`);
  }
  checkPoll(raw.poll);
  return input;
}

function checkPoll(poll: unknown): void {
  if (poll === undefined || poll === null) return;
  if (!isObject(poll)) refuse(`input.poll must be an object like {"initialSeconds": 1, "maxSeconds": 30}, got ${kind(poll)}; omit it for the defaults`);
  for (const [field, value] of Object.entries(poll)) {
    if (!POLL_FIELDS.has(field)) refuse(`input.poll.${field} is not a poll setting; the settings are initialSeconds and maxSeconds`);
    // Wrong types and non-positive values keep the message the poll settings give (options.ts).
    if (typeof value === 'number' && Number.isFinite(value) && value > 0 && (value < POLL_RANGE.min || value > POLL_RANGE.max)) {
      refuse(`input.poll.${field} must be between ${POLL_RANGE.min} and ${POLL_RANGE.max} seconds, got ${value}`);
    }
  }
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function kind(value: unknown): string {
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `text of ${value.length} characters` : JSON.stringify(value);
  return kind(value);
}
