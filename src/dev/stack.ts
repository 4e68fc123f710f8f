// The whole local stack in one process tree: the Temporal dev server, the
// local SageMaker control plane and a worker. Used by `npm run dev` and the demo.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { AesGcmCodec } from '../codec';
import { startCodecServer } from '../codec/server';
import { loadConfig } from '../config';
import { startLocalSageMaker } from '../local';
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
  stop(): Promise<void>;
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
    if (opts.sageMakerPort !== undefined) {
      // Its image store defaults as the worker's does (CHAMP_IMAGE_STORE, else <home>/images), so both find the same images.
      const local = await startLocalSageMaker({ port: opts.sageMakerPort, stateDir: home });
      stops.push(() => local.close());
      sageMakerUrl = local.url;
    }

    const config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      CHAMP_HOME: home,
      CHAMP_UI_URL: temporal.uiUrl,
      ...(sageMakerUrl ? { AWS_ENDPOINT_URL_SAGEMAKER: sageMakerUrl, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: sageMakerUrl } : {}),
    });
    const worker = await startWorker(config, opts.log);
    stops.push(async () => {
      if (worker.worker.getState() === 'RUNNING') worker.worker.shutdown();
      await worker.done;
    });
    return { temporalAddress: temporal.address, uiUrl: temporal.uiUrl, sageMakerUrl, codecUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
