// The ECR subset of the local control plane, through the AWS SDK's ECR client,
// over the real registry scripts/engine/ensure.sh starts on 127.0.0.1:5000
// (CHAMP_LOCAL_REGISTRY names another). Images are put into the registry with
// its own HTTP API (blobs, then a manifest), so no Docker engine is needed;
// without a registry the tests that need one report themselves skipped.
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ImageNotFoundException,
  InvalidParameterException,
  RepositoryAlreadyExistsException,
  RepositoryNotFoundException,
  ServerException,
} from '@aws-sdk/client-ecr';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { loadLocalConfig, LocalConfigError } from '../../src/local';
import { RegistryClient } from '../../src/local/registry-client';
import { freePort } from '../../src/net';
import { startPlane, type Plane } from './integration/helpers';
import { makeTempDir, removeDir } from './support';

const REGISTRY = process.env.CHAMP_LOCAL_REGISTRY || '127.0.0.1:5000';
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
const credentials = { accessKeyId: 'champlocal', secretAccessKey: 'champlocal' };

/** Why no registry can be used (asked once, synchronously, so the tests can be marked skipped), or undefined. */
function registryMissing(): string | undefined {
  const probe = `fetch('http://${REGISTRY}/v2/', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 3), () => process.exit(4))`;
  const r = spawnSync(process.execPath, ['-e', probe], { timeout: 10_000 });
  if (r.status === 0) return undefined;
  return r.status === 3 ? `the registry at ${REGISTRY} does not answer GET /v2/ with 200` : `no registry answers at ${REGISTRY}; scripts/engine/ensure.sh starts one`;
}
const noRegistry = registryMissing();
if (noRegistry) console.warn(`ECR tests that need a registry skipped: ${noRegistry}`);

/** Rejects unless `p` rejects; then the error. */
async function rejection(p: Promise<unknown>): Promise<Error & { name: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { name: string };
  }
  throw new Error('expected a rejection');
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Puts a one-layer image into the registry through its HTTP API; its manifest digest and size. */
async function pushThroughRegistryApi(repository: string, tag: string): Promise<{ digest: string; size: number }> {
  const blob = async (content: Buffer): Promise<string> => {
    const digest = sha(content);
    const started = await fetch(`http://${REGISTRY}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    if (started.status !== 202) throw new Error(`blob upload start: ${started.status}`);
    const location = new URL(started.headers.get('location') as string, `http://${REGISTRY}`);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: content, headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
    return digest;
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2026-01-02T03:04:05Z', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(512);
  const configDigest = await blob(config);
  const layerDigest = await blob(layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await fetch(`http://${REGISTRY}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (put.status !== 201) throw new Error(`manifest put: ${put.status} ${await put.text()}`);
  return { digest: sha(manifest), size: config.length + layer.length };
}

describe('ECR API of the local control plane', () => {
  let dir: string;
  let plane: Plane;
  let ecr: ECRClient;
  const pushed: Array<{ repository: string; digest: string }> = [];

  beforeAll(async () => {
    dir = await makeTempDir('ecr');
    plane = await startPlane({ stateDir: dir, registry: REGISTRY });
    ecr = new ECRClient({ endpoint: plane.server.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  });

  afterAll(async () => {
    const registry = new RegistryClient(REGISTRY);
    for (const p of pushed) await registry.deleteImage(p.repository, p.digest).catch(() => undefined);
    ecr?.destroy();
    await plane?.close();
    if (dir) await removeDir(dir);
  });

  it('CreateRepository answers the Repository shape with a URI on the local registry, and DescribeRepositories finds it by name and in the listing', async () => {
    const name = `champ-test/ecr-${RUN}-a`;
    const created = await ecr.send(new CreateRepositoryCommand({ repositoryName: name, imageScanningConfiguration: { scanOnPush: true } }));
    expect(created.repository).toEqual({
      repositoryArn: `arn:aws:ecr:us-east-1:000000000000:repository/${name}`,
      registryId: '000000000000',
      repositoryName: name,
      repositoryUri: `${REGISTRY}/${name}`,
      createdAt: expect.any(Date),
      imageTagMutability: 'MUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'AES256' },
    });
    const byName = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    expect(byName.repositories).toEqual([created.repository]);
    const all = await ecr.send(new DescribeRepositoriesCommand({}));
    expect(all.repositories?.map((r) => r.repositoryName)).toContain(name);
  });

  it('pages DescribeRepositories with maxResults and nextToken, and refuses a token of another listing', async () => {
    for (const s of ['p1', 'p2', 'p3']) await ecr.send(new CreateRepositoryCommand({ repositoryName: `champ-test/ecr-${RUN}-${s}` }));
    const names: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const out = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 1, ...(nextToken ? { nextToken } : {}) }));
      names.push(...(out.repositories ?? []).map((r) => r.repositoryName as string));
      nextToken = out.nextToken;
      pages++;
    } while (nextToken);
    expect(pages).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['p1', 'p2', 'p3'].map((s) => `champ-test/ecr-${RUN}-${s}`)));
    const first = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 1 }));
    const e = await rejection(ecr.send(new DescribeRepositoriesCommand({ maxResults: 1, repositoryNames: [`champ-test/ecr-${RUN}-p1`], nextToken: first.nextToken })));
    expect(e).toBeInstanceOf(InvalidParameterException);
    expect(e.message).toMatch(/'nextToken'/);
  });

  it('refuses a second CreateRepository of a name and a DescribeRepositories of an unknown one, in ECR\'s words', async () => {
    const name = `champ-test/ecr-${RUN}-dup`;
    await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    const dup = await rejection(ecr.send(new CreateRepositoryCommand({ repositoryName: name })));
    expect(dup).toBeInstanceOf(RepositoryAlreadyExistsException);
    expect(dup.message).toBe(`The repository with name '${name}' already exists in the registry with id '000000000000'`);
    const missing = await rejection(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [`champ-test/ecr-${RUN}-none`] })));
    expect(missing).toBeInstanceOf(RepositoryNotFoundException);
    expect(missing.message).toBe(`The repository with name 'champ-test/ecr-${RUN}-none' does not exist in the registry with id '000000000000'`);
  });

  it('refuses bad parameters with InvalidParameterException naming the field', async () => {
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [ecr.send(new CreateRepositoryCommand({ repositoryName: 'Claims' })), /at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression/],
      [ecr.send(new CreateRepositoryCommand({ repositoryName: 'a' })), /at 'repositoryName' .*length greater than or equal to 2/],
      [ecr.send(new CreateRepositoryCommand({ repositoryName: `champ-test/ecr-${RUN}-m`, imageTagMutability: 'SOMETIMES' as never })), /at 'imageTagMutability'/],
      [ecr.send(new DescribeRepositoriesCommand({ maxResults: 0 })), /at 'maxResults'/],
      [ecr.send(new DescribeImagesCommand({ repositoryName: `champ-test/ecr-${RUN}-a`, imageIds: [] })), /at 'imageIds'/],
      [ecr.send(new DescribeImagesCommand({ repositoryName: `champ-test/ecr-${RUN}-a`, imageIds: [{ imageTag: 'bad tag' }] })), /at 'imageTag'/],
      [ecr.send(new GetAuthorizationTokenCommand({ registryIds: ['12'] })), /at 'registryIds.1.member'/],
    ];
    for (const [p, message] of cases) {
      const e = await rejection(p);
      expect(e).toBeInstanceOf(InvalidParameterException);
      expect(e.message).toMatch(message);
    }
  });

  it('GetAuthorizationToken gives a fresh AWS:<password> token for the local registry, valid for hours', async () => {
    const a = await ecr.send(new GetAuthorizationTokenCommand({}));
    const b = await ecr.send(new GetAuthorizationTokenCommand({}));
    const data = a.authorizationData?.[0];
    expect(data?.proxyEndpoint).toBe(`http://${REGISTRY}`);
    expect(Buffer.from(data?.authorizationToken as string, 'base64').toString('utf8')).toMatch(/^AWS:[A-Za-z0-9_-]{20,}$/);
    expect(b.authorizationData?.[0]?.authorizationToken).not.toBe(data?.authorizationToken);
    expect((data?.expiresAt as Date).getTime()).toBeGreaterThan(Date.now() + 3600_000);
  });

  it('DescribeImages of an unknown repository is RepositoryNotFoundException', async () => {
    const e = await rejection(ecr.send(new DescribeImagesCommand({ repositoryName: `champ-test/ecr-${RUN}-nope`, imageIds: [{ imageTag: 'v1' }] })));
    expect(e).toBeInstanceOf(RepositoryNotFoundException);
    expect(e.message).toMatch(/'champ-test\/ecr-.*-nope' does not exist in the registry with id '000000000000'/);
  });

  (noRegistry ? it.skip : it)(`DescribeImages answers from the registry's manifests: not found before the push, the image with its digest, tags and size after, not found again once deleted${noRegistry ? ` (skipped: ${noRegistry})` : ''}`, async () => {
    const name = `champ-test/ecr-${RUN}-img`;
    await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    const before = await rejection(ecr.send(new DescribeImagesCommand({ repositoryName: name, imageIds: [{ imageTag: 'ctx-1' }] })));
    expect(before).toBeInstanceOf(ImageNotFoundException);
    expect(before.message).toBe(
      `The image with imageId {imageDigest:'null', imageTag:'ctx-1'} does not exist within the repository with name '${name}' in the registry with id '000000000000'`,
    );
    expect((await ecr.send(new DescribeImagesCommand({ repositoryName: name }))).imageDetails).toEqual([]);

    const image = await pushThroughRegistryApi(name, 'ctx-1');
    pushed.push({ repository: name, digest: image.digest });
    // A second tag of the same manifest.
    await fetch(`http://${REGISTRY}/v2/${name}/manifests/${image.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
      .then((r) => r.arrayBuffer())
      .then((body) => fetch(`http://${REGISTRY}/v2/${name}/manifests/latest`, { method: 'PUT', body, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }));
    const expected = {
      registryId: '000000000000',
      repositoryName: name,
      imageDigest: image.digest,
      imageTags: ['ctx-1', 'latest'],
      imageSizeInBytes: image.size,
      imagePushedAt: new Date('2026-01-02T03:04:05Z'),
      imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactMediaType: 'application/vnd.oci.image.config.v1+json',
    };
    const byTag = await ecr.send(new DescribeImagesCommand({ repositoryName: name, imageIds: [{ imageTag: 'ctx-1' }] }));
    expect(byTag.imageDetails).toEqual([expected]);
    const byDigest = await ecr.send(new DescribeImagesCommand({ repositoryName: name, imageIds: [{ imageDigest: image.digest }, { imageTag: 'latest' }] }));
    expect(byDigest.imageDetails).toEqual([expected]);
    expect((await ecr.send(new DescribeImagesCommand({ repositoryName: name }))).imageDetails).toEqual([expected]);
    expect((await ecr.send(new DescribeImagesCommand({ repositoryName: name, filter: { tagStatus: 'UNTAGGED' } }))).imageDetails).toEqual([]);

    expect(await new RegistryClient(REGISTRY).deleteImage(name, image.digest)).toBe(true);
    const after = await rejection(ecr.send(new DescribeImagesCommand({ repositoryName: name, imageIds: [{ imageTag: 'ctx-1' }] })));
    expect(after).toBeInstanceOf(ImageNotFoundException);
  });

  it('repositories survive a restart of the control plane', async () => {
    const name = `champ-test/ecr-${RUN}-kept`;
    await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    await plane.close();
    ecr.destroy();
    plane = await startPlane({ stateDir: dir, registry: REGISTRY });
    ecr = new ECRClient({ endpoint: plane.server.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const out = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    expect(out.repositories?.[0]?.repositoryUri).toBe(`${REGISTRY}/${name}`);
  });
});

describe('ECR API without its registry', () => {
  it('DescribeImages is a ServerException that names the registry and how to start or name one', async () => {
    const dir = await makeTempDir('ecr-down');
    // A port nothing listens on.
    const down = `127.0.0.1:${await freePort()}`;
    const plane = await startPlane({ stateDir: dir, registry: down });
    const ecr = new ECRClient({ endpoint: plane.server.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'claims' }));
      const e = await rejection(ecr.send(new DescribeImagesCommand({ repositoryName: 'claims', imageIds: [{ imageTag: 'v1' }] })));
      expect(e).toBeInstanceOf(ServerException);
      expect(e.message).toContain(`the image registry at ${down} does not answer`);
      expect(e.message).toMatch(/scripts\/engine\/ensure\.sh.*CHAMP_LOCAL_REGISTRY/);
    } finally {
      ecr.destroy();
      await plane.close();
      await removeDir(dir);
    }
  });

  it('CHAMP_LOCAL_REGISTRY must be a loopback host:port', () => {
    expect(loadLocalConfig({ CHAMP_LOCAL_REGISTRY: '127.0.0.1:5001' }).CHAMP_LOCAL_REGISTRY).toBe('127.0.0.1:5001');
    expect(loadLocalConfig({}).CHAMP_LOCAL_REGISTRY).toBe('127.0.0.1:5000');
    for (const bad of ['http://127.0.0.1:5000', 'registry.example.com:5000', '127.0.0.1']) {
      expect(() => loadLocalConfig({ CHAMP_LOCAL_REGISTRY: bad })).toThrow(LocalConfigError);
      expect(() => loadLocalConfig({ CHAMP_LOCAL_REGISTRY: bad })).toThrow(/CHAMP_LOCAL_REGISTRY=.*loopback registry address such as 127\.0\.0\.1:5000/);
    }
  });
});
