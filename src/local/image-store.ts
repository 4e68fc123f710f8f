// The local image store: an "image" built without Docker is an immutable,
// content-addressed snapshot of a build context, addressed as
// `champ.local/<repository>:ctx-<16 hex>`. The build activity writes it, the
// container launcher reads it.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';

export const LOCAL_REGISTRY = 'champ.local';

/** ECR's repository-name rule: lowercase components joined by `.`, `_` or `-`, namespaced with `/`. */
const REPOSITORY_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Always left out of a context, whatever `.dockerignore` says: they are never part of a model's image. */
const ALWAYS_IGNORED_NAMES = new Set(['.git', 'node_modules', '__pycache__']);
const ALWAYS_IGNORED_SUFFIXES = ['.pyc'];

export interface LocalImageRef {
  repository: string;
  tag: string;
}

export interface SnapshotRequest {
  contextDir: string;
  repository: string;
  /** Store root; callers default it with `defaultImageStore()`. */
  store: string;
}

export interface SnapshotResult {
  imageUri: string;
  tag: string;
  /** False when that exact content was already in the store. */
  created: boolean;
}

/** `$CHAMP_IMAGE_STORE`, else `<$CHAMP_HOME or ./.champ>/images`, as an absolute path. */
export function defaultImageStore(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHAMP_IMAGE_STORE) return path.resolve(env.CHAMP_IMAGE_STORE);
  return path.resolve(env.CHAMP_HOME || './.champ', 'images');
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

/** The snapshot folder of a local image, or undefined when the URI is not local or not in the store. */
export async function resolveLocalImage(uri: string, store: string): Promise<string | undefined> {
  const ref = parseLocalImageUri(uri);
  if (!ref) return undefined;
  const dir = path.join(store, ref.repository, ref.tag);
  try {
    return (await fsp.stat(dir)).isDirectory() ? dir : undefined;
  } catch {
    return undefined;
  }
}

export async function hasLocalImage(uri: string, store: string): Promise<boolean> {
  return (await resolveLocalImage(uri, store)) !== undefined;
}

// ---------------------------------------------------------------------------
// .dockerignore: the common subset (`*`, `?`, `**`, `!` exceptions, comments;
// a pattern that matches a folder excludes what is inside it).

interface IgnoreRule {
  re: RegExp;
  negate: boolean;
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more folders; a trailing `**` matches anything.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = path.posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (!line || line === '.') continue;
    rules.push({ re: globToRegExp(line), negate });
  }
  return rules;
}

function ignoredByRules(rel: string, rules: IgnoreRule[]): boolean {
  let ignored = false;
  const parts = rel.split('/');
  for (const rule of rules) {
    // A rule applies to the path itself or to any folder that contains it.
    for (let n = parts.length; n >= 1; n--) {
      if (rule.re.test(parts.slice(0, n).join('/'))) {
        ignored = !rule.negate;
        break;
      }
    }
  }
  return ignored;
}

function alwaysIgnored(name: string): boolean {
  return ALWAYS_IGNORED_NAMES.has(name) || ALWAYS_IGNORED_SUFFIXES.some((s) => name.endsWith(s));
}

// ---------------------------------------------------------------------------

interface ContextEntry {
  /** Relative, `/`-separated. */
  rel: string;
  kind: 'file' | 'symlink';
  executable: boolean;
}

async function listContext(root: string): Promise<ContextEntry[]> {
  let rules: IgnoreRule[] = [];
  try {
    rules = parseDockerignore(await fsp.readFile(path.join(root, '.dockerignore'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const out: ContextEntry[] = [];
  const walk = async (relDir: string): Promise<void> => {
    const entries = await fsp.readdir(path.join(root, relDir), { withFileTypes: true });
    for (const e of entries) {
      if (alwaysIgnored(e.name)) continue;
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      // Negated rules may re-include something inside an ignored folder, so folders are walked anyway.
      const ignored = ignoredByRules(rel, rules);
      if (e.isDirectory()) {
        // Folders are not entries: only what they hold is, so an emptied or ignored-only folder changes nothing.
        await walk(rel);
      } else if (e.isSymbolicLink()) {
        if (!ignored) out.push({ rel, kind: 'symlink', executable: false });
      } else if (e.isFile()) {
        if (ignored) continue;
        const st = await fsp.stat(path.join(root, rel));
        out.push({ rel, kind: 'file', executable: (st.mode & 0o111) !== 0 });
      }
    }
  };
  await walk('');
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => h.update(chunk))
      .on('end', () => resolve(h.digest('hex')));
  });
}

async function digestEntries(root: string, entries: ContextEntry[]): Promise<string> {
  const h = createHash('sha256');
  for (const e of entries) {
    const abs = path.join(root, e.rel);
    const content = e.kind === 'file' ? await hashFile(abs) : await fsp.readlink(abs);
    h.update(`${e.kind}\0${e.rel}\0${e.executable ? 'x' : '-'}\0${content}\n`);
  }
  return h.digest('hex');
}

/**
 * sha256 (64 hex) over the context's files and symlinks: relative paths,
 * executable bits and contents, in sorted order. Empty folders are not part of an image.
 */
export async function contextDigest(dir: string): Promise<string> {
  const root = path.resolve(dir);
  const st = await fsp.stat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new Error(`contextDir "${dir}" is not a folder: give the build context's folder (the one holding program/train and program/serve)`);
  }
  return digestEntries(root, await listContext(root));
}

export function tagForDigest(digest: string): string {
  return `ctx-${digest.slice(0, 16)}`;
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
  if (!req.store) throw new Error('store is empty: pass the image store folder (defaultImageStore() gives the usual one)');
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
