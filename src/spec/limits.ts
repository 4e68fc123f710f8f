// The spec's ceilings, each with where it comes from. SageMaker's come from its
// API model (botocore's sagemaker/2017-07-24/service-2.json); the others are
// champ's own, chosen so that an absurd value is refused before anything runs
// rather than failing late, or never.

const DAY_MS = 86_400_000;

/** A spec file larger than this is refused unread: real specs are a few KB, and Temporal refuses inputs of a few MB. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/** Nesting deeper than this is refused (the spec itself nests 4 levels; a smoke-test body adds its own). */
export const MAX_SPEC_DEPTH = 32;
/** Values (scalars, lists and mappings, after YAML aliases are expanded) in one spec. */
export const MAX_SPEC_VALUES = 100_000;
/** YAML alias expansions allowed in one document; a "billion laughs" document needs far more. */
export const MAX_YAML_ALIASES = 100;

/** MaxRuntimeInSeconds of a training job: SageMaker's ceiling. */
export const MAX_TRAINING_RUNTIME_MS = 28 * DAY_MS;
/** WaitIntervalInSeconds and TerminationWaitInSeconds of a blue/green update: SageMaker's ceiling. */
export const MAX_STRATEGY_WAIT_MS = 3_600_000;
/**
 * champ's ceilings for its own deadlines. An approval left open for more than
 * 30 days judges a candidate trained on data that has since moved on (run the
 * pipeline again instead); training allows the 28-day job plus a week waiting
 * for capacity; a build or a deployment that needs days has gone wrong.
 */
export const MAX_DURATION_MS = {
  approval: 30 * DAY_MS,
  build: 2 * DAY_MS,
  training: 35 * DAY_MS,
  deploy: 2 * DAY_MS,
} as const;

/** HyperParameters of CreateTrainingJob. */
export const HYPERPARAMETER_LIMITS = { entries: 100, keyLength: 256, valueLength: 2500 } as const;
/** Environment of CreateTrainingJob (TrainingEnvironmentMap). */
export const TRAINING_ENVIRONMENT_LIMITS = { entries: 100, keyLength: 512, valueLength: 512 } as const;
/** Environment of CreateModel's container (EnvironmentMap). */
export const SERVING_ENVIRONMENT_LIMITS = { entries: 100, keyLength: 1024, valueLength: 1024 } as const;
export const TAG_LIMITS = { entries: 50, keyLength: 128, valueLength: 256 } as const;

/**
 * Instances per training job and per endpoint variant. SageMaker's API sets no
 * maximum (instance counts are account quotas, far lower by default); champ
 * refuses more than this so a typo cannot ask for a fleet.
 */
export const MAX_INSTANCE_COUNT = 100;
/** The largest EBS volume SageMaker can attach (16 TiB). */
export const MAX_VOLUME_SIZE_GB = 16_384;
/** ContainerImage and AlgorithmImage: at most 255 characters. */
export const MAX_IMAGE_URI_LENGTH = 255;
/** MetricRegex: at most 500 characters. */
export const MAX_METRIC_REGEX_LENGTH = 500;
