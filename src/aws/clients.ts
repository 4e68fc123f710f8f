// One place that builds the AWS SDK v3 clients the activities use. Local mode
// is not another implementation: it is the same clients pointed at the local
// control plane through the SDK's standard endpoint settings.
import { ECRClient } from '@aws-sdk/client-ecr';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { countRequests } from './metrics';

export interface AwsEndpointOverrides {
  sagemaker?: string;
  sagemakerRuntime?: string;
  s3?: string;
  ecr?: string;
}

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsClientsConfig {
  /** Else AWS_REGION / AWS_DEFAULT_REGION / the shared config file; `us-east-1` in local mode when none is set. */
  region?: string;
  /** Explicit endpoints win over AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL, which the SDK reads itself. */
  endpoints?: AwsEndpointOverrides;
  /** SDK attempts per call (the SDK's own retry, inside one activity attempt). Default 3. */
  maxAttempts?: number;
  /** Forces local mode on or off; by default local when the SageMaker endpoint is a loopback address. */
  local?: boolean;
  /** Explicit credentials (tests). Else the default provider chain; in local mode with none configured, dummy ones. */
  credentials?: StaticCredentials;
  /** The environment to read settings from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface AwsClients {
  sagemaker: SageMakerClient;
  runtime: SageMakerRuntimeClient;
  s3: S3Client;
  ecr: ECRClient;
  /** True when SageMaker calls go to a loopback address (the local control plane). */
  local: boolean;
  /** The SageMaker endpoint in effect when one is overridden; undefined means AWS's own. */
  sagemakerEndpoint?: string;
  /**
   * The ECR endpoint in effect when one is configured (explicitly, AWS_ENDPOINT_URL_ECR
   * or AWS_ENDPOINT_URL). In local mode the build stage pushes only when there is one.
   */
  ecrEndpoint?: string;
}

/** Credentials local mode uses when none are configured: the control plane ignores signatures. */
export const LOCAL_DUMMY_CREDENTIALS: StaticCredentials = { accessKeyId: 'champlocal', secretAccessKey: 'champlocal' };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0']);

export function isLoopbackUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const host = new URL(url).hostname.toLowerCase();
    return LOOPBACK_HOSTS.has(host) || host.startsWith('127.') || host.endsWith('.localhost');
  } catch {
    return false;
  }
}

function ignoreConfiguredEndpoints(env: NodeJS.ProcessEnv): boolean {
  return (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true';
}

/** The endpoint a service's client will use: explicit config, else the SDK's environment variables. */
export function effectiveEndpoint(explicit: string | undefined, envSuffix: string, env: NodeJS.ProcessEnv): string | undefined {
  if (explicit) return explicit;
  if (ignoreConfiguredEndpoints(env)) return undefined;
  return env[`AWS_ENDPOINT_URL_${envSuffix}`] || env.AWS_ENDPOINT_URL || undefined;
}

/** Whether anything the default provider chain reads cheaply is configured (no network probe). */
export function credentialsConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE) return true;
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return true;
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), '.aws', 'credentials');
  const configFile = env.AWS_CONFIG_FILE || join(homedir(), '.aws', 'config');
  return existsSync(credentialsFile) || existsSync(configFile);
}

function validateConfig(config: AwsClientsConfig): void {
  if (config.maxAttempts !== undefined && (!Number.isInteger(config.maxAttempts) || config.maxAttempts < 1)) {
    throw new TypeError(`maxAttempts is ${String(config.maxAttempts)}: give a whole number of at least 1 (3 is the usual)`);
  }
  for (const [service, url] of Object.entries(config.endpoints ?? {})) {
    if (url === undefined) continue;
    try {
      new URL(url);
    } catch {
      throw new TypeError(`endpoints.${service} is "${url}": give an absolute URL such as http://127.0.0.1:4566`);
    }
  }
}

export function createAwsClients(config: AwsClientsConfig = {}): AwsClients {
  validateConfig(config);
  const env = config.env ?? process.env;
  const endpoints = config.endpoints ?? {};
  const sagemakerEndpoint = effectiveEndpoint(endpoints.sagemaker, 'SAGEMAKER', env);
  const local = config.local ?? isLoopbackUrl(sagemakerEndpoint);
  const region = config.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || (local ? 'us-east-1' : undefined);
  const credentials = config.credentials ?? (local && !credentialsConfigured(env) ? LOCAL_DUMMY_CREDENTIALS : undefined);
  const common = {
    ...(region ? { region } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: config.maxAttempts ?? 3,
  };
  // Only explicit endpoints are passed; otherwise each client resolves
  // AWS_ENDPOINT_URL_<SERVICE> itself, exactly as any other SDK program would.
  const s3Endpoint = effectiveEndpoint(endpoints.s3, 'S3', env);
  const ecrEndpoint = effectiveEndpoint(endpoints.ecr, 'ECR', env);
  return {
    sagemaker: countRequests(new SageMakerClient({ ...common, ...(endpoints.sagemaker ? { endpoint: endpoints.sagemaker } : {}) }), 'sagemaker'),
    runtime: countRequests(
      new SageMakerRuntimeClient({ ...common, ...(endpoints.sagemakerRuntime ? { endpoint: endpoints.sagemakerRuntime } : {}) }),
      'sagemaker-runtime',
    ),
    s3: new S3Client({
      ...common,
      ...(endpoints.s3 ? { endpoint: endpoints.s3 } : {}),
      // Emulators and custom S3 endpoints rarely resolve bucket subdomains.
      ...(s3Endpoint ? { forcePathStyle: true } : {}),
    }),
    ecr: new ECRClient({ ...common, ...(endpoints.ecr ? { endpoint: endpoints.ecr } : {}) }),
    local,
    ...(sagemakerEndpoint ? { sagemakerEndpoint } : {}),
    ...(ecrEndpoint ? { ecrEndpoint } : {}),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.sagemaker.destroy();
  clients.runtime.destroy();
  clients.s3.destroy();
  clients.ecr.destroy();
}
