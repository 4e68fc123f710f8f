// Resource records of the local control plane, kept in memory and written to
// one JSON file (atomically: temp file + rename, fsync'd), so a restart of the
// control plane finds every record as it was.
//
// Writes are batched: save() marks the state changed and one write, off the
// event loop, carries every change made until it starts (a group commit).
// The server awaits flush() before it answers a request, so whatever a caller
// was told (a job created, an endpoint InService) is on disk first; a crash
// loses at most changes nobody was told of yet, as SageMaker itself may.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { VariantSpec } from './runtime';
import type { ENDPOINT_STATUSES, PROCESSING_JOB_STATUSES, TRAINING_JOB_STATUSES, TRANSFORM_JOB_STATUSES } from '../aws/status';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Epoch seconds with millisecond precision, as SageMaker's JSON protocol sends timestamps. */
export type EpochSeconds = number;

// The statuses come from the one table of SageMaker's statuses; the local
// control plane never deletes a training job, so it never reports Deleting.
export type TrainingJobStatus = Exclude<(typeof TRAINING_JOB_STATUSES)[number], 'Deleting'>;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];
export type TransformJobStatus = (typeof TRANSFORM_JOB_STATUSES)[number];
export type ProcessingJobStatus = (typeof PROCESSING_JOB_STATUSES)[number];
export type ApprovalStatus = 'Approved' | 'Rejected' | 'PendingManualApproval';

export type Tag = { Key: string; Value: string };

export type SecondaryStatusTransition = {
  Status: string;
  StartTime: EpochSeconds;
  EndTime?: EpochSeconds;
  StatusMessage: string;
};

/** A training job: `describe` is DescribeTrainingJob's answer. */
export type TrainingJobRecord = {
  describe: JsonObject & {
    TrainingJobName: string;
    TrainingJobArn: string;
    TrainingJobStatus: TrainingJobStatus;
    SecondaryStatus: string;
    SecondaryStatusTransitions: SecondaryStatusTransition[];
    CreationTime: EpochSeconds;
    LastModifiedTime: EpochSeconds;
  };
};

export type ModelRecord = {
  describe: JsonObject & { ModelName: string; ModelArn: string; CreationTime: EpochSeconds };
};

export type EndpointConfigRecord = {
  describe: JsonObject & {
    EndpointConfigName: string;
    EndpointConfigArn: string;
    ProductionVariants: JsonObject[];
    CreationTime: EpochSeconds;
  };
};

export type EndpointRecord = {
  describe: JsonObject & {
    EndpointName: string;
    EndpointArn: string;
    EndpointConfigName: string;
    EndpointStatus: EndpointStatus;
    CreationTime: EpochSeconds;
    LastModifiedTime: EpochSeconds;
  };
  /** The config an UpdateEndpoint is moving to, while Updating. */
  pendingConfigName?: string;
  /**
   * What that update deploys, resolved when it was accepted, and the data
   * capture summary it brings: a restart mid-update resumes it from these.
   */
  pendingVariants?: VariantSpec[];
  pendingDataCapture?: JsonObject;
  /**
   * The variants as resolved when they were deployed (models and configs may
   * be deleted while the endpoint serves; a restart redeploys these).
   */
  variants?: VariantSpec[];
};

export type TransformJobRecord = {
  describe: JsonObject & {
    TransformJobName: string;
    TransformJobArn: string;
    TransformJobStatus: TransformJobStatus;
    ModelName: string;
    CreationTime: EpochSeconds;
  };
};

/** A processing job: `describe` is DescribeProcessingJob's answer. */
export type ProcessingJobRecord = {
  describe: JsonObject & {
    ProcessingJobName: string;
    ProcessingJobArn: string;
    ProcessingJobStatus: ProcessingJobStatus;
    CreationTime: EpochSeconds;
    LastModifiedTime: EpochSeconds;
  };
};

export type PackageGroupRecord = {
  describe: JsonObject & {
    ModelPackageGroupName: string;
    ModelPackageGroupArn: string;
    CreationTime: EpochSeconds;
  };
  /** The last version handed out in this group (versions are never reused, even after deletion). */
  lastVersion: number;
};

export type PackageRecord = {
  describe: JsonObject & {
    ModelPackageName: string;
    ModelPackageGroupName: string;
    ModelPackageVersion: number;
    ModelPackageArn: string;
    ModelApprovalStatus: ApprovalStatus;
    CreationTime: EpochSeconds;
  };
  clientToken?: string;
};

/** An ECR repository (its images live in the registry): `describe` is the Repository shape without its URI. */
export type EcrRepositoryRecord = {
  describe: JsonObject & { repositoryName: string; repositoryArn: string; registryId: string; createdAt: EpochSeconds };
};

export interface StateData {
  version: 1;
  trainingJobs: Record<string, TrainingJobRecord>;
  models: Record<string, ModelRecord>;
  endpointConfigs: Record<string, EndpointConfigRecord>;
  endpoints: Record<string, EndpointRecord>;
  transformJobs: Record<string, TransformJobRecord>;
  processingJobs: Record<string, ProcessingJobRecord>;
  packageGroups: Record<string, PackageGroupRecord>;
  /** Keyed by ModelPackageArn. */
  packages: Record<string, PackageRecord>;
  /** Keyed by resource ARN. */
  tags: Record<string, Tag[]>;
  /** ECR repositories, keyed by name. */
  ecrRepositories: Record<string, EcrRepositoryRecord>;
}

export function emptyState(): StateData {
  return {
    version: 1,
    trainingJobs: {},
    models: {},
    endpointConfigs: {},
    endpoints: {},
    transformJobs: {},
    processingJobs: {},
    packageGroups: {},
    packages: {},
    tags: {},
    ecrRepositories: {},
  };
}

/** SageMaker names are unique regardless of case (ARNs carry them lowercased). */
export const key = (name: string): string => name.toLowerCase();

export class StateStore {
  readonly file: string;
  data: StateData;
  /** When frozen (the server is going down), changes are no longer written: what a crash would leave. */
  private frozen = false;
  /** Changed since the last write began. */
  private dirty = false;
  private scheduled = false;
  /** The write loop in progress: it ends once nothing is left to write. */
  private writing: Promise<void> | undefined;
  /** How many whole-file writes were made (for tests and benchmarks). */
  writes = 0;
  private tmpSeq = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'state.json');
    // A crash between writing a temp file and renaming it leaves the temp file; state.json itself is whole.
    for (const f of readdirSync(dir)) {
      if (/^state\.json\.\d+(\.\d+)?\.tmp$/.test(f)) rmSync(join(dir, f), { force: true });
    }
    this.data = existsSync(this.file) ? StateStore.load(this.file) : emptyState();
  }

  private static load(file: string): StateData {
    let parsed: Partial<StateData>;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<StateData>;
    } catch (err) {
      throw new Error(
        `${file} is not readable JSON (${(err as Error).message}): it was not written by this control plane's atomic save; ` +
          'move the file away to start with an empty state',
      );
    }
    if (parsed.version !== 1) {
      throw new Error(`${file}: unknown state version ${String(parsed.version)}; move the file away to start empty`);
    }
    return { ...emptyState(), ...parsed };
  }

  /**
   * Records that the state changed: call after every change. The write comes
   * moments later, shared with every other change made meanwhile; flush()
   * waits for it.
   */
  save(): void {
    if (this.frozen) return;
    this.dirty = true;
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // A failed background write leaves the state dirty; the next flush() tries again and reports it.
      this.drain().catch(() => undefined);
    });
  }

  /** Resolves once every change saved so far is on disk (at once when there is none). */
  flush(): Promise<void> {
    if (!this.dirty && !this.writing) return Promise.resolve();
    return this.drain();
  }

  private drain(): Promise<void> {
    if (this.writing) return this.writing;
    const loop = async (): Promise<void> => {
      while (this.dirty && !this.frozen) {
        this.dirty = false;
        try {
          await this.write(JSON.stringify(this.data, null, 1));
        } catch (err) {
          this.dirty = true;
          throw err;
        }
      }
    };
    // finally() runs after this assignment even when the loop has nothing to do.
    const run: Promise<void> = loop().finally(() => {
      if (this.writing === run) this.writing = undefined;
    });
    this.writing = run;
    return run;
  }

  private async write(text: string): Promise<void> {
    // One temp name per write: two stores on one folder (a restart within one process) never share one.
    const tmp = `${this.file}.${process.pid}.${++this.tmpSeq}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(text);
      // Without it, a power loss after the rename can leave an empty state.json (delayed allocation).
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    this.writes++;
  }

  freeze(): void {
    this.frozen = true;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  reset(): void {
    this.data = emptyState();
    this.save();
  }
}
