// The pipeline spec: one document per model. This schema is the single source
// of truth; the TypeScript types and the published JSON Schema come from it.
import { z } from 'zod';

/** SageMaker resource names: alphanumerics and hyphens, starting and ending alphanumeric. */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
/** ECR repository names. */
export const ECR_REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
/** Durations such as `90s`, `30m`, `24h`, `7d`. */
export const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;
const URI = /^(s3|file):\/\/.+/;

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

export const ImageSpec = z
  .object({
    context: z.string().min(1).optional().describe('Build context folder (relative to the spec file), holding a Dockerfile'),
    dockerfile: z.string().min(1).default('Dockerfile').describe('Dockerfile path inside the context'),
    repository: z
      .string()
      .regex(ECR_REPOSITORY, { message: 'must be a valid ECR repository name: lowercase letters, digits, and . _ - / separators' })
      .max(256)
      .optional()
      .describe('ECR repository (or local image store repository); defaults to the pipeline name'),
    uri: z.string().min(1).optional().describe('A prebuilt image URI; skips the build'),
  })
  .strict();

export const Channel = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9.\-_]+$/, { message: 'must be letters, digits, ".", "-" or "_"' }).max(64),
    uri: location,
    contentType: z.string().min(1).default('text/csv'),
  })
  .strict();

export const MetricDefinition = z
  .object({
    name: z.string().min(1).max(255),
    regex: z.string().min(1).max(500).describe('A regular expression whose first capture group is the value'),
  })
  .strict();

export const TrainingSpec = z
  .object({
    inputs: z.array(Channel).min(1).max(20),
    outputPath: location,
    hyperparameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    instanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must be a SageMaker instance type such as ml.m5.large' }).default('ml.m5.large'),
    instanceCount: positiveInt.default(1),
    volumeSizeGB: positiveInt.default(10),
    maxRuntime: duration.default('1h').describe('MaxRuntimeInSeconds of the training job'),
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, { message: 'must be an IAM role ARN such as arn:aws:iam::123456789012:role/name' })
      .default('arn:aws:iam::000000000000:role/champ-local'),
    metrics: z.array(MetricDefinition).max(40).default([]),
    environment: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const Threshold = z
  .object({
    metric: z.string().min(1),
    op: z.enum(['<', '<=', '>', '>=']),
    value: z.number().finite(),
  })
  .strict();

export const ChampionComparison = z
  .object({
    metric: z.string().min(1),
    direction: z.enum(['minimize', 'maximize']),
    minImprovement: z.number().finite().nonnegative().default(0).describe('Absolute improvement over the champion required'),
  })
  .strict();

export const GateSpec = z
  .object({
    thresholds: z.array(Threshold).default([]),
    champion: ChampionComparison.optional(),
  })
  .strict();

export const ApprovalSpec = z
  .object({
    required: z.boolean().default(false),
    timeout: duration.default('24h'),
    onTimeout: z.enum(['reject', 'approve']).default('reject'),
  })
  .strict();

export const UpdateStrategy = z
  .object({
    type: z.enum(['all-at-once', 'blue-green', 'canary', 'linear']).default('all-at-once'),
    canaryPercent: z.number().positive().max(100).optional().describe('Traffic share of the canary (canary)'),
    linearStepPercent: z.number().positive().max(100).optional().describe('Traffic share per step (linear)'),
    waitInterval: duration.default('5m').describe('Bake time between traffic shifts'),
    terminationWait: duration.default('0s').describe('Wait before the old fleet is terminated'),
    alarms: z.array(z.string().min(1)).max(10).default([]).describe('CloudWatch alarms that roll the update back (AWS)'),
  })
  .strict();

export const SmokeTest = z
  .object({
    contentType: z.string().min(1).default('application/json'),
    accept: z.string().min(1).default('application/json'),
    body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).describe('Payload; objects and arrays are sent as JSON'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    expectJsonPaths: z.array(z.string().min(1)).default([]).describe('Dotted paths that must exist in the JSON response, e.g. predictions.0.prediction'),
  })
  .strict();

export const DeploymentSpec = z
  .object({
    endpointName: sageMakerName(63),
    instanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must be a SageMaker instance type such as ml.m5.large' }).default('ml.m5.large'),
    instanceCount: positiveInt.default(1),
    variantName: sageMakerName(63).default('AllTraffic'),
    strategy: UpdateStrategy.default({ type: 'all-at-once', waitInterval: '5m', terminationWait: '0s', alarms: [] }),
    smokeTest: SmokeTest.optional(),
    keep: z.number().int().min(1).max(100).default(3).describe('Endpoint configs and models kept after promotion, the live one included'),
    environment: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const ScheduleSpec = z
  .object({
    cron: z.string().min(1),
    overlap: z.enum(['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all']).default('skip'),
    skipWhenDataUnchanged: z.boolean().default(true),
    timezone: z.string().min(1).optional(),
  })
  .strict();

export const PipelineTimeouts = z
  .object({
    build: duration.default('1h'),
    training: duration.default('6h').describe('Deadline for the training job to finish'),
    deploy: duration.default('1h').describe('Deadline for the endpoint to be InService'),
  })
  .strict();

export const PipelineSpecSchema = z
  .object({
    name: sageMakerName(32).describe('Pipeline name; prefixes every resource it makes'),
    description: z.string().max(1024).optional(),
    image: ImageSpec,
    training: TrainingSpec,
    gate: GateSpec.default({ thresholds: [] }),
    approval: ApprovalSpec.default({ required: false, timeout: '24h', onTimeout: 'reject' }),
    deployment: DeploymentSpec,
    schedule: ScheduleSpec.optional(),
    timeouts: PipelineTimeouts.default({ build: '1h', training: '6h', deploy: '1h' }),
    tags: z.record(z.string(), z.string()).default({}),
  })
  .strict();

/** A spec as written (defaults not yet applied). */
export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;
/** A validated spec with defaults applied. */
export type PipelineSpec = z.output<typeof PipelineSpecSchema>;
export type TrainingSpec = PipelineSpec['training'];
export type GateSpec = PipelineSpec['gate'];
export type ApprovalSpec = PipelineSpec['approval'];
export type DeploymentSpec = PipelineSpec['deployment'];
export type SmokeTestSpec = NonNullable<DeploymentSpec['smokeTest']>;
export type UpdateStrategySpec = DeploymentSpec['strategy'];
export type ScheduleSpecType = NonNullable<PipelineSpec['schedule']>;
