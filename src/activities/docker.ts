// Docker behind a small interface: the build activity scripts it in tests and
// spawns the real client (an argument array, never a shell) in production.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';

export interface DockerRunOptions {
  /** Written to the child's stdin, then closed (the registry password for `login --password-stdin`). */
  stdin?: string;
  /** Each output line (stdout and stderr) as it arrives. */
  onLine?: (line: string) => void;
  /** Kills the child when aborted (activity cancellation). */
  signal?: AbortSignal;
  /** Kills the child after this long. */
  timeoutMs?: number;
  /** Extra environment for the child (DOCKER_CONFIG for a private credential store). */
  env?: Record<string, string>;
}

export interface DockerResult {
  /** The exit code; -1 when the client could not be started or was killed. */
  code: number;
  /** The last lines of combined output, for error messages. */
  output: string;
}

export interface DockerRunner {
  run(args: readonly string[], options?: DockerRunOptions): Promise<DockerResult>;
}

const KEPT_LINES = 60;

export function spawnDockerRunner(bin: string = process.env.CHAMP_DOCKER_BIN || 'docker'): DockerRunner {
  return {
    run(args, options = {}) {
      return new Promise<DockerResult>((resolve) => {
        const tail: string[] = [];
        const keep = (line: string): void => {
          tail.push(line);
          if (tail.length > KEPT_LINES) tail.shift();
          options.onLine?.(line);
        };
        let settled = false;
        const finish = (code: number, extra?: string): void => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          if (extra) keep(extra);
          resolve({ code, output: tail.join('\n') });
        };
        const child = spawn(bin, [...args], {
          shell: false,
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, ...(options.env ?? {}) },
        });
        const onAbort = (): void => {
          child.kill('SIGTERM');
          finish(-1, `docker ${args[0] ?? ''} cancelled`);
        };
        const timer = options.timeoutMs
          ? setTimeout(() => {
              child.kill('SIGKILL');
              finish(-1, `docker ${args[0] ?? ''} timed out after ${options.timeoutMs} ms`);
            }, options.timeoutMs)
          : undefined;
        if (options.signal?.aborted) onAbort();
        else options.signal?.addEventListener('abort', onAbort, { once: true });
        for (const stream of [child.stdout, child.stderr]) {
          let partial = '';
          stream.setEncoding('utf8');
          stream.on('data', (chunk: string) => {
            partial += chunk;
            const lines = partial.split(/\r?\n/);
            partial = lines.pop() ?? '';
            for (const l of lines) if (l.trim()) keep(l);
          });
          stream.on('end', () => {
            if (partial.trim()) keep(partial);
          });
        }
        child.on('error', (err: NodeJS.ErrnoException) => {
          finish(-1, err.code === 'ENOENT' ? `the docker client "${bin}" is not installed or not on PATH` : err.message);
        });
        child.on('close', (code) => finish(code ?? -1));
        child.stdin.on('error', () => undefined);
        child.stdin.end(options.stdin ?? '');
      });
    },
  };
}

/** The Docker client's settings that name a credential store; a private one for a push must not use any of them. */
const CREDENTIAL_SETTINGS = ['auths', 'credsStore', 'credHelpers'];

export interface PrivateDockerConfig {
  /** Environment for docker login and push: DOCKER_CONFIG, and DOCKER_CERT_PATH when the user's engine takes TLS from the config folder. */
  env: Record<string, string>;
  remove(): Promise<void>;
}

/**
 * A fresh DOCKER_CONFIG for one push, so the registry token never lands in the
 * user's credential store, that still reaches the user's engine: the user's
 * config.json without its credential settings (currentContext and the rest
 * kept), their contexts through a link, and their TLS files when DOCKER_TLS_VERIFY
 * reads them from the config folder. DOCKER_HOST and DOCKER_CONTEXT pass through as they are.
 */
export async function privateDockerConfig(env: NodeJS.ProcessEnv = process.env): Promise<PrivateDockerConfig> {
  const userDir = env.DOCKER_CONFIG || path.join(homedir(), '.docker');
  const dir = await mkdtemp(path.join(tmpdir(), 'champ-docker-'));
  const remove = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    const text = await readFile(path.join(userDir, 'config.json'), 'utf8').catch(() => undefined);
    let settings: Record<string, unknown> = {};
    if (text !== undefined) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) settings = parsed as Record<string, unknown>;
      } catch {
        // An unreadable config.json is the Docker client's to report on the user's own commands, not this push's.
      }
    }
    for (const k of CREDENTIAL_SETTINGS) delete settings[k];
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(settings), { mode: 0o600 });
    await symlink(path.join(userDir, 'contexts'), path.join(dir, 'contexts')).catch(() => undefined);
    const childEnv: Record<string, string> = { DOCKER_CONFIG: dir };
    if (env.DOCKER_TLS_VERIFY && !env.DOCKER_CERT_PATH) childEnv.DOCKER_CERT_PATH = userDir;
    return { env: childEnv, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
