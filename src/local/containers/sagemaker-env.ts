// The environment a model's program sees, as SageMaker gives it: the training
// toolkit's SM_* variables, the serving port, the model's own Environment, and
// none of the control plane's credentials.
import { cpus } from 'node:os';
import * as path from 'node:path';

/** Where /opt/ml is inside the container (Docker, namespace) and what SM_* point at there. */
export const CONTAINER_OPT_ML = '/opt/ml';
/** Port a container serves on inside Docker; the host side is the request's port. */
export const DOCKER_SERVE_PORT = 8080;

export interface ToolkitInputs {
  /** train: channel names for SM_CHANNELS and SM_CHANNEL_*. */
  channels?: string[];
  /** train: hyperparameters for SM_HPS and SM_HP_*. */
  hyperParameters?: Record<string, string>;
}

/** SM_* variables pointing at `optMl` (the job's own folder, or /opt/ml inside Docker). */
export function sageMakerToolkitEnv(optMl: string, opts: ToolkitInputs = {}): Record<string, string> {
  const channels = opts.channels ?? [];
  const hps = opts.hyperParameters ?? {};
  const env: Record<string, string> = {
    SM_MODEL_DIR: path.posix.join(optMl, 'model'),
    SM_INPUT_DIR: path.posix.join(optMl, 'input'),
    SM_INPUT_CONFIG_DIR: path.posix.join(optMl, 'input', 'config'),
    SM_OUTPUT_DIR: path.posix.join(optMl, 'output'),
    SM_OUTPUT_DATA_DIR: path.posix.join(optMl, 'output', 'data'),
    SM_OUTPUT_INTERMEDIATE_DIR: path.posix.join(optMl, 'output', 'intermediate'),
    SM_CHANNELS: JSON.stringify(channels),
    SM_HPS: JSON.stringify(hps),
    SM_CURRENT_HOST: 'algo-1',
    SM_HOSTS: JSON.stringify(['algo-1']),
    SM_NUM_CPUS: String(cpus().length || 1),
  };
  for (const ch of channels) {
    env[`SM_CHANNEL_${ch.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = path.posix.join(optMl, 'input', 'data', ch);
  }
  for (const [k, v] of Object.entries(hps)) {
    env[`SM_HP_${k.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = v;
  }
  return env;
}

/**
 * Whether a variable of the control plane's own environment is kept from a
 * model's process. Credentials travel in more than the three key variables
 * (a profile, a web-identity token file, a container credentials endpoint and
 * its token, other tools' tokens); SageMaker gives a container none of them,
 * only the region.
 */
export function withheldFromContainers(name: string): boolean {
  const upper = name.toUpperCase();
  if (upper.startsWith('AWS_')) return upper !== 'AWS_REGION' && upper !== 'AWS_DEFAULT_REGION';
  return /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE_?KEY/.test(upper);
}

/** The control plane's environment minus what `withheldFromContainers` keeps back. */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && !withheldFromContainers(k)) out[k] = v;
  }
  return out;
}

export interface ContainerEnvRequest extends ToolkitInputs {
  /** serve: the loopback port the server must answer on. */
  port?: number;
  /** The image's environment (CreateTrainingJob Environment, the model's Environment); it wins over ours. */
  environment: Record<string, string>;
}

/** The variables given inside a Docker container (`docker run -e`), /opt/ml mounted at its usual place. */
export function dockerContainerEnv(req: ContainerEnvRequest): Record<string, string> {
  return {
    PYTHONUNBUFFERED: '1',
    ...sageMakerToolkitEnv(CONTAINER_OPT_ML, req),
    ...(req.port !== undefined ? { SAGEMAKER_BIND_TO_PORT: String(DOCKER_SERVE_PORT) } : {}),
    ...req.environment,
  };
}

/** The environment of a program run as a process from a snapshot in `programDir`, its /opt/ml at `optMlDir`. */
export function processContainerEnv(req: ContainerEnvRequest, optMlDir: string, programDir: string): Record<string, string> {
  const inherited = inheritedEnv();
  return {
    ...inherited,
    PATH: `${programDir}${path.delimiter}${inherited.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
    PYTHONUNBUFFERED: '1',
    // Python would otherwise write __pycache__ into the read-only snapshot.
    PYTHONDONTWRITEBYTECODE: '1',
    ...sageMakerToolkitEnv(optMlDir, req),
    ...(req.port !== undefined ? { SAGEMAKER_BIND_TO_PORT: String(req.port), SAGEMAKER_BIND_HOST: '127.0.0.1' } : {}),
    ...req.environment,
  };
}
