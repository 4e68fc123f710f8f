// Docker tags of local images: a local build in docker mode tags the image it
// stores as `champ.local/<repository>:<tag>` too. The store's snapshot is the
// image; the tag is a copy in the engine, so whoever made a store (a test
// run, a throwaway dev home) removes the tags of its snapshots with it.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { localImageUri } from './image-store';

/** What this needs of a docker client: an argument array in, exit code and output back (the activities' DockerRunner fits). */
export interface TagDocker {
  run(args: readonly string[], options?: { timeoutMs?: number }): Promise<{ code: number; output: string }>;
}

export interface TagRemoval {
  removed: string[];
  /** A container (running or stopped) still uses these: they stay. */
  inUse: string[];
  /** No such tag in the engine (never built with Docker, or already removed). */
  absent: string[];
  /** Anything else (no engine answers): with its output. */
  failed: Array<{ uri: string; output: string }>;
}

const SNAPSHOT_TAG = /^ctx-[0-9a-f]{16}$/;

/** The local image URIs of every snapshot in a store (`<store>/<repository>/<ctx-tag>`, repositories nested by `/`). */
export async function storeImageUris(store: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    const entries = await fsp.readdir(path.join(store, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      if (rel && SNAPSHOT_TAG.test(e.name)) out.push(localImageUri(rel, e.name));
      else if (depth < 8) await walk(rel ? `${rel}/${e.name}` : e.name, depth + 1);
    }
  };
  await walk('', 0);
  return out.sort();
}

/**
 * Removes these Docker tags, never by force: a tag a container (running or
 * stopped) was made from stays, and is reported; the image behind a tag goes
 * only with its last tag.
 */
export async function removeLocalTags(docker: TagDocker, uris: readonly string[]): Promise<TagRemoval> {
  const result: TagRemoval = { removed: [], inUse: [], absent: [], failed: [] };
  // Docker untags an image that has other tags even while a container runs it: ask first.
  // By the name each container was made from (an ancestor filter would match every tag of the same image).
  const listed = uris.length > 0 ? await docker.run(['container', 'ls', '--all', '--no-trunc', '--format', '{{.Image}}'], { timeoutMs: 60_000 }) : undefined;
  const used = new Set(listed?.code === 0 ? listed.output.split('\n').map((l) => l.trim()) : []);
  for (const uri of uris) {
    if (used.has(uri)) {
      result.inUse.push(uri);
      continue;
    }
    const r = await docker.run(['image', 'rm', uri], { timeoutMs: 60_000 });
    if (r.code === 0) result.removed.push(uri);
    else if (/no such image|reference does not exist/i.test(r.output)) result.absent.push(uri);
    else if (/conflict|is using its referenced image|being used by/i.test(r.output)) result.inUse.push(uri);
    else result.failed.push({ uri, output: r.output.slice(-300) });
  }
  return result;
}

/** Removes the Docker tags of every snapshot in `store`: what a run that owned the store leaves behind. */
export async function removeStoreTags(docker: TagDocker, store: string): Promise<TagRemoval> {
  return removeLocalTags(docker, await storeImageUris(store));
}
