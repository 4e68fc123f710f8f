// DeleteModel removes the Docker tag of a store image once nothing of the
// control plane uses it, against the real engine (skipped without one).
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CreateModelCommand, DeleteModelCommand } from '@aws-sdk/client-sagemaker';
import { snapshotContext } from '../../src/artifacts/image-store';
import { startPlane, type Plane } from './integration/helpers';
import { makeTempDir, removeDir, until } from './support';

const ROLE = 'arn:aws:iam::000000000000:role/champ-local';
const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
const info = docker('info', '--format', '{{.ServerVersion}}');
const noEngine = info.status === 0 ? undefined : `no Docker engine answers (docker info: exit ${String(info.status)})`;
if (noEngine) console.warn(`image tag tests skipped: ${noEngine}; scripts/engine/ensure.sh starts one as root on Debian`);
const maybe = noEngine ? describe.skip : describe;

const hasTag = (uri: string) => docker('image', 'inspect', uri).status === 0;

maybe('DeleteModel and the Docker tags of the image store', () => {
  let dir: string;
  let image: string;
  let foreign: string;
  const planes: Plane[] = [];

  beforeAll(async () => {
    dir = await makeTempDir('image-tags');
    const ctx = path.join(dir, 'ctx');
    await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
    await fsp.writeFile(path.join(ctx, 'program', 'serve'), `#!/bin/sh\n# ${dir}\nexit 0\n`, { mode: 0o755 });
    image = (await snapshotContext({ contextDir: ctx, repository: 'tags-test', store: path.join(dir, 'images') })).imageUri;
    // Another store's image of the same repository: not this plane's to remove.
    foreign = image.replace(/ctx-[0-9a-f]{16}$/, 'ctx-0000000000000000');
    const base = docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}').stdout.split('\n').find((t) => t && !t.includes('<none>'));
    if (!base) throw new Error('the engine holds no image to tag');
    // A tag of an existing image stands for the build: no build needed to test its removal.
    for (const uri of [image, foreign]) expect(docker('tag', base, uri).status).toBe(0);
  });

  afterAll(async () => {
    for (const p of planes) await p.close();
    for (const uri of [image, foreign]) if (uri) docker('image', 'rm', uri);
    if (dir) await removeDir(dir);
  });

  const model = (p: Plane, name: string, uri: string) => p.sm.send(new CreateModelCommand({ ModelName: name, ExecutionRoleArn: ROLE, PrimaryContainer: { Image: uri } }));

  test('the tag stays while another model uses the image, goes with the last one; another store\'s tag is never touched', async () => {
    const p = await startPlane({ stateDir: path.join(dir, 'home'), imageStore: path.join(dir, 'images'), isolation: 'env', tagGraceMs: 0 });
    planes.push(p);
    await model(p, 'a', image);
    await model(p, 'b', image);
    await model(p, 'f', foreign);
    await p.sm.send(new DeleteModelCommand({ ModelName: 'a' }));
    await p.sm.send(new DeleteModelCommand({ ModelName: 'f' }));
    // Given the time it takes to remove a tag, and more, the one still used and the foreign one are there.
    await model(p, 'probe', 'champ.local/tags-test:ctx-1111111111111111');
    await p.sm.send(new DeleteModelCommand({ ModelName: 'probe' }));
    await new Promise((r) => setTimeout(r, 1500));
    expect(hasTag(image)).toBe(true);
    expect(hasTag(foreign)).toBe(true);

    await p.sm.send(new DeleteModelCommand({ ModelName: 'b' }));
    await until(`${image} removed`, async () => (hasTag(image) ? undefined : true), 30_000);
    expect(hasTag(foreign)).toBe(true);
  });

  test('a tag that a model or job named within the grace period stays (another run may be between its build and its training job)', async () => {
    expect(docker('tag', foreign, image).status).toBe(0);
    const p = await startPlane({ stateDir: path.join(dir, 'home-grace'), imageStore: path.join(dir, 'images'), isolation: 'env', tagGraceMs: 3_600_000 * 24 * 365 * 50 });
    planes.push(p);
    await model(p, 'g', image);
    await p.sm.send(new DeleteModelCommand({ ModelName: 'g' }));
    await new Promise((r) => setTimeout(r, 1500));
    expect(hasTag(image)).toBe(true);
  });
});
