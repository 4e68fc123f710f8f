// The activities the pipeline workflow calls: one input object each, names
// and URIs only (never credentials). The workflow proxies each group below with
// the options it needs; `createActivities(deps)` in ./index.ts implements them all.
import type { PipelineSpec, SmokeTestSpec, UpdateStrategySpec } from '../spec/schema';
import type { EndpointFacts } from '../aws/status';
import type { DeploymentRequest, RequestAccepted } from '../workflows/endpoint/messages';

export interface MetricValue {
  name: string;
  value: number;
}

// --- spec ---------------------------------------------------------------
export interface ValidateSpecInput {
  spec: unknown;
}
export interface ValidateSpecResult {
  spec: PipelineSpec;
  /**
   * Poll intervals that suit the platform this worker drives: seconds on the
   * local control plane, where jobs take seconds; absent on AWS (the workflow's
   * defaults). The run's own `poll` input wins over it.
   */
  suggestedPoll?: { initialSeconds: number; maxSeconds: number };
}

// --- image ----------------------------------------------------------------
export interface BuildImageInput {
  pipeline: string;
  image: PipelineSpec['image'];
}
export interface BuildImageResult {
  imageUri: string;
  /** Content hash the tag was derived from; empty for a prebuilt URI. */
  contentHash: string;
  /** False when that exact build already existed (or the URI was prebuilt). */
  built: boolean;
}

// --- training -------------------------------------------------------------
export interface StartTrainingInput {
  jobName: string;
  imageUri: string;
  training: PipelineSpec['training'];
  tags: Record<string, string>;
}
export interface StartTrainingResult {
  jobName: string;
  jobArn: string;
  /** False when the job already existed (a retry after a lost response). */
  created: boolean;
}
export interface AwaitTrainingInput {
  jobName: string;
}
export interface TrainingResult {
  jobName: string;
  status: 'Completed';
  metrics: MetricValue[];
  modelArtifact: string;
  trainingSeconds: number;
  /** Where to read the job's log (CloudWatch group/stream on AWS, a file locally). */
  logs: string;
}
export interface StopTrainingInput {
  jobName: string;
}

// --- data fingerprint -----------------------------------------------------
export interface FingerprintDataInput {
  inputs: PipelineSpec['training']['inputs'];
}
export interface FingerprintDataResult {
  /** sha256 over object keys, sizes and ETags / contents. */
  fingerprint: string;
  objects: number;
  bytes: number;
}

// --- registry -------------------------------------------------------------
export interface ChampionInput {
  modelPackageGroupName: string;
}
export interface ChampionInfo {
  modelPackageArn: string;
  version: number;
  metrics: MetricValue[];
  dataFingerprint?: string;
}
export interface RegisterCandidateInput {
  modelPackageGroupName: string;
  pipelineDescription?: string;
  imageUri: string;
  modelArtifact: string;
  metrics: MetricValue[];
  trainingJobName: string;
  dataUri: string;
  dataFingerprint: string;
  workflowId: string;
}
export interface RegisteredCandidate {
  modelPackageArn: string;
  version: number;
  /** False when a retry found the package it had already registered. */
  created: boolean;
}
export interface SetApprovalInput {
  modelPackageArn: string;
  status: 'Approved' | 'Rejected';
  reviewer: string;
  reason: string;
}
export interface MarkChampionInput {
  modelPackageGroupName: string;
  modelPackageArn: string;
  endpointName: string;
}

// --- deployment -------------------------------------------------------------
export interface CreateModelInput {
  modelName: string;
  imageUri: string;
  modelArtifact: string;
  roleArn: string;
  environment: Record<string, string>;
  tags: Record<string, string>;
}
export interface CreateEndpointConfigInput {
  configName: string;
  modelName: string;
  /** The model, made again first when another run's cleanup deleted it since it was created. */
  model?: CreateModelInput;
  variantName: string;
  instanceType: string;
  instanceCount: number;
  tags: Record<string, string>;
}
/**
 * How to make an endpoint config (and its model) again under the same names:
 * another run's cleanup may delete a config between its creation and the
 * update that uses it, or the config an update replaced before a rollback
 * returns to it. Only for the pipeline's own configs, whose settings come
 * from a spec already in the workflow's history.
 */
export interface ConfigRecipe {
  model: CreateModelInput;
  config: CreateEndpointConfigInput;
}
export interface DeployEndpointInput {
  endpointName: string;
  configName: string;
  /** The pipeline: a previous config it owns comes back with a recipe (`previousRecipe`). */
  pipeline?: string;
  /** How to make `configName` again if it is gone when the endpoint is changed. */
  recipe?: ConfigRecipe;
  strategy: UpdateStrategySpec;
  tags: Record<string, string>;
  /**
   * The endpoint as `describeEndpoint` saw it before this deployment (null:
   * it did not exist). Recorded in history before any change, so a retry that
   * finds the change already made still knows what served before.
   */
  before: EndpointState | null;
}
export interface DeployEndpointResult {
  action: 'created' | 'updated';
  /** The config that served before an update; absent on a first deployment. */
  previousConfigName?: string;
  /** Where the endpoint's container logs are (CloudWatch on AWS, files locally). */
  logs?: string;
  /** How to make the previous config again, when the pipeline owns it (cleanup may delete it). */
  previousRecipe?: ConfigRecipe;
}
export interface DescribeEndpointInput {
  endpointName: string;
}
/** What DescribeEndpoint tells about an endpoint: the facts the verdict in src/aws/status.ts judges. */
export type EndpointState = EndpointFacts;
export interface AwaitEndpointInput {
  endpointName: string;
}
export interface VerifyEndpointInput {
  endpointName: string;
  expectedConfigName: string;
  smokeTest?: SmokeTestSpec;
}
export interface VerifyResult {
  ok: boolean;
  /** Why verification failed, in words a person can act on. */
  reason?: string;
  /** The smoke test's response status and a short excerpt of its body. */
  response?: { status: number; excerpt: string };
}
export interface RollbackEndpointInput {
  endpointName: string;
  /** The config to put back. */
  configName: string;
  /**
   * The config being rolled back. When given, an endpoint that runs neither
   * it nor `configName` is left alone: another run deployed after ours.
   */
  fromConfigName?: string;
  /** How to make `configName` again if another run's cleanup deleted it. */
  recipe?: ConfigRecipe;
}
export interface RollbackEndpointResult {
  /** `superseded`: the endpoint runs another run's config, so nothing was changed. */
  action: 'started' | 'in-progress' | 'already-there' | 'superseded';
  /** The config the endpoint runs (or moves to) when it was looked at. */
  configName?: string;
}
export interface DeleteResourceInput {
  name: string;
}
export interface CleanupInput {
  pipeline: string;
  endpointName: string;
  keep: number;
}
export interface CleanupResult {
  deletedConfigs: string[];
  deletedModels: string[];
}

// --- the endpoint entity -------------------------------------------------------
export interface RequestDeploymentInput {
  request: DeploymentRequest;
}
export interface WithdrawDeploymentInput {
  endpointName: string;
  requestId: string;
  reason: string;
}

// --- the contract, by how a caller must call it -------------------------------
// Each group wants its own activity options (src/workflows/options.ts); an
// activity belongs to exactly one, so a proxy offers only what its options suit.

/** Quick control-plane calls: one AWS request or a few, retried with backoff. */
export interface ControlActivities {
  validateSpec(input: ValidateSpecInput): Promise<ValidateSpecResult>;
  startTraining(input: StartTrainingInput): Promise<StartTrainingResult>;
  stopTraining(input: StopTrainingInput): Promise<void>;
  describeChampion(input: ChampionInput): Promise<ChampionInfo | null>;
  registerCandidate(input: RegisterCandidateInput): Promise<RegisteredCandidate>;
  setApproval(input: SetApprovalInput): Promise<void>;
  createModel(input: CreateModelInput): Promise<void>;
  createEndpointConfig(input: CreateEndpointConfigInput): Promise<void>;
  verifyEndpoint(input: VerifyEndpointInput): Promise<VerifyResult>;
  deleteEndpoint(input: DeleteResourceInput): Promise<void>;
  deleteEndpointConfig(input: DeleteResourceInput): Promise<void>;
  deleteModel(input: DeleteResourceInput): Promise<void>;
  markChampion(input: MarkChampionInput): Promise<void>;
  cleanupOldVersions(input: CleanupInput): Promise<CleanupResult>;
}

/** Check-once-and-throw over a training job: call with a poll retry policy and the training deadline. */
export interface TrainingWaitActivities {
  /** Returns when Completed, throws NotReady while running, non-retryable on Failed/Stopped. */
  awaitTraining(input: AwaitTrainingInput): Promise<TrainingResult>;
}

/**
 * Check-once-and-throw over an endpoint: each throws NotReady while another
 * change is in flight, so call them with a poll retry policy and the deploy deadline.
 */
export interface EndpointWaitActivities {
  /** The settled endpoint (null when absent); Failed is terminal. */
  describeEndpoint(input: DescribeEndpointInput): Promise<EndpointState | null>;
  deployEndpoint(input: DeployEndpointInput): Promise<DeployEndpointResult>;
  /** Returns once the endpoint is out of its in-flight statuses (ENDPOINT_IN_FLIGHT_STATUSES). */
  awaitEndpoint(input: AwaitEndpointInput): Promise<EndpointState>;
  rollbackEndpoint(input: RollbackEndpointInput): Promise<RollbackEndpointResult>;
}

/** A workflow cannot send an update: these reach the endpoint entity for the pipeline (quick calls to Temporal). */
export interface EntityActivities {
  /** Update-with-start on the endpoint's entity: starts it if needed, queues the request (deduplicated by its id). */
  requestDeployment(input: RequestDeploymentInput): Promise<RequestAccepted>;
  /** Withdraws a request: the entity drops it from its queue, or aborts it and puts the endpoint back. */
  withdrawDeployment(input: WithdrawDeploymentInput): Promise<void>;
}

/** Image builds: long, heartbeating. */
export interface BuildActivities {
  buildImage(input: BuildImageInput): Promise<BuildImageResult>;
}

/** Reads every input object: can take minutes on a large data set. */
export interface DataActivities {
  fingerprintData(input: FingerprintDataInput): Promise<FingerprintDataResult>;
}

// --- batch transform ---------------------------------------------------------
export interface ModelPackageInput {
  modelPackageGroupName: string;
  /** The version to run; or give its ARN. */
  version?: number;
  modelPackageArn?: string;
}
export interface ModelPackageInfo {
  modelPackageArn: string;
  version: number;
  imageUri: string;
  modelArtifact: string;
  approval: string;
}
export interface TransformDataInput {
  /** An S3 (or, locally, file://) prefix: a folder, or one file. */
  uri: string;
  contentType?: string;
  /** `Line`: one request per line, the answers assembled one per line. */
  splitType: 'None' | 'Line';
}
export interface StartTransformInput {
  jobName: string;
  modelName: string;
  input: TransformDataInput;
  outputUri: string;
  accept?: string;
  instanceType: string;
  instanceCount: number;
  tags: Record<string, string>;
}
export interface StartTransformResult {
  jobName: string;
  jobArn: string;
  created: boolean;
  /** Objects under the input location when the job was started (progress is counted against them). */
  inputObjects: number;
}
export interface AwaitTransformInput {
  jobName: string;
  outputUri: string;
  inputObjects?: number;
}
export interface TransformResult {
  jobName: string;
  status: 'Completed';
  /** Where the answers are: `<outputUri>/<input key>.out`. */
  outputUri: string;
  outputObjects: number;
  seconds: number;
}
export interface StopTransformInput {
  jobName: string;
}

/** Batch transform's quick calls (the control group's options). */
export interface TransformControlActivities {
  describeModelPackage(input: ModelPackageInput): Promise<ModelPackageInfo>;
  startTransform(input: StartTransformInput): Promise<StartTransformResult>;
  stopTransform(input: StopTransformInput): Promise<void>;
}

/** Check-once-and-throw over a transform job: call with a poll retry policy and the transform deadline. */
export interface TransformWaitActivities {
  awaitTransform(input: AwaitTransformInput): Promise<TransformResult>;
}

// --- processing -----------------------------------------------------------------
export interface StartProcessingInput {
  jobName: string;
  imageUri: string;
  entrypoint?: string[];
  arguments?: string[];
  environment: Record<string, string>;
  /** Each copied to its localPath (under /opt/ml/processing/) before the program runs. */
  inputs: Array<{ name: string; uri: string; localPath: string }>;
  /** Each localPath (under /opt/ml/processing/) copied to its uri when the program completes. */
  outputs: Array<{ name: string; uri: string; localPath: string }>;
  roleArn: string;
  instanceType: string;
  instanceCount?: number;
  volumeSizeGB?: number;
  maxRuntimeSeconds: number;
  tags: Record<string, string>;
}
export interface StartProcessingResult {
  jobName: string;
  jobArn: string;
  created: boolean;
}
export interface AwaitProcessingInput {
  jobName: string;
}
export interface ProcessingResult {
  jobName: string;
  status: 'Completed';
  /** Output name -> where it was copied. */
  outputs: Record<string, string>;
  /** What the program wrote to /opt/ml/output/message (first KB). */
  exitMessage?: string;
  seconds: number;
}
export interface StopProcessingInput {
  jobName: string;
}

/** Processing jobs: start and stop are quick calls; awaitProcessing is check-once-and-throw (poll retry policy, a deadline). */
export interface ProcessingActivities {
  startProcessing(input: StartProcessingInput): Promise<StartProcessingResult>;
  awaitProcessing(input: AwaitProcessingInput): Promise<ProcessingResult>;
  stopProcessing(input: StopProcessingInput): Promise<void>;
}

/** What the batchTransform workflow calls beyond the pipeline's activities. */
export interface TransformActivities extends TransformControlActivities, TransformWaitActivities {}

/** Every activity the pipeline workflow calls. */
export interface PipelineActivities extends ControlActivities, TrainingWaitActivities, EndpointWaitActivities, BuildActivities, DataActivities, EntityActivities {}
