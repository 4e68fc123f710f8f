// `champ`: the command-line client. One subcommand per operator action.
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import { loadConfig, type Config } from './config';
import { PIPELINE_WORKFLOW, SEARCH_ATTRIBUTES } from './shared';
import { loadSpecFile, SpecError } from './spec';
import type { PipelineInput, PipelineResult, PipelineStatus } from './workflows';
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

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
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

export function uiLink(config: Config, workflowId: string): string {
  return `${config.CHAMP_UI_URL}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}

function timestampId(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function loadSpecOrExplain(path: string) {
  try {
    return loadSpecFile(path);
  } catch (err) {
    if (err instanceof SpecError) throw new CliError(`${path}: invalid pipeline spec\n${err.format()}`, 2);
    throw new CliError(`${path}: ${firstLine(err)}`, 2);
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

async function follow(handle: WorkflowHandle, io: CliIO): Promise<PipelineResult> {
  let last = '';
  const result = handle.result() as Promise<PipelineResult>;
  let finished = false;
  void result.then(
    () => (finished = true),
    () => (finished = true),
  );
  while (!finished) {
    try {
      const s = await handle.query(statusQuery);
      const line = `${s.stage}${s.approval?.awaiting ? ` (model version ${s.approval.modelVersion}: champ approve ${handle.workflowId} --version ${s.approval.modelVersion} --reviewer <you>)` : ''}`;
      if (line !== last) io.out(`  ${new Date().toISOString().slice(11, 19)} ${line}`);
      last = line;
    } catch {
      // the workflow may have just closed; result() tells
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  return result;
}

export function buildProgram(io: CliIO = defaultIO): Command {
  const program = new Command('champ')
    .description('Durable SageMaker model pipelines on Temporal')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const config = () => {
    try {
      return loadConfig(io.env);
    } catch (err) {
      throw new CliError(firstLine(err) + '\n' + String((err as Error).message).split('\n').slice(1).join('\n'), 2);
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
    .option('--poll-seconds <n>', 'initial poll interval for long waits', (v) => Number(v))
    .option('--print-input', 'print the workflow input as JSON (for temporal workflow start --input-file) and start nothing')
    .description('validate a spec and start its training pipeline')
    .action(async (specPath: string, opts: { id?: string; wait?: boolean; pollSeconds?: number; printInput?: boolean }) => {
      const { spec } = loadSpecOrExplain(specPath);
      if (opts.pollSeconds !== undefined && !(opts.pollSeconds > 0)) {
        throw new CliError('--poll-seconds must be a positive number of seconds', 2);
      }
      if (opts.printInput) {
        io.out(JSON.stringify({ spec, trigger: 'manual' }, null, 2));
        return;
      }
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
        const handle = await client.workflow.start(PIPELINE_WORKFLOW, {
          taskQueue: cfg.CHAMP_TASK_QUEUE,
          workflowId,
          args: [input],
          searchAttributes: { [SEARCH_ATTRIBUTES.pipeline]: [spec.name] },
        });
        io.out(`started ${workflowId}`);
        io.out(`  ${uiLink(cfg, workflowId)}`);
        if (opts.wait) {
          const result = await follow(handle, io);
          io.out(`${workflowId}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`);
          if (result.outcome !== 'deployed') throw new CliError(`pipeline ended ${result.outcome}`, 3);
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
    .option('--limit <n>', 'at most this many', (v) => Number(v), 20)
    .description('list pipeline runs, newest first')
    .action(async (opts: { pipeline?: string; limit: number }) => {
      const cfg = config();
      const { client, close } = await connect(cfg);
      try {
        let query = `WorkflowType = '${PIPELINE_WORKFLOW}'`;
        if (opts.pipeline) query += ` AND ${SEARCH_ATTRIBUTES.pipeline} = '${opts.pipeline.replace(/'/g, '')}'`;
        let n = 0;
        for await (const wf of client.workflow.list({ query })) {
          const outcome = wf.searchAttributes?.[SEARCH_ATTRIBUTES.outcome]?.[0] ?? wf.searchAttributes?.[SEARCH_ATTRIBUTES.stage]?.[0] ?? '';
          io.out(`${wf.workflowId}  ${wf.status.name.padEnd(10)}  ${String(outcome).padEnd(22)}  ${wf.startTime.toISOString()}`);
          if (++n >= opts.limit) break;
        }
        if (n === 0) io.out('no pipeline runs yet');
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
        await onWorkflow(workflowId, () => client.workflow.getHandle(workflowId).cancel());
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
        if (!Number.isInteger(opts.version) || opts.version < 1) throw new CliError('--version must be a positive whole number (the model version)', 2);
        if (kind === 'reject' && !opts.reason) throw new CliError('--reason is required: say why the candidate is rejected', 2);
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
            throw new CliError(`${kind} refused: ${firstLine((err as { cause?: unknown }).cause ?? err)}`);
          });
          io.out(`${kind === 'approve' ? 'approved' : 'rejected'} model version ${opts.version} of ${workflowId}`);
        } finally {
          await close();
        }
      });
  decide('approve');
  decide('reject');

  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, for tests. */
export async function runCli(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      io.err(`champ: ${err.message}`);
      return err.exitCode;
    }
    io.err(`champ: ${firstLine(err)}`);
    return 1;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
