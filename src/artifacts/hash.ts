import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** sha256 (64 hex) of a file's content, read as a stream. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
