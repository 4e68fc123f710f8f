// `npm run demo`: the whole cycle on one machine. Starts (or reuses) the
// Temporal dev server, the local SageMaker control plane and a worker;
// generates policy data; runs the claims-severity pipeline with approval given
// through the `approve` update; shows predictions with their risk terms.
// Run it again (or with --drift 0.3) and it retrains and updates the live
// endpoint while a stream of requests keeps hitting it.
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { Client, Connection } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startStack, type Stack } from '../src/dev/stack';
import { loadConfig, type Config } from '../src/config';
import { createLogger } from '../src/logging';
import { SEARCH_ATTRIBUTE_KEYS } from '../src/shared';
import { CLAIMS_EXAMPLE, claimsExampleSpec } from '../src/dev/example-spec';
import type { CliIO } from '../src/cli/common';
import { follow, formatMetrics, stageDetail } from '../src/cli/progress';
import { approveUpdate, trainingPipeline, type PipelineInput, type PipelineResult } from '../src/workflows';
import { LOCAL_DUMMY_CREDENTIALS } from '../src/aws/clients';

// Node 20 is supported; the SDK's notice about its future versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROOT = resolve(__dirname, '..');

const { values: args } = parseArgs({
  options: {
    drift: { type: 'string', default: '0' },
    seed: { type: 'string', default: '7' },
    rows: { type: 'string', default: '20000' },
    serve: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run demo [-- --drift 0..1] [--seed N] [--rows N] [--serve]
  --drift   shift the data's true coefficients (0 = none) before retraining
  --seed    data generator seed (default 7)
  --rows    policies to generate (default 20000)
  --serve   keep everything running afterwards, until Ctrl-C`);
  process.exit(0);
}

const drift = Number(args.drift);
if (!(drift >= 0 && drift <= 1)) fail(`--drift must be a number from 0 to 1, got "${args.drift}"`);
const rows = Number(args.rows);
if (!Number.isInteger(rows) || rows < 500) fail(`--rows must be a whole number of at least 500, got "${args.rows}"`);

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  fail((err as Error).message);
}
const ports = { temporal: config.CHAMP_TEMPORAL_PORT, ui: config.CHAMP_UI_PORT, sageMaker: config.CHAMP_LOCAL_SAGEMAKER_PORT };
const home = resolve(process.env.CHAMP_HOME ? config.CHAMP_HOME : join(ROOT, '.champ'));
const started = Date.now();

function fail(message: string): never {
  console.error(`champ demo: ${message}`);
  process.exit(2);
}

function say(line = ''): void {
  console.log(line);
}

function elapsed(): string {
  return `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
}

/** A stack someone already runs with `npm run dev` is reused, not started twice. */
async function runningStack(): Promise<{ temporalAddress: string; sageMakerUrl: string } | undefined> {
  const temporalAddress = `127.0.0.1:${ports.temporal}`;
  const sageMakerUrl = `http://127.0.0.1:${ports.sageMaker}`;
  try {
    const ping = await fetch(`${sageMakerUrl}/ping`, { signal: AbortSignal.timeout(500) });
    if (!ping.ok) return undefined;
    const conn = await Connection.connect({ address: temporalAddress, connectTimeout: '1s' });
    await conn.close();
    return { temporalAddress, sageMakerUrl };
  } catch {
    return undefined;
  }
}

function generateData(dataDir: string): void {
  const r = spawnSync(
    'python3',
    [join(CLAIMS_EXAMPLE, 'generate.py'), '--rows', String(rows), '--seed', String(args.seed), '--drift', String(drift), '--out', dataDir],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) fail(`generating data failed: ${r.stderr || r.stdout || r.error?.message}`);
  say(`${elapsed()}  data       ${r.stdout.trim()}`);
}

/** Keeps calling the endpoint while an update runs, to show none is dropped. */
function requestStream(runtime: SageMakerRuntimeClient, endpointName: string) {
  const counts = { ok: 0, failed: 0, models: new Set<string>() };
  let running = true;
  const body = '35,4,20.2,14.3,east';
  const loop = (async () => {
    while (running) {
      try {
        const r = await runtime.send(new InvokeEndpointCommand({ EndpointName: endpointName, ContentType: 'text/csv', Accept: 'application/json', Body: body }));
        counts.ok++;
        const id = (JSON.parse(Buffer.from(r.Body ?? new Uint8Array()).toString()) as { model_id?: string }).model_id;
        if (id) counts.models.add(id);
      } catch {
        counts.failed++;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    counts,
    stop: async () => {
      running = false;
      await loop;
      return counts;
    },
  };
}

async function main(): Promise<void> {
  say('champ demo: train, gate, approve and deploy a claims-severity model on this machine');
  say('');
  // Quiet unless asked: the demo prints its own progress.
  const log = createLogger({ level: process.env.LOG_LEVEL ? config.LOG_LEVEL : 'error', name: 'champ-demo', format: 'pretty' });
  const reused = await runningStack();
  let stack: Stack | undefined;
  let temporalAddress: string;
  let sageMakerUrl: string;
  let uiUrl = `http://127.0.0.1:${ports.ui}`;
  if (reused) {
    ({ temporalAddress, sageMakerUrl } = reused);
    say(`${elapsed()}  stack      using the running dev stack (Temporal ${temporalAddress}, SageMaker ${sageMakerUrl})`);
  } else {
    try {
      stack = await startStack({ home, temporalPort: ports.temporal, uiPort: ports.ui, sageMakerPort: ports.sageMaker, log });
    } catch (err) {
      fail(`${(err as Error).message}\nIs something else on ports ${ports.temporal}/${ports.ui}/${ports.sageMaker}? Set CHAMP_TEMPORAL_PORT, CHAMP_UI_PORT, CHAMP_LOCAL_SAGEMAKER_PORT.`);
    }
    temporalAddress = stack.temporalAddress;
    sageMakerUrl = stack.sageMakerUrl!;
    uiUrl = stack.uiUrl;
    say(`${elapsed()}  stack      Temporal ${temporalAddress}, Web UI ${uiUrl}, local SageMaker ${sageMakerUrl}, worker polling`);
    const images = stack.images;
    say(`${elapsed()}  images     ${images.kind === 'registry' ? `pushed to ${images.registry} through ECR at ${images.ecrUrl}` : images.kind === 'store' ? `local image store (${images.reason})` : 'ECR'}`);
  }

  const dataDir = join(home, 'demo', 'data');
  mkdirSync(dataDir, { recursive: true });
  generateData(dataDir);
  const spec = claimsExampleSpec(dataDir, join(home, 'artifacts'));

  const runtime = new SageMakerRuntimeClient({ endpoint: sageMakerUrl, region: 'us-east-1', credentials: LOCAL_DUMMY_CREDENTIALS });
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection });
  const workflowId = `${spec.name}-demo-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`;
  const input: PipelineInput = { spec, trigger: 'manual', requestedBy: 'demo', poll: { initialSeconds: 0.5, maxSeconds: 2 } };
  const handle = await client.workflow.start(trainingPipeline, {
    taskQueue: config.CHAMP_TASK_QUEUE,
    workflowId,
    args: [input],
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name }],
  });
  const link = `${uiUrl}/namespaces/default/workflows/${workflowId}`;
  say(`${elapsed()}  started    ${workflowId}`);

  let approved = false;
  let stream: ReturnType<typeof requestStream> | undefined;
  const io: CliIO = { out: say, err: (line) => console.error(line), env: process.env };
  let outcome: PipelineResult;
  try {
    outcome = await follow(client, handle, io, {
      time: elapsed,
      pollMs: 250,
      detail: (stage, s) => {
        if (stage === 'building') return s.resources.imageUri ?? spec.image.context ?? '';
        if (stage === 'gating' && !s.gate) return formatMetrics(s.candidate.metrics);
        // The demo gives the approval itself, and says so.
        if (stage === 'awaiting-approval') return '';
        return stageDetail(stage, s, workflowId);
      },
      onStatus: async (s, entered) => {
        if (entered.includes('deploying') && s.champion && !stream) {
          stream = requestStream(runtime, spec.deployment.endpointName);
          say(`${elapsed()}  ${''.padEnd(18)} calling the live endpoint continuously during the update`);
        }
        if (s.approval?.awaiting && !approved && s.approval.modelVersion !== undefined) {
          approved = true;
          say(`${elapsed()}  ${''.padEnd(18)} approving model version ${s.approval.modelVersion} through the "approve" update (reviewer: demo)`);
          await handle.executeUpdate(approveUpdate, { args: [{ modelVersion: s.approval.modelVersion, reviewer: 'demo', comment: 'approved by npm run demo' }] });
        }
      },
    });
  } catch (err) {
    await stream?.stop();
    say(`${elapsed()}  failed     ${(err as Error).message}`);
    say(`See why in the Web UI: ${link}`);
    await connection.close();
    await stack?.stop();
    process.exit(1);
  }
  const counts = await stream?.stop();
  say(`${elapsed()}  ${outcome.outcome}${outcome.reason ? `: ${outcome.reason}` : ''}`);
  if (counts) {
    say(`${elapsed()}  ${''.padEnd(18)} during the update: ${counts.ok} requests answered, ${counts.failed} failed, models seen: ${[...counts.models].join(', ')}`);
  }

  if (outcome.outcome === 'deployed' || outcome.outcome === 'rolled-back' || outcome.outcome === 'rejected-by-gate') {
    const payload = readFileSync(join(CLAIMS_EXAMPLE, 'local_test', 'payload.json'));
    try {
      const r = await runtime.send(
        new InvokeEndpointCommand({ EndpointName: spec.deployment.endpointName, ContentType: 'application/json', Accept: 'application/json', Body: payload }),
      );
      const body = JSON.parse(Buffer.from(r.Body ?? new Uint8Array()).toString()) as {
        model_id: string;
        predictions: Array<{ prediction: number; risk_terms: Record<string, number> }>;
      };
      const instances = (JSON.parse(payload.toString()) as { instances: Array<Record<string, unknown>> }).instances;
      say('');
      say(`Predictions from endpoint ${spec.deployment.endpointName} (model ${body.model_id}); risk terms are on the log scale and add up to log(prediction):`);
      body.predictions.forEach((p, i) => {
        const row = instances[i] ?? {};
        say(`  ${JSON.stringify(row)}`);
        say(`    expected claim cost ${p.prediction.toFixed(2)}`);
        const terms = Object.entries(p.risk_terms).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
        say(`    ${terms.map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v.toFixed(3)}`).join('  ')}`);
      });
    } catch (err) {
      say(`the endpoint did not answer: ${(err as Error).message}`);
    }
  }

  say('');
  say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  say(`  The run in the Web UI:  ${link}${stack && !args.serve ? '  (while npm run dev or npm run demo -- --serve runs)' : ''}`);
  say(`  Call the endpoint:      curl -s -X POST ${sageMakerUrl}/endpoints/${spec.deployment.endpointName}/invocations \\`);
  say(`                            -H 'Content-Type: application/json' -d @examples/claims-severity/local_test/payload.json`);
  if (stack && !args.serve) say(`                          (the endpoint answers while npm run dev or npm run demo -- --serve runs)`);
  say(`  Run it again (or: npm run demo -- --drift 0.3) to retrain and update the live endpoint.`);
  await connection.close();
  if (stack && args.serve) {
    say('  Everything keeps running; Ctrl-C stops it.');
    const stop = () => void stack.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  if (stack) {
    say('  The stack stops now; "npm run dev" brings it back, with the endpoint serving, until Ctrl-C.');
    await stack.stop();
  }
  process.exit(outcome.outcome === 'deployed' ? 0 : 3);
}

main().catch((err) => fail((err as Error).stack ?? String(err)));
