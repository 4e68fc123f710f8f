// What the docker-layer tests share: the docker CLI run to its end, and why the
// engine cannot be used (the tests then report themselves skipped with it).
import { spawnSync } from 'node:child_process';

export interface DockerRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function docker(args: string[], timeoutMs = 120_000): DockerRun {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.error ? r.error.message : (r.stderr ?? '') };
}

export const lastLine = (text: string): string => text.trim().split('\n').pop() ?? '';

/** Why no engine can be used, or undefined when `docker info` answers. */
export function engineMissing(): string | undefined {
  const r = docker(['info', '--format', '{{.ServerVersion}}'], 15_000);
  if (r.status === 0) return undefined;
  return `no Docker engine answers (docker info: ${lastLine(r.stderr) || `exit ${String(r.status)}`}); scripts/engine/ensure.sh starts one as root on Debian`;
}
