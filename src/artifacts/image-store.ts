// The local image store: an "image" built without Docker is an immutable,
// content-addressed snapshot of a build context, addressed as
// `champ.local/<repository>:ctx-<16 hex>`. The worker's build activity writes
// it, the local control plane's container launcher reads it.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { contextDigest, digestEntries, listContext, type ContextEntry } from './build-context';

export const LOCAL_REGISTRY = 'champ.local';

/** ECR's repository-name rule: lowercase components joined by `.`, `_` or `-`, namespaced with `/`. */
const REPOSITORY_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export interface LocalImageRef {
  repository: string;
  tag: string;
}

export interface SnapshotRequest {
  contextDir: string;
  repository: string;
  /** Store root; callers default it with `defaultImageStore(settings)`. */
  store: string;
}

export interface SnapshotResult {
  imageUri: string;
  tag: string;
  /** False when that exact content was already in the store. */
  created: boolean;
}

/** The settings both the worker's and the control plane's configurations carry. */
export interface ImageStoreSettings {
  CHAMP_HOME?: string | undefined;
  CHAMP_IMAGE_STORE?: string | undefined;
}

/**
 * `CHAMP_IMAGE_STORE`, else `<CHAMP_HOME or ./.champ>/images`, as an absolute
 * path: the one rule, so that the worker and the control plane agree on the store.
 */
export function defaultImageStore(settings: ImageStoreSettings): string {
  if (settings.CHAMP_IMAGE_STORE) return path.resolve(settings.CHAMP_IMAGE_STORE);
  return path.resolve(settings.CHAMP_HOME || './.champ', 'images');
}

export function validateRepositoryName(repository: string): void {
  if (repository.length < 2 || repository.length > 256 || !REPOSITORY_RE.test(repository)) {
    throw new Error(
      `repository "${repository}" is not a valid image repository name: use 2-256 lowercase letters and digits, ` +
        `separated by single ".", "_" or "-", optionally namespaced with "/" (for example "claims-severity" or "team/claims-severity")`,
    );
  }
}

/**
 * Parses `champ.local/<repository>:<tag>`. Returns undefined for any other
 * registry's URI (those are Docker's business); throws on a malformed local one.
 */
export function parseLocalImageUri(uri: string): LocalImageRef | undefined {
  const prefix = `${LOCAL_REGISTRY}/`;
  if (!uri.startsWith(prefix)) return undefined;
  const rest = uri.slice(prefix.length);
  const colon = rest.lastIndexOf(':');
  if (colon <= 0) {
    throw new Error(`image URI "${uri}" has no tag: write it as ${LOCAL_REGISTRY}/<repository>:<tag>`);
  }
  const repository = rest.slice(0, colon);
  const tag = rest.slice(colon + 1);
  validateRepositoryName(repository);
  if (!TAG_RE.test(tag)) {
    throw new Error(`image URI "${uri}" has an invalid tag "${tag}": use letters, digits, ".", "_" or "-" (at most 128)`);
  }
  return { repository, tag };
}

export function localImageUri(repository: string, tag: string): string {
  return `${LOCAL_REGISTRY}/${repository}:${tag}`;
}

/** The tag of a context with that digest (`contextDigest`): the same content always gives the same tag. */
export function tagForDigest(digest: string): string {
  return `ctx-${digest.slice(0, 16)}`;
}

/** The snapshot folder of a local image, or undefined when the URI is not local or not in the store. */
export async function resolveLocalImage(uri: string, store: string): Promise<string | undefined> {
  const ref = parseLocalImageUri(uri);
  if (!ref) return undefined;
  const dir = path.join(store, ref.repository, ref.tag);
  return (await isDir(dir)) ? dir : undefined;
}

export async function hasLocalImage(uri: string, store: string): Promise<boolean> {
  return (await resolveLocalImage(uri, store)) !== undefined;
}

async function copyEntries(src: string, dest: string, entries: ContextEntry[]): Promise<void> {
  await fsp.mkdir(dest, { recursive: true });
  for (const e of entries) {
    const from = path.join(src, e.rel);
    const to = path.join(dest, e.rel);
    await fsp.mkdir(path.dirname(to), { recursive: true });
    if (e.kind === 'symlink') {
      await fsp.symlink(await fsp.readlink(from), to);
    } else {
      await fsp.copyFile(from, to);
    }
  }
}

async function makeReadOnly(root: string, entries: ContextEntry[]): Promise<void> {
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    await fsp.chmod(path.join(root, e.rel), e.executable ? 0o555 : 0o444);
  }
}

/**
 * Snapshots a build context into the store as `champ.local/<repository>:ctx-<hash>`.
 * Skips the copy when that content is already there. The snapshot appears
 * atomically (copied to a temporary folder, then renamed) and its files are read-only.
 */
export async function snapshotContext(req: SnapshotRequest): Promise<SnapshotResult> {
  validateRepositoryName(req.repository);
  if (!req.store) throw new Error('store is empty: pass the image store folder (defaultImageStore(settings) gives the usual one)');
  const root = path.resolve(req.contextDir);
  const digest = await contextDigest(root);
  const repoDir = path.join(path.resolve(req.store), req.repository);
  const existing = path.join(repoDir, tagForDigest(digest));
  if (await isDir(existing)) {
    return { imageUri: localImageUri(req.repository, tagForDigest(digest)), tag: tagForDigest(digest), created: false };
  }

  await fsp.mkdir(repoDir, { recursive: true });
  const tmp = path.join(repoDir, `.tmp-${randomBytes(6).toString('hex')}`);
  try {
    const entries = await listContext(root);
    await copyEntries(root, tmp, entries);
    // The tag names what was copied, not what was hashed a moment earlier, so a
    // context edited during the copy can never sit under the wrong tag.
    const copiedDigest = await digestEntries(tmp, entries);
    const tag = tagForDigest(copiedDigest);
    const target = path.join(repoDir, tag);
    await makeReadOnly(tmp, entries);
    try {
      await fsp.rename(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Someone else stored the same content first: theirs is identical.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDir(target))) {
        await removeTree(tmp);
        return { imageUri: localImageUri(req.repository, tag), tag, created: false };
      }
      throw err;
    }
    return { imageUri: localImageUri(req.repository, tag), tag, created: true };
  } catch (err) {
    await removeTree(tmp);
    throw err;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function removeTree(p: string): Promise<void> {
  await fsp.rm(p, { recursive: true, force: true }).catch(() => undefined);
}
