import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createObjectStore, fingerprintLocations, parseLocation } from '../../src/aws/objects';
import { ErrorTypes } from '../../src/shared';

describe('object store', () => {
  let dir: string;
  const s3 = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const s3Mock = mockClient(s3);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'champ-objects-'));
    mkdirSync(join(dir, 'train', 'part'), { recursive: true });
    writeFileSync(join(dir, 'train', 'a.csv'), '1,2\n');
    writeFileSync(join(dir, 'train', 'part', 'b.csv'), '3,4\n');
    s3Mock.reset();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists a file:// folder recursively with content hashes, sorted by key', async () => {
    const list = await createObjectStore(s3).list(pathToFileURL(join(dir, 'train')).href);
    expect(list.map((o) => o.key)).toEqual(['a.csv', 'part/b.csv']);
    expect(list[0]!.size).toBe(4);
    expect(list[0]!.etag).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('changes the fingerprint when a file\'s content changes but not when nothing does', async () => {
    const store = createObjectStore(s3);
    const loc = [{ name: 'train', uri: pathToFileURL(join(dir, 'train')).href }];
    const a = await fingerprintLocations(store, loc);
    expect(await fingerprintLocations(store, loc)).toEqual(a);
    writeFileSync(join(dir, 'train', 'a.csv'), '9,9\n');
    const b = await fingerprintLocations(store, loc);
    expect(b.fingerprint).not.toBe(a.fingerprint);
    expect(b).toMatchObject({ objects: 2, bytes: 8 });
  });

  it('pages through an s3:// prefix and strips the prefix from keys', async () => {
    s3Mock
      .on(ListObjectsV2Command, { Bucket: 'b', Prefix: 'data/train/' })
      .resolvesOnce({ Contents: [{ Key: 'data/train/x.csv', Size: 3, ETag: '"e1"' }], IsTruncated: true, NextContinuationToken: 't' })
      .resolvesOnce({ Contents: [{ Key: 'data/train/y.csv', Size: 5, ETag: '"e2"' }], IsTruncated: false });
    const list = await createObjectStore(s3).list('s3://b/data/train/');
    expect(list).toEqual([
      { key: 'x.csv', size: 3, etag: '"e1"' },
      { key: 'y.csv', size: 5, etag: '"e2"' },
    ]);
  });

  it('reports a missing file:// location as non-retryable AwsNotFound naming it', async () => {
    const uri = pathToFileURL(join(dir, 'nope')).href;
    await expect(createObjectStore(s3).list(uri)).rejects.toMatchObject({ type: ErrorTypes.AwsNotFound, nonRetryable: true, message: expect.stringContaining(uri) });
  });

  it('refuses a file:// folder with a link to a file outside it, naming the link; a linked folder is not followed, so a loop ends', async () => {
    const store = createObjectStore(s3);
    const uri = pathToFileURL(join(dir, 'train')).href;
    symlinkSync('.', join(dir, 'train', 'part', 'loop'));
    symlinkSync('../a.csv', join(dir, 'train', 'part', 'same.csv'));
    expect((await store.list(uri)).map((o) => o.key)).toEqual(['a.csv', 'part/b.csv', 'part/same.csv']);
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'train', 'peek.csv'));
    await expect(store.list(uri)).rejects.toMatchObject({ type: ErrorTypes.InvalidSpec, nonRetryable: true, message: expect.stringContaining('peek.csv is a symbolic link to') });
  });

  it('fingerprinting reports objects and bytes as it goes and stops when aborted', async () => {
    const store = createObjectStore(s3);
    const loc = [{ name: 'train', uri: pathToFileURL(join(dir, 'train')).href }];
    const seen: Array<{ files: number; bytes: number }> = [];
    await fingerprintLocations(store, loc, { onProgress: (p) => seen.push(p) });
    expect(seen).toEqual([
      { files: 1, bytes: 4 },
      { files: 2, bytes: 8 },
    ]);
    const abort = new AbortController();
    const reason = new Error('abandoned');
    await expect(fingerprintLocations(store, loc, { signal: abort.signal, onProgress: () => abort.abort(reason) })).rejects.toBe(reason);
  });

  it('rejects a location that is neither s3:// nor file://', () => {
    expect(() => parseLocation('http://x')).toThrow(/neither s3:\/\/ nor file:\/\//);
  });
});
