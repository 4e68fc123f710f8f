// The whole local stack in one process tree: the Temporal dev server, the
// local SageMaker control plane and a worker. Used by `npm run dev` and the demo.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { spawnDockerRunner } from '../activities/docker';
import { AesGcmCodec } from '../codec';
import { startCodecServer } from '../codec/server';
import { loadConfig } from '../config';
import { loadLocalConfig, startLocalSageMaker } from '../local';
import { startDevServer } from '../temporal-server';
import { startWorker } from '../worker';

export interface StackOptions {
  home: string;
  temporalPort: number;
  uiPort: number;
  /** 0 for any free port; undefined for no local control plane (real AWS). */
  sageMakerPort?: number;
  /** Where the codec server listens when CHAMP_PAYLOAD_KEYS is set (0: any free port). */
  codecPort?: number;
  log: Logger;
}

export interface Stack {
  temporalAddress: string;
  uiUrl: string;
  sageMakerUrl?: string;
  /** The codec server the Web UI uses, when payloads are encrypted. */
  codecUrl?: string;
  /** Where built images go: the local registry through the control plane's ECR API, or the local image store. */
  images: { kind: 'registry'; registry: string; ecrUrl: string } | { kind: 'store'; reason: string } | { kind: 'aws' };
  stop(): Promise<void>;
}

/**
 * Why built images cannot go to the local registry through the control plane's
 * ECR (then they stay in the local image store, as process mode needs), or
 * undefined when they can: a Docker engine answers, the registry answers, and
 * the isolation setting runs Docker containers.
 */
export async function registryUnusable(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const isolation = env.CHAMP_LOCAL_ISOLATION || 'auto';
  if (isolation === 'namespace' || isolation === 'env') return `CHAMP_LOCAL_ISOLATION=${isolation} runs local images only`;
  const info = await spawnDockerRunner().run(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 });
  if (info.code !== 0) return 'no Docker engine answers `docker info` (scripts/engine/ensure.sh starts one)';
  try {
    const res = await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    if (!res.ok) return `the registry at ${registry} answered ${res.status} to GET /v2/`;
  } catch (err) {
    return `no registry answers at ${registry} (${(err as Error).message}; scripts/engine/ensure.sh starts one, CHAMP_LOCAL_REGISTRY names another)`;
  }
  return undefined;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const home = resolve(opts.home);
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => opts.log.warn({ err }, 'stopping a part of the stack failed'));
  };
  try {
    // With encrypted payloads the Web UI shows ciphertext unless it decodes through a codec server.
    const keys = loadConfig().CHAMP_PAYLOAD_KEYS;
    let codecUrl: string | undefined;
    if (keys) {
      const codec = await startCodecServer({
        codec: new AesGcmCodec(keys),
        port: opts.codecPort ?? 0,
        allowedOrigin: `http://127.0.0.1:${opts.uiPort}`,
        onError: (message) => opts.log.warn({ component: 'codec-server' }, message),
      });
      stops.push(() => codec.close());
      codecUrl = codec.url;
    }
    const temporal = await startDevServer({
      stateDir: resolve(home, 'temporal'),
      port: opts.temporalPort,
      uiPort: opts.uiPort,
      codecEndpoint: codecUrl,
      onLog: (line) => opts.log.debug({ component: 'temporal-server' }, line),
    });
    stops.push(() => temporal.stop());

    let sageMakerUrl: string | undefined;
    let images: Stack['images'] = { kind: 'aws' };
    const ecr: Record<string, string> = {};
    if (opts.sageMakerPort !== undefined) {
      // Its image store defaults as the worker's does (CHAMP_IMAGE_STORE, else <home>/images), so both find the same images.
      const local = await startLocalSageMaker({ port: opts.sageMakerPort, stateDir: home });
      stops.push(() => local.close());
      sageMakerUrl = local.url;
      // With an engine and a registry, builds go the way they go on AWS: pushed through ECR's API, pulled by training.
      const registry = loadLocalConfig().CHAMP_LOCAL_REGISTRY;
      const explicit = process.env.AWS_ENDPOINT_URL_ECR;
      const unusable = explicit ? undefined : await registryUnusable(registry);
      if (explicit) {
        images = { kind: 'registry', registry, ecrUrl: explicit };
      } else if (unusable) {
        images = { kind: 'store', reason: unusable };
      } else {
        images = { kind: 'registry', registry, ecrUrl: sageMakerUrl };
        ecr.AWS_ENDPOINT_URL_ECR = sageMakerUrl;
      }
      if (images.kind === 'registry') opts.log.info({ ecr: images.ecrUrl, registry }, 'built images are pushed to the local registry through the ECR API');
      else opts.log.info(`built images stay in the local image store: ${unusable ?? ''}`);
    }

    const config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      CHAMP_HOME: home,
      CHAMP_UI_URL: temporal.uiUrl,
      // The local control plane's region is whatever the stack says; with AWS (no control plane) the SDK's chain decides.
      ...(sageMakerUrl ? { AWS_ENDPOINT_URL_SAGEMAKER: sageMakerUrl, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: sageMakerUrl, AWS_REGION: process.env.AWS_REGION || 'us-east-1' } : {}),
      ...ecr,
    }, { localTemporal: temporal.address });
    const worker = await startWorker(config, opts.log);
    stops.push(async () => {
      if (worker.worker.getState() === 'RUNNING') worker.worker.shutdown();
      await worker.done;
    });
    return { temporalAddress: temporal.address, uiUrl: temporal.uiUrl, sageMakerUrl, codecUrl, images, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
