// The command: `npm run local-sagemaker [-- --port 8787 --state-dir ./.champ]`.
// Flags win over the environment (config.ts), which wins over the defaults.
import { Command, InvalidArgumentError } from 'commander';
import { loadLocalConfig } from './config';
import { describeIsolation } from './containers';
import { withheldFromContainers } from './containers/sagemaker-env';
import { startLocalSageMaker } from './server';

/**
 * The control plane calls no AWS service: credentials in its environment are of
 * no use to it and only risk reaching a container. Dropped from process.env so
 * no child gets them; the kernel's copy (/proc/<pid>/environ) stays, which is
 * why containers run where they cannot see this process (Docker, or namespace
 * mode's own PID namespace).
 */
function dropCredentials(): string[] {
  const dropped = Object.keys(process.env).filter(withheldFromContainers);
  for (const name of dropped) delete process.env[name];
  return dropped;
}

function portArg(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`expected a TCP port 0-65535 (0 = any free port), got "${raw}"`);
  }
  return n;
}

async function main(): Promise<void> {
  const defaults = loadLocalConfig({});
  const program = new Command('local-sagemaker')
    .description('A local SageMaker-compatible control plane (SageMaker JSON 1.1 API and SageMaker Runtime invocations)')
    .option('--port <port>', `port on 127.0.0.1; env CHAMP_LOCAL_SAGEMAKER_PORT; default ${defaults.CHAMP_LOCAL_SAGEMAKER_PORT}`, portArg)
    .option('--state-dir <dir>', `champ home; state lives under <dir>/local-sagemaker; env CHAMP_HOME; default ./${defaults.CHAMP_HOME}`)
    .option('--image-store <dir>', 'where local images (champ.local/<repo>:<tag>) live; env CHAMP_IMAGE_STORE; default <state-dir>/images')
    .parse();
  const opts = program.opts<{ port?: number; stateDir?: string; imageStore?: string }>();
  const config = loadLocalConfig();
  const dropped = dropCredentials();
  const server = await startLocalSageMaker({
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    stateDir: opts.stateDir ?? config.CHAMP_HOME,
    ...(opts.imageStore !== undefined ? { imageStore: opts.imageStore } : {}),
    config,
  });
  process.stdout.write(`local SageMaker listening on ${server.url}\n`);
  process.stdout.write(`${await describeIsolation(config.CHAMP_LOCAL_ISOLATION)}\n`);
  if (dropped.length > 0) process.stdout.write(`ignoring ${dropped.length} credential variable(s) of its environment (${dropped.join(', ')}): containers never get them\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[local-sagemaker] ${signal}: stopping every container, then exiting\n`);
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`[local-sagemaker] shutdown failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  process.stderr.write(`local-sagemaker: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});
