import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRServiceException,
  GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { mockClient } from 'aws-sdk-client-mock';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../src/activities';
import { privateDockerConfig, spawnDockerRunner } from '../../src/activities/docker';
import { createImageActivities, loginFailureKind, type ImageDeps } from '../../src/activities/image';
import { createAwsClients } from '../../src/aws/clients';
import { contextDigest } from '../../src/artifacts/build-context';
import { buildFlags } from '../../src/artifacts/build-flags';
import { ErrorTypes } from '../../src/shared';
import { activityRunner, failureOf, fail, mockedClients, ok, scriptedDocker } from './helpers';

const REPO_URI = '123456789012.dkr.ecr.us-east-1.amazonaws.com/claims';
const PASSWORD = 'eyJwYXlsb2FkIjoic2VjcmV0LXJlZ2lzdHJ5LXBhc3N3b3JkIn0';

function ecrError(name: string, status = 400): Error {
  return new ECRServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: `${name} for test` });
}

function token(password: string): string {
  return Buffer.from(`AWS:${password}`).toString('base64');
}

describe('buildImage', () => {
  let contextDir: string;
  let store: string;
  let tag: string;
  beforeEach(async () => {
    contextDir = mkdtempSync(join(tmpdir(), 'champ-ctx-'));
    store = mkdtempSync(join(tmpdir(), 'champ-store-'));
    mkdirSync(join(contextDir, 'program'));
    writeFileSync(join(contextDir, 'Dockerfile'), 'FROM python:3.11-slim\nCOPY program /opt/program\n');
    writeFileSync(join(contextDir, 'program', 'train'), '#!/bin/sh\necho train\n', { mode: 0o755 });
    writeFileSync(join(contextDir, 'program', 'serve'), '#!/bin/sh\necho serve\n', { mode: 0o755 });
    tag = `ctx-${(await contextDigest(contextDir)).slice(0, 16)}`;
  });
  afterEach(() => {
    rmSync(contextDir, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  });

  const input = () => ({ pipeline: 'claims', image: { context: contextDir, dockerfile: 'Dockerfile' } });

  it('returns a prebuilt image.uri as is, without touching ECR or Docker', async () => {
    const { clients, ecrMock } = mockedClients();
    const docker = scriptedDocker(() => ok());
    const acts = createActivities({ clients, docker: docker.runner });
    const r = await activityRunner().run(acts.buildImage, { pipeline: 'p', image: { uri: 'x/y:1', dockerfile: 'Dockerfile' } });
    expect(r).toEqual({ imageUri: 'x/y:1', contentHash: '', built: false });
    expect(ecrMock.calls()).toHaveLength(0);
    expect(docker.calls).toHaveLength(0);
  });

  it('creates the ECR repository when missing, and skips the build when the content tag already exists', async () => {
    const { clients, ecrMock } = mockedClients();
    ecrMock.on(DescribeRepositoriesCommand).rejects(ecrError('RepositoryNotFoundException'));
    ecrMock.on(CreateRepositoryCommand).resolves({ repository: { repositoryName: 'claims', repositoryUri: REPO_URI } });
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageTags: [tag] }] });
    const docker = scriptedDocker(() => ok());
    const r = await activityRunner().run(createActivities({ clients, docker: docker.runner }).buildImage, input());
    expect(r).toMatchObject({ imageUri: `${REPO_URI}:${tag}`, built: false });
    expect(r.contentHash).toHaveLength(64);
    expect(ecrMock.commandCalls(CreateRepositoryCommand)[0]!.args[0].input.repositoryName).toBe('claims');
    expect(ecrMock.commandCalls(DescribeImagesCommand)[0]!.args[0].input.imageIds).toEqual([{ imageTag: tag }]);
    expect(docker.calls).toHaveLength(0);
  });

  it('fails non-retryable NoDockerEngine when the tag is missing and no engine answers', async () => {
    const { clients, ecrMock } = mockedClients();
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    const docker = scriptedDocker((args) => (args[0] === 'info' ? fail('Cannot connect to the Docker daemon at unix:///var/run/docker.sock') : ok()));
    const f = await failureOf(activityRunner().run(createActivities({ clients, docker: docker.runner }).buildImage, input()));
    expect(f.type).toBe(ErrorTypes.NoDockerEngine);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(/Docker engine/);
    expect(f.message).toMatch(/image\.uri/);
    expect(docker.calls.map((c) => c.args[0])).toEqual(['info']);
  });

  it('builds with an argument array, logs in with the token on stdin and pushes, heartbeating the progress', async () => {
    const { clients, ecrMock } = mockedClients();
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    ecrMock.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: token(PASSWORD), proxyEndpoint: `https://${REPO_URI.split('/')[0]}` }] });
    const docker = scriptedDocker((args) => (args[0] === 'build' ? ok('Step 1/2 : FROM python\nStep 2/2 : COPY program') : ok('Server Version: 27')));
    const runner = activityRunner();
    const r = await runner.run(createActivities({ clients, docker: docker.runner }).buildImage, input());
    const uri = `${REPO_URI}:${tag}`;
    expect(r).toMatchObject({ imageUri: uri, built: true });
    expect(docker.calls.map((c) => c.args)).toEqual([
      ['info', '--format', '{{.ServerVersion}}'],
      ['build', ...buildFlags(), '-t', uri, '-f', join(contextDir, 'Dockerfile'), contextDir],
      ['login', '--username', 'AWS', '--password-stdin', REPO_URI.split('/')[0]],
      ['push', uri],
    ]);
    expect(docker.calls[2]!.stdin).toBe(PASSWORD);
    expect(docker.calls[2]!.env?.DOCKER_CONFIG).toBe(docker.calls[3]!.env?.DOCKER_CONFIG);
    expect(runner.heartbeats).toContainEqual({ phase: 'build', line: 'Step 2/2 : COPY program' });
  });

  it('retries docker login with a fresh GetAuthorizationToken when the registry rejects an expired token, and never exposes either token', async () => {
    const { clients, ecrMock } = mockedClients();
    const stale = 'stale-password-0123456789';
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    ecrMock
      .on(GetAuthorizationTokenCommand)
      .resolvesOnce({ authorizationData: [{ authorizationToken: token(stale) }] })
      .resolves({ authorizationData: [{ authorizationToken: token(PASSWORD) }] });
    const docker = scriptedDocker((args, n) => {
      if (args[0] === 'login' && n === 3) return fail(`Error response from daemon: login attempt failed: 401 Unauthorized: your authorization token has expired (${stale})`);
      return ok();
    });
    const runner = activityRunner();
    const r = await runner.run(createActivities({ clients, docker: docker.runner }).buildImage, input());
    expect(r.built).toBe(true);
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
    expect(docker.calls.filter((c) => c.args[0] === 'login').map((c) => c.stdin)).toEqual([stale, PASSWORD]);
    const visible = JSON.stringify({ r, logs: runner.logs, heartbeats: runner.heartbeats });
    for (const secret of [stale, PASSWORD, token(stale), token(PASSWORD)]) expect(visible).not.toContain(secret);
  });

  it('logs in again with a fresh token when a push is refused, and keeps the token out of a final failure and the heartbeats', async () => {
    const { clients, ecrMock } = mockedClients();
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    ecrMock.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: token(PASSWORD) }] });
    // The registry echoes the password back (a worst case) and then refuses on every push.
    const docker = scriptedDocker((args) => (args[0] === 'push' ? fail(`denied: not authorized; token ${PASSWORD}`) : ok()));
    const runner = activityRunner();
    const f = await failureOf(runner.run(createActivities({ clients, docker: docker.runner }).buildImage, input()));
    expect(docker.calls.filter((c) => c.args[0] === 'push')).toHaveLength(2);
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
    expect(f.type).toBe(ErrorTypes.AwsRetryable);
    const visible = JSON.stringify({ message: f.message, details: f.details, logs: runner.logs, heartbeats: runner.heartbeats });
    expect(visible).toContain('[redacted]');
    for (const secret of [PASSWORD, token(PASSWORD), 'test-secret-key-never-shown']) expect(visible).not.toContain(secret);
  });

  it('fails non-retryable ImageBuildFailed with the build output when docker build fails', async () => {
    const { clients, ecrMock } = mockedClients();
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    const docker = scriptedDocker((args) => (args[0] === 'build' ? fail('ERROR: failed to solve: pip install: exit code 1') : ok()));
    const f = await failureOf(activityRunner().run(createActivities({ clients, docker: docker.runner }).buildImage, input()));
    expect(f).toMatchObject({ type: ErrorTypes.ImageBuildFailed, nonRetryable: true });
    expect(f.message).toContain('pip install: exit code 1');
  });

  it('classifies ECR throttling as retryable', async () => {
    const { clients, ecrMock } = mockedClients();
    ecrMock.on(DescribeRepositoriesCommand).rejects(ecrError('ThrottlingException'));
    const f = await failureOf(activityRunner().run(createActivities({ clients, docker: scriptedDocker(() => ok()).runner }).buildImage, input()));
    expect(f).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
  });

  it('in local mode without an engine, snapshots the context into the image store once', async () => {
    const { clients, ecrMock } = mockedClients(true);
    const docker = scriptedDocker(() => fail('no engine'));
    const acts = createActivities({ clients, docker: docker.runner, imageStore: store });
    const first = await activityRunner().run(acts.buildImage, input());
    expect(first).toMatchObject({ imageUri: `champ.local/claims:${tag}`, built: true });
    const second = await activityRunner().run(acts.buildImage, input());
    expect(second).toMatchObject({ imageUri: `champ.local/claims:${tag}`, built: false });
    expect(ecrMock.calls()).toHaveLength(0);
  });

  it('in local mode, heartbeats while hashing and snapshotting, with files and bytes', async () => {
    const { clients } = mockedClients(true);
    const acts = createActivities({ clients, docker: scriptedDocker(() => fail('no engine')).runner, imageStore: store });
    const runner = activityRunner();
    await runner.run(acts.buildImage, input());
    const bytes = ['Dockerfile', 'program/train', 'program/serve'].reduce((n, f) => n + statSync(join(contextDir, f)).size, 0);
    expect(runner.heartbeats).toContainEqual({ phase: 'hash', files: 3, bytes });
    expect(runner.heartbeats).toContainEqual({ phase: 'snapshot', files: 3, bytes });
  });

  it('an abandoned (cancelled) local build stops: it fails as cancelled and leaves nothing in the store', async () => {
    const { clients } = mockedClients(true);
    for (let i = 0; i < 30; i++) writeFileSync(join(contextDir, `data-${i}.csv`), 'a,b\n1,2\n');
    const docker = scriptedDocker(() => fail('no engine'));
    const acts = createActivities({ clients, docker: docker.runner, imageStore: store });
    const env = new MockActivityEnvironment();
    // Cancelled as soon as the copy reports: Temporal cancels an attempt whose heartbeat timed out the same way.
    env.on('heartbeat', (d: { phase?: string }) => {
      if (d.phase === 'snapshot') env.cancel();
    });
    await expect(env.run(acts.buildImage, input())).rejects.toBeInstanceOf(CancelledFailure);
    expect(existsSync(join(store, 'claims')) ? readdirSync(join(store, 'claims')) : []).toEqual([]);
    expect(docker.calls).toHaveLength(0);
  });

  it('refuses a context whose Dockerfile or files lead outside it, naming the field (a raw input never passed the spec loader)', async () => {
    const { clients } = mockedClients(true);
    const acts = createActivities({ clients, docker: scriptedDocker(() => fail('no engine')).runner, imageStore: store });
    symlinkSync('/etc/passwd', join(contextDir, 'program', 'secrets'));
    const out = await failureOf(activityRunner().run(acts.buildImage, input()));
    expect(out).toMatchObject({ type: ErrorTypes.InvalidSpec, nonRetryable: true });
    expect(out.message).toMatch(/^image\.context: program\/secrets is a symbolic link to \/etc\/passwd, outside the build context/);
    rmSync(join(contextDir, 'program', 'secrets'));

    const elsewhere = mkdtempSync(join(tmpdir(), 'champ-dockerfile-'));
    try {
      writeFileSync(join(elsewhere, 'Dockerfile'), 'FROM scratch\n');
      rmSync(join(contextDir, 'Dockerfile'));
      symlinkSync(join(elsewhere, 'Dockerfile'), join(contextDir, 'Dockerfile'));
      const df = await failureOf(activityRunner().run(acts.buildImage, input()));
      expect(df).toMatchObject({ type: ErrorTypes.InvalidSpec, nonRetryable: true });
      expect(df.message).toMatch(/^image\.dockerfile: /);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
    expect(existsSync(join(store, 'claims')) ? readdirSync(join(store, 'claims')) : []).toEqual([]);
  });

  it('obeys the control plane isolation setting: env or namespace never run docker, docker requires an engine, auto builds when one answers', async () => {
    const { clients } = mockedClients(true);
    const engine = () => scriptedDocker((args) => (args[0] === 'image' ? fail('No such image') : ok('27.0')));
    const none = engine();
    await activityRunner().run(createActivities({ clients, docker: none.runner, imageStore: store, localIsolation: 'env' } as ImageDeps).buildImage, input());
    expect(none.calls).toHaveLength(0);

    const auto = engine();
    const built = await activityRunner().run(createImageActivities({ clients, docker: auto.runner, imageStore: store, localIsolation: 'auto' }).buildImage, input());
    expect(auto.calls.map((c) => c.args[0])).toEqual(['info', 'image', 'build']);
    expect(built).toMatchObject({ imageUri: `champ.local/claims:${tag}`, built: true });

    const noEngine = scriptedDocker(() => fail('Cannot connect to the Docker daemon'));
    const f = await failureOf(
      activityRunner().run(createImageActivities({ clients, docker: noEngine.runner, imageStore: store, localIsolation: 'docker' }).buildImage, input()),
    );
    expect(f).toMatchObject({ type: ErrorTypes.NoDockerEngine, nonRetryable: true });
    expect(f.message).toContain('CHAMP_LOCAL_ISOLATION=docker');
  });

  it('names image.context when the build context folder is missing', async () => {
    const { clients } = mockedClients(true);
    const acts = createActivities({ clients, docker: scriptedDocker(() => fail('')).runner, imageStore: store });
    const f = await failureOf(activityRunner().run(acts.buildImage, { pipeline: 'claims', image: { context: join(contextDir, 'missing'), dockerfile: 'Dockerfile' } }));
    expect(f).toMatchObject({ type: ErrorTypes.InvalidSpec, nonRetryable: true });
    expect(f.message).toMatch(/^image\.context/);
  });
});

/** Clients in local mode (SageMaker on loopback) with an ECR endpoint configured, ECR mocked. */
function localClientsWithEcr(ecrEndpoint = 'http://127.0.0.1:8787') {
  const clients = createAwsClients({
    region: 'us-east-1',
    local: true,
    endpoints: { sagemaker: 'http://127.0.0.1:8787', ecr: ecrEndpoint },
    credentials: { accessKeyId: 'champlocal', secretAccessKey: 'champlocal' },
    env: {},
  });
  return { clients, ecrMock: mockClient(clients.ecr) };
}

const LOCAL_REPO_URI = '127.0.0.1:5000/claims';

describe('buildImage with an ECR endpoint in local mode (ECR and docker scripted: the refusals cannot be had from the local registry)', () => {
  let contextDir: string;
  let store: string;
  beforeEach(() => {
    contextDir = mkdtempSync(join(tmpdir(), 'champ-ctx-'));
    store = mkdtempSync(join(tmpdir(), 'champ-store-'));
    mkdirSync(join(contextDir, 'program'));
    writeFileSync(join(contextDir, 'Dockerfile'), 'FROM python:3.11-slim\nCOPY program /opt/program\n');
    writeFileSync(join(contextDir, 'program', 'train'), '#!/bin/sh\necho train\n', { mode: 0o755 });
  });
  afterEach(() => {
    rmSync(contextDir, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  });
  const input = () => ({ pipeline: 'claims', image: { context: contextDir, dockerfile: 'Dockerfile' } });

  function registryWithoutTheTag(ecrMock: ReturnType<typeof localClientsWithEcr>['ecrMock'], tokens: string[] = [PASSWORD]) {
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: LOCAL_REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    let chain = ecrMock.on(GetAuthorizationTokenCommand);
    for (const t of tokens.slice(0, -1)) chain = chain.resolvesOnce({ authorizationData: [{ authorizationToken: token(t) }] });
    chain.resolves({ authorizationData: [{ authorizationToken: token(tokens[tokens.length - 1]!) }] });
  }

  it('takes the push path, not the local image store: builds the registry URI, logs in to the registry and pushes', async () => {
    const { clients, ecrMock } = localClientsWithEcr();
    registryWithoutTheTag(ecrMock);
    const docker = scriptedDocker(() => ok());
    const r = await activityRunner().run(createActivities({ clients, docker: docker.runner, imageStore: store }).buildImage, input());
    expect(r.imageUri).toMatch(/^127\.0\.0\.1:5000\/claims:ctx-[0-9a-f]{16}$/);
    expect(r.built).toBe(true);
    expect(docker.calls.map((c) => c.args.slice(0, 2))).toEqual([['info', '--format'], ['build', '--platform'], ['login', '--username'], ['push', r.imageUri]]);
    expect(docker.calls[2]!.args[4]).toBe('127.0.0.1:5000');
    expect(existsSync(join(store, 'claims'))).toBe(false);
  });

  it('without an ECR endpoint, or under process isolation, builds into the local image store as before', async () => {
    const { clients: noEcr, ecrMock: untouched } = mockedClients(true);
    const a = await activityRunner().run(createActivities({ clients: noEcr, docker: scriptedDocker(() => fail('no engine')).runner, imageStore: store }).buildImage, input());
    expect(a.imageUri).toMatch(/^champ\.local\/claims:/);
    expect(untouched.calls()).toHaveLength(0);
    const { clients, ecrMock } = localClientsWithEcr();
    const b = await activityRunner().run(
      createActivities({ clients, docker: scriptedDocker(() => fail('no engine')).runner, imageStore: store, localIsolation: 'namespace' }).buildImage,
      input(),
    );
    expect(b.imageUri).toMatch(/^champ\.local\/claims:/);
    expect(ecrMock.calls()).toHaveLength(0);
  });

  it('a login the registry refuses twice, each time with a fresh token, fails non-retryable naming the registry and the fix', async () => {
    const { clients, ecrMock } = localClientsWithEcr();
    registryWithoutTheTag(ecrMock, ['first-password-0123456789', PASSWORD]);
    const docker = scriptedDocker((args) =>
      args[0] === 'login' ? fail('Error response from daemon: Get "http://127.0.0.1:5000/v2/": unauthorized: authentication required') : ok(),
    );
    const f = await failureOf(activityRunner().run(createActivities({ clients, docker: docker.runner }).buildImage, input()));
    expect(f).toMatchObject({ type: ErrorTypes.AwsAccessDenied, nonRetryable: true });
    expect(f.message).toMatch(/^docker login to 127\.0\.0\.1:5000 was refused twice, each time with a fresh ECR token: .*unauthorized: authentication required/);
    expect(f.message).toContain('CHAMP_LOCAL_REGISTRY');
    expect(f.message).toContain('AWS_ENDPOINT_URL_ECR');
    expect(docker.calls.filter((c) => c.args[0] === 'login')).toHaveLength(2);
    expect(docker.calls.filter((c) => c.args[0] === 'push')).toHaveLength(0);
    expect(f.message).not.toContain(PASSWORD);
  });

  it('against AWS, the refused login names the IAM permissions to check', async () => {
    const { clients, ecrMock } = mockedClients();
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    ecrMock.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: token(PASSWORD) }] });
    const docker = scriptedDocker((args) => (args[0] === 'login' ? fail('Error response from daemon: login attempt to https://x/v2/ failed with status: 400 Bad Request: denied') : ok()));
    const f = await failureOf(activityRunner().run(createActivities({ clients, docker: docker.runner }).buildImage, input()));
    expect(f).toMatchObject({ type: ErrorTypes.AwsAccessDenied, nonRetryable: true });
    expect(f.message).toContain(`docker login to ${REPO_URI.split('/')[0]} was refused twice`);
    expect(f.message).toContain('ecr:GetAuthorizationToken');
  });

  it('a login that cannot reach the registry is retryable at once, without spending a second token', async () => {
    const { clients, ecrMock } = localClientsWithEcr();
    registryWithoutTheTag(ecrMock);
    const docker = scriptedDocker((args) =>
      args[0] === 'login' ? fail('Error response from daemon: Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused') : ok(),
    );
    const f = await failureOf(activityRunner().run(createActivities({ clients, docker: docker.runner }).buildImage, input()));
    expect(f).toMatchObject({ type: ErrorTypes.AwsRetryable, nonRetryable: false });
    expect(f.message).toMatch(/^docker login to 127\.0\.0\.1:5000 failed, not for its credentials/);
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
  });

  it('classifies what docker login says: refused, plain HTTP, or anything else as a network failure', () => {
    expect(loginFailureKind('Error response from daemon: Get "https://r/v2/": unauthorized: incorrect username or password')).toBe('refused');
    expect(loginFailureKind('Error response from daemon: login attempt to http://r/v2/ failed with status: 401 Unauthorized')).toBe('refused');
    expect(loginFailureKind('Error response from daemon: Get "https://10.0.0.5:5000/v2/": http: server gave HTTP response to HTTPS client')).toBe('plain-http');
    expect(loginFailureKind('Error response from daemon: Get "https://r/v2/": dial tcp 127.0.0.1:4013: connect: connection refused')).toBe('network');
    expect(loginFailureKind('Error response from daemon: Get "https://r/v2/": net/http: request canceled (Client.Timeout exceeded)')).toBe('network');
    expect(loginFailureKind('docker login timed out after 120000 ms')).toBe('network');
  });
});

describe("the push's private DOCKER_CONFIG keeps the user's engine", () => {
  let home: string;
  const saved = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, DOCKER_HOST: process.env.DOCKER_HOST };
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'champ-dockercfg-'));
    // The Docker client finds a context's metadata under the SHA-256 of its name.
    const meta = join(home, 'user', 'contexts', 'meta', createHash('sha256').update('champ-ctx').digest('hex'));
    mkdirSync(meta, { recursive: true });
    writeFileSync(
      join(meta, 'meta.json'),
      JSON.stringify({ Name: 'champ-ctx', Metadata: {}, Endpoints: { docker: { Host: 'unix:///run/champ-test-engine.sock', SkipTLSVerify: false } } }),
    );
    writeFileSync(
      join(home, 'user', 'config.json'),
      JSON.stringify({ currentContext: 'champ-ctx', credsStore: 'desktop', auths: { 'r.example': { auth: 'dXNlcjpwYXNz' } }, credHelpers: { 'r.example': 'ecr-login' }, detachKeys: 'ctrl-x' }),
    );
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(home, { recursive: true, force: true });
  });

  it("carries currentContext and the user's contexts, drops every credential setting, and is removed afterwards", async () => {
    const cfg = await privateDockerConfig({ DOCKER_CONFIG: join(home, 'user') });
    const dir = cfg.env.DOCKER_CONFIG!;
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual({ currentContext: 'champ-ctx', detachKeys: 'ctrl-x' });
    expect(existsSync(join(dir, 'contexts', 'meta', createHash('sha256').update('champ-ctx').digest('hex'), 'meta.json'))).toBe(true);
    // The Docker client itself resolves the context through the private config (it needs no engine for this).
    const shown = spawnSync('docker', ['context', 'inspect', '--format', '{{.Endpoints.docker.Host}}'], { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: dir, DOCKER_HOST: '' } });
    if (shown.error === undefined) expect(shown.stdout.trim()).toBe('unix:///run/champ-test-engine.sock');
    await cfg.remove();
    expect(existsSync(dir)).toBe(false);
    // An engine over TLS finds its certificates in the user's config folder, as it would without the private one.
    const tls = await privateDockerConfig({ DOCKER_CONFIG: join(home, 'user'), DOCKER_TLS_VERIFY: '1' });
    expect(tls.env.DOCKER_CERT_PATH).toBe(join(home, 'user'));
    await tls.remove();
    const own = await privateDockerConfig({ DOCKER_CONFIG: join(home, 'user'), DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' });
    expect(own.env.DOCKER_CERT_PATH).toBeUndefined();
    await own.remove();
    expect(existsSync(join(home, 'user', 'contexts'))).toBe(true);
  });

  it('login and push run with the private config, the user context in it, and DOCKER_HOST as the user set it', async () => {
    // A stand-in docker client (a shell script) that records, per command, the engine settings it was given.
    const record = join(home, 'record.log');
    const shim = join(home, 'docker');
    writeFileSync(
      shim,
      `#!/bin/sh\nprintf '%s host=%s config=%s\\n' "$1" "$DOCKER_HOST" "$(cat "$DOCKER_CONFIG/config.json" 2>/dev/null)" >> '${record}'\ncat >/dev/null\nexit 0\n`,
      { mode: 0o755 },
    );
    process.env.DOCKER_CONFIG = join(home, 'user');
    process.env.DOCKER_HOST = 'unix:///run/champ-test-engine.sock';
    const { clients, ecrMock } = localClientsWithEcr();
    ecrMock.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: LOCAL_REPO_URI }] });
    ecrMock.on(DescribeImagesCommand).rejects(ecrError('ImageNotFoundException'));
    ecrMock.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: token(PASSWORD) }] });
    const ctx = mkdtempSync(join(tmpdir(), 'champ-ctx-'));
    try {
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM python:3.11-slim\n');
      const r = await activityRunner().run(createActivities({ clients, docker: spawnDockerRunner(shim) }).buildImage, { pipeline: 'claims', image: { context: ctx, dockerfile: 'Dockerfile' } });
      expect(r.built).toBe(true);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    const of = (cmd: string) => lines.filter((l) => l.startsWith(`${cmd} `));
    for (const cmd of ['login', 'push']) {
      expect(of(cmd)).toEqual([`${cmd} host=unix:///run/champ-test-engine.sock config={"currentContext":"champ-ctx","detachKeys":"ctrl-x"}`]);
    }
    // The build uses the user's own config, credential helpers included.
    expect(of('build')[0]).toContain('"credsStore":"desktop"');
  });
});
