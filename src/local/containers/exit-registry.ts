// Every live container of this process, so that the control plane's exit
// (normal, or by SIGINT/SIGTERM/SIGHUP) takes them down with it: Node has no
// PR_SET_PDEATHSIG, so children outlive us unless we kill them on the way out.
import { spawnSync } from 'node:child_process';

export interface LiveContainer {
  readonly pid: number;
  /** Set when the container runs under Docker: its process group is the client's, the container is the engine's. */
  readonly dockerName: string | undefined;
  killGroup(signal: NodeJS.Signals): void;
}

const live = new Set<LiveContainer>();
let exitHandlersInstalled = false;

export function addLive(container: LiveContainer): void {
  installExitHandlers();
  live.add(container);
}

export function removeLive(container: LiveContainer): void {
  live.delete(container);
}

export function liveContainerPids(): number[] {
  return [...live].map((c) => c.pid);
}

/** Kills every live container right now (synchronous, for exit paths). */
export function killAllContainersSync(): void {
  const dockerNames: string[] = [];
  for (const c of live) {
    c.killGroup('SIGKILL');
    if (c.dockerName) dockerNames.push(c.dockerName);
  }
  removeDockerContainers(dockerNames);
}

/** `docker rm -f` of those containers, waiting at most 10 s. */
export function removeDockerContainers(names: string[]): void {
  if (names.length > 0) spawnSync('docker', ['rm', '-f', ...names], { stdio: 'ignore', timeout: 10_000 });
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
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
