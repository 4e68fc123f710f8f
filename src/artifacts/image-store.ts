// The local image store: an "image" built without Docker is an immutable,
// content-addressed snapshot of a build context, addressed as
// `champ.local/<repository>:ctx-<16 hex>`. The worker's build activity writes
// it, the local control plane's container launcher reads it.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { contextDigest, digestEntries, listContext, type ContextEntry, type ContextWalkOptions } from './build-context';

export const LOCAL_REGISTRY = 'champ.local';

/** ECR's repository-name rule: lowercase components joined by `.`, `_` or `-`, namespaced with `/`. */
const REPOSITORY_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export interface LocalImageRef {
  repository: string;
  tag: string;
}

export interface SnapshotRequest extends ContextWalkOptions {
  contextDir: string;
  repository: string;
  /** Store root; callers default it with `defaultImageStore(settings)`. */
  store: string;
  /** The context's digest when the caller has just computed it (`contextDigest`): saves hashing it twice. */
  digest?: string;
  /**
   * A temporary snapshot folder whose writer still lives is removed once it is
   * this old (a build never runs longer: 2 days, the spec's ceiling, by default).
   */
  staleAfterMs?: number;
  /** Progress is reported per phase: hashing the context, then copying it. */
  onPhase?: (phase: SnapshotPhase) => void;
}

export type SnapshotPhase = 'hash' | 'copy';

/** The longest build the spec allows (timeouts.build at most 2d). */
const LONGEST_BUILD_MS = 2 * 24 * 3600_000;
const TMP_PREFIX = '.tmp-';

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

async function copyEntries(src: string, dest: string, entries: ContextEntry[], opts: ContextWalkOptions): Promise<void> {
  await fsp.mkdir(dest, { recursive: true });
  const done = { files: 0, bytes: 0 };
  for (const e of entries) {
    opts.signal?.throwIfAborted();
    const from = path.join(src, e.rel);
    const to = path.join(dest, e.rel);
    await fsp.mkdir(path.dirname(to), { recursive: true });
    if (e.kind === 'symlink') {
      await fsp.symlink(await fsp.readlink(from), to);
    } else {
      await fsp.copyFile(from, to);
    }
    done.files += 1;
    done.bytes += e.size;
    opts.onProgress?.({ ...done });
  }
}

/**
 * Files lose their write bits and keep the rest (a 0600 file becomes 0400,
 * never 0444); folders get their source's mode, minus group and other write,
 * plus the owner's rwx so that the store can remove them later.
 */
async function lockDown(src: string, dest: string, entries: ContextEntry[]): Promise<void> {
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    await fsp.chmod(path.join(dest, e.rel), (e.mode & 0o555) | 0o400);
  }
  const folders = new Set<string>(['']);
  for (const e of entries) {
    for (let dir = path.posix.dirname(e.rel); dir !== '.'; dir = path.posix.dirname(dir)) folders.add(dir);
  }
  for (const rel of folders) {
    const mode = (await fsp.stat(path.join(src, rel))).mode;
    await fsp.chmod(path.join(dest, rel), (mode & 0o755) | 0o700);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary snapshot folders a killed writer left in `repoDir`: those
 * whose writer's pid is gone, and any older than `staleAfterMs` (a pid may be
 * reused; a folder without a pid is judged by age alone). Returns their names.
 */
export async function removeStaleSnapshots(repoDir: string, staleAfterMs = LONGEST_BUILD_MS): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(repoDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const pid = /^\.tmp-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    const st = await fsp.stat(path.join(repoDir, name)).catch(() => undefined);
    if (!st) continue;
    const old = Date.now() - st.mtimeMs > staleAfterMs;
    const orphaned = pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid));
    if (!old && !orphaned) continue;
    await makeWritable(path.join(repoDir, name));
    await removeTree(path.join(repoDir, name));
    removed.push(name);
  }
  return removed;
}

/** removeStaleSnapshots over every repository folder of a store (repositories nest by `/`). */
export async function removeStaleSnapshotsIn(store: string, staleAfterMs = LONGEST_BUILD_MS): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    removed.push(...(await removeStaleSnapshots(dir, staleAfterMs)).map((name) => path.join(dir, name)));
    if (depth >= 8) return;
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && !e.name.startsWith('ctx-')) await walk(path.join(dir, e.name), depth + 1);
    }
  };
  await walk(path.resolve(store), 0);
  return removed;
}

/** A snapshot's files and folders are read-only: give the owner write back on folders so they can be removed. */
async function makeWritable(dir: string): Promise<void> {
  await fsp.chmod(dir, 0o700).catch(() => undefined);
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await makeWritable(path.join(dir, e.name));
}

/**
 * Snapshots a build context into the store as `champ.local/<repository>:ctx-<hash>`.
 * Skips the copy when that content is already there. The snapshot appears
 * atomically (copied to a temporary folder, then renamed); its files are
 * read-only and never readable by more people than the originals.
 * Temporary folders that killed builds left anywhere in the store are removed first.
 */
export async function snapshotContext(req: SnapshotRequest): Promise<SnapshotResult> {
  validateRepositoryName(req.repository);
  if (!req.store) throw new Error('store is empty: pass the image store folder (defaultImageStore(settings) gives the usual one)');
  const walk: ContextWalkOptions = { signal: req.signal, onProgress: req.onProgress };
  const root = path.resolve(req.contextDir);
  const repoDir = path.join(path.resolve(req.store), req.repository);
  await removeStaleSnapshotsIn(req.store, req.staleAfterMs);
  req.onPhase?.('hash');
  const digest = req.digest ?? (await contextDigest(root, walk));
  const existing = path.join(repoDir, tagForDigest(digest));
  if (await isDir(existing)) {
    return { imageUri: localImageUri(req.repository, tagForDigest(digest)), tag: tagForDigest(digest), created: false };
  }

  await fsp.mkdir(repoDir, { recursive: true });
  // The writer's pid in the name: the next build can tell an abandoned folder from one being written.
  const tmp = path.join(repoDir, `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    const entries = await listContext(root, walk);
    req.onPhase?.('copy');
    await copyEntries(root, tmp, entries, walk);
    // The tag names what was copied, not what was hashed a moment earlier, so a
    // context edited during the copy can never sit under the wrong tag.
    const copiedDigest = await digestEntries(tmp, entries, { signal: req.signal });
    const tag = tagForDigest(copiedDigest);
    const target = path.join(repoDir, tag);
    await lockDown(root, tmp, entries);
    try {
      await fsp.rename(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Someone else stored the same content first: theirs is identical.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDir(target))) {
        await makeWritable(tmp);
        await removeTree(tmp);
        return { imageUri: localImageUri(req.repository, tag), tag, created: false };
      }
      throw err;
    }
    return { imageUri: localImageUri(req.repository, tag), tag, created: true };
  } catch (err) {
    await makeWritable(tmp);
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
