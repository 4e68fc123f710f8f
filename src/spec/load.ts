// Reading a spec file and anchoring its relative locations to the file's
// folder, so the spec means the same thing whatever the working directory.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { checkContextFiles, checkFolderLinks } from './context';
import { decodeSpecBytes, tooLargeIssue } from './document';
import { SpecError, type SpecIssue } from './errors';
import { MAX_SPEC_BYTES } from './limits';
import { parseSpec, readDocument, type SpecFormat } from './parse';
import type { PipelineSpec } from './schema';
import { localPathOf } from '../artifacts/file-uri';

export interface LoadedSpec {
  spec: PipelineSpec;
  /** Absolute path of the spec file. */
  path: string;
}

export function formatForFile(file: string): SpecFormat {
  return path.extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
}

/**
 * Reads a YAML (.yaml, .yml, anything else) or JSON (.json) spec, validates it,
 * resolves image.context and relative file:// URIs against the file's folder,
 * and checks the build context: it exists, holds the Dockerfile, and nothing
 * in it links outside it. Reads at most MAX_SPEC_BYTES, whatever the file is
 * (a device such as /dev/zero or a pipe included). Throws SpecError.
 */
export function loadSpecFile(file: string): LoadedSpec {
  const absolute = path.resolve(file);
  const decoded = decodeSpecBytes(readSpecBytes(absolute));
  if ('issue' in decoded) throw new SpecError([decoded.issue], absolute);
  const value = readDocument(decoded.text, { format: formatForFile(absolute), file: absolute });
  const spec = resolveSpecPaths(parseSpec(value, absolute), path.dirname(absolute));
  const problems = checkBuildContext(spec);
  if (problems.length > 0) throw new SpecError(problems, absolute);
  return { spec, path: absolute };
}

/**
 * The file's bytes, at most MAX_SPEC_BYTES + 1 of them: a regular file is
 * judged by its size before it is read, anything else (a pipe, /dev/zero) is
 * read in chunks until it ends or passes the limit.
 */
function readSpecBytes(file: string): Uint8Array {
  const unreadable = (reason: string) => new SpecError([{ path: '', message: `cannot read the spec file: ${reason}` }], file);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw unreadable(code === 'ENOENT' ? 'no such file' : (err as Error).message);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw unreadable('it is a folder; give the spec file inside it');
    if (stat.isFile() && stat.size > MAX_SPEC_BYTES) {
      throw new SpecError([tooLargeIssue(`${Math.round((stat.size / 1024 / 1024) * 10) / 10} MiB`)], file);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(Buffer.from(chunk.subarray(0, n)));
      total += n;
      // One byte past the limit is enough to refuse; reading on could be endless.
      if (total > MAX_SPEC_BYTES) break;
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw unreadable((err as Error).message);
  } finally {
    closeSync(fd);
  }
}

/** Makes image.context and relative file:// URIs absolute against `baseDir`. Pure: touches no files. */
export function resolveSpecPaths(spec: PipelineSpec, baseDir: string): PipelineSpec {
  const base = path.resolve(baseDir);
  const image = { ...spec.image };
  if (image.context !== undefined) image.context = path.resolve(base, image.context);
  return {
    ...spec,
    image,
    training: {
      ...spec.training,
      inputs: spec.training.inputs.map((channel) => ({ ...channel, uri: resolveFileUri(channel.uri, base) })),
      outputPath: resolveFileUri(spec.training.outputPath, base),
    },
  };
}

/**
 * `file://./data/train` and `file://data/train` -> `file:///<baseDir>/data/train`.
 * Absolute file:// URIs and s3:// URIs are returned unchanged. The path is kept
 * as written (not percent-encoded), like SageMaker local mode's file:// inputs.
 */
export function resolveFileUri(uri: string, baseDir: string): string {
  if (!uri.startsWith('file://')) return uri;
  const rest = uri.slice('file://'.length);
  if (rest.startsWith('/')) return uri;
  const resolved = path.resolve(baseDir, rest);
  const trailing = rest.endsWith('/') && !resolved.endsWith('/') ? '/' : '';
  return `file://${resolved}${trailing}`;
}

function checkBuildContext(spec: PipelineSpec): SpecIssue[] {
  const context = spec.image.context;
  if (context === undefined) return [];
  if (!isDirectory(context))
    return [
      {
        path: 'image.context',
        message: `folder ${context} does not exist (a relative context is resolved against the spec file's folder)`,
        found: JSON.stringify(context),
        expected: 'a folder holding the Dockerfile',
      },
    ];
  const dockerfile = path.resolve(context, spec.image.dockerfile);
  if (!isFile(dockerfile))
    return [
      {
        path: 'image.context',
        message: `folder ${context} holds no ${spec.image.dockerfile} (image.dockerfile); add it or point image.dockerfile at the right file`,
        found: JSON.stringify(context),
        expected: `a folder holding ${spec.image.dockerfile}`,
      },
    ];
  return checkContextFiles(context, spec.image.dockerfile);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Local (file://) training channels that do not exist on this machine, or
 * whose folder holds symbolic links that lead outside it or in a loop. The
 * client refuses to start such a run: its first activity would fail at once,
 * or copy what the spec never named. Pure apart from reading the file system;
 * s3:// channels are not checked.
 */
export function checkLocalInputs(spec: PipelineSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.training.inputs.forEach((channel, i) => {
    const folder = localPathOf(channel.uri);
    if (folder === undefined) return;
    const at = `training.inputs[${i}].uri`;
    if (isDirectory(folder)) {
      issues.push(...checkFolderLinks(folder, at, `channel "${channel.name}"`));
      return;
    }
    if (isFile(folder)) return;
    issues.push({
      path: at,
      message: `channel "${channel.name}": ${folder} does not exist on this machine; create it (put the data there) or fix the uri (a relative file:// uri is resolved against the spec file's folder)`,
    });
  });
  return issues;
}
