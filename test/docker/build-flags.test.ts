// The flags every image build gets: linux/amd64 always, and with BuildKit no
// provenance or SBOM attestations. The builder is told apart by the buildx
// component's presence; the real engine shows the legacy builder accepting the
// flags it is given and refusing the BuildKit-only ones (why they are not given).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFlags, buildxPluginPaths, dockerBuilder, sageMakerBuildFlags } from '../../src/artifacts/build-flags';
import { docker, engineMissing, lastLine } from './support';

describe('build flags', () => {
  it('always linux/amd64; attestations off only for BuildKit', () => {
    expect(sageMakerBuildFlags('legacy')).toEqual(['--platform', 'linux/amd64']);
    expect(sageMakerBuildFlags('buildkit')).toEqual(['--platform', 'linux/amd64', '--provenance=false', '--sbom=false']);
  });

  it('BuildKit when the buildx component is in one of the docker CLI plugin folders, unless DOCKER_BUILDKIT=0', () => {
    const home = mkdtempSync(join(tmpdir(), 'champ-buildx-'));
    try {
      const env = { HOME: home, DOCKER_CONFIG: join(home, '.docker') };
      // A file system stand-in that holds nothing but the user's plugin folder.
      const plugin = buildxPluginPaths(env)[0]!;
      expect(plugin).toBe(join(home, '.docker', 'cli-plugins', 'docker-buildx'));
      const only = (p: string) => p === plugin;
      expect(dockerBuilder(env, only)).toBe('buildkit');
      expect(dockerBuilder({ ...env, DOCKER_BUILDKIT: '0' }, only)).toBe('legacy');
      expect(dockerBuilder(env, () => false)).toBe('legacy');
      expect(buildxPluginPaths(env)).toContain('/usr/libexec/docker/cli-plugins/docker-buildx');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

const noEngine = engineMissing();
if (noEngine) console.warn(`build flag tests on the engine skipped: ${noEngine}`);

(noEngine ? describe.skip : describe)(`build flags on this machine's engine${noEngine ? ` (skipped: ${noEngine})` : ''}`, () => {
  let context: string;
  const tag = `champ-build-flags-test:${process.pid}`;
  beforeAll(() => {
    context = mkdtempSync(join(tmpdir(), 'champ-build-flags-'));
    // FROM scratch: nothing to pull, so the test needs no network and no base image.
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY marker /marker\n');
    writeFileSync(join(context, 'marker'), 'champ\n');
  });
  afterAll(() => {
    docker(['image', 'rm', '-f', tag]);
    rmSync(context, { recursive: true, force: true });
  });

  it('builds a linux/amd64 image with the flags this machine gets', () => {
    const r = docker(['build', ...buildFlags(), '-t', tag, context]);
    expect({ status: r.status, last: lastLine(r.stderr || r.stdout) }).toMatchObject({ status: 0 });
    const inspect = docker(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', tag]);
    expect(inspect.stdout.trim()).toBe('linux/amd64');
  });

  // With buildx installed both flag sets are accepted: nothing to show.
  (dockerBuilder() === 'legacy' ? it : it.skip)('the legacy builder refuses the BuildKit-only flags, so they are given to BuildKit only', () => {
    const r = docker(['build', ...sageMakerBuildFlags('buildkit'), '-t', tag, context]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown flag: --provenance/);
  });
});
