// What this machine offers for running containers, asked once per process:
// a Docker engine, and a private mount namespace that can give a process its own /opt/ml.
import { spawn, spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CONTAINER_OPT_ML, CONTAINER_PROGRAM_DIR } from './sagemaker-env';

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

/** Whether the Docker engine has an image of that name (not cached: builds add images). */
export function dockerHasImage(imageUri: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('docker', ['image', 'inspect', imageUri], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

/**
 * Whether private mount and PID namespaces can give a process its own /opt/ml,
 * /opt/program, /tmp and /proc: Linux, root, `unshare` and `bash` present, and
 * a bind mount inside them really works (containers and seccomp profiles often
 * forbid it). Creates /opt/ml and /opt/program on the host when missing, as
 * mount points. Cached.
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
    await fsp.mkdir(CONTAINER_PROGRAM_DIR, { recursive: true });
    probeDir = await fsp.mkdtemp(path.join(tmpdir(), 'champ-ns-probe-'));
    await fsp.writeFile(path.join(probeDir, 'probe'), 'ok');
    const result = spawnSync(
      'unshare',
      [
        '--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', '--',
        'bash', '-c', 'mount --bind "$1" "$2" && test -f "$2/probe" && test "$$" = 1', 'champ-ns-probe', probeDir, CONTAINER_OPT_ML,
      ],
      { stdio: 'ignore', timeout: 10_000 },
    );
    return result.status === 0;
  } catch {
    return false;
  } finally {
    if (probeDir) await fsp.rm(probeDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** One line for the control plane's start: what CHAMP_LOCAL_ISOLATION means on this machine. */
export async function describeIsolation(setting: 'auto' | 'docker' | 'namespace' | 'env'): Promise<string> {
  const engine = await dockerAvailable();
  const ns = await namespaceIsolationAvailable();
  const processMode = ns ? 'namespace (own mount and PID namespaces, /opt/ml, /tmp)' : 'env (host processes with SM_* variables; no isolation)';
  switch (setting) {
    case 'docker':
      return `isolation: docker${engine ? '' : ' (no Docker engine answers: every container will fail to start)'}`;
    case 'namespace':
      return `isolation: namespace${ns ? '' : ' (not available here: every container will fail to start)'}`;
    case 'env':
      return 'isolation: env (host processes with SM_* variables; no isolation)';
    default:
      return engine
        ? `isolation: auto -> docker (an engine answers); a local image the engine lacks runs in process mode: ${processMode}`
        : `isolation: auto -> ${processMode} (no Docker engine answers)`;
  }
}
