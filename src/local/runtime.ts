// The contract between the local control plane's API (server, state, SageMaker
// shapes) and its runtime (containers, training runs, serving variants).
// The API owns resource records and status values; the runtime owns processes.
import { localPathOf } from '../artifacts/file-uri';

/** Reads one of the contract's file:// locations; any other scheme is refused naming the field. */
export function fileUriToPath(uri: string, field: string): string {
  const file = localPathOf(uri);
  if (file === undefined) {
    throw new Error(
      `${field} "${uri}" is not a file:// URI: the local control plane reads and writes only local folders (for example file:///data/train)`,
    );
  }
  return file;
}

export interface TrainingRunRequest {
  jobName: string;
  imageUri: string;
  /** A folder of this job's own under the state folder; the runtime lays out `opt/ml` inside it. */
  jobDir: string;
  /** Where the log is kept (the API names it in status messages). Default `<jobDir>/train.log`. */
  logFile?: string;
  /** As given to CreateTrainingJob: string values. */
  hyperParameters: Record<string, string>;
  /** CreateTrainingJob's InputDataConfig as given (channels with file:// S3Uri). */
  inputDataConfig: Array<{
    ChannelName: string;
    DataSource: { S3DataSource?: { S3Uri: string; S3DataType?: string; S3DataDistributionType?: string } };
    ContentType?: string;
    CompressionType?: string;
    InputMode?: string;
  }>;
  resourceConfig: { InstanceType: string; InstanceCount: number; VolumeSizeInGB: number };
  /** OutputDataConfig.S3OutputPath (file://); the artifact goes to `<path>/<jobName>/output/model.tar.gz`. */
  outputPath: string;
  maxRuntimeSeconds: number;
  metricDefinitions: Array<{ Name: string; Regex: string }>;
  environment: Record<string, string>;
  /**
   * Set when a restarted control plane takes the job up again: the Docker
   * container still running it (re-attached, its exit awaited), or none (the
   * program runs again from the start, within `maxRuntimeSeconds`, what is left).
   */
  resume?: { dockerName?: string };
}

export interface TrainingProgress {
  secondaryStatus: 'Starting' | 'Downloading' | 'Training' | 'Uploading' | 'Stopping';
  message: string;
}

export interface TrainingOutcome {
  status: 'Completed' | 'Failed' | 'Stopped';
  /** The final secondary status when it is not the status itself: SageMaker ends a job past MaxRuntimeInSeconds Stopped / MaxRuntimeExceeded. */
  secondaryStatus?: 'MaxRuntimeExceeded';
  /** `output/failure`'s text, or what went wrong (exit code, runtime exceeded, ...). */
  failureReason?: string;
  /** The last value of each metric definition found in the log. */
  finalMetrics: Array<{ MetricName: string; Value: number; Timestamp: Date }>;
  /** file:// URI of model.tar.gz when Completed, or when Stopped with something in /opt/ml/model (saved in the SIGTERM grace window). */
  modelArtifact?: string;
  /** Path of the kept log file. */
  logFile: string;
}

export interface TrainingRunner {
  /** Starts the run; resolves once it has ended, whatever the outcome. Never rejects. */
  run(req: TrainingRunRequest, onProgress: (p: TrainingProgress) => void): Promise<TrainingOutcome>;
  /** Asks a running job to stop (SIGTERM, then SIGKILL); its run() then resolves Stopped. */
  stop(jobName: string): Promise<void>;
  /** Stops every run (control plane shutdown). */
  shutdown(): Promise<void>;
}

export interface VariantSpec {
  variantName: string;
  modelName: string;
  imageUri: string;
  /** file:// URI of model.tar.gz, unpacked as /opt/ml/model. */
  modelDataUrl?: string;
  environment: Record<string, string>;
  initialInstanceCount: number;
  initialVariantWeight: number;
  /** The variant's instance type: a container's CPU and memory limits follow it (approximately). */
  instanceType?: string;
}

export interface InvokeRequest {
  body: Buffer;
  contentType?: string;
  accept?: string;
  targetVariant?: string;
  /** InvokeEndpoint's CustomAttributes: given to the container as X-Amzn-SageMaker-Custom-Attributes. */
  customAttributes?: string;
}

export interface InvokeResponse {
  status: number;
  body: Buffer;
  contentType?: string;
  invokedVariant: string;
  /** The container's X-Amzn-SageMaker-Custom-Attributes answer header, passed back to the caller. */
  customAttributes?: string;
}

export type EndpointRuntimeErrorCode =
  /** No live variants for that endpoint (never deployed, removed, or shut down). */
  | 'EndpointNotServing'
  /** TargetVariant names no live variant. */
  | 'VariantNotFound'
  /** The variant's process has died or its connection broke: a 5xx for the caller. */
  | 'ContainerFailed'
  /** No answer within the invocation timeout. */
  | 'InvocationTimeout';

export class EndpointRuntimeError extends Error {
  override readonly name = 'EndpointRuntimeError';
  constructor(
    readonly code: EndpointRuntimeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface EndpointRuntime {
  /**
   * Brings `configName`'s variants up for `endpointName`: starts them, waits for
   * GET /ping, switches traffic, then drains and stops what served before.
   * Rejects with an Error whose message is the reason when a variant never
   * becomes healthy within `healthTimeoutMs`; whatever served before keeps serving.
   */
  deploy(endpointName: string, configName: string, variants: VariantSpec[], opts: { healthTimeoutMs: number }): Promise<void>;
  /** Routes one request to the endpoint's live variants (by weight, or the target variant); rejects with EndpointRuntimeError. */
  invoke(endpointName: string, req: InvokeRequest): Promise<InvokeResponse>;
  /** Whether the endpoint has live variants. */
  isServing(endpointName: string): boolean;
  /** Stops the endpoint's processes. */
  remove(endpointName: string): Promise<void>;
  /** Stops every process (control plane shutdown). */
  shutdown(): Promise<void>;
}
