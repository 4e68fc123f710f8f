// Names shared by the worker, the client and the workflows. Pure: safe to
// import from workflow code.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TASK_QUEUE = 'champ-pipelines';
export const PIPELINE_WORKFLOW = 'trainingPipeline';

/** Custom search attributes registered on the dev server and set by the workflow. */
export const SEARCH_ATTRIBUTES = {
  pipeline: 'ChampPipeline', // Keyword: the spec's name
  stage: 'ChampStage', // Keyword: the live stage
  outcome: 'ChampOutcome', // Keyword: the final outcome
} as const;

/** The typed keys for {@link SEARCH_ATTRIBUTES}: the one definition workflows, client and tests use. */
export const SEARCH_ATTRIBUTE_KEYS = {
  pipeline: defineSearchAttributeKey(SEARCH_ATTRIBUTES.pipeline, SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey(SEARCH_ATTRIBUTES.stage, SearchAttributeType.KEYWORD),
  outcome: defineSearchAttributeKey(SEARCH_ATTRIBUTES.outcome, SearchAttributeType.KEYWORD),
} as const;

/** ApplicationFailure types raised by activities and workflows. */
export const ErrorTypes = {
  InvalidSpec: 'InvalidSpec',
  NotReady: 'NotReady',
  TrainingFailed: 'TrainingFailed',
  TrainingStopped: 'TrainingStopped',
  TransformFailed: 'TransformFailed',
  TransformStopped: 'TransformStopped',
  ProcessingFailed: 'ProcessingFailed',
  ProcessingStopped: 'ProcessingStopped',
  EndpointFailed: 'EndpointFailed',
  ImageBuildFailed: 'ImageBuildFailed',
  NoDockerEngine: 'NoDockerEngine',
  AwsValidation: 'AwsValidation',
  AwsAccessDenied: 'AwsAccessDenied',
  AwsNotFound: 'AwsNotFound',
  AwsRetryable: 'AwsRetryable',
  SmokeTestFailed: 'SmokeTestFailed',
  InvalidApproval: 'InvalidApproval',
  /** A workflow input outside the spec (e.g. `poll`) that makes no sense. */
  InvalidInput: 'InvalidInput',
  /** A plain Error escaped the workflow: a bug in champ, not in the spec or the platform. */
  PipelineBug: 'PipelineBug',
} as const;
export type ErrorType = (typeof ErrorTypes)[keyof typeof ErrorTypes];

/** Errors that no retry can mend. Listed in activity retry policies. */
export const NON_RETRYABLE_ERROR_TYPES: string[] = [
  ErrorTypes.InvalidSpec,
  ErrorTypes.TrainingFailed,
  ErrorTypes.TrainingStopped,
  ErrorTypes.TransformFailed,
  ErrorTypes.TransformStopped,
  ErrorTypes.ProcessingFailed,
  ErrorTypes.ProcessingStopped,
  ErrorTypes.EndpointFailed,
  ErrorTypes.ImageBuildFailed,
  ErrorTypes.NoDockerEngine,
  ErrorTypes.AwsValidation,
  ErrorTypes.AwsAccessDenied,
  ErrorTypes.AwsNotFound,
  ErrorTypes.SmokeTestFailed,
];
