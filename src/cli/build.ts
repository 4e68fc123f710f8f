// `champ build <spec>`: build and push the pipeline's image only, through the
// buildImage workflow (src/workflows/build-image.ts); skipped when that exact
// content was built before.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { SEARCH_ATTRIBUTE_KEYS } from '../shared';
import { buildImage, type ImageBuildInput } from '../workflows';
import { refuseNamedPipe, workflowId as workflowIdArg } from './arguments';
import { CliError, EXIT, firstLine, loadSpecOrExplain, uiLink, withClient, type CliIO } from './common';

export function addBuildCommand(program: Command, io: CliIO): void {
  program
    .command('build')
    .argument('<spec>', 'pipeline spec file: its image section is built')
    .option('--id <workflowId>', 'workflow id (default: <name>-build-<UTC timestamp>)', workflowIdArg)
    .option('--no-wait', 'start the build and return')
    .option('--print-input', 'print the workflow input as JSON (for temporal workflow start --input-file) and start nothing')
    .description("build and push the pipeline's image only; skipped when an image of that exact content exists")
    .action(async (specPath: string, opts: { id?: string; wait: boolean; printInput?: boolean }) => {
      refuseNamedPipe(specPath);
      const { spec } = loadSpecOrExplain(specPath);
      const input: ImageBuildInput = { spec, requestedBy: io.env.USER ?? 'cli' };
      if (opts.printInput) {
        io.out(JSON.stringify(input, null, 2));
        return;
      }
      await withClient(io, async (client: Client, cfg) => {
        const workflowId = opts.id ?? `${spec.name}-build-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').toLowerCase()}`;
        const handle = await client.workflow
          .start(buildImage, { taskQueue: cfg.CHAMP_TASK_QUEUE, workflowId, args: [input], typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name }] })
          .catch((err: unknown) => {
            if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`a workflow with id "${workflowId}" is already running: pick another --id`, EXIT.usage);
            throw err;
          });
        io.out(`started ${workflowId}`);
        io.out(`  ${uiLink(cfg, 'workflows', workflowId)}`);
        if (!opts.wait) return;
        try {
          const result = await handle.result();
          io.out(`${workflowId}: ${result.outcome}: ${result.reason}`);
          io.out(`  image: ${result.imageUri}`);
        } catch (err) {
          throw new CliError(`${workflowId}: build failed: ${firstLine((err as { cause?: unknown }).cause ?? err)}`);
        }
      });
    });
}
