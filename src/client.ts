// `champ`: the command-line client. One subcommand per operator action.
import {
  CancelledFailure,
  Client,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  Connection,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type ScheduleDescription,
  type ScheduleHandle,
  type WorkflowHandle,
} from '@temporalio/client';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from './config';
import { applySchedule, scheduleIdFor, SCHEDULE_ID_PREFIX } from './schedules';
import { PIPELINE_WORKFLOW, SEARCH_ATTRIBUTES } from './shared';
import { checkLocalInputs, loadSpecFile, SpecError } from './spec';
import type { PipelineSpec } from './spec/schema';
import type { PipelineInput, PipelineResult, PipelineStatus, StageTiming } from './workflows';
import { approveUpdate, rejectUpdate, statusQuery } from './workflows/messages';

/** An error the user can act on: printed as one line, exit code given. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Exit codes, also listed in `champ --help`. */
export const EXIT = {
  ok: 0,
  /** The server, the workflow or a refused request: nothing the command line itself got wrong. */
  failed: 1,
  /** Bad arguments, a bad spec or bad configuration. */
  usage: 2,
  /** `run --wait`: the pipeline ended without deploying (rejected, rolled back, failed, cancelled ...). */
  notDeployed: 3,
  /** `run --wait` interrupted with Ctrl-C; the pipeline keeps running. */
  interrupted: 130,
} as const;

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Registers a Ctrl-C handler; returns its removal. Tests leave it out. */
  onInterrupt?: (handler: () => void) => () => void;
}

const defaultIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  onInterrupt: (handler) => {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
};

async function connect(config: Config): Promise<{ client: Client; close: () => Promise<void> }> {
  try {
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: '5s' });
    return { client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), close: () => connection.close() };
  } catch (err) {
    throw new CliError(
      `cannot reach the Temporal server at ${config.TEMPORAL_ADDRESS}: ${firstLine(err)}. Start it with "npm run dev" or set TEMPORAL_ADDRESS.`,
    );
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

/**
 * Why a workflow ended without a result, in one line: the deepest cause's
 * message (the activity's own ApplicationFailure), not "Workflow execution failed".
 */
export function describeWorkflowFailure(err: unknown): { end: 'failed' | 'cancelled' | 'terminated' | 'timed-out'; reason: string } {
  let cause: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  if (cause instanceof CancelledFailure) return { end: 'cancelled', reason: 'the pipeline was cancelled' };
  if (cause instanceof TerminatedFailure) return { end: 'terminated', reason: firstLine(cause) || 'terminated' };
  if (cause instanceof TimeoutFailure) return { end: 'timed-out', reason: 'the workflow timed out' };
  let reason = firstLine(cause ?? err);
  while (cause instanceof Error && cause.cause instanceof Error) {
    cause = cause.cause;
    if (cause instanceof CancelledFailure) return { end: 'cancelled', reason: 'the pipeline was cancelled' };
    const line = firstLine(cause);
    if (line) reason = line;
  }
  return { end: 'failed', reason };
}

/** Numbers for options such as --limit: refused at the door, naming the option. */
function positiveInteger(option: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${option} must be a whole number of at least 1, got "${raw}"`);
    return n;
  };
}

export function uiLink(config: Config, workflowId: string): string {
  return `${config.CHAMP_UI_URL}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}

function packageVersion(): string {
  // src/client.ts in a checkout; dist/src/client.js one folder deeper after a build.
  for (const file of [join(__dirname, '..', 'package.json'), join(__dirname, '..', '..', 'package.json')]) {
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      // try the next
    }
  }
  return 'unknown';
}

function timestampId(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function loadSpecOrExplain(path: string) {
  try {
    return loadSpecFile(path);
  } catch (err) {
    if (err instanceof SpecError) {
      // An unreadable file is not a spec with bad fields: one line says so.
      const unreadable = err.issues.length === 1 && err.issues[0]!.path === '' && err.issues[0]!.line === undefined;
      if (unreadable) throw new CliError(`${path}: ${err.issues[0]!.message}`, EXIT.usage);
      throw new CliError(`${path}: invalid pipeline spec\n${err.format()}`, EXIT.usage);
    }
    throw new CliError(`${path}: ${firstLine(err)}`, EXIT.usage);
  }
}

/** Wraps a handle call so an unknown workflow gives one clear line. */
async function onWorkflow<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || /not found/i.test(firstLine(err))) {
      throw new CliError(`no workflow with id "${id}" in this namespace; "champ list" shows the pipelines`);
    }
    throw err;
  }
}

function formatMetrics(metrics: Array<{ name: string; value: number }> | undefined): string {
  if (!metrics || metrics.length === 0) return '-';
  return metrics.map((m) => `${m.name}=${Number(m.value.toPrecision(6))}`).join(' ');
}

/** Columns padded to their widest cell, so ids of any length line up. */
export function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

export function formatStatus(s: PipelineStatus): string[] {
  const lines = [`pipeline ${s.pipeline}: stage ${s.stage}${s.outcome ? `, outcome ${s.outcome}` : ''}`];
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  lines.push(`  candidate: version ${s.candidate?.version ?? '-'} ${formatMetrics(s.candidate?.metrics)}`);
  lines.push(`  champion:  ${s.champion ? `version ${s.champion.version ?? '-'} ${formatMetrics(s.champion.metrics)}` : 'none yet'}`);
  if (s.approval?.awaiting) {
    lines.push(`  awaiting approval of model version ${s.approval.modelVersion}${s.approval.deadline ? ` until ${s.approval.deadline}` : ''}`);
  }
  const r = s.resources ?? {};
  for (const [k, v] of Object.entries(r)) if (v) lines.push(`  ${k}: ${v}`);
  if (s.logs?.training) lines.push(`  training log: ${s.logs.training}`);
  return lines;
}

/** What a stage is working on, from the live status: shown beside the stage name. */
export function stageDetail(stage: StageTiming['stage'], s: PipelineStatus, workflowId: string): string {
  switch (stage) {
    case 'building':
      return s.resources.imageUri ?? '';
    case 'training':
      return s.resources.trainingJob ?? '';
    case 'gating':
      return s.gate ? s.gate.rules.map((r) => `${r.rule}: ${r.verdict}`).join('; ') : '';
    case 'registering':
      return s.candidate.version !== undefined ? `model version ${s.candidate.version}  ${formatMetrics(s.candidate.metrics)}` : '';
    case 'awaiting-approval':
      return s.approval?.awaiting && s.approval.modelVersion !== undefined
        ? `model version ${s.approval.modelVersion}: champ approve ${workflowId} --version ${s.approval.modelVersion} --reviewer <you>  (or champ reject ... --reason <why>)`
        : '';
    case 'deploying':
      return s.champion?.version !== undefined
        ? `updating ${s.resources.endpoint} (champion: model version ${s.champion.version})`
        : s.resources.endpoint;
    case 'awaiting-endpoint':
      return s.resources.endpointConfig ?? '';
    default:
      return '';
  }
}

/**
 * Progress lines for the stages entered since the last call. The status's
 * timings list every stage entered, so a stage shorter than a poll still shows.
 */
export function progressLines(s: PipelineStatus, shown: Set<string>, workflowId: string, elapsedSeconds: number): string[] {
  const lines: string[] = [];
  const clock = `${elapsedSeconds.toFixed(0).padStart(4)}s`;
  for (const stage of [...s.timings.map((t) => t.stage), s.stage]) {
    if (stage === 'done' || shown.has(stage)) continue;
    shown.add(stage);
    lines.push(`  ${clock}  ${stage.padEnd(18)} ${stageDetail(stage, s, workflowId)}`.trimEnd());
  }
  return lines;
}

async function follow(client: Client, handle: WorkflowHandle, io: CliIO): Promise<PipelineResult> {
  const started = Date.now();
  const shown = new Set<string>();
  // Aborted when we stop following: a call still pending then (a query or the
  // result's long poll) must not retry on the closed connection.
  const abort = new AbortController();
  const result = client.withAbortSignal(abort.signal, () => handle.result()) as Promise<PipelineResult>;
  let finished = false;
  let interrupted = false;
  // Settles when the run ends or the user presses Ctrl-C. A query to a run whose
  // worker is down hangs until its deadline, so every wait races against this.
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (stop = r));
  void result.then(
    () => ((finished = true), stop()),
    () => ((finished = true), stop()),
  );
  const removeInterrupt = io.onInterrupt?.(() => {
    interrupted = true;
    stop();
  });
  try {
    while (!finished && !interrupted) {
      const query = client.withAbortSignal(abort.signal, () => handle.query(statusQuery)).then(
        (s) => {
          if (!interrupted) for (const line of progressLines(s, shown, handle.workflowId, (Date.now() - started) / 1000)) io.out(line);
        },
        () => undefined, // the workflow may have just closed; result() tells
      );
      await Promise.race([query, stopped]);
      await Promise.race([stopped, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
    }
  } finally {
    removeInterrupt?.();
    // The result has settled unless interrupted; what is still pending is dropped.
    abort.abort();
  }
  if (interrupted && !finished) {
    throw new CliError(
      `stopped following ${handle.workflowId}; the pipeline keeps running. Follow it with "champ status ${handle.workflowId}", stop it with "champ cancel ${handle.workflowId}"`,
      EXIT.interrupted,
    );
  }
  try {
    const done = await result;
    // Stages that passed between the last poll and the end, from the result's timings.
    for (const t of done.timings ?? []) {
      if (t.stage === 'done' || shown.has(t.stage)) continue;
      shown.add(t.stage);
      io.out(`  ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s  ${t.stage}`);
    }
    return done;
  } catch (err) {
    const { end, reason } = describeWorkflowFailure(err);
    throw new CliError(`${handle.workflowId} ${end}: ${reason}`, EXIT.notDeployed);
  }
}

/** Refuses a run whose local (file://) training data is missing: it would fail at once. */
function requireLocalInputs(spec: PipelineSpec, specPath: string): void {
  const problems = checkLocalInputs(spec);
  if (problems.length > 0) {
    throw new CliError(`${specPath}: the training data is missing\n${new SpecError(problems).format()}`, EXIT.usage);
  }
}

export function buildProgram(io: CliIO = defaultIO): Command {
  const program = new Command('champ')
    .description('Durable SageMaker model pipelines on Temporal')
    .version(packageVersion(), '-V, --version')
    // Program options only before the command: `approve --version <n>` is the model version.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      // commander's own messages ("error: unknown option ...") get the same prefix as ours.
      writeErr: (s) => io.err(s.trimEnd().replace(/^error: /, 'champ: ')),
    })
    .addHelpText(
      'after',
      `
Environment:
  TEMPORAL_ADDRESS    Temporal frontend (default 127.0.0.1:7233)
  TEMPORAL_NAMESPACE  namespace (default "default")
  CHAMP_TASK_QUEUE    task queue of the worker (default champ-pipelines)
  CHAMP_UI_URL        base of the Web UI links (default http://127.0.0.1:8233)

Exit codes: 0 done (run --wait: deployed); 1 refused or the server failed;
2 bad arguments, spec or configuration; 3 run --wait ended without deploying;
130 run --wait interrupted (the pipeline keeps running).`,
    );

  const config = () => {
    try {
      return loadConfig(io.env);
    } catch (err) {
      throw new CliError(firstLine(err) + '\n' + String((err as Error).message).split('\n').slice(1).join('\n'), EXIT.usage);
    }
  };

  program
    .command('validate')
    .argument('<spec>', 'pipeline spec file (YAML or JSON)')
    .description('check a pipeline spec and exit 0, or print what is wrong')
    .action((specPath: string) => {
      const { spec } = loadSpecOrExplain(specPath);
      io.out(`${specPath}: valid pipeline "${spec.name}" (endpoint ${spec.deployment.endpointName})`);
    });

  program
    .command('run')
    .argument('<spec>', 'pipeline spec file (YAML or JSON)')
    .option('--id <workflowId>', 'workflow id (default: <name>-<UTC timestamp>)')
    .option('--wait', 'follow the pipeline until it ends')
    .option('--poll-seconds <n>', 'initial poll interval of the long waits (training, InService), in seconds', (v) => Number(v))
    .option('--print-input', 'print the workflow input as JSON (for temporal workflow start --input-file) and start nothing')
    .description('validate a spec and start its training pipeline')
    .action(async (specPath: string, opts: { id?: string; wait?: boolean; pollSeconds?: number; printInput?: boolean }) => {
      const { spec } = loadSpecOrExplain(specPath);
      if (opts.pollSeconds !== undefined && !(opts.pollSeconds > 0)) {
        throw new CliError('--poll-seconds must be a positive number of seconds', EXIT.usage);
      }
      if (opts.printInput) {
        io.out(JSON.stringify({ spec, trigger: 'manual' }, null, 2));
        return;
      }
      requireLocalInputs(spec, specPath);
      const cfg = config();
      const { client, close } = await connect(cfg);
      try {
        const workflowId = opts.id ?? `${spec.name}-${timestampId(new Date())}`;
        const input: PipelineInput = {
          spec,
          trigger: 'manual',
          requestedBy: io.env.USER ?? 'cli',
          ...(opts.pollSeconds ? { poll: { initialSeconds: opts.pollSeconds, maxSeconds: Math.max(opts.pollSeconds * 10, 10) } } : {}),
        };
        const handle = await client.workflow
          .start(PIPELINE_WORKFLOW, {
            taskQueue: cfg.CHAMP_TASK_QUEUE,
            workflowId,
            args: [input],
            searchAttributes: { [SEARCH_ATTRIBUTES.pipeline]: [spec.name] },
          })
          .catch((err: unknown) => {
            if (err instanceof WorkflowExecutionAlreadyStartedError) {
              throw new CliError(`a pipeline with id "${workflowId}" is already running: pick another --id, or follow it with "champ status ${workflowId}"`, EXIT.usage);
            }
            throw err;
          });
        io.out(`started ${workflowId}`);
        io.out(`  ${uiLink(cfg, workflowId)}`);
        if (opts.wait) {
          const result = await follow(client, handle, io);
          io.out(`${workflowId}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`);
          if (result.outcome !== 'deployed') throw new CliError(`pipeline ended ${result.outcome}; nothing new is serving`, EXIT.notDeployed);
        }
      } finally {
        await close();
      }
    });

  program
    .command('status')
    .argument('<workflowId>')
    .option('--json', 'print the status as JSON')
    .description("show a pipeline's live stage, metrics and resources")
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      const cfg = config();
      const { client, close } = await connect(cfg);
      try {
        const handle = client.workflow.getHandle(workflowId);
        const desc = await onWorkflow(workflowId, () => handle.describe());
        const status = await handle.query(statusQuery).catch(() => undefined);
        if (opts.json) {
          io.out(JSON.stringify({ workflowId, runStatus: desc.status.name, status }, null, 2));
          return;
        }
        io.out(`${workflowId}: ${desc.status.name}`);
        if (status) for (const line of formatStatus(status)) io.out(line);
        io.out(`  ${uiLink(cfg, workflowId)}`);
      } finally {
        await close();
      }
    });

  program
    .command('list')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--limit <n>', 'at most this many', positiveInteger('--limit'), 20)
    .description('list pipeline runs, newest first')
    .action(async (opts: { pipeline?: string; limit: number }) => {
      const cfg = config();
      const { client, close } = await connect(cfg);
      try {
        let query = `WorkflowType = '${PIPELINE_WORKFLOW}'`;
        if (opts.pipeline) query += ` AND ${SEARCH_ATTRIBUTES.pipeline} = '${opts.pipeline.replace(/'/g, '')}'`;
        const rows: string[][] = [];
        for await (const wf of client.workflow.list({ query })) {
          const outcome = wf.searchAttributes?.[SEARCH_ATTRIBUTES.outcome]?.[0] ?? wf.searchAttributes?.[SEARCH_ATTRIBUTES.stage]?.[0] ?? '';
          rows.push([wf.workflowId, wf.status.name, String(outcome), wf.startTime.toISOString()]);
          if (rows.length >= opts.limit) break;
        }
        if (rows.length === 0) {
          io.out(opts.pipeline ? `no runs of pipeline "${opts.pipeline}"` : 'no pipeline runs yet');
          return;
        }
        for (const line of formatTable(['WORKFLOW ID', 'STATUS', 'STAGE/OUTCOME', 'STARTED'], rows)) io.out(line);
      } finally {
        await close();
      }
    });

  program
    .command('cancel')
    .argument('<workflowId>')
    .description('cancel a pipeline: its training job is stopped, a serving endpoint keeps serving')
    .action(async (workflowId: string) => {
      const cfg = config();
      const { client, close } = await connect(cfg);
      try {
        const handle = client.workflow.getHandle(workflowId);
        const desc = await onWorkflow(workflowId, () => handle.describe());
        if (desc.status.name !== 'RUNNING') {
          throw new CliError(`${workflowId} already ended (${desc.status.name}): nothing to cancel`);
        }
        await onWorkflow(workflowId, () => handle.cancel());
        io.out(`cancellation requested for ${workflowId}`);
      } finally {
        await close();
      }
    });

  const decide = (kind: 'approve' | 'reject') =>
    program
      .command(kind)
      .argument('<workflowId>')
      .requiredOption('--version <n>', 'the model version awaiting approval', (v) => Number(v))
      .requiredOption('--reviewer <name>', 'who decides')
      .option(kind === 'approve' ? '--comment <text>' : '--reason <text>', kind === 'approve' ? 'a note' : 'why (required)')
      .description(kind === 'approve' ? 'approve the candidate awaiting approval' : 'reject the candidate awaiting approval')
      .action(async (workflowId: string, opts: { version: number; reviewer: string; comment?: string; reason?: string }) => {
        if (!Number.isInteger(opts.version) || opts.version < 1) throw new CliError('--version must be a positive whole number (the model version)', EXIT.usage);
        if (kind === 'reject' && !opts.reason) throw new CliError('--reason is required: say why the candidate is rejected', EXIT.usage);
        const cfg = config();
        const { client, close } = await connect(cfg);
        try {
          const handle = client.workflow.getHandle(workflowId);
          await onWorkflow(workflowId, () =>
            kind === 'approve'
              ? handle.executeUpdate(approveUpdate, { args: [{ modelVersion: opts.version, reviewer: opts.reviewer, comment: opts.comment }] })
              : handle.executeUpdate(rejectUpdate, { args: [{ modelVersion: opts.version, reviewer: opts.reviewer, reason: opts.reason ?? '' }] }),
          ).catch((err: unknown) => {
            if (err instanceof CliError) throw err;
            // The validator's message already starts with the update's name.
            const why = firstLine((err as { cause?: unknown }).cause ?? err).replace(new RegExp(`^${kind}: `), '');
            throw new CliError(`${kind} refused: ${why}`);
          });
          io.out(`${kind === 'approve' ? 'approved' : 'rejected'} model version ${opts.version} of ${workflowId}`);
        } finally {
          await close();
        }
      });
  decide('approve');
  decide('reject');

  addScheduleCommands(program, io, config);

  return program;
}

// ---- champ schedule: pipelines on Temporal Schedules ----

export function scheduleUiLink(config: Config, scheduleId: string): string {
  return `${config.CHAMP_UI_URL}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/schedules/${encodeURIComponent(scheduleId)}`;
}

/** A time as the CLI shows it: UTC to the second. */
function utc(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The cron (and zone) a schedule runs, from the spec its action carries: the server keeps only calendars. */
export function scheduleCron(desc: Pick<ScheduleDescription, 'action'>): string {
  const input = desc.action.args?.[0] as Partial<PipelineInput> | undefined;
  const schedule = input?.spec?.schedule;
  if (!schedule) return '-';
  return `${schedule.cron} (${schedule.timezone ?? 'UTC'})`;
}

function overlapName(desc: Pick<ScheduleDescription, 'policies'>): string {
  return (desc.policies.overlap ?? 'SKIP').toLowerCase().replace(/_/g, '-');
}

/**
 * The schedule a pipeline name or schedule id names, described. "claims" and
 * "champ-claims" both name champ-claims; an id that starts with champ- is
 * tried as given first, so a pipeline called "champ-x" is still reachable.
 */
async function findSchedule(client: Client, nameOrId: string): Promise<{ handle: ScheduleHandle; desc: ScheduleDescription }> {
  const ids = [...new Set([...(nameOrId.startsWith(SCHEDULE_ID_PREFIX) ? [nameOrId] : []), scheduleIdFor(nameOrId)])];
  for (const id of ids) {
    const handle = client.schedule.getHandle(id);
    try {
      return { handle, desc: await handle.describe() };
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
  throw new CliError(`no schedule "${ids[ids.length - 1]}" in this namespace; "champ schedule list" shows the schedules`);
}

/** Runs `fn` on the schedule, turning "deleted meanwhile" into the same one line. */
async function onSchedule<T>(handle: ScheduleHandle, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      throw new CliError(`no schedule "${handle.scheduleId}" in this namespace; "champ schedule list" shows the schedules`);
    }
    throw err;
  }
}

function addScheduleCommands(program: Command, io: CliIO, config: () => Config): void {
  const schedule = program
    .command('schedule')
    .description('run pipelines on Temporal Schedules (their spec\'s schedule section): apply, list, trigger, pause, unpause, delete');

  /** Connects, runs `fn`, closes. */
  const withClient = async (fn: (client: Client, cfg: Config) => Promise<void>) => {
    const cfg = config();
    const { client, close } = await connect(cfg);
    try {
      await fn(client, cfg);
    } finally {
      await close();
    }
  };

  schedule
    .command('apply')
    .argument('<spec>', 'pipeline spec file with a schedule section')
    .description('create the pipeline\'s schedule (champ-<name>), or update it to match the spec; a paused schedule stays paused')
    .action(async (specPath: string) => {
      const { spec } = loadSpecOrExplain(specPath);
      if (!spec.schedule) {
        throw new CliError(`${specPath}: pipeline "${spec.name}" has no schedule section: add schedule.cron (e.g. "0 3 * * 1") to run it on a schedule`, EXIT.usage);
      }
      // Data may land before the first scheduled run, so missing data is a note, not a refusal.
      const missing = checkLocalInputs(spec);
      if (missing.length > 0) {
        io.err(`champ: note: ${missing.map((m) => m.path).join(', ')} missing on this machine now; scheduled runs fail until the data is there`);
      }
      await withClient(async (client, cfg) => {
        const outcome = await applySchedule(client, spec, cfg.CHAMP_TASK_QUEUE);
        const id = scheduleIdFor(spec.name);
        const desc = await client.schedule.getHandle(id).describe();
        io.out(
          `${outcome} schedule ${id}: cron ${scheduleCron(desc)}, overlap ${spec.schedule!.overlap}, task queue ${cfg.CHAMP_TASK_QUEUE}${desc.state.paused ? ' (paused)' : ''}`,
        );
        const next = desc.info.nextActionTimes.slice(0, 3).map(utc);
        io.out(`  next runs: ${next.length > 0 ? next.join(', ') : 'none'}`);
        io.out(`  ${scheduleUiLink(cfg, id)}`);
      });
    });

  schedule
    .command('list')
    .description(`list the pipeline schedules (${SCHEDULE_ID_PREFIX}*)`)
    .action(async () => {
      await withClient(async (client) => {
        const rows: string[][] = [];
        for await (const summary of client.schedule.list()) {
          if (!summary.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) continue;
          // The summary has no action arguments, so the cron comes from describe.
          const desc = await client.schedule
            .getHandle(summary.scheduleId)
            .describe()
            .catch((err: unknown) => {
              if (err instanceof ScheduleNotFoundError) return undefined; // deleted since the listing
              throw err;
            });
          if (!desc) continue;
          const next = desc.info.nextActionTimes[0];
          rows.push([desc.scheduleId, scheduleCron(desc), desc.state.paused ? 'yes' : 'no', desc.state.paused ? '-' : next ? utc(next) : 'none']);
        }
        if (rows.length === 0) {
          io.out('no pipeline schedules yet; "champ schedule apply <spec>" creates one');
          return;
        }
        rows.sort((a, b) => a[0]!.localeCompare(b[0]!));
        for (const line of formatTable(['SCHEDULE ID', 'CRON', 'PAUSED', 'NEXT RUN'], rows)) io.out(line);
      });
    });

  schedule
    .command('trigger')
    .argument('<name|id>', 'pipeline name or schedule id')
    .description('start a run now, as the schedule would: its overlap policy applies (skip: not while a run it started is still going)')
    .action(async (nameOrId: string) => {
      await withClient(async (client, cfg) => {
        const { handle, desc: before } = await findSchedule(client, nameOrId);
        // The SDK's trigger defaults to allow-all; two runs racing for one endpoint is what the policy prevents.
        await onSchedule(handle, () => handle.trigger(before.policies.overlap ?? ScheduleOverlapPolicy.SKIP));
        // The trigger is asynchronous on the server: watch briefly for what it did.
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          const now = await onSchedule(handle, () => handle.describe());
          if (now.info.numActionsTaken > before.info.numActionsTaken) {
            const run = now.info.recentActions[now.info.recentActions.length - 1]?.action.workflow.workflowId;
            io.out(`triggered ${handle.scheduleId}: started ${run ?? 'a run'}`);
            if (run) io.out(`  ${uiLink(cfg, run)}`);
            return;
          }
          if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap) {
            const running = now.info.runningActions.map((a) => a.workflow.workflowId);
            const which = running.length === 1 ? running[0]! : '<workflowId>';
            throw new CliError(
              `${handle.scheduleId}: the trigger started nothing: ${running.join(', ') || 'a run'} is still running and the overlap policy is ${overlapName(now)}; wait for it, or "champ cancel ${which}"`,
            );
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        io.out(`triggered ${handle.scheduleId}: no run seen yet; "champ schedule list" and "champ list" show what it started`);
        io.out(`  ${scheduleUiLink(cfg, handle.scheduleId)}`);
      });
    });

  schedule
    .command('pause')
    .argument('<name|id>', 'pipeline name or schedule id')
    .option('--note <text>', 'why (shown by describe and in the Web UI)')
    .description('stop the schedule from starting runs; runs under way go on')
    .action(async (nameOrId: string, opts: { note?: string }) => {
      await withClient(async (client) => {
        const { handle } = await findSchedule(client, nameOrId);
        await onSchedule(handle, () => handle.pause(opts.note ?? `paused with champ by ${io.env.USER ?? 'cli'}`));
        io.out(`paused ${handle.scheduleId}`);
      });
    });

  schedule
    .command('unpause')
    .argument('<name|id>', 'pipeline name or schedule id')
    .option('--note <text>', 'why')
    .description('let the schedule start runs again')
    .action(async (nameOrId: string, opts: { note?: string }) => {
      await withClient(async (client) => {
        const { handle } = await findSchedule(client, nameOrId);
        await onSchedule(handle, () => handle.unpause(opts.note ?? `unpaused with champ by ${io.env.USER ?? 'cli'}`));
        const next = (await onSchedule(handle, () => handle.describe())).info.nextActionTimes[0];
        io.out(`unpaused ${handle.scheduleId}${next ? `; next run ${utc(next)}` : ''}`);
      });
    });

  schedule
    .command('delete')
    .argument('<name|id>', 'pipeline name or schedule id')
    .description('delete the schedule; runs it started go on')
    .action(async (nameOrId: string) => {
      await withClient(async (client) => {
        const { handle } = await findSchedule(client, nameOrId);
        await onSchedule(handle, () => handle.delete());
        io.out(`deleted schedule ${handle.scheduleId}; runs it started go on`);
      });
    });
}

/** Runs the CLI; returns the exit code instead of exiting, for tests. */
export async function runCli(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      io.err(`champ: ${err.message}`);
      return err.exitCode;
    }
    // The SDK's own errors ("Failed to list workflows") say what failed; their cause says why.
    const cause = (err as { cause?: unknown }).cause;
    io.err(`champ: ${firstLine(err)}${cause ? `: ${firstLine(cause)}` : ''}`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
