// What a build context holds, as an image would: its files and symlinks, minus
// what `.dockerignore` and the always-ignored names leave out, and the digest
// over them that names a local image.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { sha256File } from './hash';

/** Always left out of a context, whatever `.dockerignore` says: they are never part of a model's image. */
const ALWAYS_IGNORED_NAMES = new Set(['.git', 'node_modules', '__pycache__']);
const ALWAYS_IGNORED_SUFFIXES = ['.pyc'];

export interface ContextEntry {
  /** Relative, `/`-separated. */
  rel: string;
  kind: 'file' | 'symlink';
  executable: boolean;
  /** Permission bits (0 for a symlink): a copy must never be readable by more people than the original. */
  mode: number;
  /** Bytes (0 for a symlink), for progress reports. */
  size: number;
}

/** How far a walk over a context got: reported as it goes, so a long one can heartbeat. */
export interface ContextProgress {
  files: number;
  bytes: number;
}

export interface ContextWalkOptions {
  /** Checked before each file: an aborted walk throws the signal's reason. */
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ContextProgress) => void) | undefined;
}

/** Read bits other than everyone's: part of the digest, so a private file never shares a tag with a readable one. */
const ALL_READ = 0o444;

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

function parseDockerignore(text: string): IgnoreRule[] {
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

/**
 * Docker sends these to the builder even when `.dockerignore` lists them (it
 * needs them to build), so they are part of what makes the image.
 */
const ALWAYS_SENT_AT_ROOT = new Set(['Dockerfile', '.dockerignore']);

function alwaysIgnored(name: string): boolean {
  return ALWAYS_IGNORED_NAMES.has(name) || ALWAYS_IGNORED_SUFFIXES.some((s) => name.endsWith(s));
}

// ---------------------------------------------------------------------------

/** The context's entries in sorted order. */
export async function listContext(root: string, opts: ContextWalkOptions = {}): Promise<ContextEntry[]> {
  let rules: IgnoreRule[] = [];
  try {
    rules = parseDockerignore(await fsp.readFile(path.join(root, '.dockerignore'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const out: ContextEntry[] = [];
  const walk = async (relDir: string): Promise<void> => {
    opts.signal?.throwIfAborted();
    const entries = await fsp.readdir(path.join(root, relDir), { withFileTypes: true });
    for (const e of entries) {
      if (alwaysIgnored(e.name)) continue;
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      // Negated rules may re-include something inside an ignored folder, so folders are walked anyway.
      const ignored = !(relDir === '' && ALWAYS_SENT_AT_ROOT.has(e.name)) && ignoredByRules(rel, rules);
      if (e.isDirectory()) {
        // Folders are not entries: only what they hold is, so an emptied or ignored-only folder changes nothing.
        await walk(rel);
      } else if (e.isSymbolicLink()) {
        if (!ignored) out.push({ rel, kind: 'symlink', executable: false, mode: 0, size: 0 });
      } else if (e.isFile()) {
        if (ignored) continue;
        const st = await fsp.stat(path.join(root, rel));
        out.push({ rel, kind: 'file', executable: (st.mode & 0o111) !== 0, mode: st.mode & 0o777, size: st.size });
      }
    }
  };
  await walk('');
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

/**
 * sha256 (64 hex) over `entries` as found under `root`: kind, path, executable
 * bit and content of each, and the read bits of a file not readable by everyone.
 */
export async function digestEntries(root: string, entries: ContextEntry[], opts: ContextWalkOptions = {}): Promise<string> {
  const h = createHash('sha256');
  const done: ContextProgress = { files: 0, bytes: 0 };
  for (const e of entries) {
    opts.signal?.throwIfAborted();
    const abs = path.join(root, e.rel);
    const content = e.kind === 'file' ? await sha256File(abs) : await fsp.readlink(abs);
    const reads = e.kind === 'file' && (e.mode & ALL_READ) !== ALL_READ ? `\0r${(e.mode & ALL_READ).toString(8)}` : '';
    h.update(`${e.kind}\0${e.rel}\0${e.executable ? 'x' : '-'}${reads}\0${content}\n`);
    done.files += 1;
    done.bytes += e.size;
    opts.onProgress?.({ ...done });
  }
  return h.digest('hex');
}

/**
 * sha256 (64 hex) over the context's files and symlinks: relative paths,
 * executable bits and contents, in sorted order. Empty folders are not part of an image.
 */
export async function contextDigest(dir: string, opts: ContextWalkOptions = {}): Promise<string> {
  const root = path.resolve(dir);
  const st = await fsp.stat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new Error(`contextDir "${dir}" is not a folder: give the build context's folder (the one holding program/train and program/serve)`);
  }
  return digestEntries(root, await listContext(root, opts), opts);
}
