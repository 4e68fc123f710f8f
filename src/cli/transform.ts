// `champ transform <spec> --input <location>`: a batch transform of a model
// package version (default: the champion) over the input, through the
// batchTransform workflow (src/workflows/transform.ts).
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { InvalidArgumentError, type Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SEARCH_ATTRIBUTE_KEYS } from '../shared';
import { batchTransform, transformStatusQuery, type BatchTransformInput, type BatchTransformResult } from '../workflows';
import { modelVersion, pollSeconds, refuseNamedPipe, workflowId as workflowIdArg } from './arguments';
import { CliError, EXIT, firstLine, loadSpecOrExplain, uiLink, withClient, type CliIO } from './common';

/** s3:// and file:// as given; a plain path is a local folder or file, read against the working folder. */
export function locationArg(raw: string): string {
  if (raw.trim() === '') throw new InvalidArgumentError('must not be blank: give s3://bucket/prefix, file:///path, or a local path');
  if (/^(s3|file):\/\//.test(raw)) return raw;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw new InvalidArgumentError(`"${raw}": only s3:// and file:// locations (or a local path) are understood`);
  return pathToFileURL(isAbsolute(raw) ? raw : resolve(raw)).href;
}

function splitArg(raw: string): 'None' | 'Line' {
  if (raw === 'None' || raw === 'Line') return raw;
  throw new InvalidArgumentError(`"${raw}": give Line (one request per line) or None (one request per file)`);
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').toLowerCase();
}

/** Prints each stage as the run reaches it, until it ends; returns its result. */
async function followTransform(handle: WorkflowHandle<typeof batchTransform>, io: CliIO): Promise<BatchTransformResult> {
  let shown = '';
  let done = false;
  const result = handle.result().finally(() => {
    done = true;
  });
  while (!done) {
    const status = await handle.query(transformStatusQuery).catch(() => undefined);
    const line = status ? `  ${status.stage}${status.jobName ? ` (job ${status.jobName})` : ''}${status.modelVersion ? `, model version ${status.modelVersion}` : ''}` : '';
    if (line && line !== shown) io.out(line);
    shown = line || shown;
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  return result;
}

export function addTransformCommand(program: Command, io: CliIO): void {
  program
    .command('transform')
    .argument('<spec>', 'pipeline spec file: its registry, role, instance type and environment apply')
    .requiredOption('--input <location>', 'the data: s3://bucket/prefix, file:///path, or a local folder or file', locationArg)
    .option('--model-version <n>', 'model package version to run (default: the current champion)', modelVersion)
    .option('--output <location>', 'where the answers go (default: <training.outputPath>/transform/<job>)', locationArg)
    .option('--content-type <type>', 'Content-Type of each request', 'text/csv')
    .option('--accept <type>', 'Accept header of each request', 'application/json')
    .option('--split <Line|None>', 'Line: one request per line; None: one per file', splitArg, 'Line')
    .option('--id <workflowId>', 'workflow id (default: <name>-transform-<UTC timestamp>)', workflowIdArg)
    .option('--poll-seconds <n>', 'initial poll interval of the wait for the job, in seconds', pollSeconds)
    .option('--wait', 'follow the run until it ends and print where the answers are')
    .option('--print-input', 'print the workflow input as JSON (for temporal workflow start --input-file) and start nothing')
    .description('run a model version (default: the champion) over an input location with a batch transform job')
    .action(
      async (
        specPath: string,
        opts: { input: string; modelVersion?: number; output?: string; contentType: string; accept: string; split: 'None' | 'Line'; id?: string; pollSeconds?: number; wait?: boolean; printInput?: boolean },
      ) => {
        refuseNamedPipe(specPath);
        const { spec } = loadSpecOrExplain(specPath);
        const input: BatchTransformInput = {
          spec,
          input: { uri: opts.input, contentType: opts.contentType, splitType: opts.split },
          accept: opts.accept,
          requestedBy: io.env.USER ?? 'cli',
          ...(opts.modelVersion !== undefined ? { modelVersion: opts.modelVersion } : {}),
          ...(opts.output ? { outputUri: opts.output } : {}),
          ...(opts.pollSeconds ? { poll: { initialSeconds: opts.pollSeconds, maxSeconds: Math.max(opts.pollSeconds * 10, 10) } } : {}),
        };
        if (opts.printInput) {
          io.out(JSON.stringify(input, null, 2));
          return;
        }
        await withClient(io, async (client: Client, cfg) => {
          const workflowId = opts.id ?? `${spec.name}-transform-${stamp(new Date())}`;
          const handle = await client.workflow
            .start(batchTransform, { taskQueue: cfg.CHAMP_TASK_QUEUE, workflowId, args: [input], typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name }] })
            .catch((err: unknown) => {
              if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`a workflow with id "${workflowId}" is already running: pick another --id`, EXIT.usage);
              throw err;
            });
          io.out(`started ${workflowId}: ${opts.modelVersion !== undefined ? `version ${opts.modelVersion}` : 'the champion'} of ${spec.name} over ${opts.input}`);
          io.out(`  ${uiLink(cfg, 'workflows', workflowId)}`);
          if (!opts.wait) return;
          try {
            const result = await followTransform(handle, io);
            io.out(`${workflowId}: completed: version ${result.modelVersion} answered ${result.inputObjects} input object(s) in ${result.seconds} s`);
            io.out(`  answers: ${result.outputUri}`);
          } catch (err) {
            throw new CliError(`${workflowId}: batch transform did not complete: ${firstLine((err as { cause?: unknown }).cause ?? err)}`);
          }
        });
      },
    );
}
