// Runs an image's `train` or `serve`: with Docker when an engine answers (as
// SageMaker does: `docker run --init IMAGE train|serve`, /opt/ml mounted, the
// environment from a file, labels naming its owner), otherwise as a process from
// the local image store's snapshot: in namespace mode with its own /opt/ml,
// /opt/program, /tmp and PID namespace (so it sees no other process, the
// control plane included), in env mode through the SM_* variables alone.
// Every process leads its own process group.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, createWriteStream, openSync, promises as fsp, writeSync, type WriteStream } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { LOCAL_REGISTRY, parseLocalImageUri, resolveLocalImage } from '../../artifacts/image-store';
import type { IsolationMode, IsolationSetting } from '../config';
import { dockerAvailable, dockerHasImage, namespaceIsolationAvailable } from './capabilities';
import { ContainerProcess, type RunningContainer } from './container-process';
import { CrashLedger } from './crash-ledger';
import { makeScratchDir, sweepStaleScratch } from './scratch';
import { docker, dockerFailure, ensureImage, labelArgs, planeIdFor, type ContainerOwner } from './docker';
import { DEFAULT_PORT_RANGE, parsePortRange, PortAllocator, type PortRange } from './ports';
import { limitsForInstanceType } from './resources';
import {
  CONTAINER_OPT_ML,
  CONTAINER_PROGRAM_DIR,
  DOCKER_SERVE_PORT,
  dockerContainerEnv,
  envFileText,
  inheritedEnv,
  processContainerEnv,
  type ContainerEnvRequest,
} from './sagemaker-env';

/** `process`: a processing job, which runs `exec` (its entrypoint and arguments) instead. */
export type ContainerCommand = 'train' | 'serve' | 'process';

export interface ContainerLauncherOptions {
  /** Image store root, where `champ.local/...` images are snapshots. */
  imageStore: string;
  /** 'auto': Docker if it answers, else namespace if it works, else env. */
  isolation: IsolationSetting;
  /**
   * A file listing this launcher's live processes, so that after a crash
   * (SIGKILL, OOM) of the control plane the next start can kill what the
   * crash orphaned (`reapOrphans`). None by default. Its path also names this
   * control plane's Docker containers (their `org.champ.local.plane` label).
   */
  ledgerFile?: string;
  /** Host ports for serving containers (`ports`); default DEFAULT_PORT_RANGE. */
  portRange?: PortRange;
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
  /** Who the container is for, as Docker labels (the sweep after a crash finds it by them). */
  owner?: ContainerOwner;
  /** The SageMaker instance type: Docker's CPU and memory limits come from it (approximately). */
  instanceType?: string;
  /** Called for every complete line of output. */
  onLine?: (line: string) => void;
  /**
   * The program's stdout and stderr are the log file itself (opened for
   * append), so its output never passes through the control plane: a serving
   * container logs a line per request. Default: for `serve` without `onLine`.
   */
  ownLog?: boolean;
  /**
   * Processing jobs: run this instead of `command` (AppSpecification's
   * ContainerEntrypoint and ContainerArguments). Process mode needs an
   * entrypoint, since a snapshot has no image ENTRYPOINT to fall back on.
   */
  exec?: { entrypoint?: string[]; arguments?: string[] };
}

/**
 * The container could not start for a reason of the request (the image, its
 * programs, its environment): SageMaker reports these as ClientError.
 */
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
  /** Folders that live as long as the container (its private /tmp, its output FIFOs). */
  scratch?: string[];
  /** Its output, when not the child's own stdout and stderr. */
  streams?: { out: Readable; err: Readable };
  /** The first line of its log: how it runs. */
  describe: string;
}

const DEFAULT_RANGE = parsePortRange(DEFAULT_PORT_RANGE) as PortRange;

export class ContainerLauncher {
  readonly imageStore: string;
  /** The Docker label value that names this control plane's containers. */
  readonly planeId: string;
  /** Host ports for serving containers: take one with `ports.allocate()`, give it back with `ports.release()`. */
  readonly ports: PortAllocator;
  private readonly isolation: IsolationSetting;
  private readonly ledger: CrashLedger | undefined;

  constructor(opts: ContainerLauncherOptions) {
    this.imageStore = opts.imageStore;
    this.isolation = opts.isolation;
    this.ledger = opts.ledgerFile ? new CrashLedger(opts.ledgerFile) : undefined;
    this.planeId = opts.ledgerFile ? planeIdFor(opts.ledgerFile) : `process-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.ports = new PortAllocator(opts.portRange ?? DEFAULT_RANGE);
    // What process-mode containers of a crashed control plane left in the temp folder.
    void sweepStaleScratch();
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
    const ownLog = req.ownLog ?? (req.command === 'serve' && !req.onLine && !req.exec);
    const plan = mode === 'docker' ? await this.dockerPlan(req, optMlDir) : await processPlan(req, optMlDir, mode, snapshotDir!, ownLog);
    const removeScratch = async (): Promise<void> => {
      for (const dir of plan.scratch ?? []) await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    };
    const dropPlan = async (): Promise<void> => {
      plan.streams?.out.destroy();
      plan.streams?.err.destroy();
      if (plan.dockerName) await docker(['rm', '-f', plan.dockerName], 30_000);
      await removeScratch();
    };

    let log: WriteStream | undefined;
    let logFd: number | undefined;
    try {
      if (ownLog) {
        logFd = openSync(req.logFile, 'a', 0o644);
        // How it runs, in the container's own log: whoever reads it knows what ran.
        writeSync(logFd, `[champ] ${plan.describe}\n`);
      } else {
        log = await openLog(req.logFile);
        log.write(`[champ] ${plan.describe}\n`);
      }
    } catch (err) {
      if (logFd !== undefined) closeSync(logFd);
      await dropPlan();
      throw err;
    }
    const output = logFd ?? 'pipe';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(plan.file, plan.args, { cwd: plan.cwd, env: plan.env, detached: true, stdio: ['ignore', output, output] });
    } finally {
      // The child holds its own copy of the descriptor.
      if (logFd !== undefined) closeSync(logFd);
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    }).catch(async (err: Error) => {
      log?.end();
      await dropPlan();
      throw new Error(`could not start ${req.command} for image ${req.imageUri}: ${err.message}`);
    });
    this.ledger?.add(pid, plan.dockerName);
    return new ContainerProcess({
      child,
      pid,
      mode,
      logFile: req.logFile,
      ...(log ? { log } : {}),
      ...(req.onLine ? { onLine: req.onLine } : {}),
      ...(plan.dockerName ? { dockerName: plan.dockerName } : {}),
      ...(plan.streams ? { streams: plan.streams } : {}),
      onGone: () => {
        this.ledger?.remove(pid);
        void removeScratch();
      },
    });
  }

  /**
   * Takes up a Docker container that a killed control plane left running (a
   * training job's, kept by `reapOrphans`): `docker attach` to it, whose exit
   * is the container's. Its output while no control plane read it is not in the
   * log. Undefined when the container no longer runs.
   */
  async attach(req: { dockerName: string; logFile: string; onLine?: (line: string) => void }): Promise<RunningContainer | undefined> {
    const state = await docker(['container', 'inspect', '--format', '{{.State.Running}}', req.dockerName], 30_000);
    if (state.code !== 0 || state.stdout.trim() !== 'true') return undefined;
    const log = await openLog(req.logFile);
    log.write(`[champ] re-attached to container ${req.dockerName} after a control plane restart (its output meanwhile is not in this log)\n`);
    // No stdin, no signals passed on: stop() goes through the engine (docker stop) as for any container.
    const child = spawn('docker', ['attach', '--no-stdin', '--sig-proxy=false', req.dockerName], { env: inheritedEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    }).catch((err: Error) => {
      log.end();
      throw new Error(`could not attach to container ${req.dockerName}: ${err.message}`);
    });
    this.ledger?.add(pid, req.dockerName);
    return new ContainerProcess({
      child,
      pid,
      mode: 'docker',
      logFile: req.logFile,
      log,
      ...(req.onLine ? { onLine: req.onLine } : {}),
      dockerName: req.dockerName,
      onGone: () => this.ledger?.remove(pid),
    });
  }

  /**
   * `docker create` then `docker start --attach`: the environment goes in
   * through a file (mode 0600) deleted as soon as the container exists, so it is
   * never on a command line (`ps`, `docker inspect`'s Args). The image is there
   * or pulled first, so a missing one fails naming it.
   */
  private async dockerPlan(req: StartContainerRequest, optMlDir: string): Promise<SpawnPlan> {
    const missing = await ensureImage(req.imageUri, LOCAL_REGISTRY);
    if (missing) throw new ContainerStartError(missing);
    let envText: string;
    try {
      envText = envFileText(dockerContainerEnv(req));
    } catch (err) {
      throw new ContainerStartError((err as Error).message);
    }
    const dockerName = `champ-${req.name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
    const limits = limitsForInstanceType(req.instanceType);
    // --rm as well: a container that ends while no control plane waits on it (one was SIGKILLed) removes itself.
    const args = ['create', '--init', '--rm', '--name', dockerName, ...labelArgs(this.planeId, req.owner), '-v', `${optMlDir}:${CONTAINER_OPT_ML}`];
    if (req.port !== undefined) args.push('-p', `127.0.0.1:${req.port}:${DOCKER_SERVE_PORT}`);
    if (limits) args.push('--cpus', String(limits.cpus), '--memory', String(limits.memoryBytes));
    const envDir = await fsp.mkdtemp(path.join(tmpdir(), 'champ-env-'));
    try {
      const envFile = path.join(envDir, 'env');
      await fsp.writeFile(envFile, envText, { mode: 0o600 });
      if (req.exec) {
        const [first, ...rest] = req.exec.entrypoint ?? [];
        if (first !== undefined) args.push('--entrypoint', first);
        args.push('--env-file', envFile, req.imageUri, ...rest, ...(req.exec.arguments ?? []));
      } else {
        args.push('--env-file', envFile, req.imageUri, req.command);
      }
      const created = await docker(args, 120_000);
      if (created.code !== 0) {
        await docker(['rm', '-f', dockerName], 30_000);
        throw new ContainerStartError(`could not create a container of image ${req.imageUri}: ${dockerFailure(created)}`);
      }
    } finally {
      await fsp.rm(envDir, { recursive: true, force: true });
    }
    const limitNote = limits ? limits.note : `no CPU or memory limit (instance type ${req.instanceType ?? 'not given'} is not in the table)`;
    const published = req.port !== undefined ? `, port 8080 published on 127.0.0.1:${req.port}` : '';
    return {
      file: 'docker',
      args: ['start', '--attach', dockerName],
      env: inheritedEnv(),
      dockerName,
      describe: `isolation: docker; container ${dockerName} of image ${req.imageUri} (${req.exec ? execText(req.exec) : req.command}, --init, /opt/ml mounted${published}); ${limitNote}`,
    };
  }
}

async function openLog(file: string): Promise<WriteStream> {
  const log = createWriteStream(file, { flags: 'a' });
  await new Promise<void>((resolve, reject) => {
    log.once('open', () => resolve());
    log.once('error', reject);
  });
  return log;
}

/**
 * stdout and stderr into named pipes (`$1`, `$2`), then `exec "$@"`: Node's
 * child pipes are sockets, which a program cannot open as /dev/stdout (nginx's
 * logs, for one); a FIFO it can.
 */
const THROUGH_FIFOS = 'exec >"$1" 2>"$2" || exit 125\nshift 2\nexec "$@"';
/** The same arguments when stdout and stderr are already the log file (it opens as /dev/stdout). */
const OWN_LOG = 'shift 2\nexec "$@"';

/** Two FIFOs in a private folder, opened for reading (before the writer exists, so without blocking). */
async function outputFifos(): Promise<{ dir: string; paths: [string, string]; streams: { out: Readable; err: Readable } }> {
  const dir = await makeScratchDir('io');
  const paths: [string, string] = [path.join(dir, 'stdout'), path.join(dir, 'stderr')];
  const made = spawnSync('mkfifo', ['-m', '0600', ...paths], { stdio: 'ignore', timeout: 10_000 });
  if (made.status !== 0) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw new Error('mkfifo failed: process mode needs named pipes for the program\'s stdout and stderr');
  }
  const open = (p: string): Readable => new Socket({ fd: openSync(p, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK), readable: true, writable: false });
  return { dir, paths, streams: { out: open(paths[0]), err: open(paths[1]) } };
}

/**
 * A constant script (paths travel as positional arguments, never spliced into
 * it) that bash runs as PID 1 of a new PID namespace with its own /proc: it
 * mounts the snapshot at /opt/program (read-only), the job's folder at /opt/ml and a
 * private /tmp, then runs the program as its child, passing SIGTERM on (a PID 1
 * without a handler would ignore it) and exiting with its status.
 */
const NAMESPACE_SCRIPT = [
  // The snapshot read-only: it is the image, shared by every container of it (root would ignore its file modes).
  'mount --bind "$1" /opt/program && mount -o remount,bind,ro /opt/program && mount --bind "$2" /opt/ml && mount --bind "$3" /tmp || exit 125',
  'shift 3',
  'cd /opt/program || exit 125',
  'child=',
  'trap \'[ -n "$child" ] && kill -TERM "$child" 2>/dev/null\' TERM INT',
  '"$@" & child=$!',
  // wait returns early when a trapped signal arrives: wait again until the child is gone.
  'while :; do wait "$child"; status=$?; kill -0 "$child" 2>/dev/null || break; done',
  'exit "$status"',
].join('\n');

/**
 * Dockerfile instructions process mode cannot stand in for: any RUN but a chmod
 * (it installs packages, writes files outside the program folder) and a COPY or
 * ADD to anywhere but /opt/program. Returns the first, or undefined.
 */
export async function unfaithfulInstruction(snapshotDir: string): Promise<string | undefined> {
  const text = await fsp.readFile(path.join(snapshotDir, 'Dockerfile'), 'utf8').catch(() => '');
  // Continuation lines joined, comments dropped: one instruction a line.
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim().replace(/\s+/g, ' ')).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [word = '', ...rest] = line.split(/\s+/);
    const op = word.toUpperCase();
    if (op === 'RUN' && !/^chmod\s+[0-7+a-z,]+\s+\/opt\/program\/\S+(\s+\/opt\/program\/\S+)*$/.test(rest.join(' '))) return line;
    if ((op === 'COPY' || op === 'ADD') && !/^\/opt\/program\/?$/.test(rest[rest.length - 1] ?? '')) return line;
  }
  return undefined;
}

async function processPlan(req: StartContainerRequest, optMlDir: string, mode: 'namespace' | 'env', snapshotDir: string, ownLog = false): Promise<SpawnPlan> {
  const unfaithful = await unfaithfulInstruction(snapshotDir);
  if (unfaithful) {
    throw new ContainerStartError(
      `image ${req.imageUri} cannot run faithfully in process mode (isolation ${mode}): its Dockerfile has \`${unfaithful.slice(0, 200)}\`, ` +
        `and process mode never applies a Dockerfile (it runs ${req.command} from the build context on this host, without the image's packages or files). ` +
        'Run it under Docker: start an engine (scripts/engine/ensure.sh) and set CHAMP_LOCAL_ISOLATION=auto or docker',
    );
  }
  if (req.exec) return execPlan(req, req.exec, optMlDir, mode, snapshotDir);
  const program = await findProgram(snapshotDir, req.command, req.imageUri);
  const programDir = path.dirname(program);
  const relative = path.relative(snapshotDir, program);
  // Its own /tmp (two endpoints of one image must not share /tmp/gunicorn.sock); world-writable as /tmp is.
  const scratch = await makeScratchDir('tmp');
  await fsp.chmod(scratch, 0o1777);
  const fifos = ownLog ? undefined : await outputFifos();
  const io = fifos ? { scratch: [scratch, fifos.dir], streams: fifos.streams } : { scratch: [scratch] };
  // The script after -c is one of two fixed strings; the FIFO paths (or '-') are its positional arguments.
  const outputs = fifos ? fifos.paths : ['-', '-'];
  const shell = (...rest: string[]) => (fifos ? ['-c', THROUGH_FIFOS, 'champ-container', ...outputs, ...rest] : ['-c', OWN_LOG, 'champ-container', ...outputs, ...rest]);
  if (mode === 'env') {
    return {
      file: 'bash',
      args: shell(program, req.command),
      env: processContainerEnv(req, optMlDir, programDir, scratch),
      cwd: programDir,
      ...io,
      describe:
        `isolation: env (process mode); ${relative} of ${req.imageUri} runs as a host process with SM_* variables and TMPDIR=${scratch}; ` +
        "it shares the host's files, /tmp and process table (other processes' environments included): use docker or namespace isolation to keep it apart",
    };
  }
  return {
    file: 'bash',
    args: shell(
      'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', '--',
      'bash', '-c', NAMESPACE_SCRIPT,
      'champ-container', programDir, optMlDir, scratch, path.posix.join(CONTAINER_PROGRAM_DIR, path.basename(program)), req.command,
    ),
    env: processContainerEnv(req, CONTAINER_OPT_ML, CONTAINER_PROGRAM_DIR, '/tmp'),
    cwd: programDir,
    ...io,
    describe:
      `isolation: namespace (process mode); ${relative} of ${req.imageUri} runs as a host process in its own mount and PID namespaces ` +
      '(the snapshot at /opt/program, its own /opt/ml and /tmp, no other process visible); the Dockerfile is not applied (no RUN, ENV or packages): use docker isolation for that',
  };
}

const execText = (exec: NonNullable<StartContainerRequest['exec']>): string =>
  [...(exec.entrypoint ?? ['<image entrypoint>']), ...(exec.arguments ?? [])].join(' ').slice(0, 300);

/**
 * An entrypoint and arguments (processing) as a process from the snapshot. In
 * namespace mode the paths mean what they mean in the image (/opt/ml, the
 * snapshot at /opt/program); in env mode the words that start with /opt/ml/
 * or /opt/program/ are rewritten to the job's folder and the snapshot.
 */
async function execPlan(
  req: StartContainerRequest,
  exec: NonNullable<StartContainerRequest['exec']>,
  optMlDir: string,
  mode: 'namespace' | 'env',
  snapshotDir: string,
): Promise<SpawnPlan> {
  const entrypoint = exec.entrypoint ?? [];
  if (entrypoint.length === 0) {
    throw new ContainerStartError(
      `image ${req.imageUri} runs in process mode (isolation ${mode}), where there is no image ENTRYPOINT to fall back on: ` +
        'give AppSpecification.ContainerEntrypoint (for example ["python3", "/opt/program/evaluate.py"]), or run under Docker',
    );
  }
  const words = [...entrypoint, ...(exec.arguments ?? [])];
  const scratch = await makeScratchDir('tmp');
  await fsp.chmod(scratch, 0o1777);
  const fifos = await outputFifos();
  const io = { scratch: [scratch, fifos.dir], streams: fifos.streams };
  if (mode === 'env') {
    const rewrite = (w: string): string =>
      w === CONTAINER_OPT_ML || w.startsWith(`${CONTAINER_OPT_ML}/`)
        ? optMlDir + w.slice(CONTAINER_OPT_ML.length)
        : w === CONTAINER_PROGRAM_DIR || w.startsWith(`${CONTAINER_PROGRAM_DIR}/`)
          ? snapshotDir + w.slice(CONTAINER_PROGRAM_DIR.length)
          : w;
    return {
      file: 'bash',
      args: ['-c', THROUGH_FIFOS, 'champ-container', ...fifos.paths, ...words.map(rewrite)],
      env: processContainerEnv(req, optMlDir, snapshotDir, scratch),
      cwd: snapshotDir,
      ...io,
      describe:
        `isolation: env (process mode); \`${execText(exec)}\` of ${req.imageUri} runs as a host process, /opt/ml and /opt/program in its words rewritten to ${optMlDir} and the snapshot; ` +
        "it shares the host's files, /tmp and process table: use docker or namespace isolation to keep it apart",
    };
  }
  return {
    file: 'bash',
    args: [
      '-c', THROUGH_FIFOS, 'champ-container', ...fifos.paths,
      'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', '--',
      'bash', '-c', NAMESPACE_SCRIPT,
      'champ-container', snapshotDir, optMlDir, scratch, ...words,
    ],
    env: processContainerEnv(req, CONTAINER_OPT_ML, CONTAINER_PROGRAM_DIR, '/tmp'),
    cwd: snapshotDir,
    ...io,
    describe:
      `isolation: namespace (process mode); \`${execText(exec)}\` of ${req.imageUri} runs as a host process in its own mount and PID namespaces ` +
      '(the snapshot at /opt/program, its own /opt/ml and /tmp); the Dockerfile is not applied: use docker isolation for that',
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
