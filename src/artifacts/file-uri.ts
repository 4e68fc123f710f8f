// file:// locations. Local mode has no S3 (as in SageMaker's own local mode),
// so the worker and the local control plane both read and write file:// URIs.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FILE_SCHEME = 'file://';

/**
 * The local path a file:// URI names, or undefined for s3:// and any other
 * scheme (each caller words that refusal for its own field).
 * `file:///abs/path` is percent-decoded; `file://data/train` has a host part in
 * URL terms, but people mean a relative path, read against the working folder.
 */
export function localPathOf(uri: string): string | undefined {
  if (!uri.startsWith(FILE_SCHEME)) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return path.resolve(decodeURIComponent(uri.slice(FILE_SCHEME.length)));
  }
}
