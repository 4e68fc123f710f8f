import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { contextDigest } from '../../src/artifacts/build-context';
import { defaultImageStore, hasLocalImage, parseLocalImageUri, resolveLocalImage, snapshotContext } from '../../src/artifacts/image-store';
import { writeContext } from '../local/runtime/fixtures';
import { makeTempDir, removeDir } from '../local/support';

let root: string;
let store: string;

beforeEach(async () => {
  root = await makeTempDir('image-store');
  store = path.join(root, 'store');
});

afterEach(async () => {
  await removeDir(root);
});

describe('contextDigest', () => {
  it('gives the same digest for the same content in another folder', async () => {
    const a = await writeContext(path.join(root, 'a'), { 'data/x.csv': '1,2\n' });
    const b = await writeContext(path.join(root, 'b'), { 'data/x.csv': '1,2\n' });
    expect(await contextDigest(a)).toBe(await contextDigest(b));
    expect(await contextDigest(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when a file content, a file name or an executable bit changes', async () => {
    const dir = await writeContext(path.join(root, 'c'), { 'lib/util.py': 'x = 1\n' });
    const base = await contextDigest(dir);
    await fsp.writeFile(path.join(dir, 'lib/util.py'), 'x = 2\n');
    const changedContent = await contextDigest(dir);
    expect(changedContent).not.toBe(base);
    await fsp.rename(path.join(dir, 'lib/util.py'), path.join(dir, 'lib/util2.py'));
    const renamed = await contextDigest(dir);
    expect(renamed).not.toBe(changedContent);
    await fsp.chmod(path.join(dir, 'lib/util2.py'), 0o755);
    expect(await contextDigest(dir)).not.toBe(renamed);
  });

  it('ignores .git, node_modules, __pycache__, *.pyc and what .dockerignore lists', async () => {
    const dir = await writeContext(path.join(root, 'd'), { '.dockerignore': '# local junk\nscratch/\n**/*.log\n!keep.log\n' });
    const base = await contextDigest(dir);
    await writeContext(dir, {
      '.git/HEAD': 'ref: refs/heads/main\n',
      'node_modules/x/index.js': '',
      'program/__pycache__/train.cpython-311.pyc': 'bytes',
      'program/helper.pyc': 'bytes',
      'scratch/notes.txt': 'tmp',
      'run.log': 'noise',
      'deep/inner/run.log': 'noise',
    });
    expect(await contextDigest(dir)).toBe(base);
    await fsp.writeFile(path.join(dir, 'keep.log'), 'kept by the ! exception');
    expect(await contextDigest(dir)).not.toBe(base);
  });

  it('rejects a context that is not a folder, naming the field', async () => {
    await expect(contextDigest(path.join(root, 'missing'))).rejects.toThrow(/contextDir .* is not a folder/);
  });
});

describe('snapshotContext', () => {
  it('stores the same content once under one content-addressed tag', async () => {
    const dir = await writeContext(path.join(root, 'ctx'));
    const first = await snapshotContext({ contextDir: dir, repository: 'claims-severity', store });
    expect(first.created).toBe(true);
    expect(first.tag).toMatch(/^ctx-[0-9a-f]{16}$/);
    expect(first.imageUri).toBe(`champ.local/claims-severity:${first.tag}`);
    expect(first.tag).toBe(`ctx-${(await contextDigest(dir)).slice(0, 16)}`);

    const again = await snapshotContext({ contextDir: dir, repository: 'claims-severity', store });
    expect(again).toEqual({ ...first, created: false });
    // Only the snapshot itself: no temporary folder left behind.
    expect(await fsp.readdir(path.join(store, 'claims-severity'))).toEqual([first.tag]);
  });

  it('makes a new tag for changed content and leaves the earlier snapshot as it was, read-only', async () => {
    const dir = await writeContext(path.join(root, 'ctx'), { 'params.txt': 'v1' });
    const v1 = await snapshotContext({ contextDir: dir, repository: 'team/model', store });
    await fsp.writeFile(path.join(dir, 'params.txt'), 'v2');
    const v2 = await snapshotContext({ contextDir: dir, repository: 'team/model', store });
    expect(v2.tag).not.toBe(v1.tag);
    expect(v2.created).toBe(true);

    const snap1 = (await resolveLocalImage(v1.imageUri, store))!;
    expect(snap1).toBe(path.join(store, 'team/model', v1.tag));
    expect(await fsp.readFile(path.join(snap1, 'params.txt'), 'utf8')).toBe('v1');
    expect((await fsp.stat(path.join(snap1, 'params.txt'))).mode & 0o222).toBe(0);
    const train = await fsp.stat(path.join(snap1, 'program', 'train'));
    expect(train.mode & 0o777).toBe(0o555);
    // The snapshot hashes to its own tag: it is exactly what was built.
    expect(`ctx-${(await contextDigest(snap1)).slice(0, 16)}`).toBe(v1.tag);
  });

  it('never widens permissions: a 0600 file is 0400 in the store, a 0640 one 0440, a 0700 folder stays 0700; narrowing read bits changes the tag', async () => {
    const dir = await writeContext(path.join(root, 'ctx'), { 'secret.env': 'TOKEN=x', 'team.cfg': 'a=1', 'private/key.pem': 'k', 'open.txt': 'o' });
    await fsp.chmod(path.join(dir, 'open.txt'), 0o644);
    const readable = await snapshotContext({ contextDir: dir, repository: 'modes', store });
    await fsp.chmod(path.join(dir, 'secret.env'), 0o600);
    await fsp.chmod(path.join(dir, 'team.cfg'), 0o640);
    await fsp.chmod(path.join(dir, 'private'), 0o700);
    await fsp.chmod(path.join(dir, 'private', 'key.pem'), 0o600);
    const snap = await snapshotContext({ contextDir: dir, repository: 'modes', store });
    // Same bytes, narrower read bits: never served from the snapshot that everyone may read.
    expect(snap.tag).not.toBe(readable.tag);
    expect(snap.created).toBe(true);
    const at = path.join(store, 'modes', snap.tag);
    const mode = async (rel: string) => (await fsp.stat(path.join(at, rel))).mode & 0o777;
    expect(await mode('secret.env')).toBe(0o400);
    expect(await mode('team.cfg')).toBe(0o440);
    expect(await mode('private')).toBe(0o700);
    expect(await mode('private/key.pem')).toBe(0o400);
    expect(await mode('open.txt')).toBe(0o444);
    expect(await mode('program/train')).toBe(0o555);
    expect(`ctx-${(await contextDigest(at)).slice(0, 16)}`).toBe(snap.tag);
  });

  it('removes temporary snapshots a killed build left (writer gone, or older than a build can run) and keeps one still being written', async () => {
    const dir = await writeContext(path.join(root, 'ctx'));
    const repo = path.join(store, 'claims');
    const exited = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => exited.once('exit', r));
    const dead = path.join(repo, `.tmp-${exited.pid}-0a1b2c`);
    const legacy = path.join(repo, '.tmp-0a1b2c3d4e5f');
    const live = path.join(repo, `.tmp-${process.ppid}-0d0e0f`);
    for (const d of [dead, legacy, live]) {
      await fsp.mkdir(path.join(d, 'program'), { recursive: true });
      await fsp.writeFile(path.join(d, 'program', 'train'), 'x', { mode: 0o444 });
      await fsp.chmod(path.join(d, 'program'), 0o555);
    }
    const longAgo = new Date(Date.now() - 3 * 24 * 3600_000);
    await fsp.utimes(legacy, longAgo, longAgo);
    // Another repository's leftover goes too: the next build of any pipeline cleans up.
    const elsewhere = path.join(store, 'team', 'other', `.tmp-${exited.pid}-0c0c0c`);
    await fsp.mkdir(elsewhere, { recursive: true });
    const snap = await snapshotContext({ contextDir: dir, repository: 'claims', store });
    expect((await fsp.readdir(repo)).sort()).toEqual([path.basename(live), snap.tag].sort());
    expect(await fsp.readdir(path.join(store, 'team', 'other'))).toEqual([]);
  });

  it('reports progress and stops when aborted, leaving neither a snapshot nor a temporary folder', async () => {
    const files = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`data/f${i}.txt`, 'x'.repeat(100)]));
    const dir = await writeContext(path.join(root, 'ctx'), files);
    const seen: Array<{ files: number; bytes: number }> = [];
    const full = await snapshotContext({ contextDir: dir, repository: 'progress', store: path.join(root, 'other'), onProgress: (p) => seen.push(p) });
    expect(full.created).toBe(true);
    expect(seen.at(-1)?.files).toBe(22);
    expect(seen.at(-1)?.bytes).toBeGreaterThan(2000);

    const abort = new AbortController();
    const reason = new Error('cancelled by the test');
    const phases: string[] = [];
    const stopped = snapshotContext({
      contextDir: dir,
      repository: 'progress',
      store,
      signal: abort.signal,
      onPhase: (p) => phases.push(p),
      onProgress: (p) => {
        if (phases.includes('copy') && p.files >= 3) abort.abort(reason);
      },
    });
    await expect(stopped).rejects.toBe(reason);
    expect(await fsp.readdir(path.join(store, 'progress'))).toEqual([]);
  });

  it('rejects an invalid repository name with the rule and an example', async () => {
    const dir = await writeContext(path.join(root, 'ctx'));
    await expect(snapshotContext({ contextDir: dir, repository: 'Claims_Severity', store })).rejects.toThrow(
      /repository "Claims_Severity" is not a valid image repository name: use 2-256 lowercase/,
    );
    await expect(snapshotContext({ contextDir: dir, repository: 'a--b', store })).rejects.toThrow(/not a valid/);
  });
});

describe('local image URIs', () => {
  it('parses champ.local URIs and leaves other registries to Docker', () => {
    expect(parseLocalImageUri('champ.local/team/model:ctx-0123456789abcdef')).toEqual({ repository: 'team/model', tag: 'ctx-0123456789abcdef' });
    expect(parseLocalImageUri('123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1')).toBeUndefined();
    expect(() => parseLocalImageUri('champ.local/model')).toThrow(/has no tag/);
    expect(() => parseLocalImageUri('champ.local/model:bad tag')).toThrow(/invalid tag/);
  });

  it('reports whether an image is in the store', async () => {
    const dir = await writeContext(path.join(root, 'ctx'));
    const { imageUri } = await snapshotContext({ contextDir: dir, repository: 'm1', store });
    expect(await hasLocalImage(imageUri, store)).toBe(true);
    expect(await hasLocalImage('champ.local/m1:ctx-ffffffffffffffff', store)).toBe(false);
    expect(await resolveLocalImage('docker.io/library/python:3.11', store)).toBeUndefined();
  });

  it('defaults the store from CHAMP_IMAGE_STORE, else CHAMP_HOME', () => {
    expect(defaultImageStore({ CHAMP_IMAGE_STORE: '/x/images' })).toBe('/x/images');
    expect(defaultImageStore({ CHAMP_HOME: '/home/c' })).toBe('/home/c/images');
    expect(defaultImageStore({})).toBe(path.resolve('.champ/images'));
  });
});
