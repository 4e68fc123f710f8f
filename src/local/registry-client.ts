// The control plane's view of a real image registry (the distribution v2 HTTP
// API, as Debian's docker-registry serves it on 127.0.0.1): which tags a
// repository has, and what manifest each names. ECR's DescribeImages answers
// from here, so "is this image pushed?" is asked of the registry itself.

/** Manifest types a push by the Docker client or BuildKit produces, single images and indexes. */
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
];

export interface RegistryImage {
  /** `sha256:...`, the digest the registry gives the manifest. */
  digest: string;
  mediaType: string;
  /** The config's and the layers' sizes added up (an index: the sizes of its manifests). */
  sizeInBytes: number;
  /** The config's media type (a single image only): ECR's artifactMediaType. */
  configMediaType?: string;
  /** When the image was made, from its config (a registry keeps no push time). */
  createdAt?: number;
}

/** The registry did not answer or answered with something unexpected: not a fact about the image. */
export class RegistryUnavailable extends Error {
  override readonly name = 'RegistryUnavailable';
}

interface Descriptor {
  size?: unknown;
  mediaType?: unknown;
  digest?: unknown;
}

export class RegistryClient {
  /** `host:port` as image references name it, e.g. `127.0.0.1:5000`. */
  constructor(
    readonly address: string,
    private readonly timeoutMs = 10_000,
  ) {}

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = `http://${this.address}/v2/${path}`;
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryUnavailable(
        `the image registry at ${this.address} does not answer (${cause?.code ?? cause?.message ?? (err as Error).message}): ` +
          'start it (scripts/engine/ensure.sh starts one on 127.0.0.1:5000) or point CHAMP_LOCAL_REGISTRY at the one you run',
      );
    }
  }

  private async unexpected(res: Response, what: string): Promise<never> {
    const body = (await res.text().catch(() => '')).slice(0, 300);
    throw new RegistryUnavailable(`the image registry at ${this.address} answered ${res.status} to ${what}: ${body}`);
  }

  /** Every tag of `repository`; none when the registry has never seen it. */
  async tags(repository: string): Promise<string[]> {
    const res = await this.request(`${repository}/tags/list`);
    if (res.status === 404) {
      await res.body?.cancel();
      return [];
    }
    if (!res.ok) return this.unexpected(res, `the tag list of ${repository}`);
    const body = (await res.json()) as { tags?: unknown };
    return Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [];
  }

  /** The image a tag or digest names, or undefined when the registry has none. */
  async image(repository: string, reference: string): Promise<RegistryImage | undefined> {
    const res = await this.request(`${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_TYPES.join(', ') } });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) return this.unexpected(res, `the manifest ${repository}:${reference}`);
    const text = await res.text();
    let manifest: { mediaType?: unknown; config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
    try {
      manifest = JSON.parse(text) as typeof manifest;
    } catch {
      throw new RegistryUnavailable(`the image registry at ${this.address} sent a manifest for ${repository}:${reference} that is not JSON`);
    }
    const size = (list: Descriptor[] | undefined): number => (list ?? []).reduce((n, d) => n + (typeof d.size === 'number' ? d.size : 0), 0);
    const digest = res.headers.get('docker-content-digest') ?? (reference.startsWith('sha256:') ? reference : '');
    const mediaType = String(manifest.mediaType ?? res.headers.get('content-type') ?? MANIFEST_TYPES[0]);
    if (manifest.manifests) return { digest, mediaType, sizeInBytes: size(manifest.manifests) };
    const config = manifest.config;
    return {
      digest,
      mediaType,
      sizeInBytes: size(manifest.layers) + (typeof config?.size === 'number' ? config.size : 0),
      ...(typeof config?.mediaType === 'string' ? { configMediaType: config.mediaType } : {}),
      ...(typeof config?.digest === 'string' ? await this.createdAt(repository, config.digest) : {}),
    };
  }

  private async createdAt(repository: string, configDigest: string): Promise<{ createdAt?: number }> {
    const res = await this.request(`${repository}/blobs/${configDigest}`);
    if (!res.ok) {
      await res.body?.cancel();
      return {};
    }
    const config = (await res.json().catch(() => ({}))) as { created?: unknown };
    const t = typeof config.created === 'string' ? Date.parse(config.created) : NaN;
    return Number.isNaN(t) ? {} : { createdAt: t / 1000 };
  }

  /** Removes a manifest by digest (the registry must allow deletes); true when it was there. */
  async deleteImage(repository: string, digest: string): Promise<boolean> {
    const res = await this.request(`${repository}/manifests/${digest}`, { method: 'DELETE' });
    await res.body?.cancel();
    if (res.status === 404) return false;
    if (!res.ok && res.status !== 202) return this.unexpected(res, `DELETE of ${repository}@${digest}`);
    return true;
  }
}
