// Serves endpoints: each variant instance runs `serve` on a free loopback port
// with its own /opt/ml/model. A deploy is blue/green: the new variants start and
// pass GET /ping, the routing table switches in one step, the old variants drain
// their in-flight requests and stop. A failed deploy leaves the old routing alone.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import type { ContainerLauncher, RunningContainer } from './containers';
import { EndpointRuntimeError, fileUriToPath, type EndpointRuntime, type InvokeRequest, type InvokeResponse, type VariantSpec } from './runtime';
import { ping, VariantClient } from './variant-client';

const HEALTH_POLL_MS = 100;
const FAILURE_LOG_LINES = 10;

export interface LocalEndpointRuntimeOptions {
  /** Folder for instance folders (opt/ml, logs); one sub-folder per endpoint. */
  workDir: string;
  launcher: ContainerLauncher;
  /** Upper bound on waiting for old variants' in-flight requests after a switch. */
  drainTimeoutMs?: number;
  stopGraceMs?: number;
  /** SageMaker's own limit is 60 s. */
  invokeTimeoutMs?: number;
}

export interface InstanceStatus {
  pid: number;
  port: number;
  logFile: string;
  alive: boolean;
  inFlight: number;
}

export interface EndpointStatus {
  configName: string;
  variants: Array<{ variantName: string; modelName: string; weight: number; instances: InstanceStatus[] }>;
}

interface Instance {
  variantName: string;
  port: number;
  dir: string;
  container: RunningContainer;
  inFlight: number;
}

interface LiveVariant {
  spec: VariantSpec;
  instances: Instance[];
  next: number;
}

interface Route {
  configName: string;
  variants: LiveVariant[];
}

interface EndpointState {
  route?: Route;
  /** Instances started by a deploy that has not switched yet; remove() stops them too. */
  pending: Set<Instance>;
  /** Deploys of one endpoint run one after another. */
  queue: Promise<void>;
  generation: number;
}

export class LocalEndpointRuntime implements EndpointRuntime {
  private readonly launcher: ContainerLauncher;
  private readonly workDir: string;
  private readonly drainTimeoutMs: number;
  private readonly stopGraceMs: number;
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly client: VariantClient;
  /** Ports handed to live instances: the kernel may hand a just-probed free port out again. */
  private deploySeq = 0;

  constructor(opts: LocalEndpointRuntimeOptions) {
    if (!opts.workDir) throw new Error('workDir is empty: give the folder where endpoint instances keep their files');
    this.workDir = path.resolve(opts.workDir);
    this.launcher = opts.launcher;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
    this.stopGraceMs = opts.stopGraceMs ?? 5_000;
    this.client = new VariantClient(opts.invokeTimeoutMs ?? 60_000);
  }

  deploy(endpointName: string, configName: string, variants: VariantSpec[], opts: { healthTimeoutMs: number }): Promise<void> {
    const state = this.state(endpointName);
    const run = state.queue.then(() => this.deployNow(endpointName, state, configName, variants, opts.healthTimeoutMs));
    state.queue = run.catch(() => undefined);
    return run;
  }

  isServing(endpointName: string): boolean {
    const route = this.endpoints.get(endpointName)?.route;
    return !!route && route.variants.some((v) => v.instances.some((i) => i.container.isAlive()));
  }

  status(endpointName: string): EndpointStatus | undefined {
    const route = this.endpoints.get(endpointName)?.route;
    if (!route) return undefined;
    return {
      configName: route.configName,
      variants: route.variants.map((v) => ({
        variantName: v.spec.variantName,
        modelName: v.spec.modelName,
        weight: v.spec.initialVariantWeight,
        instances: v.instances.map((i) => ({
          pid: i.container.pid,
          port: i.port,
          logFile: i.container.logFile,
          alive: i.container.isAlive(),
          inFlight: i.inFlight,
        })),
      })),
    };
  }

  async invoke(endpointName: string, req: InvokeRequest): Promise<InvokeResponse> {
    const route = this.endpoints.get(endpointName)?.route;
    if (!route || route.variants.length === 0) {
      throw new EndpointRuntimeError('EndpointNotServing', `Endpoint ${endpointName} has no running variants`);
    }
    const variant = req.targetVariant ? route.variants.find((v) => v.spec.variantName === req.targetVariant) : pickByWeight(route.variants);
    if (!variant) {
      throw new EndpointRuntimeError(
        'VariantNotFound',
        `TargetVariant "${req.targetVariant}" is not a variant of endpoint ${endpointName}: use one of ${route.variants.map((v) => v.spec.variantName).join(', ')}`,
      );
    }
    const instance = pickInstance(variant);
    if (!instance) {
      const dead = variant.instances[0];
      throw new EndpointRuntimeError(
        'ContainerFailed',
        `The primary container for production variant ${variant.spec.variantName} is not running` +
          (dead ? ` (see its log at ${dead.container.logFile}):\n${dead.container.lastLines(FAILURE_LOG_LINES).join('\n')}` : ''),
      );
    }
    // Counted synchronously with the pick, so a switch that happens next still sees this request when draining.
    instance.inFlight++;
    try {
      return await this.client.invoke(instance, req);
    } finally {
      instance.inFlight--;
    }
  }

  async remove(endpointName: string): Promise<void> {
    const state = this.endpoints.get(endpointName);
    if (!state) return;
    state.generation++;
    const instances = [...(state.route?.variants.flatMap((v) => v.instances) ?? []), ...state.pending];
    state.route = undefined;
    state.pending.clear();
    await Promise.all(instances.map((i) => this.stopInstance(i)));
    await state.queue;
    if (!state.route && state.pending.size === 0) this.endpoints.delete(endpointName);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.endpoints.keys()].map((name) => this.remove(name)));
    this.client.close();
  }

  // -------------------------------------------------------------------------

  private state(endpointName: string): EndpointState {
    let s = this.endpoints.get(endpointName);
    if (!s) {
      s = { pending: new Set(), queue: Promise.resolve(), generation: 0 };
      this.endpoints.set(endpointName, s);
    }
    return s;
  }

  private async deployNow(endpointName: string, state: EndpointState, configName: string, variants: VariantSpec[], healthTimeoutMs: number): Promise<void> {
    validateVariants(variants);
    const generation = state.generation;
    const deployDir = path.join(this.workDir, safeName(endpointName), `${safeName(configName)}-${++this.deploySeq}-${Date.now()}`);
    const started: Instance[] = [];
    try {
      // Settled, not Promise.all: a failure must not leave siblings starting after the cleanup ran.
      const startResults = await Promise.allSettled(
        variants.flatMap((spec) =>
          Array.from({ length: spec.initialInstanceCount }, (_, i) =>
            this.startInstance(endpointName, state, spec, path.join(deployDir, `${safeName(spec.variantName)}-${i + 1}`), started),
          ),
        ),
      );
      throwFirstRejection(startResults);
      const healthResults = await Promise.allSettled(
        started.map((inst) =>
          this.waitHealthy(inst, variants.find((v) => v.variantName === inst.variantName)!, healthTimeoutMs, () => state.generation !== generation),
        ),
      );
      throwFirstRejection(healthResults);
      const live: LiveVariant[] = variants.map((spec) => ({
        spec,
        instances: started.filter((inst) => inst.variantName === spec.variantName),
        next: 0,
      }));
      if (state.generation !== generation) throw new Error(`Endpoint ${endpointName} was deleted while it was being deployed`);

      const old = state.route;
      state.route = { configName, variants: live };
      for (const inst of started) state.pending.delete(inst);
      if (old) await this.drainAndStop(old.variants.flatMap((v) => v.instances));
    } catch (err) {
      // Whatever served before keeps serving; only this deploy's processes go.
      for (const inst of started) state.pending.delete(inst);
      await Promise.all(started.map((i) => this.stopInstance(i)));
      throw err instanceof Error ? err : new Error(String(err));
    }
  }

  private async startInstance(endpointName: string, state: EndpointState, spec: VariantSpec, dir: string, started: Instance[]): Promise<Instance> {
    const optMl = path.join(dir, 'opt', 'ml');
    const modelDir = path.join(optMl, 'model');
    await fsp.mkdir(modelDir, { recursive: true });
    if (spec.modelDataUrl) await unpackModel(spec, modelDir);
    const port = await this.launcher.ports.allocate();
    let container: RunningContainer;
    try {
      container = await this.launcher.start({
        imageUri: spec.imageUri,
        command: 'serve',
        optMlDir: optMl,
        environment: spec.environment,
        logFile: path.join(dir, 'serve.log'),
        name: `${spec.modelName}-${spec.variantName}`,
        port,
        owner: { kind: 'endpoint', name: endpointName, variant: spec.variantName },
        instanceType: spec.instanceType,
      });
    } catch (err) {
      this.launcher.ports.release(port);
      throw new Error(`The primary container for production variant ${spec.variantName} could not start: ${(err as Error).message}`);
    }
    const inst: Instance = { variantName: spec.variantName, port, dir, container, inFlight: 0 };
    started.push(inst);
    state.pending.add(inst);
    return inst;
  }

  private async waitHealthy(inst: Instance, spec: VariantSpec, timeoutMs: number, cancelled: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (cancelled()) throw new Error(`deploy of production variant ${spec.variantName} was cancelled: the endpoint was deleted`);
      if (!inst.container.isAlive()) {
        const exit = await inst.container.exited;
        const how = exit.code !== null ? `exited with code ${exit.code}` : `was killed by signal ${exit.signal ?? 'unknown'}`;
        throw new Error(this.healthFailure(inst, spec, `its serve program ${how}`));
      }
      if (await ping(inst.port, Math.max(50, Math.min(1_000, deadline - Date.now())))) return;
      if (Date.now() >= deadline) {
        throw new Error(this.healthFailure(inst, spec, `no 200 from GET /ping within ${Math.round(timeoutMs / 1000)} s`));
      }
      await sleep(Math.min(HEALTH_POLL_MS, Math.max(0, deadline - Date.now())));
    }
  }

  private healthFailure(inst: Instance, spec: VariantSpec, why: string): string {
    const tail = inst.container.lastLines(FAILURE_LOG_LINES).join('\n');
    return (
      `The primary container for production variant ${spec.variantName} did not pass the ping health check (${why}). ` +
      `Log: ${inst.container.logFile}${tail ? `\nLast log lines:\n${tail}` : ''}`
    );
  }

  private async drainAndStop(instances: Instance[]): Promise<void> {
    const deadline = Date.now() + this.drainTimeoutMs;
    while (instances.some((i) => i.inFlight > 0 && i.container.isAlive()) && Date.now() < deadline) await sleep(20);
    await Promise.all(instances.map((i) => this.stopInstance(i)));
  }

  private async stopInstance(inst: Instance): Promise<void> {
    await inst.container.stop(this.stopGraceMs);
    this.launcher.ports.release(inst.port);
    // The unpacked model can be large; the log stays for whoever investigates.
    await fsp.rm(path.join(inst.dir, 'opt'), { recursive: true, force: true }).catch(() => undefined);
  }
}

function throwFirstRejection(results: PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function validateVariants(variants: VariantSpec[]): void {
  if (variants.length === 0) throw new Error('variants is empty: an endpoint config needs at least one production variant');
  const names = new Set<string>();
  for (const v of variants) {
    if (names.has(v.variantName)) throw new Error(`variant name "${v.variantName}" appears twice: variant names must be unique`);
    names.add(v.variantName);
    if (!Number.isInteger(v.initialInstanceCount) || v.initialInstanceCount < 1) {
      throw new Error(`variant ${v.variantName}: initialInstanceCount ${v.initialInstanceCount} must be a whole number of at least 1`);
    }
    if (!(v.initialVariantWeight >= 0)) throw new Error(`variant ${v.variantName}: initialVariantWeight ${v.initialVariantWeight} must be 0 or more`);
  }
}

function pickByWeight(variants: LiveVariant[]): LiveVariant | undefined {
  const total = variants.reduce((s, v) => s + v.spec.initialVariantWeight, 0);
  // All weights 0: SageMaker would refuse the config; spread evenly rather than fail here.
  if (total <= 0) return variants[Math.floor(Math.random() * variants.length)];
  let r = Math.random() * total;
  for (const v of variants) {
    r -= v.spec.initialVariantWeight;
    if (r < 0) return v;
  }
  return variants[variants.length - 1];
}

function pickInstance(variant: LiveVariant): Instance | undefined {
  const n = variant.instances.length;
  for (let k = 0; k < n; k++) {
    const inst = variant.instances[(variant.next + k) % n]!;
    if (inst.container.isAlive()) {
      variant.next = (variant.next + k + 1) % n;
      return inst;
    }
  }
  return undefined;
}

async function unpackModel(spec: VariantSpec, modelDir: string): Promise<void> {
  const url = spec.modelDataUrl!;
  try {
    const file = fileUriToPath(url, `ModelDataUrl of model ${spec.modelName}`);
    await tar.x({ file, cwd: modelDir, strict: true });
  } catch (err) {
    throw new Error(
      `Failed to extract model data archive from URL "${url}" for production variant ${spec.variantName} (model ${spec.modelName}): ` +
        `${(err as Error).message}. Make sure the object at that URL is a valid tar.gz archive.`,
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
