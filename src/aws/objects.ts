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

async function walk(root: string, rel: string, out: ObjectEntry[]): Promise<void> {
  const dir = path.join(root, rel);
  const names = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of names) {
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    const abs = path.join(root, childRel);
    if (d.isDirectory()) await walk(root, childRel, out);
    else if (d.isFile() || d.isSymbolicLink()) {
      const st = await fsp.stat(abs);
      if (!st.isFile()) continue;
      out.push({ key: childRel, size: st.size, etag: `sha256:${await sha256File(abs)}` });
    }
  }
}

export interface ObjectStore {
  /** Every object under a location, sorted by key. A file:// location may be one file. */
  list(uri: string): Promise<ObjectEntry[]>;
  read(uri: string): Promise<Buffer>;
}

export function createObjectStore(s3: S3Client): ObjectStore {
  return {
    async list(uri) {
      const loc = parseLocation(uri);
      if (loc.scheme === 'file') {
        const st = await fsp.stat(loc.path).catch(() => undefined);
        if (!st) {
          throw terminal(ErrorTypes.AwsNotFound, `${uri} does not exist: create it or fix the location in the spec`, { uri });
        }
        if (st.isFile()) return [{ key: path.basename(loc.path), size: st.size, etag: `sha256:${await sha256File(loc.path)}` }];
        const out: ObjectEntry[] = [];
        await walk(loc.path, '', out);
        return out;
      }
      const out: ObjectEntry[] = [];
      let token: string | undefined;
      do {
        const page = await awsCall({ operation: 'ListObjectsV2', resource: uri }, () =>
          s3.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.prefix, ContinuationToken: token })),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key || o.Key.endsWith('/')) continue;
          const key = loc.prefix && o.Key.startsWith(loc.prefix) ? o.Key.slice(loc.prefix.length).replace(/^\/+/, '') : o.Key;
          out.push({ key: key || path.posix.basename(o.Key), size: o.Size ?? 0, etag: o.ETag ?? '' });
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

/** sha256 over every location's listing (name, key, size, ETag or content hash), in a stable order. */
export async function fingerprintLocations(store: ObjectStore, locations: NamedLocation[]): Promise<Fingerprint> {
  const h = createHash('sha256');
  let objects = 0;
  let bytes = 0;
  const sorted = [...locations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const loc of sorted) {
    h.update(`channel\0${loc.name}\0${loc.uri}\n`);
    for (const o of await store.list(loc.uri)) {
      h.update(`${o.key}\0${o.size}\0${o.etag}\n`);
      objects++;
      bytes += o.size;
    }
  }
  return { fingerprint: h.digest('hex'), objects, bytes };
}
