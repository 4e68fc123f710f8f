// `npm run dev`: the Temporal dev server (UI included), the local SageMaker
// control plane and a worker, until Ctrl-C. `--aws` leaves the control plane out.
import { startStack } from '../src/dev/stack';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logging';

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`champ dev: ${name}=${JSON.stringify(raw)} must be a port number (0-65535)`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const aws = process.argv.includes('--aws');
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`champ dev: ${(err as Error).message}`);
    process.exit(2);
  }
  const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'champ-dev' });
  const stack = await startStack({
    home: process.env.CHAMP_HOME ?? '.champ',
    temporalPort: port('CHAMP_TEMPORAL_PORT', 7233),
    uiPort: port('CHAMP_UI_PORT', 8233),
    sageMakerPort: aws ? undefined : port('CHAMP_LOCAL_SAGEMAKER_PORT', 8787),
    log,
  });
  console.log('');
  console.log(`  Temporal      ${stack.temporalAddress}`);
  console.log(`  Web UI        ${stack.uiUrl}`);
  if (stack.sageMakerUrl) console.log(`  SageMaker     ${stack.sageMakerUrl} (local control plane)`);
  console.log(`  Start a pipeline:  npm run cli -- run examples/claims-severity/pipeline.yaml --wait`);
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
  process.exit(1);
});
