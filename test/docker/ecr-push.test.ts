// The build stage's push path for real: the example pipeline against the local
// control plane in docker mode, with ECR pointed at the control plane, whose
// registry is the one scripts/engine/ensure.sh starts on 127.0.0.1:5000. The
// first run builds, logs in and pushes; the second finds the tag through
// DescribeImages and builds nothing, and its training pulls the image from the
// registry (the engine's own events say so). The user's Docker context is a
// proxy to the engine that records what comes through it, so the test also
// proves that login and push reach the engine the user chose. A registry that
// refuses every login shows how the worker reports it. Without an engine, a
// registry or the base image, the tests report themselves skipped.
import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { DescribeTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createActivities } from '../../src/activities';
import { spawnDockerRunner, type DockerRunner } from '../../src/activities/docker';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import { startLocalSageMaker, type LocalSageMaker } from '../../src/local';
import { RegistryClient } from '../../src/local/registry-client';
import { ErrorTypes } from '../../src/shared';
import { parseSpec } from '../../src/spec';
import { activityRunner, failureOf } from '../activities/helpers';
import { deepMerge, EXAMPLE_DIR, pipelineInput, runPipeline, uniqueSuffix } from '../e2e/helpers';
import { withWorker } from '../harness/temporal';
import { makeTempDir, removeDir } from '../local/support';
import { docker, engineMissing, lastLine } from './support';

const REGISTRY = process.env.CHAMP_LOCAL_REGISTRY || '127.0.0.1:5000';
const BASE = 'python:3.11.9-slim';

function registryMissing(): string | undefined {
  const probe = `fetch('http://${REGISTRY}/v2/', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 3), () => process.exit(4))`;
  try {
    execFileSync(process.execPath, ['-e', probe], { timeout: 10_000, stdio: 'ignore' });
    return undefined;
  } catch {
    return `no registry answers at ${REGISTRY} (scripts/engine/ensure.sh starts one)`;
  }
}

const skipReason =
  engineMissing() ??
  registryMissing() ??
  (docker(['image', 'inspect', BASE]).status === 0 ? undefined : `the base image ${BASE} is missing (scripts/engine/base-images.sh builds it)`);
if (skipReason) console.warn(`ECR push tests skipped: ${skipReason}`);

/** The engine's socket, as the default context names it. */
function engineSocket(): string {
  const host = docker(['context', 'inspect', 'default', '--format', '{{.Endpoints.docker.Host}}']).stdout.trim();
  if (!host.startsWith('unix://')) throw new Error(`the engine is not on a unix socket (${host}): this test proxies one`);
  return host.slice('unix://'.length);
}

/** A unix socket that forwards to the engine and keeps the request line of every API call that comes through. */
async function engineProxy(socketPath: string, target: string): Promise<{ requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    open.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/^(?:GET|HEAD|POST|PUT|DELETE) \S+ HTTP\/1\.[01]\r$/gm)) requests.push(m[0].trimEnd());
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The real docker client, with every command's arguments kept. */
function recordingDocker(): { runner: DockerRunner; commands: string[][] } {
  const real = spawnDockerRunner();
  const commands: string[][] = [];
  return {
    commands,
    runner: {
      run(args, options) {
        commands.push([...args]);
        return real.run(args, options);
      },
    },
  };
}

(skipReason ? describe.skip : describe)(`ECR push path in docker mode${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let dir: string;
  let plane: LocalSageMaker;
  let clients: AwsClients;
  let proxy: Awaited<ReturnType<typeof engineProxy>>;
  const savedEnv = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, DOCKER_HOST: process.env.DOCKER_HOST, DOCKER_CONTEXT: process.env.DOCKER_CONTEXT };
  /** What the tests put in the engine and the registry, removed at the end whatever happened. */
  const leftovers: { tags: string[]; repositories: string[] } = { tags: [], repositories: [] };

  beforeAll(async () => {
    dir = await makeTempDir('ecr-push');
    // The user's Docker settings: a context (not the default) whose engine is the proxy.
    const socket = engineSocket();
    proxy = await engineProxy(path.join(dir, 'engine.sock'), socket);
    const userConfig = path.join(dir, 'user-docker');
    const meta = path.join(userConfig, 'contexts', 'meta', createHash('sha256').update('champ-proxy').digest('hex'));
    await fsp.mkdir(meta, { recursive: true });
    await fsp.writeFile(path.join(meta, 'meta.json'), JSON.stringify({ Name: 'champ-proxy', Metadata: {}, Endpoints: { docker: { Host: `unix://${path.join(dir, 'engine.sock')}`, SkipTLSVerify: false } } }));
    await fsp.writeFile(path.join(userConfig, 'config.json'), JSON.stringify({ currentContext: 'champ-proxy' }));
    process.env.DOCKER_CONFIG = userConfig;
    delete process.env.DOCKER_HOST;
    delete process.env.DOCKER_CONTEXT;

    execFileSync('python3', [path.join(EXAMPLE_DIR, 'generate.py'), '--rows', '2000', '--seed', '7', '--out', path.join(dir, 'data')], { stdio: 'pipe' });
    plane = await startLocalSageMaker({ port: 0, stateDir: path.join(dir, 'home'), isolation: 'docker', registry: REGISTRY, healthTimeoutMs: 60_000, log: () => undefined });
    clients = createAwsClients({ endpoints: { sagemaker: plane.url, sagemakerRuntime: plane.url, ecr: plane.url }, env: {} });
  }, 120_000);

  afterAll(async () => {
    if (clients) destroyAwsClients(clients);
    await plane?.close();
    const registry = new RegistryClient(REGISTRY);
    for (const repository of leftovers.repositories) {
      for (const tag of await registry.tags(repository).catch(() => [])) {
        const image = await registry.image(repository, tag).catch(() => undefined);
        if (image) await registry.deleteImage(repository, image.digest).catch(() => undefined);
      }
    }
    for (const tag of leftovers.tags) docker(['rmi', '-f', tag]);
    await proxy?.close();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (dir) await removeDir(dir);
  });

  it('builds, logs in and pushes on the first run; the second run finds the tag through DescribeImages, builds nothing, and trains from the image pulled from the registry', async () => {
    const recorded = recordingDocker();
    const activities = createActivities({ clients, docker: recorded.runner, imageStore: path.join(dir, 'home', 'images'), localIsolation: 'docker' });
    const example = parseYaml(readFileSync(path.join(EXAMPLE_DIR, 'pipeline.yaml'), 'utf8')) as Record<string, unknown>;
    const id = uniqueSuffix();
    const spec = parseSpec(
      deepMerge(example, {
        name: `ecr-${id}`,
        image: { context: EXAMPLE_DIR },
        training: {
          inputs: [
            { name: 'train', uri: `file://${path.join(dir, 'data', 'train')}` },
            { name: 'validation', uri: `file://${path.join(dir, 'data', 'validation')}` },
          ],
          outputPath: `file://${path.join(dir, 'artifacts')}`,
          maxRuntime: '5m',
        },
        approval: { required: false },
        deployment: { endpointName: `ecr-${id}` },
        timeouts: { build: '5m', training: '5m', deploy: '3m' },
        schedule: undefined,
      }),
    );
    const repository = spec.name;
    leftovers.repositories.push(repository);

    await withWorker({ activities }, async ({ client, taskQueue }) => {
      const first = await runPipeline(client, taskQueue, pipelineInput(spec));
      const imageUri = first.result.imageUri as string;
      expect(imageUri).toMatch(new RegExp(`^${REGISTRY.replace(/\./g, '\\.')}/${repository}:ctx-[0-9a-f]{16}$`));
      leftovers.tags.push(imageUri);
      // What the gate makes of the model is not this test's business; that the job trained from the image is.
      expect(['deployed', 'rejected-by-gate']).toContain(first.result.outcome);
      const firstJob = await clients.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: first.result.trainingJobName as string }));
      expect(firstJob).toMatchObject({ TrainingJobStatus: 'Completed', AlgorithmSpecification: { TrainingImage: imageUri } });
      const verbs = (cmds: string[][]) => cmds.map((c) => c[0]).filter((v) => v === 'build' || v === 'login' || v === 'push');
      expect(verbs(recorded.commands)).toEqual(['build', 'login', 'push']);
      expect(recorded.commands.find((c) => c[0] === 'login')?.slice(-1)).toEqual([REGISTRY]);

      // The registry has it: asked through ECR's API, which asks the registry.
      const tag = imageUri.slice(imageUri.lastIndexOf(':') + 1);
      const described = await clients.ecr.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }] }));
      const digest = described.imageDetails?.[0]?.imageDigest as string;
      expect(digest).toMatch(/^sha256:/);

      // Login and push went to the user's engine: the one their context names.
      expect(proxy.requests.some((r) => /^POST \/v[\d.]+\/auth /.test(r))).toBe(true);
      expect(proxy.requests.some((r) => r.startsWith('POST ') && r.includes(`/${repository}/push`))).toBe(true);

      // Nothing of the image is left on the engine: the second run's training can only have it from the registry.
      expect(docker(['rmi', imageUri]).status).toBe(0);
      const since = Math.floor(Date.now() / 1000) - 1;
      const before = recorded.commands.length;
      const second = await runPipeline(client, taskQueue, pipelineInput(spec));
      expect(second.result.imageUri).toBe(imageUri);
      expect(verbs(recorded.commands.slice(before))).toEqual([]);
      expect(['deployed', 'rejected-by-gate']).toContain(second.result.outcome);

      const pulls = docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000)), '--filter', 'type=image', '--filter', 'event=pull', '--format', '{{.Actor.ID}}']);
      expect(pulls.stdout.split('\n')).toContain(imageUri);
      const job = await clients.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: second.result.trainingJobName as string }));
      expect(job.TrainingJobStatus).toBe('Completed');
      expect(job.AlgorithmSpecification?.TrainingImage).toBe(imageUri);
    });
  }, 600_000);

  describe('a registry that refuses every login', () => {
    let refusing: HttpServer;
    let refusingAddress: string;
    let refusingPlane: LocalSageMaker;
    let refusingClients: AwsClients;

    beforeAll(async () => {
      // Answers /v2/ with a Basic challenge and 401 whatever the credentials, as a registry with other users would; knows no image.
      refusing = createHttpServer((req, res) => {
        if (req.url === '/v2/' || req.url === '/v2') {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="champ-test"', 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
          return;
        }
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
      });
      await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
      refusingAddress = `127.0.0.1:${(refusing.address() as { port: number }).port}`;
      refusingPlane = await startLocalSageMaker({ port: 0, stateDir: path.join(dir, 'refusing-home'), isolation: 'docker', registry: refusingAddress, log: () => undefined });
      refusingClients = createAwsClients({ endpoints: { sagemaker: refusingPlane.url, ecr: refusingPlane.url }, env: {} });
    });

    afterAll(async () => {
      if (refusingClients) destroyAwsClients(refusingClients);
      await refusingPlane?.close();
      await new Promise<void>((resolve) => (refusing ? refusing.close(() => resolve()) : resolve()));
    });

    it('fails the build non-retryable, naming the registry and the fix, after one fresh token, and pushes nothing', async () => {
      const ctx = path.join(dir, 'tiny');
      await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
      await fsp.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${BASE}\nCOPY program/ /opt/program/\n`);
      await fsp.writeFile(path.join(ctx, 'program', 'train'), `#!/bin/sh\necho ${randomBytes(4).toString('hex')}\n`, { mode: 0o755 });
      const recorded = recordingDocker();
      const activities = createActivities({ clients: refusingClients, docker: recorded.runner, localIsolation: 'docker' });
      const f = await failureOf(activityRunner().run(activities.buildImage, { pipeline: 'refused', image: { context: ctx, dockerfile: 'Dockerfile' } }));
      const build = recorded.commands.find((c) => c[0] === 'build') ?? [];
      const built = build[build.indexOf('-t') + 1];
      if (built) leftovers.tags.push(built);
      expect(f.type).toBe(ErrorTypes.AwsAccessDenied);
      expect(f.nonRetryable).toBe(true);
      expect(f.message).toContain(`docker login to ${refusingAddress} was refused twice, each time with a fresh ECR token`);
      expect(f.message).toContain('CHAMP_LOCAL_REGISTRY');
      expect(recorded.commands.filter((c) => c[0] === 'login')).toHaveLength(2);
      expect(recorded.commands.filter((c) => c[0] === 'push')).toHaveLength(0);
      expect(lastLine(f.message)).not.toBe('');
    }, 300_000);
  });
});
