// The worker image (Dockerfile) on the local Docker engine: it builds (offline,
// from artifacts staged here: this engine's containers reach no network), is
// small, runs as uid 1000 with the Docker CLI and no engine, and its container
// completes a pipeline against the local stack (the test's Temporal server and
// local control plane, reached through the host network). Skips with the
// reason when no engine answers or the Node base image is not there, and
// outside `npm run test:worker-image` (it takes minutes).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { docker, engineMissing, lastLine } from '../docker/support';
import { EXAMPLE_DIR, pipelineInput, runPipeline, startE2e, type E2eEnv } from '../e2e/helpers';
import { temporalAddress, testClient, uniqueTaskQueue } from '../harness/temporal';
import { freePort, scrape, total } from '../observability/prometheus';
import { METRICS } from '../../src/observability/names';

const ROOT = resolve(__dirname, '../..');
const NODE_BASE = 'node:20.19.5-bookworm-slim';
const TAG = 'champ-worker:image-test';

function whySkip(): string | undefined {
  // About three minutes of image build: on demand (npm run test:worker-image), not in every npm test.
  if (process.env.CHAMP_TEST_WORKER_IMAGE !== '1') return 'the worker image build runs on demand: npm run test:worker-image (CHAMP_TEST_WORKER_IMAGE=1)';
  const missing = engineMissing();
  if (missing) return missing;
  if (docker(['image', 'inspect', NODE_BASE], 15_000).status !== 0) return `the base image ${NODE_BASE} is not on the engine (scripts/engine/ensure.sh builds it)`;
  return undefined;
}
const skip = whySkip();
if (skip) console.warn(`skipped: ${skip}`);
const maybe = skip ? describe.skip : describe;

jest.setTimeout(900_000);

function run(cmd: string, args: string[], cwd: string, timeoutMs = 600_000): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_loglevel: 'error' } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

function dirBytes(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((sum, name) => sum + dirBytes(join(path, name)), 0);
}

/**
 * The build context as the repository gives it, plus .prebuilt/ (dist and the
 * production node_modules, made on this machine) for the Dockerfile's offline path.
 */
function stageContext(dir: string): void {
  const pre = join(dir, '.prebuilt');
  for (const to of [dir, pre]) {
    mkdirSync(join(to, 'scripts'), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle-workflows.ts']) copyFileSync(join(ROOT, f), join(to, f));
    cpSync(join(ROOT, 'src'), join(to, 'src'), { recursive: true });
  }
  for (const f of ['Dockerfile', '.dockerignore']) copyFileSync(join(ROOT, f), join(dir, f));
  const ci = run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], pre);
  if (ci.status !== 0) throw new Error(`npm ci --omit=dev failed:\n${ci.out.slice(-2000)}`);
  // The compiler and types come from the checkout; the emitted JavaScript is what counts.
  run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--typeRoots', join(ROOT, 'node_modules/@types')], pre);
  if (!existsSync(join(pre, 'dist/src/worker.js'))) throw new Error('tsc emitted no dist/src/worker.js');
  const bundle = run(process.execPath, ['dist/scripts/bundle-workflows.js'], pre);
  if (bundle.status !== 0) throw new Error(`bundling the workflows failed:\n${bundle.out.slice(-2000)}`);
  for (const d of ['src', 'scripts']) rmSync(join(pre, d), { recursive: true, force: true });
}

maybe('the worker image on the local engine', () => {
  let work: string;
  let env: E2eEnv | undefined;
  let container: string | undefined;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'champ-worker-image-'));
  });

  afterAll(async () => {
    if (container) docker(['rm', '-f', container], 30_000);
    await env?.stop();
    docker(['rmi', '-f', TAG, 'champ-test/node20:image-test', 'champ-test/docker-cli:image-test'], 60_000);
    rmSync(work, { recursive: true, force: true });
  });

  it('builds from the Dockerfile, small, as uid 1000, with the Docker CLI and no engine; its container runs a pipeline to deployed against the local stack', async () => {
    // Bases this engine cannot pull: Node 20 (the Debian base has Node 18; the worker needs 20) and the Docker CLI.
    const bases = join(work, 'bases');
    mkdirSync(bases);
    copyFileSync(process.execPath, join(bases, 'node'));
    copyFileSync(spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim(), join(bases, 'docker'));
    writeFileSync(join(bases, 'Dockerfile.node'), `FROM ${NODE_BASE}\nCOPY node /usr/bin/node\n`);
    writeFileSync(join(bases, 'Dockerfile.cli'), 'FROM scratch\nCOPY docker /usr/local/bin/docker\n');
    for (const [file, tag] of [['Dockerfile.node', 'champ-test/node20:image-test'], ['Dockerfile.cli', 'champ-test/docker-cli:image-test']]) {
      const r = docker(['build', '-q', '-f', join(bases, file!), '-t', tag!, bases], 300_000);
      expect([tag, r.status, lastLine(r.stderr)]).toEqual([tag, 0, expect.anything()]);
    }

    const ctx = join(work, 'ctx');
    mkdirSync(ctx);
    stageContext(ctx);
    const started = Date.now();
    const build = docker(
      ['build', '--build-arg', 'NODE_IMAGE=champ-test/node20:image-test', '--build-arg', 'DOCKER_CLI_IMAGE=champ-test/docker-cli:image-test', '--build-arg', 'PREBUILT=.prebuilt', '-t', TAG, ctx],
      600_000,
    );
    expect([build.status, build.stderr.slice(-2000)]).toEqual([0, expect.anything()]);
    const size = Number(docker(['image', 'inspect', TAG, '--format', '{{.Size}}']).stdout.trim());
    console.log(`worker image: built in ${((Date.now() - started) / 1000).toFixed(0)} s, ${(size / 1e6).toFixed(0)} MB (${(dirBytes(join(ctx, '.prebuilt/node_modules')) / 1e6).toFixed(0)} MB of it production node_modules)`);

    expect(docker(['image', 'inspect', TAG, '--format', '{{.Config.User}}']).stdout.trim()).toBe('1000:1000');
    const inside = docker(['run', '--rm', '--entrypoint', 'sh', TAG, '-c', 'id -u; docker --version; command -v dockerd containerd || echo no-engine; test -w "$CHAMP_HOME" && echo home-writable; echo "$CHAMP_METRICS_ADDRESS"'], 60_000);
    expect(inside.stdout.trim().split('\n')).toEqual(['1000', expect.stringMatching(/^Docker version /), 'no-engine', 'home-writable', '0.0.0.0:9464']);

    // The container against the local stack: Temporal and the control plane on this host's loopback.
    env = await startE2e();
    // Shared with the control plane at the same paths: data, image store, artifacts (the worker runs as uid 1000).
    chmodSync(env.home, 0o777);
    spawnSync('chmod', ['-R', 'a+rwX', env.home]);
    const taskQueue = uniqueTaskQueue('image');
    const metrics = `127.0.0.1:${await freePort()}`;
    const socketGroup = String(statSync('/var/run/docker.sock').gid);
    container = `champ-worker-test-${process.pid}`;
    const started2 = docker([
      'run', '-d', '--name', container, '--network', 'host', '--group-add', socketGroup,
      '-v', '/var/run/docker.sock:/var/run/docker.sock',
      '-v', `${env.home}:${env.home}`, '-v', `${EXAMPLE_DIR}:${EXAMPLE_DIR}:ro`,
      '-e', `TEMPORAL_ADDRESS=${temporalAddress()}`, '-e', `CHAMP_TASK_QUEUE=${taskQueue}`,
      '-e', `AWS_ENDPOINT_URL_SAGEMAKER=${env.sageMakerUrl}`, '-e', `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=${env.sageMakerUrl}`,
      '-e', `CHAMP_IMAGE_STORE=${env.imageStore}`, '-e', `CHAMP_METRICS_ADDRESS=${metrics}`, '-e', 'AWS_REGION=us-east-1',
      TAG,
    ]);
    expect([started2.status, started2.stderr]).toEqual([0, '']);
    const logs = () => docker(['logs', container!]).stdout + docker(['logs', container!]).stderr;
    const deadline = Date.now() + 120_000;
    while (!/worker polling/.test(logs())) {
      if (Date.now() > deadline) throw new Error(`the worker container did not poll within 120 s:\n${logs().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }

    const { client, close } = await testClient();
    try {
      const spec = env.makeSpec();
      const { result } = await runPipeline(client, taskQueue, pipelineInput(spec));
      expect([result.outcome, result.reason]).toEqual(['deployed', undefined]);
      const samples = await scrape(metrics);
      expect(total(samples, METRICS.pipelines, { pipeline: spec.name, outcome: 'deployed' })).toBe(1);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nworker container log:\n${logs().slice(-4000)}`);
    } finally {
      await close();
    }
  });
});
