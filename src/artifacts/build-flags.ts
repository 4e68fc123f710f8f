// The `docker build` flags that make an image SageMaker runs, from any machine:
// always linux/amd64 (SageMaker's instances; an Apple-silicon laptop would
// otherwise build arm64), and with BuildKit no provenance or SBOM attestations,
// whose manifest list SageMaker has been reported to refuse (moby/buildkit#5480).
// The legacy builder makes one Docker v2 image and rejects those two flags
// ("unknown flag: --provenance"), so they are given to BuildKit only.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** SageMaker's training and hosting instances run this platform. */
export const SAGEMAKER_PLATFORM = 'linux/amd64';

/** Which builder `docker build` is: BuildKit through the buildx component, or the legacy one. */
export type DockerBuilder = 'buildkit' | 'legacy';

/** The flags for a builder, given right after `build`. */
export function sageMakerBuildFlags(builder: DockerBuilder): string[] {
  return ['--platform', SAGEMAKER_PLATFORM, ...(builder === 'buildkit' ? ['--provenance=false', '--sbom=false'] : [])];
}

/** Where the docker client looks for its buildx component (its CLI plugin folders). */
export function buildxPluginPaths(env: NodeJS.ProcessEnv): string[] {
  const configDir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  const name = process.platform === 'win32' ? 'docker-buildx.exe' : 'docker-buildx';
  const dirs =
    process.platform === 'win32'
      ? [join(configDir, 'cli-plugins'), join(env.ProgramData ?? 'C:\\ProgramData', 'Docker', 'cli-plugins'), join(env.ProgramFiles ?? 'C:\\Program Files', 'Docker', 'cli-plugins')]
      : [join(configDir, 'cli-plugins'), '/usr/local/lib/docker/cli-plugins', '/usr/local/libexec/docker/cli-plugins', '/usr/lib/docker/cli-plugins', '/usr/libexec/docker/cli-plugins'];
  return dirs.map((d) => join(d, name));
}

/**
 * The builder `docker build` uses: BuildKit when the buildx component is
 * installed (`docker build` then runs `docker buildx build`) and DOCKER_BUILDKIT
 * does not turn it off; otherwise the legacy builder.
 */
export function dockerBuilder(env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): DockerBuilder {
  const setting = (env.DOCKER_BUILDKIT ?? '').toLowerCase();
  if (setting === '0' || setting === 'false') return 'legacy';
  return buildxPluginPaths(env).some((p) => exists(p)) ? 'buildkit' : 'legacy';
}

/** The flags for this machine's `docker build`. */
export function buildFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return sageMakerBuildFlags(dockerBuilder(env));
}
