// The pipeline spec: one document per model. This schema is the single source
// of truth; the TypeScript types and the published JSON Schema come from it.
// Field shapes live here; rules that relate fields to each other live in
// ./rules.ts and run as the top-level schema's superRefine.
import { z } from 'zod';
import {
  MAX_IMAGE_URI_LENGTH,
  MAX_INSTANCE_COUNT,
  MAX_METRIC_REGEX_LENGTH,
  MAX_VOLUME_SIZE_GB,
  SERVING_ENVIRONMENT_LIMITS,
  TRAINING_ENVIRONMENT_LIMITS,
} from './limits';
import { checkCrossFieldRules } from './rules';

/** SageMaker resource names: alphanumerics and hyphens, starting and ending alphanumeric. */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
/** ECR repository names. */
export const ECR_REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
/** Durations such as `90s`, `30m`, `24h`, `7d`. */
export const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;
/** Text without C0/C1 control characters: what may reach a header, an argument, a file name or an AWS name. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
export const PLAIN_TEXT = /^[^\u0000-\u001f\u007f-\u009f]*$/;
const URI = /^(s3|file):\/\/.+$/;
const S3_LOCATION = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;
const INSTANCE_TYPE = /^ml\.[a-z0-9]+\.[a-z0-9]+$/;

// Docker's image reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest].
// Each part starts with a letter or digit, so a reference can never be read as an option.
const DOMAIN_PART = '[a-zA-Z0-9](?:-*[a-zA-Z0-9])*';
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
/** A container image reference: registry/repository[:tag][@sha256:digest]. */
export const IMAGE_REFERENCE = new RegExp(
  `^(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]{1,5})?/)?${PATH_PART}(?:/${PATH_PART})*` +
    `(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,128})?$`,
);
/** RFC 9110 token, the building block of media types. */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
// Quoted parameter values hold no comma or semicolon, so a list of media types splits one way only.
const MEDIA_TYPE_TEXT = `${TOKEN}/${TOKEN}(?: *; *${TOKEN}=(?:${TOKEN}|"[^"\\\\,;\\u0000-\\u001f\\u007f]*"))*`;
/** `type/subtype` with optional `; name=value` parameters: a Content-Type header value. */
export const MEDIA_TYPE = new RegExp(`^${MEDIA_TYPE_TEXT}$`);
/** One or more media ranges separated by commas: an Accept header value. */
export const MEDIA_RANGES = new RegExp(`^${MEDIA_TYPE_TEXT}(?: *, *${MEDIA_TYPE_TEXT})*$`);
/** The names SageMaker takes for environment variables. */
const ENV_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const CONTROL_MESSAGE = 'must be one line of plain text: remove line breaks, tabs and other control characters';

/** A string of at most `max` characters without control characters. The length is checked first, so no pattern runs on a huge string. */
const text = (max: number) => z.string().max(max, { abort: true }).regex(PLAIN_TEXT, { message: CONTROL_MESSAGE, abort: true });

const sageMakerName = (max: number) =>
  z
    .string()
    .min(1)
    .max(max, { abort: true })
    .regex(SAGEMAKER_NAME, {
      message: 'must be letters, digits and hyphens, starting and ending with a letter or digit (a SageMaker resource name)',
    });

const duration = z
  .string()
  .max(32, { abort: true })
  .regex(DURATION, { message: 'must be a duration such as 90s, 30m, 24h or 7d' });
const location = text(1024)
  .regex(URI, { message: 'must be an s3:// or file:// URI' })
  .refine((uri) => !uri.startsWith('s3://') || S3_LOCATION.test(uri), {
    message: 'must name a valid S3 bucket: s3://<bucket>/<prefix>, the bucket 3 to 63 lowercase letters, digits, dots and hyphens',
  });
/** An input channel's location: as `location`, and a file:// path may not step out of where it points with `..`. */
const channelLocation = location.refine((uri) => !uri.startsWith('file://') || !hasDotDotSegment(uri.slice('file://'.length)), {
  message:
    'must not use ".." in a file:// path: a relative file:// location stays inside the spec file\'s folder; to read data from elsewhere, give its absolute path (file:///data/train)',
});
const positiveInt = z.number().int().positive();
const instanceCount = positiveInt.max(MAX_INSTANCE_COUNT);
const instanceType = z
  .string()
  .max(64, { abort: true })
  .regex(INSTANCE_TYPE, { message: 'must be a SageMaker instance type such as ml.m5.large' });
const mediaType = z
  .string()
  .min(1)
  .max(256, { abort: true })
  .regex(MEDIA_TYPE, { message: 'must be a media type such as text/csv or application/json; charset=utf-8 (one line, no control characters)' });

function hasDotDotSegment(p: string): boolean {
  return p.split(/[\\/]/).includes('..');
}

/** Environment variables: SageMaker's names, values without control characters (they become `docker run -e NAME=VALUE` arguments). */
const environment = (limits: { entries: number; keyLength: number; valueLength: number }, what: string) =>
  z
    .record(
      z
        .string()
        .min(1)
        .max(limits.keyLength, { abort: true })
        .regex(ENV_NAME, { message: 'must be an environment variable name: letters, digits and _, not starting with a digit' }),
      text(limits.valueLength),
    )
    .refine((map) => Object.keys(map).length <= limits.entries, {
      message: `has more than ${limits.entries} variables; SageMaker accepts at most ${limits.entries}`,
    })
    .meta({ maxProperties: limits.entries })
    .default({})
    .describe(
      `Environment variables of the ${what} container (at most ${limits.entries}; names up to ${limits.keyLength} and values up to ${limits.valueLength} characters, one line each)`,
    );

export const ImageSpec = z
  .object({
    context: text(4096)
      .min(1)
      .optional()
      .describe('Build context folder (relative to the spec file), holding a Dockerfile. Give this or `uri`, not both'),
    dockerfile: text(1024)
      .min(1)
      .refine((p) => !p.startsWith('/') && !hasDotDotSegment(p), {
        message: 'must be a relative path inside image.context, without ".." (docker builds only what the context holds)',
      })
      .default('Dockerfile')
      .describe('Dockerfile path inside the context'),
    repository: z
      .string()
      .min(2)
      .max(256, { abort: true })
      .regex(ECR_REPOSITORY, { message: 'must be a valid ECR repository name: lowercase letters, digits, and . _ - / separators' })
      .optional()
      .describe('ECR repository (or local image store repository) the build is pushed to; defaults to the pipeline name'),
    uri: z
      .string()
      .min(1, { abort: true })
      .max(MAX_IMAGE_URI_LENGTH, { abort: true })
      .regex(IMAGE_REFERENCE, {
        message:
          'must be a container image reference such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:tag or registry/repo@sha256:<digest> (lowercase repository, starting with a letter or digit)',
      })
      .optional()
      .describe('A prebuilt image URI; skips the build. Give this or `context`, not both'),
  })
  .strict()
  .describe('The model container: built from a context folder, or a prebuilt image');

export const Channel = z
  .object({
    name: z
      .string()
      .max(64, { abort: true })
      .regex(/^[A-Za-z0-9.\-_]+$/, { message: 'must be letters, digits, ".", "-" or "_"' })
      .refine((name) => !/^\.+$/.test(name), { message: 'must not be only dots: the container reads /opt/ml/input/data/<name>, and "." or ".." would point elsewhere' })
      .describe('Channel name; the container reads it from /opt/ml/input/data/<name>'),
    uri: channelLocation.describe('s3:// prefix, or file:// folder (relative paths resolve against the spec file)'),
    contentType: mediaType.default('text/csv'),
  })
  .strict();

export const MetricDefinition = z
  .object({
    name: text(255).min(1).describe('Metric name, e.g. validation:rmse'),
    regex: text(MAX_METRIC_REGEX_LENGTH)
      .min(1)
      .describe(
        'A regular expression over the training log whose first capture group is the value; nested repetition that can backtrack catastrophically, such as (a+)+, is refused',
      ),
  })
  .strict();

export const TrainingSpec = z
  .object({
    inputs: z.array(Channel).min(1).max(20).describe('Input channels, names unique'),
    outputPath: location.describe('Where the model artifact (model.tar.gz) is written'),
    hyperparameters: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .default({})
      .describe('Passed to the container as strings (at most 100; keys up to 256 and values up to 2500 characters)'),
    instanceType: instanceType.default('ml.m5.large'),
    instanceCount: instanceCount.default(1).describe(`Instances of the training job (at most ${MAX_INSTANCE_COUNT})`),
    volumeSizeGB: positiveInt.max(MAX_VOLUME_SIZE_GB).default(10),
    maxRuntime: duration.default('1h').describe('MaxRuntimeInSeconds of the training job (at most 28d)'),
    roleArn: z
      .string()
      .max(2048, { abort: true })
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[a-zA-Z_0-9+=,.@\-/]+$/, {
        message: 'must be an IAM role ARN such as arn:aws:iam::123456789012:role/name',
      })
      .default('arn:aws:iam::000000000000:role/champ-local')
      .describe('Execution role of the training job (ignored by the local control plane)'),
    metrics: z.array(MetricDefinition).max(40).default([]).describe('Metric definitions applied to the training log'),
    environment: environment(TRAINING_ENVIRONMENT_LIMITS, 'training'),
  })
  .strict();

export const Threshold = z
  .object({
    metric: text(255).min(1).describe('A name from training.metrics'),
    op: z.enum(['<', '<=', '>', '>=']),
    value: z.number().finite(),
  })
  .strict();

export const ChampionComparison = z
  .object({
    metric: text(255).min(1).describe('A name from training.metrics'),
    direction: z.enum(['minimize', 'maximize']),
    minImprovement: z.number().finite().nonnegative().default(0).describe('Absolute improvement over the champion required'),
  })
  .strict();

export const GateSpec = z
  .object({
    thresholds: z.array(Threshold).max(100).default([]).describe('Every threshold must hold for the candidate to pass'),
    champion: ChampionComparison.optional().describe('The candidate must beat the current champion on this metric'),
  })
  .strict();

export const ApprovalSpec = z
  .object({
    required: z.boolean().default(false).describe('Wait for a human approval before deploying'),
    timeout: duration.default('24h').describe('How long to wait for a reviewer (at most 30d)'),
    onTimeout: z
      .enum(['reject', 'approve'])
      .default('reject')
      .describe('What an unanswered approval means; "approve" needs required: true'),
  })
  .strict();

export const UpdateStrategy = z
  .object({
    type: z.enum(['all-at-once', 'blue-green', 'canary', 'linear']).default('all-at-once'),
    canaryPercent: z.number().positive().max(100).optional().describe('Traffic share of the canary, below 100 (canary only)'),
    linearStepPercent: z.number().positive().max(100).optional().describe('Traffic share per step (linear only)'),
    waitInterval: duration.default('5m').describe('Bake time between traffic shifts (at most 1h)'),
    terminationWait: duration.default('0s').describe('Wait before the old fleet is terminated (at most 1h)'),
    alarms: z
      .array(text(255).regex(/\S/, { message: 'must name a CloudWatch alarm' }))
      .max(10)
      .default([])
      .describe('CloudWatch alarms that roll the update back (AWS)'),
  })
  .strict();

export const SmokeTest = z
  .object({
    contentType: z
      .string()
      .min(1)
      .max(1024, { abort: true })
      .regex(MEDIA_TYPE, {
        message: 'must be a media type such as application/json or text/csv; charset=utf-8 (it is sent as the Content-Type header: one line, no control characters)',
      })
      .default('application/json'),
    accept: z
      .string()
      .min(1)
      .max(1024, { abort: true })
      .regex(MEDIA_RANGES, {
        message: 'must be media types separated by commas, such as application/json or text/csv, */* (it is sent as the Accept header: one line, no control characters)',
      })
      .default('application/json'),
    body: z
      .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
      .describe('Payload; objects and arrays are sent as JSON and need a JSON contentType'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    expectJsonPaths: z
      .array(text(256).min(1))
      .max(50)
      .default([])
      .describe('Dotted paths that must exist in the JSON response, e.g. predictions.0.prediction'),
  })
  .strict();

export const DeploymentSpec = z
  .object({
    endpointName: sageMakerName(63),
    instanceType: instanceType.default('ml.m5.large'),
    instanceCount: instanceCount.default(1).describe(`Instances behind the endpoint variant (at most ${MAX_INSTANCE_COUNT})`),
    variantName: sageMakerName(63).default('AllTraffic'),
    strategy: UpdateStrategy.default({ type: 'all-at-once', waitInterval: '5m', terminationWait: '0s', alarms: [] }),
    smokeTest: SmokeTest.optional().describe('A request the new endpoint must answer before it is promoted'),
    keep: z.number().int().min(1).max(100).default(3).describe('Endpoint configs and models kept after promotion, the live one included'),
    whenFrozen: z
      .enum(['wait', 'fail'])
      .default('wait')
      .describe('While the endpoint is frozen (champ endpoint freeze): wait until it is unfrozen, or end the run with the outcome endpoint-frozen'),
    environment: environment(SERVING_ENVIRONMENT_LIMITS, 'serving'),
  })
  .strict();

export const ScheduleSpec = z
  .object({
    cron: text(256).min(1).describe('Five-field cron expression (minute hour day-of-month month day-of-week) or @daily, @hourly, ...'),
    overlap: z.enum(['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all']).default('skip'),
    skipWhenDataUnchanged: z.boolean().default(true).describe('Skip a scheduled run when the training inputs are unchanged since the last run'),
    timezone: text(64).min(1).optional().describe('IANA time zone of the cron expression, e.g. Europe/London; UTC when absent'),
    watch: z
      .object({
        enabled: z.boolean().default(true).describe('false keeps the section but runs the pipeline itself on the cron'),
      })
      .strict()
      .optional()
      .describe(
        'Watch the training inputs instead: on the cron a data watcher fingerprints them and starts the pipeline only for a fingerprint it has not started one for (one run per new data)',
      ),
  })
  .strict();

export const PipelineTimeouts = z
  .object({
    build: duration.default('1h').describe('Deadline for the image build (at most 2d)'),
    training: duration.default('6h').describe('Deadline for the training job to finish; at least training.maxRuntime (at most 35d)'),
    deploy: duration.default('1h').describe('Deadline for the endpoint to be InService (at most 2d)'),
  })
  .strict();

const PipelineSpecObject = z
  .object({
    name: sageMakerName(32).describe('Pipeline name; prefixes every resource it makes'),
    description: z
      .string()
      .max(1024, { abort: true })
      .regex(PLAIN_TEXT, {
        message:
          'must be one line: SageMaker refuses line breaks and other control characters in descriptions (in YAML, `description: >-` folds lines without them)',
      })
      .optional()
      .describe('Shown on the model package group and each model package; one line (SageMaker refuses control characters there)'),
    image: ImageSpec,
    training: TrainingSpec,
    gate: GateSpec.default({ thresholds: [] }),
    approval: ApprovalSpec.default({ required: false, timeout: '24h', onTimeout: 'reject' }),
    deployment: DeploymentSpec,
    schedule: ScheduleSpec.optional().describe('Run the pipeline on a Temporal Schedule'),
    timeouts: PipelineTimeouts.default({ build: '1h', training: '6h', deploy: '1h' }),
    tags: z
      .record(z.string(), z.string())
      .default({})
      .describe('AWS tags put on every resource (at most 50; keys up to 128 and values up to 256 characters)'),
  })
  .strict();

/**
 * The whole spec: field shapes plus the cross-field rules. The rules run only
 * once every field is valid on its own (zod would otherwise run them after
 * non-aborting failures such as a malformed duration), so a spec with a typo
 * reports the typo first and the cross-field problems on the next try.
 */
export const PipelineSpecSchema = PipelineSpecObject.superRefine(checkCrossFieldRules, {
  when: (payload) => payload.issues.length === 0,
});

/** A spec as written (defaults not yet applied). */
export type PipelineSpecInput = z.input<typeof PipelineSpecObject>;
/** A validated spec with defaults applied. */
export type PipelineSpec = z.output<typeof PipelineSpecObject>;
export type TrainingSpec = PipelineSpec['training'];
export type GateSpec = PipelineSpec['gate'];
export type ApprovalSpec = PipelineSpec['approval'];
export type DeploymentSpec = PipelineSpec['deployment'];
export type SmokeTestSpec = NonNullable<DeploymentSpec['smokeTest']>;
export type UpdateStrategySpec = DeploymentSpec['strategy'];
export type ScheduleSpecType = NonNullable<PipelineSpec['schedule']>;
