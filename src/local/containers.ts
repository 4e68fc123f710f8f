// Runs an image's `train` or `serve`: with Docker when an engine answers,
// otherwise as a process from the local image store's snapshot, given /opt/ml
// through a private mount namespace when the OS allows and always through the
// SageMaker toolkit's SM_* variables. Every process gets its own process group,
// is killed as a group, and is tracked so that the control plane's exit kills it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, createWriteStream, promises as fsp, readFileSync, renameSync, writeFileSync, type WriteStream } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { defaultImageStore, parseLocalImageUri, resolveLocalImage } from './image-store';

export type IsolationMode = 'docker' | 'namespace' | 'env';
export type IsolationSetting = 'auto' | IsolationMode;
export type ContainerCommand = 'train' | 'serve';

/** Where /opt/ml is inside the container (Docker, namespace) and what SM_* point at. */
export const CONTAINER_OPT_ML = '/opt/ml';
/** Port a container serves on inside Docker; the host side is the request's port. */
const DOCKER_SERVE_PORT = 8080;
const LOG_TAIL_LINES = 50;
const MAX_LINE_CHARS = 64 * 1024;

export interface ContainerLauncherOptions {
  /** Image store root; defaults to `defaultImageStore()`. */
  imageStore?: string;
  /** Defaults to `$CHAMP_LOCAL_ISOLATION`, else 'auto' (Docker if it answers, else namespace if it works, else env). */
  isolation?: IsolationSetting;
  /**
   * A file listing this launcher's live processes, so that after a crash
   * (SIGKILL, OOM) of the control plane the next start can kill what the
   * crash orphaned (`reapOrphans`). None by default.
   */
  ledgerFile?: string;
}

export interface StartContainerRequest {
  imageUri: string;
  command: ContainerCommand;
  /** The host folder that is this container's /opt/ml. */
  optMlDir: string;
  /** The image's environment (CreateTrainingJob Environment, the model's Environment). */
  environment: Record<string, string>;
  /** Combined stdout and stderr are appended here. */
  logFile: string;
  /** A label for logs and the Docker container's name. */
  name: string;
  /** serve: the loopback port the server must answer on. */
  port?: number;
  /** train: channel names and hyperparameters for SM_CHANNELS, SM_CHANNEL_*, SM_HPS, SM_HP_*. */
  channels?: string[];
  hyperParameters?: Record<string, string>;
  /** Called for every complete line of output. */
  onLine?: (line: string) => void;
}

export interface ContainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningContainer {
  readonly pid: number;
  readonly mode: IsolationMode;
  readonly logFile: string;
  /** Resolves once the process has ended and its output is flushed to the log. */
  readonly exited: Promise<ContainerExit>;
  isAlive(): boolean;
  /** The last lines of output (at most 50). */
  lastLines(count?: number): string[];
  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves when it has ended. */
  stop(graceMs?: number): Promise<ContainerExit>;
}

export class ContainerStartError extends Error {
  override readonly name = 'ContainerStartError';
}

// ---------------------------------------------------------------------------
// Capability checks, made once per process.

let dockerCheck: Promise<boolean> | undefined;
let namespaceCheck: Promise<boolean> | undefined;

/** Whether `docker info` succeeds (an engine answers, not just a client). Cached. */
export function dockerAvailable(): Promise<boolean> {
  dockerCheck ??= new Promise<boolean>((resolve) => {
    const child = spawn('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
  return dockerCheck;
}

/**
 * Whether a private mount namespace can give a process its own /opt/ml:
 * Linux, root, `unshare` present, and a bind mount inside it really works
 * (containers and seccomp profiles often forbid it). Creates /opt/ml on the
 * host when missing, as the mount point. Cached.
 */
export function namespaceIsolationAvailable(): Promise<boolean> {
  namespaceCheck ??= probeNamespace();
  return namespaceCheck;
}

async function probeNamespace(): Promise<boolean> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  let probeDir: string | undefined;
  try {
    await fsp.mkdir(CONTAINER_OPT_ML, { recursive: true });
    probeDir = await fsp.mkdtemp(path.join(tmpdir(), 'champ-ns-probe-'));
    await fsp.writeFile(path.join(probeDir, 'probe'), 'ok');
    const result = spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" "$2" && test -f "$2/probe"', 'champ-ns-probe', probeDir, CONTAINER_OPT_ML],
      { stdio: 'ignore', timeout: 10_000 },
    );
    return result.status === 0;
  } catch {
    return false;
  } finally {
    if (probeDir) await fsp.rm(probeDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** What this machine offers; the control plane calls it at startup to log it and warm the caches. */
export async function detectCapabilities(): Promise<{ docker: boolean; namespace: boolean }> {
  const [docker, namespace] = await Promise.all([dockerAvailable(), namespaceIsolationAvailable()]);
  return { docker, namespace };
}

/** For tests: forget the cached capability answers. */
export function resetCapabilityCache(): void {
  dockerCheck = undefined;
  namespaceCheck = undefined;
}

export function isolationFromEnv(env: NodeJS.ProcessEnv = process.env): IsolationSetting {
  const raw = env.CHAMP_LOCAL_ISOLATION?.trim();
  if (!raw) return 'auto';
  if (raw === 'auto' || raw === 'docker' || raw === 'namespace' || raw === 'env') return raw;
  throw new Error(`CHAMP_LOCAL_ISOLATION="${raw}" is not a mode: use auto, docker, namespace or env`);
}

// ---------------------------------------------------------------------------
// The SageMaker toolkit's variables.

/** SM_* variables pointing at `optMl` (the job's own folder, or /opt/ml inside Docker). */
export function sageMakerToolkitEnv(
  optMl: string,
  opts: { channels?: string[]; hyperParameters?: Record<string, string> } = {},
): Record<string, string> {
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

// ---------------------------------------------------------------------------
// The registry of live containers, killed when the control plane exits.

const live = new Set<ContainerProcess>();
let exitHandlersInstalled = false;

/** Kills every live container right now (synchronous, for exit paths). */
export function killAllContainersSync(): void {
  const dockerNames: string[] = [];
  for (const c of live) {
    c.killGroup('SIGKILL');
    if (c.dockerName) dockerNames.push(c.dockerName);
  }
  if (dockerNames.length > 0) {
    spawnSync('docker', ['rm', '-f', ...dockerNames], { stdio: 'ignore', timeout: 10_000 });
  }
}

/** Stops every live container (SIGTERM, grace, SIGKILL). */
export async function stopAllContainers(graceMs = 5_000): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(graceMs)));
}

export function liveContainerPids(): number[] {
  return [...live].map((c) => c.pid);
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  // Node has no PR_SET_PDEATHSIG, so children outlive us unless we kill them on the way out.
  process.once('exit', killAllContainersSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      killAllContainersSync();
      // When nobody else handles the signal, keep its default meaning: terminate.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

// ---------------------------------------------------------------------------
// The ledger of live processes, for the crash that no exit handler sees.

export interface LedgerEntry {
  pid: number;
  /** The process's start time (Linux /proc/<pid>/stat field 22): a pid reused by a stranger has another. */
  startTicks: string | null;
  dockerName?: string;
  /** The control plane that started it: while that one lives, its processes are not orphans. */
  owner: number;
  ownerStartTicks: string | null;
}

/** The start time of a live process, or null when it is gone (a zombie is gone too) or there is no /proc. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A dead process whose parent has not reaped it yet (inits that never reap exist) still has its /proc entry.
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function readLedger(file: string): LedgerEntry[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return Array.isArray(parsed) ? (parsed as LedgerEntry[]).filter((e) => typeof e?.pid === 'number') : [];
  } catch {
    return [];
  }
}

function writeLedger(file: string, entries: LedgerEntry[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(entries));
  renameSync(tmp, file);
}

/**
 * Kills the process groups a crashed control plane left behind, as listed in
 * its ledger, then empties the ledger. A pid is killed only while it is
 * provably the same process (same start time), never a stranger that reused
 * the number; without /proc nothing can be proven and nothing is killed.
 * Returns the pids killed.
 */
export function reapOrphans(ledgerFile: string): number[] {
  const killed: number[] = [];
  const dockerNames: string[] = [];
  const kept: LedgerEntry[] = [];
  for (const e of readLedger(ledgerFile)) {
    if (typeof e.owner === 'number' && e.ownerStartTicks !== null && processStartTicks(e.owner) === e.ownerStartTicks) {
      // Another control plane on this state folder, still running: its processes are its own.
      kept.push(e);
      continue;
    }
    if (e.dockerName) dockerNames.push(e.dockerName);
    if (e.startTicks === null || processStartTicks(e.pid) !== e.startTicks) continue;
    try {
      process.kill(-e.pid, 'SIGKILL');
      killed.push(e.pid);
    } catch {
      // Gone meanwhile.
    }
  }
  if (dockerNames.length > 0) spawnSync('docker', ['rm', '-f', ...dockerNames], { stdio: 'ignore', timeout: 10_000 });
  try {
    writeLedger(ledgerFile, kept);
  } catch {
    // No state folder yet: nothing was recorded either.
  }
  return killed;
}

// ---------------------------------------------------------------------------

class ContainerProcess implements RunningContainer {
  readonly exited: Promise<ContainerExit>;
  private alive = true;
  private readonly tail: string[] = [];
  private readonly partial: Record<'out' | 'err', string> = { out: '', err: '' };
  // Per stream, so a multi-byte character split across chunks decodes whole.
  private readonly decoders = { out: new StringDecoder('utf8'), err: new StringDecoder('utf8') };

  constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly mode: IsolationMode,
    readonly logFile: string,
    private readonly log: WriteStream,
    private readonly onLine: ((line: string) => void) | undefined,
    readonly dockerName: string | undefined,
    onGone: () => void = () => undefined,
  ) {
    live.add(this);
    child.stdout!.on('data', (chunk: Buffer) => this.output('out', chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.output('err', chunk));
    this.exited = new Promise<ContainerExit>((resolve) => {
      let closed = false;
      child.once('close', () => {
        closed = true;
      });
      child.once('exit', (code, signal) => {
        this.alive = false;
        // A container ends when its main process does: take any leftovers down with it.
        this.killGroup('SIGKILL');
        const finish = (): void => {
          this.flushPartial();
          live.delete(this);
          onGone();
          this.log.end(() => resolve({ code, signal }));
        };
        if (closed) finish();
        else {
          // Bounded: a grandchild that escaped the group could hold the pipes open forever.
          const timer = setTimeout(finish, 2_000);
          child.once('close', () => {
            clearTimeout(timer);
            finish();
          });
        }
      });
    });
  }

  isAlive(): boolean {
    return this.alive;
  }

  lastLines(count = LOG_TAIL_LINES): string[] {
    return this.tail.slice(-count);
  }

  killGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  async stop(graceMs = 5_000): Promise<ContainerExit> {
    if (this.alive) {
      this.killGroup('SIGTERM');
      if (this.dockerName) spawn('docker', ['kill', '--signal', 'SIGTERM', this.dockerName], { stdio: 'ignore' }).on('error', () => undefined);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const first = await Promise.race([this.exited, graceOver]);
      clearTimeout(timer);
      if (first === 'timeout') {
        this.killGroup('SIGKILL');
        if (this.dockerName) spawn('docker', ['rm', '-f', this.dockerName], { stdio: 'ignore' }).on('error', () => undefined);
      }
    }
    return this.exited;
  }

  private output(stream: 'out' | 'err', chunk: Buffer): void {
    this.log.write(chunk);
    const text = this.partial[stream] + this.decoders[stream].write(chunk);
    const lines = text.split(/\r?\n/);
    let rest = lines.pop() ?? '';
    // A program that never ends its line must not grow memory without bound.
    if (rest.length > MAX_LINE_CHARS) {
      lines.push(rest);
      rest = '';
    }
    this.partial[stream] = rest;
    for (const line of lines) this.line(line);
  }

  private flushPartial(): void {
    for (const s of ['out', 'err'] as const) {
      this.partial[s] += this.decoders[s].end();
      if (this.partial[s]) this.line(this.partial[s]);
      this.partial[s] = '';
    }
  }

  private line(line: string): void {
    this.tail.push(line);
    if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
    if (this.onLine) {
      try {
        this.onLine(line);
      } catch {
        // A listener's bug must not take the container down.
      }
    }
  }
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

export class ContainerLauncher {
  readonly imageStore: string;
  private readonly isolation: IsolationSetting;
  private readonly ledgerFile: string | undefined;
  private readonly ledger = new Map<number, LedgerEntry>();

  constructor(opts: ContainerLauncherOptions = {}) {
    this.imageStore = opts.imageStore ?? defaultImageStore();
    this.isolation = opts.isolation ?? isolationFromEnv();
    this.ledgerFile = opts.ledgerFile;
  }

  private record(pid: number, entry: LedgerEntry | undefined): void {
    if (!this.ledgerFile) return;
    if (entry) this.ledger.set(pid, entry);
    else this.ledger.delete(pid);
    try {
      writeLedger(this.ledgerFile, [...this.ledger.values()]);
    } catch {
      // The ledger only helps after a crash; a write failure must not stop a container.
    }
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

    const inheritedEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !withheldFromContainers(k)) inheritedEnv[k] = v;
    }

    let file: string;
    let args: string[];
    let env: Record<string, string>;
    let cwd: string | undefined;
    let dockerName: string | undefined;

    if (mode === 'docker') {
      dockerName = `champ-${req.name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
      const containerEnv: Record<string, string> = {
        PYTHONUNBUFFERED: '1',
        ...sageMakerToolkitEnv(CONTAINER_OPT_ML, req),
        ...(req.port !== undefined ? { SAGEMAKER_BIND_TO_PORT: String(DOCKER_SERVE_PORT) } : {}),
        ...req.environment,
      };
      args = ['run', '--rm', '--name', dockerName, '-v', `${optMlDir}:${CONTAINER_OPT_ML}`];
      if (req.port !== undefined) args.push('-p', `127.0.0.1:${req.port}:${DOCKER_SERVE_PORT}`);
      for (const [k, v] of Object.entries(containerEnv)) args.push('-e', `${k}=${v}`);
      args.push(req.imageUri, req.command);
      file = 'docker';
      env = inheritedEnv;
    } else {
      const program = await findProgram(snapshotDir!, req.command, req.imageUri);
      const programDir = path.dirname(program);
      env = {
        ...inheritedEnv,
        PATH: `${programDir}${path.delimiter}${inheritedEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
        PYTHONUNBUFFERED: '1',
        // Python would otherwise write __pycache__ into the read-only snapshot.
        PYTHONDONTWRITEBYTECODE: '1',
        ...sageMakerToolkitEnv(optMlDir, req),
        ...(req.port !== undefined ? { SAGEMAKER_BIND_TO_PORT: String(req.port), SAGEMAKER_BIND_HOST: '127.0.0.1' } : {}),
        ...req.environment,
      };
      cwd = programDir;
      if (mode === 'namespace') {
        file = 'unshare';
        // The script is constant; paths travel as positional arguments, never spliced into it.
        args = [
          '--mount', '--propagation', 'private', '--',
          'sh', '-c', 'mount --bind "$1" "$2" || exit 125; shift 2; exec "$@"',
          'champ-container', optMlDir, CONTAINER_OPT_ML, program, req.command,
        ];
      } else {
        file = program;
        args = [req.command];
      }
    }

    const log = createWriteStream(req.logFile, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      log.once('open', () => resolve());
      log.once('error', reject);
    });
    const child = spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    }).catch((err: Error) => {
      log.end();
      throw new ContainerStartError(`could not start ${req.command} for image ${req.imageUri}: ${err.message}`);
    });
    installExitHandlers();
    this.record(pid, {
      pid,
      startTicks: processStartTicks(pid),
      ...(dockerName ? { dockerName } : {}),
      owner: process.pid,
      ownerStartTicks: processStartTicks(process.pid),
    });
    return new ContainerProcess(child, pid, mode, req.logFile, log, req.onLine, dockerName, () => this.record(pid, undefined));
  }
}

async function dockerHasImage(imageUri: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('docker', ['image', 'inspect', imageUri], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
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
