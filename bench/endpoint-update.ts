// Benchmark: how an endpoint behaves under load while UpdateEndpoint swaps its
// model. Starts the local control plane on a free port with a temp state dir,
// trains two claims-severity models (data seeds differ), deploys the first,
// runs C concurrent InvokeEndpoint loops for a fixed time and updates the
// endpoint to the second model half-way. Prints numbers, and which isolation
// mode the containers ran in (read from their own logs); asserts nothing.
//
//   npx tsx bench/endpoint-update.ts [--mode process|docker] [--concurrency 8] [--seconds 10] [--rows 5000]
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateTrainingJobCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  DescribeTrainingJobCommand,
  SageMakerClient,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LOCAL_DUMMY_CREDENTIALS } from '../src/aws/clients';
import { snapshotContext } from '../src/artifacts/image-store';
import { startLocalSageMaker } from '../src/local';
import { dockerAvailable, namespaceIsolationAvailable } from '../src/local/containers';
import { spawnDockerRunner } from '../src/activities/docker';
import { removeLocalTags } from '../src/artifacts/local-tags';
import { Cleanup, fail, ms, numberFlag, percentile, seconds, sleep } from './lib';
import { classifyEndpoint } from '../src/aws/status';

const BENCH = 'bench/endpoint-update';
const EXAMPLE = resolve(__dirname, '..', 'examples', 'claims-severity');
const ROLE = 'arn:aws:iam::000000000000:role/champ-bench';
const REGION = 'us-east-1';
const PAYLOAD = '35,4,20.2,14.3,east';
/** A hard cap on the load phase past --seconds when the update is still running, so a hang cannot run forever. */
const UPDATE_GRACE_MS = 120_000;
const REQUEST_TIMEOUT_MS = 10_000;

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'process' },
    concurrency: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    rows: { type: 'string', default: '5000' },
    'max-requests': { type: 'string', default: '500000' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npx tsx bench/endpoint-update.ts [--mode process|docker] [--concurrency 8] [--seconds 10] [--rows 5000] [--max-requests 500000]
  --mode          process: the example's programs as host processes (namespace isolation where
                  the OS allows, else env); docker: the example's image built and run by the
                  Docker engine (fails at once when no engine answers)
  --concurrency   InvokeEndpoint loops running at once (1-256)
  --seconds       length of the load phase; UpdateEndpoint is called half-way (2-600)
  --rows          policies generated per training data set (500-200000)
  --max-requests  stop the load early after this many requests`);
  process.exit(0);
}
if (args.mode !== 'process' && args.mode !== 'docker') fail(BENCH, `--mode must be process or docker, got "${args.mode}"`);
const mode: 'process' | 'docker' = args.mode;
const concurrency = numberFlag(BENCH, 'concurrency', args.concurrency, 1, 256);
const durationMs = numberFlag(BENCH, 'seconds', args.seconds, 2, 600, false) * 1000;
const rows = numberFlag(BENCH, 'rows', args.rows, 500, 200_000);
const maxRequests = numberFlag(BENCH, 'max-requests', args['max-requests'], 1, 10_000_000);

interface Sample {
  /** ms since the load phase began */
  start: number;
  latency: number;
  ok: boolean;
  modelId?: string;
}

function log(line: string): void {
  console.log(line);
}

async function train(sm: SageMakerClient, jobName: string, imageUri: string, dataDir: string, outputDir: string): Promise<string> {
  await sm.send(
    new CreateTrainingJobCommand({
      TrainingJobName: jobName,
      RoleArn: ROLE,
      AlgorithmSpecification: { TrainingImage: imageUri, TrainingInputMode: 'File' },
      HyperParameters: { power: '1.5', max_iter: '50', l2: '0.01' },
      InputDataConfig: ['train', 'validation'].map((channel) => ({
        ChannelName: channel,
        ContentType: 'text/csv',
        DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `file://${join(dataDir, channel)}`, S3DataDistributionType: 'FullyReplicated' } },
      })),
      OutputDataConfig: { S3OutputPath: `file://${outputDir}` },
      ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
      StoppingCondition: { MaxRuntimeInSeconds: 300 },
    }),
  );
  const deadline = Date.now() + 300_000;
  for (;;) {
    const d = await sm.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
    if (d.TrainingJobStatus === 'Completed') {
      const artifact = d.ModelArtifacts?.S3ModelArtifacts;
      if (!artifact) throw new Error(`training job ${jobName} completed without a model artifact`);
      return artifact;
    }
    if (d.TrainingJobStatus === 'Failed' || d.TrainingJobStatus === 'Stopped') {
      throw new Error(`training job ${jobName} ended ${d.TrainingJobStatus}: ${d.FailureReason ?? 'no reason given'}`);
    }
    if (Date.now() > deadline) throw new Error(`training job ${jobName} still ${d.TrainingJobStatus} after 300 s`);
    await sleep(200);
  }
}

async function modelAndConfig(sm: SageMakerClient, name: string, imageUri: string, artifact: string): Promise<void> {
  await sm.send(new CreateModelCommand({ ModelName: name, ExecutionRoleArn: ROLE, PrimaryContainer: { Image: imageUri, ModelDataUrl: artifact } }));
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: name,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: name, InstanceType: 'ml.m5.large', InitialInstanceCount: 1, InitialVariantWeight: 1 }],
    }),
  );
}

/** Polls DescribeEndpoint until InService; returns when it was seen (performance.now()). */
async function waitInService(sm: SageMakerClient, endpointName: string, timeoutMs: number, intervalMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await sm.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
    const c = classifyEndpoint(d);
    if (c.state === 'failed') throw new Error(`endpoint ${endpointName} is ${c.status}: ${c.reason}`);
    if (c.state === 'done') {
      if (c.reason) throw new Error(`endpoint ${endpointName} is InService with FailureReason: ${c.reason}`);
      return performance.now();
    }
    if (Date.now() > deadline) throw new Error(`endpoint ${endpointName} still ${c.status} after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

function summary(samples: Sample[]): { n: number; failures: number; p50: number; p90: number; p99: number; max: number } {
  const lat = samples.map((s) => s.latency).sort((a, b) => a - b);
  return {
    n: samples.length,
    failures: samples.filter((s) => !s.ok).length,
    p50: percentile(lat, 50),
    p90: percentile(lat, 90),
    p99: percentile(lat, 99),
    max: lat.length ? lat[lat.length - 1]! : Number.NaN,
  };
}

/** A failure the benchmark explains itself (no stack trace); thrown inside main so cleanup still runs. */
class Refusal extends Error {}

/** The isolation to ask the control plane for: docker needs an engine; process takes namespaces where the OS gives them. */
async function isolationFor(wanted: 'process' | 'docker'): Promise<'docker' | 'namespace' | 'env'> {
  if (wanted === 'docker') {
    if (!(await dockerAvailable())) {
      fail(BENCH, '--mode docker: no Docker engine answers `docker info`; start one (bash scripts/engine/ensure.sh) or run with --mode process');
    }
    return 'docker';
  }
  return (await namespaceIsolationAvailable()) ? 'namespace' : 'env';
}

/** The `[champ] isolation: <mode>` line each container writes first in its log, for every log under `dir` named `file`. */
function modesIn(dir: string, file: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === file) {
        const m = /^\[champ\] isolation: (\w+)/m.exec(readFileSync(p, 'utf8'));
        found.push(m ? m[1]! : 'unknown');
      }
    }
  };
  walk(dir);
  return found;
}

async function main(): Promise<void> {
  const cleanup = new Cleanup(BENCH);
  const home = mkdtempSync(join(tmpdir(), 'champ-bench-update-'));
  cleanup.add(() => rmSync(home, { recursive: true, force: true }));
  try {
    const t0 = performance.now();
    const at = () => `${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
    const isolation = await isolationFor(mode);
    log(`${BENCH}: --mode ${mode} (isolation ${isolation}), concurrency ${concurrency}, ${durationMs / 1000} s of load, UpdateEndpoint at ${durationMs / 2000} s`);

    const imageStore = join(home, 'images');
    mkdirSync(imageStore, { recursive: true });
    const { imageUri } = await snapshotContext({ contextDir: EXAMPLE, repository: 'claims-severity', store: imageStore });
    if (mode === 'docker') {
      // The engine runs what its image holds: build it under the snapshot's name, as the pipeline's build stage does.
      // Registered before the control plane's close, so it runs after it: a tag goes only once no container uses it.
      const docker = spawnDockerRunner();
      cleanup.add(async () => {
        const r = await removeLocalTags(docker, [imageUri]);
        if (r.inUse.length + r.failed.length > 0) console.error(`${BENCH}: could not remove the Docker tag ${imageUri}: ${JSON.stringify(r)}`);
      });
      const built = await docker.run(['build', '-t', imageUri, EXAMPLE], { timeoutMs: 600_000 });
      if (built.code !== 0) throw new Refusal(`--mode docker: docker build of ${imageUri} failed (exit ${built.code}):\n${built.output.slice(-1500)}`);
      log(`${at()}  docker build ${imageUri}`);
    }

    const local = await startLocalSageMaker({ port: 0, stateDir: home, imageStore, isolation, healthTimeoutMs: 60_000, log: () => undefined });
    cleanup.add(() => local.close());
    const sm = new SageMakerClient({ endpoint: local.url, region: REGION, credentials: LOCAL_DUMMY_CREDENTIALS });
    // One attempt per call: an SDK retry would hide exactly the failures this benchmark counts.
    const runtime = new SageMakerRuntimeClient({ endpoint: local.url, region: REGION, credentials: LOCAL_DUMMY_CREDENTIALS, maxAttempts: 1 });
    cleanup.add(() => {
      sm.destroy();
      runtime.destroy();
    });
    log(`${at()}  control plane ${local.url}`);

    const seeds = [7, 8];
    for (const seed of seeds) {
      execFileSync('python3', [join(EXAMPLE, 'generate.py'), '--rows', String(rows), '--seed', String(seed), '--out', join(home, `data-${seed}`)], { stdio: 'pipe' });
    }
    log(`${at()}  image ${imageUri}; data: ${rows} rows, seeds ${seeds.join(', ')}`);

    const suffix = Date.now().toString(36);
    const artifacts = await Promise.all(
      seeds.map((seed) => train(sm, `bench-${suffix}-seed${seed}`, imageUri, join(home, `data-${seed}`), join(home, 'artifacts'))),
    );
    log(`${at()}  trained two models`);

    const names = seeds.map((seed) => `bench-${suffix}-m${seed}`);
    for (let i = 0; i < names.length; i++) await modelAndConfig(sm, names[i]!, imageUri, artifacts[i]!);
    const endpointName = `bench-${suffix}`;
    const createdAt = performance.now();
    await sm.send(new CreateEndpointCommand({ EndpointName: endpointName, EndpointConfigName: names[0]! }));
    cleanup.add(async () => {
      await sm.send(new DeleteEndpointCommand({ EndpointName: endpointName })).catch(() => undefined);
    });
    const firstInService = await waitInService(sm, endpointName, 120_000, 100);
    log(`${at()}  endpoint ${endpointName} InService after ${seconds(firstInService - createdAt)} (CreateEndpoint -> InService)`);

    const invoke = async (): Promise<string | undefined> => {
      const r = await runtime.send(
        new InvokeEndpointCommand({ EndpointName: endpointName, ContentType: 'text/csv', Accept: 'application/json', Body: PAYLOAD }),
        { abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      );
      return (JSON.parse(Buffer.from(r.Body ?? new Uint8Array()).toString('utf8')) as { model_id?: string }).model_id;
    };
    const firstModel = await invoke();
    log(`${at()}  serving model_id ${firstModel}`);
    // What ran, from the containers' own first log lines, not from what was asked.
    const ran = { training: modesIn(join(local.stateRoot, 'training'), 'train.log'), serving: modesIn(join(local.stateRoot, 'endpoints'), 'serve.log') };
    const expected = mode === 'docker' ? ['docker'] : ['namespace', 'env'];
    const modesRan = [...new Set([...ran.training, ...ran.serving])];
    if (modesRan.length === 0 || modesRan.some((m) => !expected.includes(m))) {
      throw new Refusal(`--mode ${mode} asked, but the containers ran as: training ${ran.training.join(', ') || 'none'}; serving ${ran.serving.join(', ') || 'none'}`);
    }
    log(`${at()}  mode that ran: ${modesRan.join(', ')} (training ${ran.training.length}, serving ${ran.serving.length} container log(s))`);

    // The load phase. Times are ms since `loadStart`.
    const samples: Sample[] = [];
    const errors = new Map<string, number>();
    let updateDone = false;
    const loadStart = performance.now();
    const now = () => performance.now() - loadStart;
    const hardStop = durationMs + UPDATE_GRACE_MS;
    const keepGoing = () => samples.length < maxRequests && now() < hardStop && (now() < durationMs || !updateDone);
    const loop = async () => {
      while (keepGoing()) {
        const start = now();
        try {
          const modelId = await invoke();
          samples.push({ start, latency: now() - start, ok: true, modelId });
        } catch (err) {
          samples.push({ start, latency: now() - start, ok: false });
          const key = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 200);
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
      }
    };
    const loops = Array.from({ length: concurrency }, loop);

    const update = (async () => {
      await sleep(durationMs / 2);
      const sent = now();
      await sm.send(new UpdateEndpointCommand({ EndpointName: endpointName, EndpointConfigName: names[1]! }));
      const acked = now();
      // UpdateEndpoint sets Updating before it answers, so the next InService seen is the new config's.
      const inService = (await waitInService(sm, endpointName, UPDATE_GRACE_MS, 50)) - loadStart;
      updateDone = true;
      return { sent, acked, inService };
    })().catch((err: unknown) => {
      updateDone = true;
      throw err;
    });

    const [updateResult] = await Promise.allSettled([update, ...loops]);
    const loadEnd = now();
    if (updateResult.status === 'rejected') log(`UpdateEndpoint failed: ${(updateResult.reason as Error).message}`);
    const u = updateResult.status === 'fulfilled' ? updateResult.value : undefined;

    const all = summary(samples);
    const inWindow = u ? summary(samples.filter((s) => s.start >= u.sent && s.start <= u.inService)) : undefined;
    const newModelSeen = samples.filter((s) => s.ok && s.modelId && s.modelId !== firstModel).map((s) => s.start + s.latency);
    const oldModelSeen = u ? samples.filter((s) => s.ok && s.modelId === firstModel && s.start >= u.sent).map((s) => s.start + s.latency) : [];
    const newModel = samples.find((s) => s.ok && s.modelId && s.modelId !== firstModel)?.modelId;
    const models = new Set(samples.filter((s) => s.ok && s.modelId).map((s) => s.modelId));
    const firstNew = newModelSeen.length ? Math.min(...newModelSeen) : Number.NaN;
    const lastOld = oldModelSeen.length ? Math.max(...oldModelSeen) : Number.NaN;

    log('');
    log(`mode                   ${mode} (isolation ${isolation}; containers ran as ${modesRan.join(', ')})`);
    log(`load phase             ${seconds(loadEnd)} (${concurrency} loops)`);
    log(`requests               ${all.n}`);
    log(`failures               ${all.failures}`);
    for (const [e, n] of errors) log(`  ${n} x ${e}`);
    log(`requests/s             ${(all.n / (loadEnd / 1000)).toFixed(1)}`);
    log(`latency overall        p50 ${ms(all.p50)}  p90 ${ms(all.p90)}  p99 ${ms(all.p99)}  max ${ms(all.max)}`);
    if (u && inWindow) {
      log(`update window          ${seconds(u.inService - u.sent)}: ${inWindow.n} requests, ${inWindow.failures} failures`);
      log(`latency in window      p50 ${ms(inWindow.p50)}  p90 ${ms(inWindow.p90)}  p99 ${ms(inWindow.p99)}  max ${ms(inWindow.max)}`);
      log(`UpdateEndpoint call    returned after ${ms(u.acked - u.sent)}`);
      log(`UpdateEndpoint->InService ${seconds(u.inService - u.sent)}`);
      log(`new model_id first seen ${seconds(firstNew - u.sent)} after UpdateEndpoint (${newModel ?? 'never'})`);
      log(`old model_id last seen  ${seconds(lastOld - u.sent)} after UpdateEndpoint (${firstModel})`);
    }
    log(`model_ids answered     ${models.size}`);
  } finally {
    await cleanup.run();
  }
}

main().catch((err) => fail(BENCH, err instanceof Refusal ? err.message : ((err as Error).stack ?? String(err))));
