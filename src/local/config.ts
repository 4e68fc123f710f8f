// The control plane's settings, from environment variables, validated once at
// start: a bad value stops it with a message naming the variable and the fix.
// Options of `startLocalSageMaker` and flags of the command override them.
import { z } from 'zod';
import { DEFAULT_PORT_RANGE, parsePortRange, type PortRange } from './containers/ports';

export const ISOLATION_SETTINGS = ['auto', 'docker', 'namespace', 'env'] as const;
export type IsolationSetting = (typeof ISOLATION_SETTINGS)[number];
/** How one container runs; `auto` picks one of these per image. */
export type IsolationMode = Exclude<IsolationSetting, 'auto'>;

const PORT = 'is not a port number 0-65535 (0 picks a free one)';
const COUNT = 'is not a whole number of 0 or more';
const port = z.coerce.number({ message: PORT }).int({ message: PORT }).min(0, { message: PORT }).max(65535, { message: PORT });
const count = z.coerce.number({ message: COUNT }).int({ message: COUNT }).min(0, { message: COUNT });

export const LocalConfigSchema = z.object({
  /** TCP port on 127.0.0.1 (the command's; `startLocalSageMaker` takes its `port` option first). */
  CHAMP_LOCAL_SAGEMAKER_PORT: port.default(8787),
  /** champ home: state lives in `<CHAMP_HOME>/local-sagemaker/`. */
  CHAMP_HOME: z.string().min(1).default('.champ'),
  /** Where local images are found; default `<state dir>/images`, which is where the worker puts them. */
  CHAMP_IMAGE_STORE: z.string().min(1).optional(),
  /** How long a variant may take to answer GET /ping. */
  CHAMP_LOCAL_HEALTH_TIMEOUT_MS: count.default(60_000),
  /** Endpoints that hold processes (Creating, InService, Updating); more is ResourceLimitExceeded. */
  CHAMP_LOCAL_MAX_ENDPOINTS: count.default(10),
  /** Training jobs InProgress or Stopping; more is ResourceLimitExceeded. */
  CHAMP_LOCAL_MAX_TRAINING_JOBS: count.default(10),
  /**
   * Host ports (on 127.0.0.1) for serving containers, "first-last". The default
   * stays below the kernel's ephemeral range (32768-60999), where any outgoing
   * connection could take a port an endpoint was given.
   */
  CHAMP_LOCAL_PORT_RANGE: z
    .string()
    .default(DEFAULT_PORT_RANGE)
    .transform((text, ctx): PortRange => {
      const range = parsePortRange(text);
      if (typeof range === 'string') {
        ctx.addIssue({ code: 'custom', message: range });
        return z.NEVER;
      }
      return range;
    }),
  /** How containers run: Docker if it answers, else a private mount namespace if it works, else SM_* variables. */
  CHAMP_LOCAL_ISOLATION: z.enum(ISOLATION_SETTINGS, { message: 'is not a mode: use auto, docker, namespace or env' }).default('auto'),
  /**
   * The image registry ECR's API answers for (`host:port`, distribution v2 over
   * HTTP on loopback): repository URIs are `<registry>/<name>`, DescribeImages
   * reads its manifests. scripts/engine/ensure.sh starts one on 127.0.0.1:5000.
   */
  CHAMP_LOCAL_REGISTRY: z
    .string()
    .default('127.0.0.1:5000')
    .refine((v) => /^(localhost|127(\.\d{1,3}){3}|\[::1\]):\d{1,5}$/.test(v), {
      message: 'is not a loopback registry address such as 127.0.0.1:5000 (host:port, no scheme)',
    }),
  /** The region in ARNs. */
  AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'is not an AWS region such as us-east-1' })
    .default('us-east-1'),
});
export type LocalConfig = z.output<typeof LocalConfigSchema>;

export class LocalConfigError extends Error {
  override name = 'LocalConfigError';
}

/** Reads the control plane's settings; throws LocalConfigError naming every bad variable. */
export function loadLocalConfig(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const known = Object.fromEntries(Object.keys(LocalConfigSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = LocalConfigSchema.safeParse(known);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    return `${name}=${JSON.stringify(env[name])} ${issue.message}`;
  });
  throw new LocalConfigError(`invalid configuration of the local control plane:\n  ${lines.join('\n  ')}`);
}
