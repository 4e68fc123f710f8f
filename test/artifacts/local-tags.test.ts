// Docker tags of local images go with the store that made them: a test run (or
// any throwaway home) removes exactly its own tags, never one a container uses.
// The engine test reports itself skipped, with why, when no engine answers.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { spawnDockerRunner } from '../../src/activities/docker';
import { removeLocalTags, removeStoreTags, storeImageUris } from '../../src/artifacts/local-tags';
import { makeTempDir, removeDir } from '../local/support';

let root: string;
beforeEach(async () => {
  root = await makeTempDir('local-tags');
});
afterEach(async () => {
  await removeDir(root);
});

const hex16 = (): string => randomBytes(8).toString('hex');

async function snapshotDirs(store: string, refs: Array<[string, string]>): Promise<void> {
  for (const [repo, tag] of refs) await fsp.mkdir(path.join(store, repo, tag), { recursive: true });
}

describe('storeImageUris', () => {
  it('names every snapshot of a store, nested repositories too, and ignores temporary folders', async () => {
    const store = path.join(root, 'store');
    const a = `ctx-${hex16()}`;
    const b = `ctx-${hex16()}`;
    await snapshotDirs(store, [
      ['claims', a],
      ['team/model', b],
    ]);
    await fsp.mkdir(path.join(store, 'claims', '.tmp-123-abc'), { recursive: true });
    expect(await storeImageUris(store)).toEqual([`champ.local/claims:${a}`, `champ.local/team/model:${b}`].sort());
    expect(await storeImageUris(path.join(root, 'missing'))).toEqual([]);
  });
});

describe('removeLocalTags (scripted docker)', () => {
  it('removes without force and sorts the answers: removed, in use, absent, failed', async () => {
    const calls: string[][] = [];
    const docker = {
      async run(args: readonly string[]) {
        calls.push([...args]);
        if (args[0] === 'container') return { code: 0, output: 'champ.local/x:running\npython:3.11-slim\n' };
        const uri = args[2]!;
        if (uri.endsWith(':used')) return { code: 1, output: 'Error response from daemon: conflict: unable to remove repository reference (must force) - container 1a2b is using its referenced image' };
        if (uri.endsWith(':gone')) return { code: 1, output: 'Error response from daemon: No such image: champ.local/x:gone' };
        if (uri.endsWith(':down')) return { code: 1, output: 'Cannot connect to the Docker daemon' };
        return { code: 0, output: `Untagged: ${uri}` };
      },
    };
    const r = await removeLocalTags(docker, ['champ.local/x:ok', 'champ.local/x:running', 'champ.local/x:used', 'champ.local/x:gone', 'champ.local/x:down']);
    expect(r).toEqual({
      removed: ['champ.local/x:ok'],
      inUse: ['champ.local/x:running', 'champ.local/x:used'],
      absent: ['champ.local/x:gone'],
      failed: [{ uri: 'champ.local/x:down', output: 'Cannot connect to the Docker daemon' }],
    });
    const removals = calls.filter((c) => c[0] === 'image');
    expect(removals.every((c) => c[1] === 'rm' && !c.includes('-f') && !c.includes('--force'))).toBe(true);
    expect(removals.map((c) => c[2])).not.toContain('champ.local/x:running');
  });
});

function docker(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** An image already in the engine to tag (no pull: containers here reach no registry), or why there is none. */
function baseImage(): { image?: string; missing?: string } {
  const info = docker(['info', '--format', '{{.ServerVersion}}']);
  if (info.status !== 0) return { missing: `no Docker engine answers (docker info: ${info.out.trim().split('\n')[0] ?? ''}); scripts/engine/ensure.sh starts one` };
  const ids = docker(['image', 'ls', '--quiet']).out.trim().split('\n').filter(Boolean);
  return ids[0] ? { image: ids[0] } : { missing: 'the Docker engine holds no image to tag; scripts/engine/base-images.sh builds the base images' };
}

describe('removeStoreTags (real engine)', () => {
  const base = baseImage();
  const engineTest = base.image ? it : it.skip;
  if (!base.image) it(`is skipped: ${base.missing}`, () => undefined);

  engineTest('removes the tags of a store\'s snapshots and keeps one a container still uses', async () => {
    const store = path.join(root, 'store');
    const repo = `h3-tag-test-${process.pid}`;
    const free = `ctx-${hex16()}`;
    const used = `ctx-${hex16()}`;
    const label = `org.champ.test=local-tags-${process.pid}`;
    await snapshotDirs(store, [
      [repo, free],
      [repo, used],
    ]);
    let container = '';
    try {
      for (const tag of [free, used]) expect(docker(['tag', base.image!, `champ.local/${repo}:${tag}`]).status).toBe(0);
      const created = docker(['create', '--label', label, `champ.local/${repo}:${used}`, 'true']);
      expect(created.status).toBe(0);
      container = created.out.trim();
      const r = await removeStoreTags(spawnDockerRunner(), store);
      expect(r.removed).toEqual([`champ.local/${repo}:${free}`]);
      expect(r.inUse).toEqual([`champ.local/${repo}:${used}`]);
      const left = docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `champ.local/${repo}`]).out.trim().split('\n').filter(Boolean);
      expect(left).toEqual([`champ.local/${repo}:${used}`]);
    } finally {
      if (container) docker(['rm', '-f', container]);
      for (const tag of [free, used]) docker(['image', 'rm', `champ.local/${repo}:${tag}`]);
    }
    expect(docker(['image', 'ls', '--quiet', `champ.local/${repo}`]).out.trim()).toBe('');
  });
});
