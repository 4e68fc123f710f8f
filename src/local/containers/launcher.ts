// Runs an image's `train` or `serve`: with Docker when an engine answers,
// otherwise as a process from the local image store's snapshot, given /opt/ml
// through a private mount namespace when the OS allows and always through the
// SageMaker toolkit's SM_* variables. Every process leads its own process group.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseLocalImageUri, resolveLocalImage } from '../../artifacts/image-store';
import type { IsolationMode, IsolationSetting } from '../config';
import { dockerAvailable, dockerHasImage, namespaceIsolationAvailable } from './capabilities';
import { ContainerProcess, type RunningContainer } from './container-process';
import { CrashLedger } from './crash-ledger';
import { CONTAINER_OPT_ML, DOCKER_SERVE_PORT, dockerContainerEnv, inheritedEnv, processContainerEnv, type ContainerEnvRequest } from './sagemaker-env';

export type ContainerCommand = 'train' | 'serve';

export interface ContainerLauncherOptions {
  /** Image store root, where `champ.local/...` images are snapshots. */
  imageStore: string;
  /** 'auto': Docker if it answers, else namespace if it works, else env. */
  isolation: IsolationSetting;
  /**
   * A file listing this launcher's live processes, so that after a crash
   * (SIGKILL, OOM) of the control plane the next start can kill what the
   * crash orphaned (`reapOrphans`). None by default.
   */
  ledgerFile?: string;
}

export interface StartContainerRequest extends ContainerEnvRequest {
  imageUri: string;
  command: ContainerCommand;
  /** The host folder that is this container's /opt/ml. */
  optMlDir: string;
  /** Combined stdout and stderr are appended here. */
  logFile: string;
  /** A label for logs and the Docker container's name. */
  name: string;
  /** Called for every complete line of output. */
  onLine?: (line: string) => void;
}

export class ContainerStartError extends Error {
  override readonly name = 'ContainerStartError';
}

/** What to spawn for one container. */
interface SpawnPlan {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  dockerName?: string;
}

export class ContainerLauncher {
  readonly imageStore: string;
  private readonly isolation: IsolationSetting;
  private readonly ledger: CrashLedger | undefined;

  constructor(opts: ContainerLauncherOptions) {
    this.imageStore = opts.imageStore;
    this.isolation = opts.isolation;
    this.ledger = opts.ledgerFile ? new CrashLedger(opts.ledgerFile) : undefined;
  }

  /**
   * How `imageUri` would run here. Docker when an engine answers (for a local
   * image only when Docker has an image of that name); otherwise the local
   * snapshot as a process. Throws with the reason when it cannot run at all.
   */
  async modeFor(imageUri: string): Promise<{ mode: IsolationMode; snapshotDir?: string }> {
    const local = parseLocalImageUri(imageUri);
    const snapshotDir = local ? await resolveLocalImage(imageUri, this.imageStore) : undefined;
    const setting = this.isolation;

    if (setting === 'docker') {
      if (!(await dockerAvailable())) {
        throw new ContainerStartError(`CHAMP_LOCAL_ISOLATION=docker, but no Docker engine answers (docker info failed)`);
      }
      return { mode: 'docker' };
    }
    if (setting === 'auto' && (await dockerAvailable())) {
      if (!local || !snapshotDir || (await dockerHasImage(imageUri))) return { mode: 'docker' };
    }
    if (!snapshotDir) {
      if (local) {
        throw new ContainerStartError(
          `image ${imageUri} is not in the local image store (${this.imageStore}): build it first (snapshotContext) or check CHAMP_IMAGE_STORE`,
        );
      }
      if (setting === 'auto') {
        throw new ContainerStartError(`image ${imageUri} is not in the local image store and no Docker engine answers`);
      }
      throw new ContainerStartError(
        `image ${imageUri} is not in the local image store, and CHAMP_LOCAL_ISOLATION=${setting} runs only local images (champ.local/...): build it locally or use a Docker engine`,
      );
    }
    if (setting === 'namespace') {
      if (!(await namespaceIsolationAvailable())) {
        throw new ContainerStartError(
          'CHAMP_LOCAL_ISOLATION=namespace, but a private mount namespace is not available here (needs Linux, root and a working `unshare --mount`); use env',
        );
      }
      return { mode: 'namespace', snapshotDir };
    }
    if (setting === 'env') return { mode: 'env', snapshotDir };
    return { mode: (await namespaceIsolationAvailable()) ? 'namespace' : 'env', snapshotDir };
  }

  async start(req: StartContainerRequest): Promise<RunningContainer> {
    const { mode, snapshotDir } = await this.modeFor(req.imageUri);
    const optMlDir = path.resolve(req.optMlDir);
    await fsp.mkdir(path.dirname(req.logFile), { recursive: true });
    const plan = mode === 'docker' ? dockerPlan(req, optMlDir) : await processPlan(req, optMlDir, mode, snapshotDir!);

    const log = createWriteStream(req.logFile, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      log.once('open', () => resolve());
      log.once('error', reject);
    });
    const child = spawn(plan.file, plan.args, { cwd: plan.cwd, env: plan.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    }).catch((err: Error) => {
      log.end();
      throw new ContainerStartError(`could not start ${req.command} for image ${req.imageUri}: ${err.message}`);
    });
    this.ledger?.add(pid, plan.dockerName);
    return new ContainerProcess({
      child,
      pid,
      mode,
      logFile: req.logFile,
      log,
      ...(req.onLine ? { onLine: req.onLine } : {}),
      ...(plan.dockerName ? { dockerName: plan.dockerName } : {}),
      onGone: () => this.ledger?.remove(pid),
    });
  }
}

function dockerPlan(req: StartContainerRequest, optMlDir: string): SpawnPlan {
  const dockerName = `champ-${req.name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  const args = ['run', '--rm', '--name', dockerName, '-v', `${optMlDir}:${CONTAINER_OPT_ML}`];
  if (req.port !== undefined) args.push('-p', `127.0.0.1:${req.port}:${DOCKER_SERVE_PORT}`);
  for (const [k, v] of Object.entries(dockerContainerEnv(req))) args.push('-e', `${k}=${v}`);
  args.push(req.imageUri, req.command);
  return { file: 'docker', args, env: inheritedEnv(), dockerName };
}

async function processPlan(req: StartContainerRequest, optMlDir: string, mode: 'namespace' | 'env', snapshotDir: string): Promise<SpawnPlan> {
  const program = await findProgram(snapshotDir, req.command, req.imageUri);
  const programDir = path.dirname(program);
  const env = processContainerEnv(req, optMlDir, programDir);
  if (mode === 'env') return { file: program, args: [req.command], env, cwd: programDir };
  return {
    file: 'unshare',
    // The script is constant; paths travel as positional arguments, never spliced into it.
    args: [
      '--mount', '--propagation', 'private', '--',
      'sh', '-c', 'mount --bind "$1" "$2" || exit 125; shift 2; exec "$@"',
      'champ-container', optMlDir, CONTAINER_OPT_ML, program, req.command,
    ],
    env,
    cwd: programDir,
  };
}

/** `program/<cmd>` as in SageMaker's example layout, else `<cmd>` at the context's root. */
async function findProgram(snapshotDir: string, command: ContainerCommand, imageUri: string): Promise<string> {
  for (const candidate of [path.join(snapshotDir, 'program', command), path.join(snapshotDir, command)]) {
    try {
      const st = await fsp.stat(candidate);
      if (!st.isFile()) continue;
    } catch {
      continue;
    }
    try {
      await fsp.access(candidate, fsConstants.X_OK);
    } catch {
      throw new ContainerStartError(
        `image ${imageUri}: ${path.relative(snapshotDir, candidate)} is not executable; make it executable (chmod +x) in the build context and build again`,
      );
    }
    return candidate;
  }
  throw new ContainerStartError(
    `image ${imageUri} has no ${command} program: put an executable program/${command} (or ${command}) in the build context`,
  );
}
