// Runs a training job's container as SageMaker would: the /opt/ml layout,
// channels copied in, metric regexes applied to the log, model.tar.gz packed at
// the output path, FailureReason from output/failure, MaxRuntimeInSeconds enforced.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tar from 'tar';
import { ContainerStartError, type ContainerLauncher, type RunningContainer } from './containers';
import { fileUriToPath, type TrainingOutcome, type TrainingProgress, type TrainingRunner, type TrainingRunRequest } from './runtime';

/** SageMaker's FailureReason is at most 1024 characters. */
const FAILURE_REASON_MAX = 1024;
const FAILURE_LOG_LINES = 10;

export interface LocalTrainingRunnerOptions {
  launcher: ContainerLauncher;
  /** Between SIGTERM and SIGKILL on stop or timeout (SageMaker gives 120 s; locally less is kinder). */
  stopGraceMs?: number;
}

interface ActiveRun {
  stopRequested: boolean;
  container?: RunningContainer;
  done: Promise<TrainingOutcome>;
  onProgress: (p: TrainingProgress) => void;
}

function truncateReason(reason: string): string {
  return reason.length <= FAILURE_REASON_MAX ? reason : `${reason.slice(0, FAILURE_REASON_MAX - 3)}...`;
}

class ClientError extends Error {}

/** What `docker attach` says when the container it was to attach to has ended meanwhile. */
const ATTACH_FAILED = /cannot attach to a stopped container|No such container/i;

export class LocalTrainingRunner implements TrainingRunner {
  private readonly launcher: ContainerLauncher;
  private readonly stopGraceMs: number;
  private readonly runs = new Map<string, ActiveRun>();

  constructor(opts: LocalTrainingRunnerOptions) {
    this.launcher = opts.launcher;
    this.stopGraceMs = opts.stopGraceMs ?? 5_000;
  }

  run(req: TrainingRunRequest, onProgress: (p: TrainingProgress) => void): Promise<TrainingOutcome> {
    const existing = this.runs.get(req.jobName);
    if (existing) return existing.done;
    const safeProgress = (p: TrainingProgress): void => {
      try {
        onProgress(p);
      } catch {
        // The caller's bookkeeping must not break the run.
      }
    };
    const active: ActiveRun = { stopRequested: false, onProgress: safeProgress, done: Promise.resolve(undefined as never) };
    active.done = this.execute(req, active).finally(() => this.runs.delete(req.jobName));
    this.runs.set(req.jobName, active);
    return active.done;
  }

  async stop(jobName: string): Promise<void> {
    const active = this.runs.get(jobName);
    if (!active || active.stopRequested) return;
    active.stopRequested = true;
    active.onProgress({ secondaryStatus: 'Stopping', message: 'Stopping the training job' });
    await active.container?.stop(this.stopGraceMs);
  }

  async shutdown(): Promise<void> {
    const all = [...this.runs.entries()];
    await Promise.all(all.map(([name]) => this.stop(name)));
    await Promise.all(all.map(([, r]) => r.done.catch(() => undefined)));
  }

  private async execute(req: TrainingRunRequest, active: ActiveRun): Promise<TrainingOutcome> {
    const jobDir = path.resolve(req.jobDir);
    const logFile = req.logFile ? path.resolve(req.logFile) : path.join(jobDir, 'train.log');
    const metrics = new Map<string, { value: number; at: Date }>();
    const outcome = (o: Omit<TrainingOutcome, 'logFile' | 'finalMetrics'>): TrainingOutcome => ({
      ...o,
      ...(o.failureReason !== undefined ? { failureReason: truncateReason(o.failureReason) } : {}),
      finalMetrics: req.metricDefinitions
        .filter((d) => metrics.has(d.Name))
        .map((d) => ({ MetricName: d.Name, Value: metrics.get(d.Name)!.value, Timestamp: metrics.get(d.Name)!.at })),
      logFile,
    });
    // SageMaker gives a stopped job no FailureReason.
    const stoppedOutcome = (): TrainingOutcome => outcome({ status: 'Stopped' });

    try {
      await fsp.mkdir(jobDir, { recursive: true });
      await fsp.mkdir(path.dirname(logFile), { recursive: true });
      await fsp.writeFile(logFile, '', { flag: 'a' });
      const matchers = req.metricDefinitions.map((d) => {
        try {
          return { name: d.Name, re: new RegExp(d.Regex) };
        } catch (err) {
          throw new ClientError(`metric definition "${d.Name}" has an invalid Regex "${d.Regex}": ${(err as Error).message}`);
        }
      });
      const onLine = (line: string): void => {
        for (const m of matchers) {
          const found = m.re.exec(line);
          if (!found || found[1] === undefined) continue;
          const value = Number.parseFloat(found[1]);
          if (Number.isFinite(value)) metrics.set(m.name, { value, at: new Date() });
        }
      };
      const outputRoot = fileUriToClient(req.outputPath, 'OutputDataConfig.S3OutputPath');
      const optMl = path.join(jobDir, 'opt', 'ml');
      let runtimeExceeded = false;
      let container: RunningContainer | undefined;
      const resumedIn = req.resume?.dockerName;
      if (resumedIn) {
        // The metrics it printed before the restart are in the log already.
        for (const line of (await fsp.readFile(logFile, 'utf8').catch(() => '')).split(/\r?\n/)) onLine(line);
        container = await this.launcher.attach({ dockerName: resumedIn, logFile, onLine });
        if (container) active.onProgress({ secondaryStatus: 'Training', message: 'The local control plane restarted: re-attached to the running training container.' });
      } else if (req.resume) {
        await fsp.appendFile(logFile, '\n[champ] the local control plane restarted while the job ran: the training program runs again from the start\n');
      }
      if (!container) {
        active.onProgress({ secondaryStatus: 'Starting', message: 'Preparing the instances for training' });
        await this.layout(req, optMl);
        if (active.stopRequested) return stoppedOutcome();

        active.onProgress({ secondaryStatus: 'Downloading', message: 'Downloading input data' });
        await this.downloadChannels(req, optMl);
        if (active.stopRequested) return stoppedOutcome();

        active.onProgress({ secondaryStatus: 'Training', message: 'Training image download completed. Training in progress.' });
        container = await this.launcher.start({
          imageUri: req.imageUri,
          command: 'train',
          optMlDir: optMl,
          environment: req.environment,
          logFile,
          name: req.jobName,
          owner: { kind: 'training-job', name: req.jobName },
          instanceType: req.resourceConfig.InstanceType,
          channels: req.inputDataConfig.map((c) => c.ChannelName),
          hyperParameters: req.hyperParameters,
          onLine,
        });
      }
      const running = container;
      active.container = running;
      // A stop() that arrived while the container was starting had nothing to signal yet.
      if (active.stopRequested) void running.stop(this.stopGraceMs);
      const timer =
        req.maxRuntimeSeconds > 0
          ? setTimeout(() => {
              if (!running.isAlive()) return;
              runtimeExceeded = true;
              void running.stop(this.stopGraceMs);
            }, req.maxRuntimeSeconds * 1000)
          : undefined;
      const exit = await running.exited.finally(() => clearTimeout(timer));
      // The container ended between the look and the attach: it can only run again.
      if (resumedIn && exit.code !== 0 && !active.stopRequested && !runtimeExceeded && running.lastLines(3).some((l) => ATTACH_FAILED.test(l))) {
        return this.execute({ ...req, resume: {} }, active);
      }

      // As SageMaker does, a stopped job keeps what the program saved in its SIGTERM grace window.
      const savedModel = async (): Promise<{ modelArtifact?: string }> => {
        if ((await fsp.readdir(path.join(optMl, 'model')).catch(() => [])).length === 0) return {};
        const artifact = path.join(outputRoot, req.jobName, 'output', 'model.tar.gz');
        await packFolder(path.join(optMl, 'model'), artifact);
        return { modelArtifact: pathToFileURL(artifact).href };
      };
      if (active.stopRequested) return outcome({ status: 'Stopped', ...(await savedModel()) });
      if (runtimeExceeded) {
        // SageMaker's documented outcome: Stopped, secondary status MaxRuntimeExceeded, not Failed.
        return outcome({ status: 'Stopped', secondaryStatus: 'MaxRuntimeExceeded', ...(await savedModel()) });
      }
      if (exit.code !== 0) {
        const failureFile = await fsp.readFile(path.join(optMl, 'output', 'failure'), 'utf8').catch(() => '');
        if (failureFile.trim()) return outcome({ status: 'Failed', failureReason: failureFile.trim() });
        const how = exit.code !== null ? `exited with code ${exit.code}` : `was killed by signal ${exit.signal ?? 'unknown'}`;
        const tail = running.lastLines(FAILURE_LOG_LINES).join('\n');
        return outcome({
          status: 'Failed',
          failureReason: `AlgorithmError: the training program (train) ${how}${tail ? `. Last log lines:\n${tail}` : ''}`,
        });
      }

      active.onProgress({ secondaryStatus: 'Uploading', message: 'Uploading generated training model' });
      const artifactDir = path.join(outputRoot, req.jobName, 'output');
      const artifact = path.join(artifactDir, 'model.tar.gz');
      await packFolder(path.join(optMl, 'model'), artifact);
      const outputData = path.join(optMl, 'output', 'data');
      if ((await fsp.readdir(outputData).catch(() => [])).length > 0) {
        await packFolder(outputData, path.join(artifactDir, 'output.tar.gz'));
      }
      return outcome({ status: 'Completed', modelArtifact: pathToFileURL(artifact).href });
    } catch (err) {
      if (active.stopRequested) return stoppedOutcome();
      const message = (err as Error).message ?? String(err);
      // A container that cannot start for its image, programs or environment is the caller's to fix, as in SageMaker.
      const prefix = err instanceof ClientError || err instanceof ContainerStartError ? 'ClientError' : 'InternalServerError';
      await fsp.appendFile(logFile, `\n[champ] ${prefix}: ${message}\n`).catch(() => undefined);
      return outcome({ status: 'Failed', failureReason: `${prefix}: ${message}` });
    }
  }

  private async layout(req: TrainingRunRequest, optMl: string): Promise<void> {
    // A job folder is the job's own; a leftover layout from an earlier attempt must not leak in.
    await fsp.rm(optMl, { recursive: true, force: true });
    const config = path.join(optMl, 'input', 'config');
    for (const dir of [config, path.join(optMl, 'input', 'data'), path.join(optMl, 'model'), path.join(optMl, 'output', 'data')]) {
      await fsp.mkdir(dir, { recursive: true });
    }
    const inputDataConfig: Record<string, Record<string, string>> = {};
    for (const ch of req.inputDataConfig) {
      inputDataConfig[ch.ChannelName] = {
        ...(ch.ContentType ? { ContentType: ch.ContentType } : {}),
        TrainingInputMode: ch.InputMode ?? 'File',
        S3DistributionType: ch.DataSource.S3DataSource?.S3DataDistributionType ?? 'FullyReplicated',
        RecordWrapperType: 'None',
      };
    }
    const instanceType = req.resourceConfig.InstanceType;
    // One host runs locally whatever InstanceCount says: listing hosts that never
    // start would leave a distributed program waiting for them.
    const resourceConfig = {
      current_host: 'algo-1',
      current_instance_type: instanceType,
      current_group_name: 'homogeneousCluster',
      hosts: ['algo-1'],
      instance_groups: [{ instance_group_name: 'homogeneousCluster', instance_type: instanceType, hosts: ['algo-1'] }],
      network_interface_name: 'eth0',
    };
    await fsp.writeFile(path.join(config, 'hyperparameters.json'), JSON.stringify(req.hyperParameters));
    await fsp.writeFile(path.join(config, 'inputdataconfig.json'), JSON.stringify(inputDataConfig));
    await fsp.writeFile(path.join(config, 'resourceconfig.json'), JSON.stringify(resourceConfig));
  }

  private async downloadChannels(req: TrainingRunRequest, optMl: string): Promise<void> {
    for (const ch of req.inputDataConfig) {
      const field = `InputDataConfig[${ch.ChannelName}].DataSource.S3DataSource.S3Uri`;
      const uri = ch.DataSource.S3DataSource?.S3Uri;
      if (!uri) throw new ClientError(`${field} is missing: give the channel's data location as a file:// URI`);
      const source = fileUriToClient(uri, field);
      const dest = path.join(optMl, 'input', 'data', ch.ChannelName);
      const st = await fsp.stat(source).catch(() => undefined);
      if (!st) throw new ClientError(`Data download failed: ${field} "${uri}" does not exist`);
      await fsp.mkdir(dest, { recursive: true });
      // Copied, not linked: the program may write where it reads, and the source must stay untouched.
      if (st.isDirectory()) await fsp.cp(source, dest, { recursive: true, dereference: true });
      else await fsp.copyFile(source, path.join(dest, path.basename(source)));
    }
  }
}

function fileUriToClient(uri: string, field: string): string {
  try {
    return fileUriToPath(uri, field);
  } catch (err) {
    throw new ClientError((err as Error).message);
  }
}

/** Packs a folder's contents (entries at the archive's top level, as SageMaker does) as a gzipped tar, atomically. */
export async function packFolder(dir: string, dest: string): Promise<void> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const entries = (await fsp.readdir(dir)).sort();
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    await tar.c({ gzip: true, file: tmp, cwd: dir, portable: true }, entries.length > 0 ? entries : ['.']);
    await fsp.rename(tmp, dest);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
