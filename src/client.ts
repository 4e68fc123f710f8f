// `champ`: the command-line client. One subcommand per operator action; the
// `schedule` group lives in ./cli/schedule.ts, what they share in ./cli/.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decisionText, listLimit, modelVersion, pipelineName, pollSeconds, refuseNamedPipe, workflowId as workflowIdArg } from './cli/arguments';
import { CliError, connectionFlagParsers, EXIT, firstLine, formatTable, loadSpecOrExplain, uiLink, withClient, withConnectionFlags, type CliIO, type ConnectionFlags } from './cli/common';
import { follow, formatStatus } from './cli/progress';
import { addEndpointCommands } from './cli/endpoint';
import { addScheduleCommands } from './cli/schedule';
import { addTransformCommand } from './cli/transform';
import { addBuildCommand } from './cli/build';
import { PIPELINE_WORKFLOW, SEARCH_ATTRIBUTE_KEYS } from './shared';
import { checkLocalInputs, SpecError } from './spec';
import type { PipelineSpec } from './spec/schema';
import { TARGETS, targetIssues, type Target } from './spec/targets';
import { approveUpdate, rejectUpdate, statusQuery, trainingPipeline, type PipelineInput } from './workflows';

export { CliError, EXIT, type CliIO } from './cli/common';

const defaultIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  onInterrupt: (handler) => {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
};

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

function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || /not found/i.test(firstLine(err));
}

function noSuchWorkflow(id: string): CliError {
  return new CliError(`no workflow with id "${id}" in this namespace; "champ list" shows the pipelines`);
}

/** Wraps a handle call so an unknown workflow gives one clear line. */
async function onWorkflow<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isNotFound(err)) throw noSuchWorkflow(id);
    throw err;
  }
}

/** How a run that is no longer running ended, e.g. "COMPLETED, deployed"; undefined while it runs. */
async function howItEnded(handle: WorkflowHandle, id: string): Promise<string | undefined> {
  const desc = await onWorkflow(id, () => handle.describe());
  if (desc.status.name === 'RUNNING') return undefined;
  const outcome = desc.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.outcome);
  return outcome ? `${desc.status.name}, ${outcome}` : desc.status.name;
}

/**
 * Sends an approval or rejection. The server answers a run that has ended as
 * if the run did not exist: the run's own description says how it ended.
 */
async function sendDecision(handle: WorkflowHandle, id: string, kind: 'approve' | 'reject', send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      // The validator's message already starts with the update's name.
      const why = firstLine(err.cause ?? err).replace(new RegExp(`^${kind}: `), '');
      throw new CliError(`${kind} refused: ${why}`);
    }
    const ended = await howItEnded(handle, id);
    if (ended) throw new CliError(`${id} has ended (${ended}): nothing awaits approval; "champ status ${id}" shows how it went`);
    if (isNotFound(err)) throw noSuchWorkflow(id);
    throw new CliError(`${kind} failed: ${firstLine(err)}`);
  }
}

/**
 * Refuses a run whose local (file://) training data cannot be used: missing,
 * or holding links out of its folder or in a loop. The run would fail on it.
 */
function requireLocalInputs(spec: PipelineSpec, specPath: string): void {
  const problems = checkLocalInputs(spec);
  if (problems.length > 0) {
    throw new CliError(`${specPath}: the training data cannot be used\n${new SpecError(problems).format()}`, EXIT.usage);
  }
}

/** A spec file named on the command line: a named pipe is refused before the loader would wait on it. */
function loadSpecArgument(specPath: string) {
  refuseNamedPipe(specPath);
  return loadSpecOrExplain(specPath);
}

/** --address, --namespace and --profile, before the command or after it, as the temporal CLI takes them. */
function addConnectionFlags(command: Command): Command {
  return command
    .option('--address <host:port>', 'Temporal frontend (else TEMPORAL_ADDRESS, the profile, 127.0.0.1:7233)', connectionFlagParsers.address)
    .option('--namespace <name>', 'Temporal namespace (else TEMPORAL_NAMESPACE, the profile, "default")', connectionFlagParsers.name)
    .option('--profile <name>', 'profile of the temporal CLI config file (else TEMPORAL_PROFILE, "default")', connectionFlagParsers.name);
}

/** Every command below `command` that has no subcommands of its own. */
function leafCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => (c.commands.length > 0 ? leafCommands(c) : [c]));
}

export function buildProgram(io: CliIO = defaultIO): Command {
  // A copy: the connection flags replace its environment for this one command line.
  io = { ...io };
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
  TEMPORAL_ADDRESS    Temporal frontend (default 127.0.0.1:7233; or --address)
  TEMPORAL_NAMESPACE  namespace (default "default"; or --namespace)
  TEMPORAL_PROFILE    profile of the temporal CLI's config file (or --profile);
                      TEMPORAL_TLS*, TEMPORAL_API_KEY as for the temporal CLI
                      (docs/temporal-cloud.md)
  CHAMP_TASK_QUEUE    task queue of the worker (default champ-pipelines)
  CHAMP_UI_URL        base of the Web UI links (default http://127.0.0.1:8233)

Exit codes: 0 done (run --wait: deployed); 1 refused or the server failed;
2 bad arguments, spec or configuration; 3 run --wait ended without deploying;
130 run --wait interrupted (the pipeline keeps running).`,
    );

  program
    .command('validate')
    .argument('<spec>', 'pipeline spec file (YAML or JSON)')
    .addOption(
      new Option('--target <where>', 'also check what this target needs: aws refuses file:// locations, the placeholder role and instance types SageMaker lacks')
        .choices(TARGETS)
        .default('local'),
    )
    .description('check a pipeline spec and exit 0, or print what is wrong')
    .action((specPath: string, opts: { target: Target }) => {
      const { spec } = loadSpecArgument(specPath);
      const issues = targetIssues(spec, opts.target);
      if (issues.length > 0) {
        throw new CliError(`${specPath}: not ready for ${opts.target === 'aws' ? 'AWS' : opts.target}\n${new SpecError(issues).format()}`, EXIT.usage);
      }
      io.out(`${specPath}: valid pipeline "${spec.name}" (endpoint ${spec.deployment.endpointName})${opts.target === 'local' ? '' : `, ready for ${opts.target === 'aws' ? 'AWS' : opts.target}`}`);
    });

  program
    .command('run')
    .argument('<spec>', 'pipeline spec file (YAML or JSON)')
    .option('--id <workflowId>', 'workflow id (default: <name>-<UTC timestamp>)', workflowIdArg)
    .option('--wait', 'follow the pipeline until it ends')
    .option('--poll-seconds <n>', 'initial poll interval of the long waits (training, InService), in seconds', pollSeconds)
    .option('--print-input', 'print the workflow input as JSON (for temporal workflow start --input-file) and start nothing')
    .description('validate a spec and start its training pipeline')
    .action(async (specPath: string, opts: { id?: string; wait?: boolean; pollSeconds?: number; printInput?: boolean }) => {
      const { spec } = loadSpecArgument(specPath);
      if (opts.printInput) {
        io.out(JSON.stringify({ spec, trigger: 'manual' }, null, 2));
        return;
      }
      requireLocalInputs(spec, specPath);
      await withClient(io, async (client, cfg) => {
        const workflowId = opts.id ?? `${spec.name}-${timestampId(new Date())}`;
        const input: PipelineInput = {
          spec,
          trigger: 'manual',
          requestedBy: io.env.USER ?? 'cli',
          ...(opts.pollSeconds ? { poll: { initialSeconds: opts.pollSeconds, maxSeconds: Math.max(opts.pollSeconds * 10, 10) } } : {}),
        };
        const handle = await client.workflow
          .start(trainingPipeline, {
            taskQueue: cfg.CHAMP_TASK_QUEUE,
            workflowId,
            args: [input],
            typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name }],
          })
          .catch((err: unknown) => {
            if (err instanceof WorkflowExecutionAlreadyStartedError) {
              throw new CliError(`a pipeline with id "${workflowId}" is already running: pick another --id, or follow it with "champ status ${workflowId}"`, EXIT.usage);
            }
            throw err;
          });
        io.out(`started ${workflowId}`);
        io.out(`  ${uiLink(cfg, 'workflows', workflowId)}`);
        if (opts.wait) {
          const result = await follow(client, handle, io);
          io.out(`${workflowId}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`);
          if (result.outcome !== 'deployed') throw new CliError(`pipeline ended ${result.outcome}; nothing new is serving`, EXIT.notDeployed);
        }
      });
    });

  program
    .command('status')
    .argument('<workflowId>', 'the run (champ list shows them)', workflowIdArg)
    .option('--json', 'print the status as JSON')
    .description("show a pipeline's live stage, metrics and resources")
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      await withClient(io, async (client, cfg) => {
        const handle = client.workflow.getHandle<typeof trainingPipeline>(workflowId);
        const desc = await onWorkflow(workflowId, () => handle.describe());
        const status = await handle.query(statusQuery).catch(() => undefined);
        if (opts.json) {
          io.out(JSON.stringify({ workflowId, runStatus: desc.status.name, status }, null, 2));
          return;
        }
        io.out(`${workflowId}: ${desc.status.name}`);
        if (status) for (const line of formatStatus(status)) io.out(line);
        io.out(`  ${uiLink(cfg, 'workflows', workflowId)}`);
      });
    });

  program
    .command('list')
    .option('--pipeline <name>', 'only this pipeline', pipelineName)
    .option('--limit <n>', 'at most this many', listLimit, 20)
    .description('list pipeline runs, newest first')
    .action(async (opts: { pipeline?: string; limit: number }) => {
      await withClient(io, async (client) => {
        let query = `WorkflowType = '${PIPELINE_WORKFLOW}'`;
        // A pipeline name is letters, digits and hyphens (checked above): nothing in it can end the quoted value.
        if (opts.pipeline) query += ` AND ${SEARCH_ATTRIBUTE_KEYS.pipeline.name} = '${opts.pipeline}'`;
        const rows: string[][] = [];
        for await (const wf of client.workflow.list({ query })) {
          const attrs = wf.typedSearchAttributes;
          const outcome = attrs.get(SEARCH_ATTRIBUTE_KEYS.outcome) ?? attrs.get(SEARCH_ATTRIBUTE_KEYS.stage) ?? '';
          rows.push([wf.workflowId, wf.status.name, outcome, wf.startTime.toISOString()]);
          if (rows.length >= opts.limit) break;
        }
        if (rows.length === 0) {
          io.out(opts.pipeline ? `no runs of pipeline "${opts.pipeline}"` : 'no pipeline runs yet');
          return;
        }
        for (const line of formatTable(['WORKFLOW ID', 'STATUS', 'STAGE/OUTCOME', 'STARTED'], rows)) io.out(line);
      });
    });

  program
    .command('cancel')
    .argument('<workflowId>', 'the run (champ list shows them)', workflowIdArg)
    .description('cancel a pipeline: its training job is stopped, a serving endpoint keeps serving')
    .action(async (workflowId: string) => {
      await withClient(io, async (client) => {
        const handle = client.workflow.getHandle<typeof trainingPipeline>(workflowId);
        const ended = await howItEnded(handle, workflowId);
        if (ended) {
          throw new CliError(`${workflowId} already ended (${ended}): nothing to cancel`);
        }
        await onWorkflow(workflowId, () => handle.cancel());
        io.out(`cancellation requested for ${workflowId}`);
      });
    });

  const decide = (kind: 'approve' | 'reject') =>
    program
      .command(kind)
      .argument('<workflowId>', 'the run (champ list shows them)', workflowIdArg)
      .requiredOption('--version <n>', 'the model version awaiting approval', modelVersion)
      .requiredOption('--reviewer <name>', 'who decides')
      .option(kind === 'approve' ? '--comment <text>' : '--reason <text>', kind === 'approve' ? 'a note' : 'why (required)')
      .description(kind === 'approve' ? 'approve the candidate awaiting approval' : 'reject the candidate awaiting approval')
      .action(async (workflowId: string, opts: { version: number; reviewer: string; comment?: string; reason?: string }) => {
        const reviewer = decisionText('--reviewer', opts.reviewer, '--reviewer must be a name (who decides), not blank');
        const reason = kind === 'reject' ? decisionText('--reason', opts.reason, 'say why the candidate is rejected') : undefined;
        const comment = opts.comment === undefined ? undefined : decisionText('--comment', opts.comment, 'leave it out, or say something');
        await withClient(io, async (client) => {
          const handle = client.workflow.getHandle<typeof trainingPipeline>(workflowId);
          await sendDecision(handle, workflowId, kind, () =>
            kind === 'approve'
              ? handle.executeUpdate(approveUpdate, { args: [{ modelVersion: opts.version, reviewer, comment }] })
              : handle.executeUpdate(rejectUpdate, { args: [{ modelVersion: opts.version, reviewer, reason: reason ?? '' }] }),
          );
          io.out(`${kind === 'approve' ? 'approved' : 'rejected'} model version ${opts.version} of ${workflowId}`);
        });
      });
  decide('approve');
  decide('reject');

  addScheduleCommands(program, io);
  addTransformCommand(program, io);
  addBuildCommand(program, io);
  addEndpointCommands(program, io);

  addConnectionFlags(program);
  for (const command of leafCommands(program)) if (command.name() !== 'validate') addConnectionFlags(command);
  program.hook('preAction', (_program, action) => {
    io.env = withConnectionFlags(io.env, action.optsWithGlobals<ConnectionFlags>());
  });

  return program;
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
