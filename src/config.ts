// Worker and client configuration from environment variables, validated at
// start: a bad value stops the process with a message naming the variable.
import { z } from 'zod';
import { parsePayloadKeys, PayloadKeyError, type PayloadKeyring } from './codec/keys';
import { DEFAULT_TASK_QUEUE } from './shared';
import { HOST_PORT, localDevServerSettings, resolveTemporalSettings, TEMPORAL_SECRET_VARIABLES, type TemporalSettings } from './temporal-connection';

const hostPort = z.string().regex(HOST_PORT, { message: 'must be host:port, e.g. 127.0.0.1:7233' });
const url = z.url({ message: 'must be a URL such as http://127.0.0.1:8787' });
const port = z.coerce.number({ message: 'must be a port number 0-65535' }).int({ message: 'must be a port number 0-65535' }).min(0, { message: 'must be a port number 0-65535' }).max(65535, { message: 'must be a port number 0-65535' });
const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const payloadKeys = z.string().transform((text, ctx): PayloadKeyring => {
  try {
    return parsePayloadKeys(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof PayloadKeyError ? err.message : 'cannot be read as "id:base64key,..."' });
    return z.NEVER;
  }
});
/** Variables whose value an error must not show. */
const SECRET_VARIABLES = new Set<string>(['CHAMP_PAYLOAD_KEYS', ...TEMPORAL_SECRET_VARIABLES]);

// The Temporal connection (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE,
// TEMPORAL_TLS_*, TEMPORAL_API_KEY, the profile file) is read as the temporal
// CLI reads it: src/temporal-connection.ts.
export const ConfigSchema = z.object({
  CHAMP_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  LOG_LEVEL: z.enum(levels).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  CHAMP_METRICS_PORT: port.default(9464).describe('Prometheus metrics on 127.0.0.1; 0 turns them off'),
  /** Where /metrics listens instead of 127.0.0.1:<CHAMP_METRICS_PORT>, e.g. 0.0.0.0:9464 in a container; port 0 turns the metrics off. */
  CHAMP_METRICS_ADDRESS: hostPort.optional(),
  CHAMP_HOME: z.string().min(1).default('.champ'),
  /** Local image store shared by the worker's local builds and the control plane; default <CHAMP_HOME>/images. */
  CHAMP_IMAGE_STORE: z.string().min(1).optional(),
  CHAMP_UI_URL: url.default('http://127.0.0.1:8233'),
  /** The local control plane's isolation, read by the worker too so a local build makes what will run (a Docker image or not). */
  CHAMP_LOCAL_ISOLATION: z.enum(['auto', 'docker', 'namespace', 'env'], { message: 'is not a mode: use auto, docker, namespace or env' }).default('auto'),
  /** Unset: the SDK's default chain (AWS_DEFAULT_REGION, the profile's region); the worker refuses to start without one. */
  AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'must be an AWS region such as us-east-1' })
    .optional(),
  AWS_ENDPOINT_URL_SAGEMAKER: url.optional(),
  AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: url.optional(),
  AWS_ENDPOINT_URL_S3: url.optional(),
  AWS_ENDPOINT_URL_ECR: url.optional(),
  // Ports of the local stack (`npm run dev`, `npm run demo`), all on 127.0.0.1.
  CHAMP_TEMPORAL_PORT: port.default(7233),
  CHAMP_UI_PORT: port.default(8233),
  CHAMP_LOCAL_SAGEMAKER_PORT: port.default(8787),
  /** Payload encryption (off when unset): "id:base64key,...", the first key encrypts, all decrypt. See docs/encryption.md. */
  CHAMP_PAYLOAD_KEYS: payloadKeys.optional(),
  /** The codec server (`npm run codec-server`) for the Web UI and `temporal --codec-endpoint`, on 127.0.0.1. */
  CHAMP_CODEC_PORT: port.default(8888),
});
export type Config = z.output<typeof ConfigSchema> & {
  /** The Temporal frontend in effect (environment, else the profile, else 127.0.0.1:7233). */
  TEMPORAL_ADDRESS: string;
  /** The namespace in effect (environment, else the profile, else "default"). */
  TEMPORAL_NAMESPACE: string;
  /** How to connect: TLS, client certificate, API key, headers. */
  temporal: TemporalSettings;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** The address of a dev server this process started (the local stack): connected to plainly, the environment's Temporal settings left aside. */
  localTemporal?: string;
}

/** Reads the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = ConfigSchema.safeParse(known);
  const temporal = options.localTemporal !== undefined ? { settings: localDevServerSettings(options.localTemporal), problems: [] } : resolveTemporalSettings(env);
  if (parsed.success && temporal.settings) {
    return { ...parsed.data, TEMPORAL_ADDRESS: temporal.settings.address, TEMPORAL_NAMESPACE: temporal.settings.namespace, temporal: temporal.settings };
  }
  const lines = (parsed.success ? [] : parsed.error.issues).map((issue) => {
    const name = String(issue.path[0]);
    const shown = SECRET_VARIABLES.has(name) ? `(${String(env[name] ?? '').length} characters, not shown)` : JSON.stringify(env[name]);
    return `${name}=${shown}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${[...lines, ...temporal.problems].join('\n  ')}`);
}

/**
 * For a command's start: the configuration, after `alsoCheck` (another
 * component's settings) passes; otherwise one message and exit code 2.
 */
export function loadConfigOrExit(program: string, alsoCheck: () => void = () => undefined): Config {
  try {
    const config = loadConfig();
    alsoCheck();
    return config;
  } catch (err) {
    console.error(`${program}: ${(err as Error).message}`);
    process.exit(2);
  }
}
