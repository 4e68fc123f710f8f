// Runs a processing job's container as SageMaker does: each input copied to its
// /opt/ml/processing/... LocalPath, the entrypoint and arguments run, each
// output's LocalPath copied to its S3Uri when the job completes, ExitMessage
// from /opt/ml/output/message, MaxRuntimeInSeconds enforced.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ContainerStartError, type ContainerLauncher, type RunningContainer } from './containers';
import { fileUriToPath } from './runtime';

/** SageMaker's FailureReason and ExitMessage are at most 1 KB. */
const MESSAGE_MAX = 1024;
const FAILURE_LOG_LINES = 10;
/** Where every LocalPath must be, in the container. */
export const PROCESSING_ROOT = '/opt/ml/processing';

export interface ProcessingRunRequest {
  jobName: string;
  imageUri: string;
  /** The job's own folder; the runner lays out `opt/ml` inside it. */
  jobDir: string;
  logFile: string;
  entrypoint?: string[];
  arguments?: string[];
  environment: Record<string, string>;
  /** file:// sources copied to LocalPath (under /opt/ml/processing) before the program starts. */
  inputs: Array<{ name: string; uri: string; localPath: string }>;
  /** LocalPath (under /opt/ml/processing) copied to the file:// destination once the program completes. */
  outputs: Array<{ name: string; uri: string; localPath: string }>;
  instanceType: string;
  maxRuntimeSeconds: number;
  /** Written to /opt/ml/config/processingjobconfig.json, as SageMaker does (the create request). */
  jobConfig: Record<string, unknown>;
}

export interface ProcessingOutcome {
  status: 'Completed' | 'Failed' | 'Stopped';
  failureReason?: string;
  /** The first KB of /opt/ml/output/message, whatever the ending. */
  exitMessage?: string;
}

export interface ProcessingRunner {
  /** Starts the run; resolves once it has ended, whatever the outcome. Never rejects. */
  run(req: ProcessingRunRequest): Promise<ProcessingOutcome>;
  /** Asks a running job to stop (SIGTERM, then SIGKILL); its run() then resolves Stopped. */
  stop(jobName: string): Promise<void>;
  shutdown(): Promise<void>;
}

interface ActiveRun {
  stopRequested: boolean;
  container?: RunningContainer;
  done: Promise<ProcessingOutcome>;
}

class ClientError extends Error {}

const cut = (text: string): string => (text.length <= MESSAGE_MAX ? text : `${text.slice(0, MESSAGE_MAX - 3)}...`);

/** The host path of a container path under /opt/ml (LocalPath is checked to lie under /opt/ml/processing). */
export function hostPathOf(optMl: string, containerPath: string): string {
  const rel = path.posix.relative('/opt/ml', path.posix.normalize(containerPath));
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) throw new ClientError(`${containerPath} is not under /opt/ml`);
  return path.join(optMl, ...rel.split('/'));
}

export class LocalProcessingRunner implements ProcessingRunner {
  private readonly runs = new Map<string, ActiveRun>();

  constructor(private readonly opts: { launcher: ContainerLauncher; stopGraceMs?: number }) {}

  run(req: ProcessingRunRequest): Promise<ProcessingOutcome> {
    const existing = this.runs.get(req.jobName);
    if (existing) return existing.done;
    const active: ActiveRun = { stopRequested: false, done: Promise.resolve(undefined as never) };
    active.done = this.execute(req, active).finally(() => this.runs.delete(req.jobName));
    this.runs.set(req.jobName, active);
    return active.done;
  }

  async stop(jobName: string): Promise<void> {
    const active = this.runs.get(jobName);
    if (!active || active.stopRequested) return;
    active.stopRequested = true;
    await active.container?.stop(this.opts.stopGraceMs ?? 5_000);
  }

  async shutdown(): Promise<void> {
    const all = [...this.runs.entries()];
    await Promise.all(all.map(([name]) => this.stop(name)));
    await Promise.all(all.map(([, r]) => r.done.catch(() => undefined)));
  }

  private async execute(req: ProcessingRunRequest, active: ActiveRun): Promise<ProcessingOutcome> {
    const optMl = path.join(path.resolve(req.jobDir), 'opt', 'ml');
    const exitMessage = async (): Promise<{ exitMessage?: string }> => {
      const text = await fsp.readFile(path.join(optMl, 'output', 'message'), 'utf8').catch(() => '');
      return text.trim() ? { exitMessage: cut(text.trim()) } : {};
    };
    try {
      await fsp.rm(optMl, { recursive: true, force: true });
      for (const dir of ['config', 'output', 'processing']) await fsp.mkdir(path.join(optMl, dir), { recursive: true });
      await fsp.writeFile(path.join(optMl, 'config', 'processingjobconfig.json'), JSON.stringify(req.jobConfig));
      await fsp.writeFile(
        path.join(optMl, 'config', 'resourceconfig.json'),
        JSON.stringify({ current_host: 'algo-1', hosts: ['algo-1'], current_instance_type: req.instanceType }),
      );
      await fsp.mkdir(path.dirname(req.logFile), { recursive: true });
      await fsp.writeFile(req.logFile, '', { flag: 'a' });
      for (const input of req.inputs) await this.download(input, optMl);
      for (const output of req.outputs) await fsp.mkdir(hostPathOf(optMl, output.localPath), { recursive: true });
      if (active.stopRequested) return { status: 'Stopped' };

      let runtimeExceeded = false;
      const container = await this.opts.launcher.start({
        imageUri: req.imageUri,
        command: 'process',
        exec: { ...(req.entrypoint ? { entrypoint: req.entrypoint } : {}), ...(req.arguments ? { arguments: req.arguments } : {}) },
        optMlDir: optMl,
        environment: req.environment,
        logFile: req.logFile,
        name: req.jobName,
        owner: { kind: 'processing-job', name: req.jobName },
        instanceType: req.instanceType,
      });
      active.container = container;
      if (active.stopRequested) void container.stop(this.opts.stopGraceMs ?? 5_000);
      const timer =
        req.maxRuntimeSeconds > 0
          ? setTimeout(() => {
              if (!container.isAlive()) return;
              runtimeExceeded = true;
              void container.stop(this.opts.stopGraceMs ?? 5_000);
            }, req.maxRuntimeSeconds * 1000)
          : undefined;
      const exit = await container.exited.finally(() => clearTimeout(timer));
      const message = await exitMessage();
      if (active.stopRequested) return { status: 'Stopped', ...message };
      if (runtimeExceeded) {
        return { status: 'Failed', failureReason: `Processing job runtime exceeded MaxRuntimeInSeconds provided (${req.maxRuntimeSeconds} s)`, ...message };
      }
      if (exit.code !== 0) {
        const how = exit.code !== null ? `exited with code ${exit.code}` : `was killed by signal ${exit.signal ?? 'unknown'}`;
        const tail = container.lastLines(FAILURE_LOG_LINES).join('\n');
        return {
          status: 'Failed',
          failureReason: cut(`AlgorithmError: the processing program ${how}${tail ? `. Last log lines:\n${tail}` : ''}. Log at ${req.logFile}`),
          ...message,
        };
      }
      for (const output of req.outputs) await this.upload(output, optMl);
      return { status: 'Completed', ...message };
    } catch (err) {
      if (active.stopRequested) return { status: 'Stopped', ...(await exitMessage()) };
      const prefix = err instanceof ClientError || err instanceof ContainerStartError ? 'ClientError' : 'InternalServerError';
      const text = `${prefix}: ${(err as Error).message ?? String(err)}`;
      await fsp.appendFile(req.logFile, `\n[champ] ${text}\n`).catch(() => undefined);
      return { status: 'Failed', failureReason: cut(text) };
    }
  }

  private async download(input: ProcessingRunRequest['inputs'][number], optMl: string): Promise<void> {
    const field = `ProcessingInputs[${input.name}].S3Input.S3Uri`;
    let source: string;
    try {
      source = fileUriToPath(input.uri, field);
    } catch (err) {
      throw new ClientError((err as Error).message);
    }
    const st = await fsp.stat(source).catch(() => undefined);
    if (!st) throw new ClientError(`Data download failed: ${field} "${input.uri}" does not exist`);
    const dest = hostPathOf(optMl, input.localPath);
    await fsp.mkdir(dest, { recursive: true });
    // Copied, not linked: the program may write where it reads, and the source must stay untouched.
    if (st.isDirectory()) await fsp.cp(source, dest, { recursive: true, dereference: true });
    else await fsp.copyFile(source, path.join(dest, path.basename(source)));
  }

  private async upload(output: ProcessingRunRequest['outputs'][number], optMl: string): Promise<void> {
    const field = `ProcessingOutputConfig.Outputs[${output.name}].S3Output.S3Uri`;
    let dest: string;
    try {
      dest = fileUriToPath(output.uri, field);
    } catch (err) {
      throw new ClientError((err as Error).message);
    }
    await fsp.mkdir(dest, { recursive: true });
    await fsp.cp(hostPathOf(optMl, output.localPath), dest, { recursive: true, dereference: false });
  }
}
