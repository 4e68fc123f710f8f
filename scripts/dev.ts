// `npm run dev`: the Temporal dev server (UI included), the local SageMaker
// control plane and a worker, until Ctrl-C. `--aws` leaves the control plane out.
import { startStack } from '../src/dev/stack';
import { ConfigError, loadConfigOrExit, type Config } from '../src/config';
import { loadLocalConfig } from '../src/local';
import { createLogger } from '../src/logging';

// Node 20 is supported; the AWS SDK's notice about its future versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What a second terminal needs when the stack is not on the default ports. */
function clientEnvHint(config: Pick<Config, 'CHAMP_TEMPORAL_PORT' | 'CHAMP_UI_PORT'>, temporalAddress: string, uiUrl: string): string | undefined {
  if (config.CHAMP_TEMPORAL_PORT === 7233 && config.CHAMP_UI_PORT === 8233) return undefined;
  // The temporal CLI reads TEMPORAL_ADDRESS too.
  return `export TEMPORAL_ADDRESS=${temporalAddress} CHAMP_UI_URL=${uiUrl}`;
}

async function main(): Promise<void> {
  const aws = process.argv.includes('--aws');
  // The control plane's own settings are checked too, before anything starts.
  const config = loadConfigOrExit('champ dev', aws ? undefined : () => loadLocalConfig());
  const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'champ-dev' });
  const stack = await startStack({
    home: config.CHAMP_HOME,
    temporalPort: config.CHAMP_TEMPORAL_PORT,
    uiPort: config.CHAMP_UI_PORT,
    sageMakerPort: aws ? undefined : config.CHAMP_LOCAL_SAGEMAKER_PORT,
    codecPort: config.CHAMP_CODEC_PORT,
    log,
  }).catch((err: unknown) => {
    throw err instanceof ConfigError
      ? err
      : new Error(
          `${(err as Error).message}\nIs something else on ports ${config.CHAMP_TEMPORAL_PORT}/${config.CHAMP_UI_PORT}/${config.CHAMP_LOCAL_SAGEMAKER_PORT}? Set CHAMP_TEMPORAL_PORT, CHAMP_UI_PORT, CHAMP_LOCAL_SAGEMAKER_PORT.`,
        );
  });
  const hint = clientEnvHint(config, stack.temporalAddress, stack.uiUrl);
  console.log('');
  console.log(`  Temporal      ${stack.temporalAddress}`);
  console.log(`  Web UI        ${stack.uiUrl}`);
  if (stack.sageMakerUrl) console.log(`  SageMaker     ${stack.sageMakerUrl} (local control plane)`);
  if (stack.images.kind === 'registry') console.log(`  Images        ${stack.images.registry} (pushed through ECR at ${stack.images.ecrUrl})`);
  if (stack.images.kind === 'store') console.log(`  Images        local image store (${stack.images.reason})`);
  if (stack.codecUrl) console.log(`  Codec server  ${stack.codecUrl} (payloads are encrypted; the Web UI decodes through it)`);
  if (hint) console.log(`  In another terminal first:  ${hint}`);
  console.log(`  Start a pipeline:  npx champ run examples/claims-severity/pipeline.yaml --wait`);
  console.log('  Ctrl-C stops everything.');
  console.log('');
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    stack.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(`champ dev: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
