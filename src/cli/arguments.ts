// The command line's own values, checked where commander reads them: a bad
// one is a usage error (exit 2) naming the argument, before anything connects.
import { InvalidArgumentError } from 'commander';
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { SCHEDULE_ID_PREFIX } from '../schedules';
import { SAGEMAKER_NAME } from '../spec/schema';
import { CliError, EXIT } from './common';

/**
 * Workflow ids as champ makes them (`<pipeline>-<UTC timestamp>`, a
 * schedule's `<pipeline>-scheduled-<time>`) and as a SageMaker tag value can
 * carry them (champ tags what a run makes with its id).
 */
const WORKFLOW_ID = /^[A-Za-z0-9][A-Za-z0-9._:@+=/-]*$/;
export const MAX_WORKFLOW_ID_LENGTH = 256;
const MAX_PIPELINE_NAME_LENGTH = 32;
/** The model registry keeps 1024 characters of "<reviewer>: <comment>". */
export const MAX_DECISION_TEXT_LENGTH = 1000;
/** Seconds: the first poll of a long wait; beyond an hour a run would hardly notice its training ended. */
export const POLL_SECONDS = { min: 0.1, max: 3600 } as const;
export const MAX_LIST_LIMIT = 1000;

function shown(raw: string): string {
  return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw);
}

export function workflowId(raw: string): string {
  if (raw.length > MAX_WORKFLOW_ID_LENGTH || !WORKFLOW_ID.test(raw)) {
    throw new InvalidArgumentError(
      `a workflow id is 1 to ${MAX_WORKFLOW_ID_LENGTH} letters, digits and . _ : @ + = / -, starting with a letter or digit (got ${shown(raw)}); "champ list" shows the ids`,
    );
  }
  return raw;
}

export function pipelineName(raw: string): string {
  if (raw.length > MAX_PIPELINE_NAME_LENGTH || !SAGEMAKER_NAME.test(raw)) {
    throw new InvalidArgumentError(`a pipeline name is 1 to ${MAX_PIPELINE_NAME_LENGTH} letters, digits and hyphens, as in its spec (got ${shown(raw)})`);
  }
  return raw;
}

/** A pipeline name, or its schedule's id (`champ-<name>`). */
export function pipelineOrScheduleId(raw: string): string {
  const name = raw.startsWith(SCHEDULE_ID_PREFIX) && raw.length > SCHEDULE_ID_PREFIX.length ? raw.slice(SCHEDULE_ID_PREFIX.length) : raw;
  if (name.length > MAX_PIPELINE_NAME_LENGTH || !SAGEMAKER_NAME.test(name)) {
    throw new InvalidArgumentError(`give a pipeline name (letters, digits and hyphens) or its schedule id ${SCHEDULE_ID_PREFIX}<name> (got ${shown(raw)}); "champ schedule list" shows them`);
  }
  return raw;
}

export function listLimit(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    throw new InvalidArgumentError(`--limit must be a whole number of at least 1, got "${raw}" (at most ${MAX_LIST_LIMIT})`);
  }
  return n;
}

export function pollSeconds(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < POLL_SECONDS.min || n > POLL_SECONDS.max) {
    throw new InvalidArgumentError(`--poll-seconds must be a number of seconds from ${POLL_SECONDS.min} to ${POLL_SECONDS.max}, got "${raw}"`);
  }
  return n;
}

/** A model version as the registry numbers them: a whole number from 1. */
export function modelVersion(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`--version must be a positive whole number (the model version), got "${raw}"`);
  }
  return n;
}

/** Text that must say something, within what the model registry keeps. */
export function decisionText(option: string, raw: string | undefined, what: string): string {
  const text = raw?.trim();
  if (!text) throw new CliError(`${option} is required: ${what}`, EXIT.usage);
  if (text.length > MAX_DECISION_TEXT_LENGTH) {
    throw new CliError(`${option} is ${text.length} characters; the model registry keeps ${MAX_DECISION_TEXT_LENGTH}: shorten it`, EXIT.usage);
  }
  return text;
}

/**
 * Refuses a named pipe (FIFO) as a spec file: opening one waits, unboundedly,
 * for a writer. An open pipe (`champ validate <(...)`, /dev/fd/N) has one and
 * is read as any other file.
 */
export function refuseNamedPipe(path: string): void {
  let fifo = false;
  try {
    fifo = statSync(path).isFIFO();
  } catch {
    return; // the loader says why the file cannot be read
  }
  if (!fifo) return;
  try {
    if (lstatSync(path).isSymbolicLink() && readlinkSync(path).startsWith('pipe:')) return;
  } catch {
    // not a link to an open pipe
  }
  throw new CliError(`${path}: cannot read the spec file: it is a named pipe, and nothing says when its writer comes; write the spec to a file`, EXIT.usage);
}
