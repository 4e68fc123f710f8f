// The environment a model's program sees, as SageMaker gives it: the training
// toolkit's SM_* variables, the serving port, the model's own Environment, and
// none of the control plane's credentials.
import { cpus } from 'node:os';
import * as path from 'node:path';

/** Where /opt/ml is inside the container (Docker, namespace) and what SM_* point at there. */
export const CONTAINER_OPT_ML = '/opt/ml';
/** Where the image's programs are inside the container (namespace mode binds the snapshot there). */
export const CONTAINER_PROGRAM_DIR = '/opt/program';
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

/**
 * The environment of a program run as a process from a snapshot in `programDir`,
 * its /opt/ml at `optMlDir` and its temporary files in `tmpDir` (paths as the
 * program sees them: the host's in env mode, /opt/... in namespace mode).
 */
export function processContainerEnv(req: ContainerEnvRequest, optMlDir: string, programDir: string, tmpDir: string): Record<string, string> {
  const inherited = inheritedEnv();
  return {
    ...inherited,
    TMPDIR: tmpDir,
    PATH: `${programDir}${path.delimiter}${inherited.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
    PYTHONUNBUFFERED: '1',
    // Python would otherwise write __pycache__ into the read-only snapshot.
    PYTHONDONTWRITEBYTECODE: '1',
    ...sageMakerToolkitEnv(optMlDir, req),
    ...(req.port !== undefined ? { SAGEMAKER_BIND_TO_PORT: String(req.port), SAGEMAKER_BIND_HOST: '127.0.0.1' } : {}),
    ...req.environment,
  };
}

/**
 * The text of a `docker run --env-file`: one KEY=VALUE a line. Docker's format
 * has no quoting, so a value with a line break cannot travel in it: refused,
 * naming the variable.
 */
export function envFileText(env: Record<string, string>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k)) {
      throw new Error(`environment variable name "${k}" is not valid in a container: use letters, digits and underscores, not starting with a digit`);
    }
    if (/[\r\n\0]/.test(v)) throw new Error(`environment variable ${k} has a line break or NUL in its value: a container's environment takes single-line values`);
    lines.push(`${k}=${v}`);
  }
  return `${lines.join('\n')}\n`;
}
