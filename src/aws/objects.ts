// The one object-store helper: s3:// through the S3 client, file:// from the
// local disk (local mode has no S3, as in SageMaker's own local mode).
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { localPathOf } from '../artifacts/file-uri';
import { sha256File } from '../artifacts/hash';
import { awsCall, terminal } from './errors';
import { ErrorTypes } from '../shared';

export interface ObjectEntry {
  /** The key relative to the listed location (`train.csv`, `part/0001.csv`). */
  key: string;
  size: number;
  /** S3's ETag, or `sha256:<hex>` of a file's content. */
  etag: string;
}

export type ParsedLocation = { scheme: 's3'; bucket: string; prefix: string } | { scheme: 'file'; path: string };

export function parseLocation(uri: string): ParsedLocation {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice(5);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (!bucket) throw terminal(ErrorTypes.InvalidSpec, `"${uri}" has no bucket: write s3://<bucket>/<prefix>`);
    return { scheme: 's3', bucket, prefix: slash < 0 ? '' : rest.slice(slash + 1) };
  }
  let file: string | undefined;
  try {
    file = localPathOf(uri);
  } catch {
    throw terminal(ErrorTypes.InvalidSpec, `"${uri}" is not a valid file:// URI: write file:///absolute/path`);
  }
  if (file !== undefined) return { scheme: 'file', path: file };
  throw terminal(ErrorTypes.InvalidSpec, `"${uri}" is neither s3:// nor file://: give an s3://bucket/prefix or file:///path location`);
}

/** Options for a long listing: cancellation and a report per object (to heartbeat). */
export interface ListOptions {
  /** Checked before each object: an aborted listing throws the signal's reason. */
  signal?: AbortSignal | undefined;
  onObject?: ((o: ObjectEntry) => void) | undefined;
}

function inside(folder: string, target: string): boolean {
  const rel = path.relative(folder, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Files under `root`, sorted by key, each hashed. Links to files inside the
 * folder count as those files; a link that leads outside it is refused (a
 * training job would read what the spec never named); linked folders are not
 * followed, so a link back into the folder cannot loop.
 */
async function walk(root: string, realRoot: string, rel: string, uri: string, out: ObjectEntry[], opts: ListOptions): Promise<void> {
  const dir = path.join(root, rel);
  const names = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of names) {
    opts.signal?.throwIfAborted();
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    const abs = path.join(root, childRel);
    if (d.isDirectory()) await walk(root, realRoot, childRel, uri, out, opts);
    else if (d.isFile() || d.isSymbolicLink()) {
      if (d.isSymbolicLink()) {
        const real = await fsp.realpath(abs).catch(() => undefined);
        if (real !== undefined && !inside(realRoot, real)) {
          throw terminal(
            ErrorTypes.InvalidSpec,
            `${uri}: ${childRel} is a symbolic link to ${real}, outside the folder; copy the data into the folder instead`,
            { uri },
          );
        }
      }
      const st = await fsp.stat(abs).catch(() => undefined);
      if (!st?.isFile()) continue;
      const entry = { key: childRel, size: st.size, etag: `sha256:${await sha256File(abs)}` };
      out.push(entry);
      opts.onObject?.(entry);
    }
  }
}

export interface ObjectStore {
  /** Every object under a location, sorted by key. A file:// location may be one file. */
  list(uri: string, opts?: ListOptions): Promise<ObjectEntry[]>;
  read(uri: string): Promise<Buffer>;
}

export function createObjectStore(s3: S3Client): ObjectStore {
  return {
    async list(uri, opts = {}) {
      const loc = parseLocation(uri);
      if (loc.scheme === 'file') {
        const st = await fsp.stat(loc.path).catch(() => undefined);
        if (!st) {
          throw terminal(ErrorTypes.AwsNotFound, `${uri} does not exist: create it or fix the location in the spec`, { uri });
        }
        if (st.isFile()) {
          const entry = { key: path.basename(loc.path), size: st.size, etag: `sha256:${await sha256File(loc.path)}` };
          opts.onObject?.(entry);
          return [entry];
        }
        const out: ObjectEntry[] = [];
        await walk(loc.path, await fsp.realpath(loc.path), '', uri, out, opts);
        return out;
      }
      const out: ObjectEntry[] = [];
      let token: string | undefined;
      do {
        const page = await awsCall({ operation: 'ListObjectsV2', resource: uri }, () =>
          s3.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.prefix, ContinuationToken: token })),
        );
        opts.signal?.throwIfAborted();
        for (const o of page.Contents ?? []) {
          if (!o.Key || o.Key.endsWith('/')) continue;
          const key = loc.prefix && o.Key.startsWith(loc.prefix) ? o.Key.slice(loc.prefix.length).replace(/^\/+/, '') : o.Key;
          const entry = { key: key || path.posix.basename(o.Key), size: o.Size ?? 0, etag: o.ETag ?? '' };
          out.push(entry);
          opts.onObject?.(entry);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async read(uri) {
      const loc = parseLocation(uri);
      if (loc.scheme === 'file') {
        try {
          return await fsp.readFile(loc.path);
        } catch {
          throw terminal(ErrorTypes.AwsNotFound, `${uri} cannot be read: check that the file exists`, { uri });
        }
      }
      const out = await awsCall({ operation: 'GetObject', resource: uri }, () =>
        s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.prefix })),
      );
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    },
  };
}

export interface NamedLocation {
  name: string;
  uri: string;
}

export interface Fingerprint {
  fingerprint: string;
  objects: number;
  bytes: number;
}

export interface FingerprintOptions {
  signal?: AbortSignal | undefined;
  /** Objects and bytes listed so far, across every location. */
  onProgress?: ((p: { files: number; bytes: number }) => void) | undefined;
}

/** sha256 over every location's listing (name, key, size, ETag or content hash), in a stable order. */
export async function fingerprintLocations(store: ObjectStore, locations: NamedLocation[], opts: FingerprintOptions = {}): Promise<Fingerprint> {
  const h = createHash('sha256');
  let objects = 0;
  let bytes = 0;
  let seenFiles = 0;
  let seenBytes = 0;
  const onObject = (o: ObjectEntry): void => {
    seenFiles += 1;
    seenBytes += o.size;
    opts.onProgress?.({ files: seenFiles, bytes: seenBytes });
  };
  const sorted = [...locations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const loc of sorted) {
    h.update(`channel\0${loc.name}\0${loc.uri}\n`);
    for (const o of await store.list(loc.uri, { signal: opts.signal, onObject })) {
      h.update(`${o.key}\0${o.size}\0${o.etag}\n`);
      objects++;
      bytes += o.size;
    }
  }
  return { fingerprint: h.digest('hex'), objects, bytes };
}
