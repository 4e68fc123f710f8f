// The pipeline spec: one document per model. This schema is the single source
// of truth; the TypeScript types and the published JSON Schema come from it.
// Field shapes live here; rules that relate fields to each other live in
// ./rules.ts and run as the top-level schema's superRefine.
import { z } from 'zod';
import { checkCrossFieldRules } from './rules';

/** SageMaker resource names: alphanumerics and hyphens, starting and ending alphanumeric. */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
/** ECR repository names. */
export const ECR_REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
/** Durations such as `90s`, `30m`, `24h`, `7d`. */
export const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;
const URI = /^(s3|file):\/\/.+/;
const INSTANCE_TYPE = /^ml\.[a-z0-9]+\.[a-z0-9]+$/;

const sageMakerName = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(SAGEMAKER_NAME, {
      message: 'must be letters, digits and hyphens, starting and ending with a letter or digit (a SageMaker resource name)',
    });

const duration = z.string().regex(DURATION, { message: 'must be a duration such as 90s, 30m, 24h or 7d' });
const location = z.string().regex(URI, { message: 'must be an s3:// or file:// URI' });
const positiveInt = z.number().int().positive();
const instanceType = z.string().regex(INSTANCE_TYPE, { message: 'must be a SageMaker instance type such as ml.m5.large' });

export const ImageSpec = z
  .object({
    context: z
      .string()
      .min(1)
      .optional()
      .describe('Build context folder (relative to the spec file), holding a Dockerfile. Give this or `uri`, not both'),
    dockerfile: z.string().min(1).default('Dockerfile').describe('Dockerfile path inside the context'),
    repository: z
      .string()
      .regex(ECR_REPOSITORY, { message: 'must be a valid ECR repository name: lowercase letters, digits, and . _ - / separators' })
      .max(256)
      .optional()
      .describe('ECR repository (or local image store repository) the build is pushed to; defaults to the pipeline name'),
    uri: z.string().min(1).optional().describe('A prebuilt image URI; skips the build. Give this or `context`, not both'),
  })
  .strict()
  .describe('The model container: built from a context folder, or a prebuilt image');

export const Channel = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9.\-_]+$/, { message: 'must be letters, digits, ".", "-" or "_"' })
      .max(64)
      .describe('Channel name; the container reads it from /opt/ml/input/data/<name>'),
    uri: location.describe('s3:// prefix, or file:// folder (relative paths resolve against the spec file)'),
    contentType: z.string().min(1).default('text/csv'),
  })
  .strict();

export const MetricDefinition = z
  .object({
    name: z.string().min(1).max(255).describe('Metric name, e.g. validation:rmse'),
    regex: z.string().min(1).max(500).describe('A regular expression over the training log whose first capture group is the value'),
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
    instanceCount: positiveInt.default(1),
    volumeSizeGB: positiveInt.default(10),
    maxRuntime: duration.default('1h').describe('MaxRuntimeInSeconds of the training job (at most 28d)'),
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, { message: 'must be an IAM role ARN such as arn:aws:iam::123456789012:role/name' })
      .default('arn:aws:iam::000000000000:role/champ-local')
      .describe('Execution role of the training job (ignored by the local control plane)'),
    metrics: z.array(MetricDefinition).max(40).default([]).describe('Metric definitions applied to the training log'),
    environment: z.record(z.string(), z.string()).default({}).describe('Environment variables of the training container'),
  })
  .strict();

export const Threshold = z
  .object({
    metric: z.string().min(1).describe('A name from training.metrics'),
    op: z.enum(['<', '<=', '>', '>=']),
    value: z.number().finite(),
  })
  .strict();

export const ChampionComparison = z
  .object({
    metric: z.string().min(1).describe('A name from training.metrics'),
    direction: z.enum(['minimize', 'maximize']),
    minImprovement: z.number().finite().nonnegative().default(0).describe('Absolute improvement over the champion required'),
  })
  .strict();

export const GateSpec = z
  .object({
    thresholds: z.array(Threshold).default([]).describe('Every threshold must hold for the candidate to pass'),
    champion: ChampionComparison.optional().describe('The candidate must beat the current champion on this metric'),
  })
  .strict();

export const ApprovalSpec = z
  .object({
    required: z.boolean().default(false).describe('Wait for a human approval before deploying'),
    timeout: duration.default('24h'),
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
    alarms: z.array(z.string().min(1)).max(10).default([]).describe('CloudWatch alarms that roll the update back (AWS)'),
  })
  .strict();

export const SmokeTest = z
  .object({
    contentType: z.string().min(1).default('application/json'),
    accept: z.string().min(1).default('application/json'),
    body: z
      .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
      .describe('Payload; objects and arrays are sent as JSON and need a JSON contentType'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    expectJsonPaths: z
      .array(z.string().min(1))
      .default([])
      .describe('Dotted paths that must exist in the JSON response, e.g. predictions.0.prediction'),
  })
  .strict();

export const DeploymentSpec = z
  .object({
    endpointName: sageMakerName(63),
    instanceType: instanceType.default('ml.m5.large'),
    instanceCount: positiveInt.default(1),
    variantName: sageMakerName(63).default('AllTraffic'),
    strategy: UpdateStrategy.default({ type: 'all-at-once', waitInterval: '5m', terminationWait: '0s', alarms: [] }),
    smokeTest: SmokeTest.optional().describe('A request the new endpoint must answer before it is promoted'),
    keep: z.number().int().min(1).max(100).default(3).describe('Endpoint configs and models kept after promotion, the live one included'),
    environment: z.record(z.string(), z.string()).default({}).describe('Environment variables of the serving container'),
  })
  .strict();

export const ScheduleSpec = z
  .object({
    cron: z.string().min(1).describe('Five-field cron expression (minute hour day-of-month month day-of-week) or @daily, @hourly, ...'),
    overlap: z.enum(['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all']).default('skip'),
    skipWhenDataUnchanged: z.boolean().default(true).describe('Skip a scheduled run when the training inputs are unchanged since the last run'),
    timezone: z.string().min(1).optional().describe('IANA time zone of the cron expression, e.g. Europe/London; UTC when absent'),
  })
  .strict();

export const PipelineTimeouts = z
  .object({
    build: duration.default('1h'),
    training: duration.default('6h').describe('Deadline for the training job to finish; at least training.maxRuntime'),
    deploy: duration.default('1h').describe('Deadline for the endpoint to be InService'),
  })
  .strict();

const PipelineSpecObject = z
  .object({
    name: sageMakerName(32).describe('Pipeline name; prefixes every resource it makes'),
    description: z.string().max(1024).optional(),
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
