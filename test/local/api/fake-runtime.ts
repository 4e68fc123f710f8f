// Fakes of the local runtime (training runs, serving variants) for the API
// tests: the tests decide when a run progresses and ends and which images are
// healthy, so every status transition is driven on purpose.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type {
  EndpointRuntime,
  InvokeRequest,
  InvokeResponse,
  TrainingOutcome,
  TrainingProgress,
  TrainingRunner,
  TrainingRunRequest,
  VariantSpec,
} from '../../../src/local/runtime';
import { reset } from '../../../src/local/admin-client';
import { startLocalSageMaker, type LocalSageMaker } from '../../../src/local/server';

interface FakeRun {
  req: TrainingRunRequest;
  onProgress: (p: TrainingProgress) => void;
  resolve: (o: TrainingOutcome) => void;
}

export class FakeTrainingRunner implements TrainingRunner {
  readonly runs = new Map<string, FakeRun>();
  readonly started: TrainingRunRequest[] = [];
  readonly stopped: string[] = [];

  run(req: TrainingRunRequest, onProgress: (p: TrainingProgress) => void): Promise<TrainingOutcome> {
    this.started.push(req);
    return new Promise((resolve) => this.runs.set(req.jobName, { req, onProgress, resolve }));
  }

  progress(jobName: string, secondaryStatus: TrainingProgress['secondaryStatus'], message = `${secondaryStatus}...`): void {
    this.get(jobName).onProgress({ secondaryStatus, message });
  }

  end(jobName: string, outcome: Partial<TrainingOutcome> & Pick<TrainingOutcome, 'status'>): void {
    const run = this.get(jobName);
    this.runs.delete(jobName);
    run.resolve({ finalMetrics: [], logFile: `/tmp/${jobName}.log`, ...outcome });
  }

  async stop(jobName: string): Promise<void> {
    this.stopped.push(jobName);
    if (this.runs.has(jobName)) this.end(jobName, { status: 'Stopped' });
  }

  async shutdown(): Promise<void> {
    for (const name of [...this.runs.keys()]) this.end(name, { status: 'Stopped' });
  }

  private get(jobName: string): FakeRun {
    const run = this.runs.get(jobName);
    if (!run) throw new Error(`fake runner: no live run ${jobName}`);
    return run;
  }
}

export class FakeEndpointRuntime implements EndpointRuntime {
  readonly serving = new Map<string, { configName: string; variants: VariantSpec[] }>();
  readonly deploys: Array<{ endpointName: string; configName: string }> = [];
  /** Variants with these images never answer /ping. */
  readonly unhealthyImages = new Set<string>();
  deployDelayMs = 20;
  private held?: Promise<void>;

  /**
   * Deploys wait (after their delay) until the returned function is called, so
   * a test sees Creating for as long as it looks, however loaded the machine.
   */
  holdDeploys(): () => void {
    let release!: () => void;
    this.held = new Promise<void>((r) => (release = r));
    return () => {
      this.held = undefined;
      release();
    };
  }

  async deploy(endpointName: string, configName: string, variants: VariantSpec[]): Promise<void> {
    this.deploys.push({ endpointName, configName });
    await new Promise((r) => setTimeout(r, this.deployDelayMs));
    if (this.held) await this.held;
    const bad = variants.find((v) => this.unhealthyImages.has(v.imageUri));
    if (bad) throw new Error(`The primary container for production variant ${bad.variantName} did not pass the ping health check.`);
    this.serving.set(endpointName, { configName, variants });
  }

  /** Echoes the request with the serving config; a body "fail" gets a 400 from the "container". */
  async invoke(endpointName: string, req: InvokeRequest): Promise<InvokeResponse> {
    const live = this.serving.get(endpointName);
    if (!live) throw new Error(`fake runtime: ${endpointName} is not serving`);
    const variant = req.targetVariant ?? live.variants[0]?.variantName ?? 'none';
    const text = req.body.toString('utf8');
    if (text === 'fail') return { status: 400, body: Buffer.from('unsupported input'), contentType: 'text/plain', invokedVariant: variant };
    return {
      status: 200,
      body: Buffer.from(JSON.stringify({ config: live.configName, variant, input: text, accept: req.accept ?? null })),
      contentType: 'application/json',
      invokedVariant: variant,
    };
  }

  isServing(endpointName: string): boolean {
    return this.serving.has(endpointName);
  }

  async remove(endpointName: string): Promise<void> {
    this.serving.delete(endpointName);
  }

  async shutdown(): Promise<void> {
    this.serving.clear();
  }
}

export interface Harness {
  server: LocalSageMaker;
  sm: SageMakerClient;
  /** No SDK retries: the first answer is the one seen. */
  smOnce: SageMakerClient;
  rt: SageMakerRuntimeClient;
  training: FakeTrainingRunner;
  endpoints: FakeEndpointRuntime;
  home: string;
  /**
   * Stops the server (as a crash would leave the state) and starts a new one on
   * the same home, with new fakes; `holdDeploys` holds their deploys (see releaseDeploys).
   */
  restart(opts?: { holdDeploys?: boolean }): Promise<void>;
  /** Lets the deploys held by `restart({ holdDeploys: true })` finish. */
  releaseDeploys(): void;
  close(): Promise<void>;
}

const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

export interface HarnessOptions {
  healthTimeoutMs?: number;
  deployDelayMs?: number;
  limits?: { maxEndpoints?: number; maxTrainingJobs?: number };
  /** Reset the control plane's state before each test. */
  resetEach?: boolean;
}

/**
 * The test file's harness: started before its tests, closed after them. The
 * object is filled in by beforeAll (and again by `restart`), so read its
 * members inside tests and hooks, never at the top level of the file.
 */
export function useHarness(opts: HarnessOptions = {}): Harness {
  const h = {} as Harness;
  beforeAll(() => startHarness(h, opts));
  afterAll(() => h.close());
  if (opts.resetEach) beforeEach(() => reset(h.server.url));
  return h;
}

async function startHarness(h: Harness, opts: HarnessOptions): Promise<void> {
  const home = mkdtempSync(join(process.env.CHAMP_TEST_RUN_DIR ?? tmpdir(), 'local-sm-'));
  const boot = async (holdDeploys = false): Promise<void> => {
    h.training = new FakeTrainingRunner();
    h.endpoints = new FakeEndpointRuntime();
    if (opts.deployDelayMs !== undefined) h.endpoints.deployDelayMs = opts.deployDelayMs;
    h.releaseDeploys = holdDeploys ? h.endpoints.holdDeploys() : () => undefined;
    h.server = await startLocalSageMaker({
      port: 0,
      stateDir: home,
      runtime: { training: h.training, endpoints: h.endpoints },
      region: 'us-east-1',
      healthTimeoutMs: opts.healthTimeoutMs ?? 1000,
      limits: opts.limits,
      log: () => undefined,
    });
    const common = { endpoint: h.server.url, region: 'us-east-1', credentials };
    h.sm = new SageMakerClient(common);
    h.smOnce = new SageMakerClient({ ...common, maxAttempts: 1 });
    h.rt = new SageMakerRuntimeClient({ ...common, maxAttempts: 1 });
  };
  const shut = async (): Promise<void> => {
    h.sm.destroy();
    h.smOnce.destroy();
    h.rt.destroy();
    await h.server.close();
  };
  await boot();
  h.home = home;
  h.restart = async (restartOpts) => {
    await shut();
    await boot(restartOpts?.holdDeploys);
  };
  h.close = async () => {
    await shut();
    rmSync(home, { recursive: true, force: true });
  };
}

/** Runs `call` and returns the error it throws (fails the test if it does not). */
export type ServiceError = Error & { $metadata?: { httpStatusCode?: number }; [k: string]: unknown };

export async function rejectionOf(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('expected the call to fail, and it succeeded');
}
