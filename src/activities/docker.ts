// Docker behind a small interface: the build activity scripts it in tests and
// spawns the real client (an argument array, never a shell) in production.
import { spawn } from 'node:child_process';

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
