// The Docker engine as the launcher uses it: images checked (and pulled) before a
// container is made, containers labelled with who made them, and the sweep that
// finds exactly this control plane's containers after it was killed.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { processStartTicks } from './proc';

export const LABEL_PREFIX = 'org.champ.local';
/** The control plane instance: its state folder, so a restart on the same folder finds its predecessor's containers. */
export const PLANE_LABEL = `${LABEL_PREFIX}.plane`;
const OWNER_PID_LABEL = `${LABEL_PREFIX}.owner-pid`;
const OWNER_START_LABEL = `${LABEL_PREFIX}.owner-start`;

/** What a container is for: a training job, or a variant of an endpoint. */
export interface ContainerOwner {
  kind: 'training-job' | 'endpoint' | 'transform-job' | 'processing-job';
  /** The job's or the endpoint's name. */
  name: string;
  variant?: string;
}

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a docker command to its end (bounded), never throwing: a missing client is exit null and its error as stderr. */
export function docker(args: string[], timeoutMs = 60_000): Promise<DockerResult> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      stderr += `\n(docker ${args[0] ?? ''} did not finish within ${Math.round(timeoutMs / 1000)} s)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The plane id of a control plane whose crash ledger is `ledgerFile` (one per state folder). */
export function planeIdFor(ledgerFile: string): string {
  return createHash('sha256').update(path.resolve(ledgerFile)).digest('hex').slice(0, 16);
}

/** `--label` arguments naming the plane, the live control plane process, and the owner. */
export function labelArgs(planeId: string, owner: ContainerOwner | undefined): string[] {
  const labels: Record<string, string> = {
    [PLANE_LABEL]: planeId,
    [OWNER_PID_LABEL]: String(process.pid),
    [OWNER_START_LABEL]: processStartTicks(process.pid) ?? '',
  };
  if (owner) {
    labels[`${LABEL_PREFIX}.kind`] = owner.kind;
    labels[`${LABEL_PREFIX}.${owner.kind}`] = owner.name;
    if (owner.variant !== undefined) labels[`${LABEL_PREFIX}.variant`] = owner.variant;
  }
  return Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
}

/** The last non-empty line of docker's error output, which is where it says why. */
function reason(r: DockerResult): string {
  const lines = r.stderr.trim().split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1]?.replace(/^Error( response from daemon)?:\s*/i, '') ?? `exit ${String(r.code)}`;
}

/**
 * Makes sure the engine has `imageUri`: present, or pulled now. Returns undefined
 * when it has, else why not in words that name the image (SageMaker's ClientError).
 */
export async function ensureImage(imageUri: string, localRegistry: string, pullTimeoutMs = 600_000): Promise<string | undefined> {
  if ((await docker(['image', 'inspect', '--format', '{{.Id}}', imageUri], 30_000)).code === 0) return undefined;
  if (imageUri.startsWith(`${localRegistry}/`)) {
    return `Requested image ${imageUri} not found: it is a local image and this Docker engine has no image of that name; build it first (the pipeline's build stage does)`;
  }
  const pulled = await docker(['pull', '--quiet', imageUri], pullTimeoutMs);
  if (pulled.code === 0) return undefined;
  return `Requested image ${imageUri} not found: it is not on this Docker engine and docker pull failed (${reason(pulled)}); check the name and tag, push it, or log the engine in to its registry`;
}

/** The words docker said when a command failed. */
export function dockerFailure(r: DockerResult): string {
  return reason(r);
}

/** A container of a control plane that is gone, as found by its labels. */
export interface OrphanContainer {
  name: string;
  running: boolean;
  /** The training job it runs, when it is a training container. */
  trainingJob?: string;
}

/** The containers of plane `planeId` whose control plane process is gone (a SIGKILL, an OOM). Synchronous, bounded. */
export function listOrphanContainers(planeId: string): OrphanContainer[] {
  const listed = spawnSync(
    'docker',
    [
      'ps', '-a', '--filter', `label=${PLANE_LABEL}=${planeId}`, '--format',
      `{{.Names}}\t{{.Label "${OWNER_PID_LABEL}"}}\t{{.Label "${OWNER_START_LABEL}"}}\t{{.State}}\t{{.Label "${LABEL_PREFIX}.training-job"}}`,
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (listed.status !== 0 || !listed.stdout) return [];
  return listed.stdout
    .split('\n')
    .map((l) => l.split('\t'))
    .filter(([name, pid, start]) => name && !(pid && start && processStartTicks(Number(pid)) === start))
    .map(([name, , , state, job]) => ({ name: name as string, running: state === 'running', ...(job ? { trainingJob: job } : {}) }));
}

/**
 * Removes the containers of plane `planeId` whose control plane process is gone
 * (a SIGKILL, an OOM), found by label: also those made just before the crash,
 * before any ledger recorded them; all but those named in `keep` (training
 * containers the restarted control plane re-attaches to). Synchronous, bounded;
 * returns their names.
 */
export function removeOrphanContainers(planeId: string, keep: ReadonlySet<string> = new Set()): string[] {
  const orphans = listOrphanContainers(planeId)
    .map((c) => c.name)
    .filter((name) => !keep.has(name));
  if (orphans.length > 0) spawnSync('docker', ['rm', '-f', ...orphans], { stdio: 'ignore', timeout: 30_000 });
  return orphans;
}
