// buildImage: a content-addressed tag, so an unchanged context never builds twice.
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { isLoopbackUrl } from '../aws/clients';
import { awsCall, classifyAwsError, hasErrorCode, retryable, terminal } from '../aws/errors';
import { contextDigest } from '../artifacts/build-context';
import { buildFlags } from '../artifacts/build-flags';
import { defaultImageStore, snapshotContext, tagForDigest } from '../artifacts/image-store';
import { ErrorTypes } from '../shared';
import { checkContextFiles } from '../spec/context';
import { activityEnv, type ActivityEnv } from './context';
import type { ActivityDeps } from './deps';
import { privateDockerConfig, spawnDockerRunner, type DockerResult, type DockerRunner } from './docker';
import { HEARTBEAT_EVERY_MS, progressHeartbeat } from './progress';
import type { BuildImageInput, BuildImageResult } from './types';

const AUTH_FAILURE = /denied|unauthori[sz]ed|authentication required|no basic auth credentials|authorization token has expired|incorrect username or password|\b40[13]\b/i;
/** The engine speaks HTTPS to a registry that answers plain HTTP: no retry mends that. */
const PLAIN_HTTP_REGISTRY = /server gave HTTP response to HTTPS client/i;

/** Why `docker login` failed: the registry refused the credentials, the engine cannot talk to it as configured, or anything else (a network failure, worth a retry). */
export function loginFailureKind(output: string): 'refused' | 'plain-http' | 'network' {
  if (PLAIN_HTTP_REGISTRY.test(output)) return 'plain-http';
  if (AUTH_FAILURE.test(output)) return 'refused';
  return 'network';
}

/** Removes every occurrence of each secret from text bound for logs, errors or results. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

interface RegistryLogin {
  host: string;
  password: string;
  /** The raw base64 token as well: neither may ever leave the activity. */
  secrets: string[];
}

/** The image activities take the common dependencies; `localIsolation` decides whether local builds make a Docker image. */
export type ImageDeps = ActivityDeps;

/** Cancellation (an abandoned attempt) passes through as itself, never as a build failure. */
function rethrowIfCancelled(env: ActivityEnv, err: unknown): void {
  if (env.signal?.aborted) throw err;
}

export function createImageActivities(deps: ImageDeps) {
  const docker: DockerRunner = deps.docker ?? spawnDockerRunner();
  const ecr = deps.clients.ecr;
  let engineSeen = false;

  async function dockerEngineAnswers(env: ActivityEnv): Promise<boolean> {
    if (engineSeen) return true;
    const r = await docker.run(['info', '--format', '{{.ServerVersion}}'], {
      timeoutMs: deps.dockerInfoTimeoutMs ?? 15_000,
      ...(env.signal ? { signal: env.signal } : {}),
    });
    // Only a positive answer is remembered: an engine may come up while the worker runs.
    engineSeen = r.code === 0;
    if (!engineSeen) env.log.info('no Docker engine answers `docker info`', { output: r.output.slice(-300) });
    return engineSeen;
  }

  /** Runs a long docker command with heartbeats, so cancellation reaches it and a hang is noticed. */
  async function runWithHeartbeat(
    env: ActivityEnv,
    phase: string,
    args: string[],
    extra: { env?: Record<string, string>; secrets?: readonly string[] } = {},
  ): Promise<DockerResult> {
    // Heartbeat details end up in history: a registry that echoes a token must not put it there.
    const secrets = extra.secrets ?? [];
    let last = '';
    const timer = setInterval(() => env.heartbeat({ phase, line: last }), HEARTBEAT_EVERY_MS);
    try {
      return await docker.run(args, {
        ...(extra.env ? { env: extra.env } : {}),
        ...(env.signal ? { signal: env.signal } : {}),
        onLine: (line) => {
          last = redact(line, secrets).slice(0, 300);
          env.heartbeat({ phase, line: last });
        },
      });
    } finally {
      clearInterval(timer);
    }
  }

  async function ensureRepository(repository: string): Promise<string> {
    const resource = `ECR repository ${repository}`;
    try {
      const out = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repository] }));
      const uri = out.repositories?.[0]?.repositoryUri;
      if (uri) return uri;
    } catch (err) {
      if (!hasErrorCode(err, 'RepositoryNotFoundException')) throw classifyAwsError(err, { operation: 'DescribeRepositories', resource });
    }
    try {
      const created = await ecr.send(new CreateRepositoryCommand({ repositoryName: repository, imageScanningConfiguration: { scanOnPush: true } }));
      if (created.repository?.repositoryUri) return created.repository.repositoryUri;
    } catch (err) {
      if (!hasErrorCode(err, 'RepositoryAlreadyExistsException')) throw classifyAwsError(err, { operation: 'CreateRepository', resource });
    }
    const again = await awsCall({ operation: 'DescribeRepositories', resource }, () =>
      ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repository] })),
    );
    const uri = again.repositories?.[0]?.repositoryUri;
    if (!uri) throw retryable(ErrorTypes.AwsRetryable, `ECR returned no URI for repository ${repository}; retrying`);
    return uri;
  }

  async function tagExists(repository: string, tag: string): Promise<boolean> {
    try {
      const out = await ecr.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }] }));
      return (out.imageDetails ?? []).length > 0;
    } catch (err) {
      if (hasErrorCode(err, 'ImageNotFoundException')) return false;
      throw classifyAwsError(err, { operation: 'DescribeImages', resource: `${repository}:${tag}` });
    }
  }

  async function freshLogin(repositoryUri: string): Promise<RegistryLogin> {
    const out = await awsCall({ operation: 'GetAuthorizationToken', resource: 'ECR' }, () => ecr.send(new GetAuthorizationTokenCommand({})));
    const token = out.authorizationData?.[0]?.authorizationToken;
    if (!token) throw retryable(ErrorTypes.AwsRetryable, 'ECR GetAuthorizationToken returned no token; retrying');
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = colon >= 0 ? decoded.slice(colon + 1) : decoded;
    return { host: repositoryUri.split('/')[0]!, password, secrets: [token, password, decoded] };
  }

  /** What to do when the registry refuses the token: in the words of where the token came from. */
  function refusedLoginFix(): string {
    if (deps.clients.ecrEndpoint && isLoopbackUrl(deps.clients.ecrEndpoint)) {
      return `The ECR endpoint ${deps.clients.ecrEndpoint} is the local control plane, whose registry takes any token: check that CHAMP_LOCAL_REGISTRY names a registry without authentication (scripts/engine/ensure.sh starts one on 127.0.0.1:5000), or unset AWS_ENDPOINT_URL_ECR to build into the local image store.`;
    }
    return "Check that the worker's role may call ecr:GetAuthorizationToken and push to this repository (ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage, ecr:BatchCheckLayerAvailability), and that the repository is in the account and region of the ECR endpoint.";
  }

  /** Logs in with a fresh token and pushes; one more round with another fresh token when the registry refuses. */
  async function loginAndPush(env: ActivityEnv, imageUri: string, repositoryUri: string): Promise<void> {
    // A private credential store for this push only (the token never lands in ~/.docker), that keeps the user's engine.
    const dockerConfig = await privateDockerConfig();
    const childEnv = dockerConfig.env;
    // Every token seen so far, so output from a later round cannot reveal an earlier one.
    const secrets: string[] = [];
    try {
      for (let round = 1; round <= 2; round++) {
        const login = await freshLogin(repositoryUri);
        secrets.push(...login.secrets);
        const loginResult = await docker.run(['login', '--username', 'AWS', '--password-stdin', login.host], {
          stdin: login.password,
          env: childEnv,
          timeoutMs: 120_000,
          ...(env.signal ? { signal: env.signal } : {}),
        });
        if (loginResult.code !== 0) {
          // Cancelled: the attempt is abandoned, not failed.
          env.signal?.throwIfAborted();
          const output = redact(loginResult.output, secrets).slice(-500);
          const kind = loginFailureKind(output);
          if (kind === 'plain-http') {
            throw terminal(
              ErrorTypes.AwsAccessDenied,
              `docker login to ${login.host} failed: the Docker engine speaks HTTPS to it and it answers plain HTTP (${output}). ` +
                `Add ${login.host} to the engine's insecure registries (dockerd --insecure-registry, or "insecure-registries" in daemon.json; loopback addresses are insecure by default), or serve the registry over TLS.`,
              { registry: login.host, reason: kind },
            );
          }
          if (kind === 'network') {
            // A fresh token cannot mend an unreachable registry: the activity's retry policy tries again later.
            throw retryable(ErrorTypes.AwsRetryable, `docker login to ${login.host} failed, not for its credentials (a network failure?); retrying: ${output}`, {
              registry: login.host,
              reason: kind,
            });
          }
          if (round === 1) {
            env.log.warn('docker login: the registry refused the token; retrying with a fresh one', { registry: login.host });
            continue;
          }
          throw terminal(
            ErrorTypes.AwsAccessDenied,
            `docker login to ${login.host} was refused twice, each time with a fresh ECR token: ${output}. ${refusedLoginFix()}`,
            { registry: login.host, reason: kind },
          );
        }
        const push = await runWithHeartbeat(env, 'push', ['push', imageUri], { env: childEnv, secrets });
        if (push.code === 0) return;
        env.signal?.throwIfAborted();
        const output = redact(push.output, secrets).slice(-800);
        if (round === 1 && AUTH_FAILURE.test(output)) {
          env.log.warn('the registry refused the push (expired token?); logging in again with a fresh token', { imageUri });
          continue;
        }
        // A push is idempotent by digest; a network failure is worth another attempt.
        throw retryable(ErrorTypes.AwsRetryable, `docker push ${imageUri} failed: ${output}`, { imageUri });
      }
    } finally {
      await dockerConfig.remove();
    }
  }

  async function dockerBuild(env: ActivityEnv, imageUri: string, contextDir: string, dockerfile: string): Promise<void> {
    env.log.info('building image', { imageUri, contextDir });
    const r = await runWithHeartbeat(env, 'build', ['build', ...buildFlags(), '-t', imageUri, '-f', path.join(contextDir, dockerfile), contextDir]);
    if (r.code !== 0) {
      throw terminal(
        ErrorTypes.ImageBuildFailed,
        `docker build of ${imageUri} failed (exit ${r.code}); fix the Dockerfile or the context and run again. Last output:\n${r.output.slice(-1500)}`,
        { imageUri, exitCode: r.code },
      );
    }
  }

  /** The context exists, holds its Dockerfile, and no link leads out of it: a raw input never went through the spec loader. */
  async function checkContext(contextDir: string, dockerfile: string): Promise<void> {
    const st = await stat(contextDir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw terminal(
        ErrorTypes.InvalidSpec,
        `image.context: "${contextDir}" is not a folder: give the build context's folder (the one holding the Dockerfile and program/)`,
        { field: 'image.context', contextDir },
      );
    }
    const file = await stat(path.resolve(contextDir, dockerfile)).catch(() => undefined);
    if (!file?.isFile()) {
      throw terminal(
        ErrorTypes.InvalidSpec,
        `image.dockerfile: ${dockerfile} is not a file in the build context ${contextDir}; add it, or name the Dockerfile the context holds`,
        { field: 'image.dockerfile', contextDir },
      );
    }
    const issues = checkContextFiles(contextDir, dockerfile);
    if (issues.length > 0) {
      throw terminal(ErrorTypes.InvalidSpec, issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
        field: issues[0]!.path,
        contextDir,
      });
    }
  }

  /** Whether a local build also makes a Docker image: what the control plane's isolation setting will run. */
  async function localDockerBuild(env: ActivityEnv): Promise<boolean> {
    const isolation = deps.localIsolation ?? 'auto';
    if (isolation === 'namespace' || isolation === 'env') return false;
    if (await dockerEngineAnswers(env)) return true;
    if (isolation === 'docker') {
      throw terminal(
        ErrorTypes.NoDockerEngine,
        'CHAMP_LOCAL_ISOLATION=docker, but no Docker engine answers `docker info` here: start the engine (scripts/engine/ensure.sh), or set CHAMP_LOCAL_ISOLATION=auto to run without it',
      );
    }
    return false;
  }

  async function localBuild(
    env: ActivityEnv,
    beat: ReturnType<typeof progressHeartbeat>,
    args: { contextDir: string; repository: string; digest: string; dockerfile: string },
  ): Promise<BuildImageResult> {
    const { contextDir, repository, digest, dockerfile } = args;
    const snap = await snapshotContext({
      contextDir,
      repository,
      digest,
      store: deps.imageStore ?? defaultImageStore(process.env),
      ...(env.signal ? { signal: env.signal } : {}),
      onProgress: (p) => beat.progress(p),
      onPhase: (phase) => {
        if (phase === 'copy') beat.phase('snapshot');
      },
    }).catch((err: Error) => {
      rethrowIfCancelled(env, err);
      throw terminal(ErrorTypes.ImageBuildFailed, `snapshot of ${contextDir} into the local image store failed: ${err.message}`);
    });
    beat.stop();
    let built = snap.created;
    // With an engine, the control plane runs real containers: make the same URI a Docker image too.
    if (await localDockerBuild(env)) {
      const inspect = await docker.run(['image', 'inspect', snap.imageUri], { timeoutMs: 30_000, ...(env.signal ? { signal: env.signal } : {}) });
      if (inspect.code !== 0) {
        await dockerBuild(env, snap.imageUri, contextDir, dockerfile);
        built = true;
      }
    }
    env.log.info(built ? 'image stored locally' : 'image already in the local store', { imageUri: snap.imageUri });
    return { imageUri: snap.imageUri, contentHash: digest, built };
  }

  /**
   * Whether this build goes to ECR (build, log in, push) rather than into the
   * local image store: against AWS always; in local mode when an ECR endpoint is
   * configured (the control plane's, over its registry), unless the control plane
   * runs containers as processes, which run local images only.
   */
  function pushesToEcr(env: ActivityEnv): boolean {
    if (!deps.clients.local) return true;
    if (!deps.clients.ecrEndpoint) return false;
    const isolation = deps.localIsolation ?? 'auto';
    if (isolation === 'namespace' || isolation === 'env') {
      env.log.info('an ECR endpoint is configured, but CHAMP_LOCAL_ISOLATION runs local images only: building into the local image store', {
        ecrEndpoint: deps.clients.ecrEndpoint,
        isolation,
      });
      return false;
    }
    return true;
  }

  async function buildImage(input: BuildImageInput): Promise<BuildImageResult> {
    const env = activityEnv(deps.log);
    const { image, pipeline } = input;
    if (image.uri) return { imageUri: image.uri, contentHash: '', built: false };
    if (!image.context) {
      throw terminal(ErrorTypes.InvalidSpec, 'image: give either image.context (a build context folder) or image.uri (a prebuilt image)', {
        field: 'image',
      });
    }
    const contextDir = path.resolve(deps.contextRoot ?? process.cwd(), image.context);
    const repository = image.repository ?? pipeline;
    // Hashing and copying a large context takes minutes: heartbeat with how far it got, and stop when cancelled.
    const beat = progressHeartbeat(env);
    let digest: string;
    try {
      beat.phase('hash');
      await checkContext(contextDir, image.dockerfile);
      try {
        digest = await contextDigest(contextDir, { signal: env.signal, onProgress: (p) => beat.progress(p) });
      } catch (err) {
        rethrowIfCancelled(env, err);
        throw terminal(ErrorTypes.InvalidSpec, `image.context: ${(err as Error).message}`, { field: 'image.context', contextDir });
      }
      if (!pushesToEcr(env)) return await localBuild(env, beat, { contextDir, repository, digest, dockerfile: image.dockerfile });
    } finally {
      beat.stop();
    }
    const tag = tagForDigest(digest);

    const repositoryUri = await ensureRepository(repository);
    const imageUri = `${repositoryUri}:${tag}`;
    if (await tagExists(repository, tag)) {
      env.log.info('image already in ECR; not building', { imageUri });
      return { imageUri, contentHash: digest, built: false };
    }
    if (!(await dockerEngineAnswers(env))) {
      throw terminal(
        ErrorTypes.NoDockerEngine,
        `${imageUri} is not in ECR and no Docker engine answers here to build it: run the worker where a Docker engine answers \`docker info\`, or give a prebuilt image in the spec's image.uri.`,
        { imageUri },
      );
    }
    await dockerBuild(env, imageUri, contextDir, image.dockerfile);
    await loginAndPush(env, imageUri, repositoryUri);
    env.log.info('image built and pushed', { imageUri });
    return { imageUri, contentHash: digest, built: true };
  }

  return { buildImage };
}
