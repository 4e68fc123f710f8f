// Folders a spec points at must hold what they seem to: a build context whose
// Dockerfile and files live inside it (a link to a file elsewhere is neither in
// the image nor covered by the context's content hash), and data folders
// without links that lead out or loop back (a copy would take what the spec
// never named, or copy itself until the path is too long).
import { readdirSync, readlinkSync, realpathSync, statSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import type { SpecIssue } from './errors';

/** Entries walked per folder; a build context larger than this is refused, a data folder is checked this far. */
export const MAX_WALKED_ENTRIES = 100_000;
const MAX_WALK_DEPTH = 64;
/** Never part of an image, whatever .dockerignore says (as the build-context digest treats them). */
const CONTEXT_IGNORED = new Set(['.git', 'node_modules', '__pycache__']);
const MAX_REPORTED = 5;

interface LinkProblem {
  /** Relative to the walked folder, `/`-separated. */
  rel: string;
  problem: string;
}

function inside(folder: string, target: string): boolean {
  const rel = path.relative(folder, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** What is wrong with the symbolic link `abs` inside `root` (whose real path is `realRoot`), if anything. */
function judgeLink(root: string, realRoot: string, abs: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(abs);
  } catch (err) {
    if (errorCode(err) === 'ELOOP') return 'is a symbolic link that loops back on itself';
    let target: string;
    try {
      target = path.resolve(path.dirname(abs), readlinkSync(abs));
    } catch {
      return undefined;
    }
    // A dangling link: judged by where it points.
    return inside(root, target) || inside(realRoot, target) ? undefined : `is a symbolic link to ${target}, outside the folder`;
  }
  if (!inside(realRoot, real)) return `is a symbolic link to ${real}, outside the folder`;
  let isDir = false;
  try {
    isDir = statSync(real).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir && inside(real, realpathSync(path.dirname(abs)))) return `is a symbolic link to ${real}, a folder that holds the link itself (a copy would never end)`;
  return undefined;
}

/** Symbolic links under `root` that lead outside it or loop. Does not follow links; stops after MAX_WALKED_ENTRIES. */
function walkLinks(root: string, skip: ReadonlySet<string>): { problems: LinkProblem[]; truncated: boolean } {
  const realRoot = realpathSync(root);
  const problems: LinkProblem[] = [];
  const stack: Array<{ rel: string; depth: number }> = [{ rel: '', depth: 0 }];
  let seen = 0;
  while (stack.length > 0) {
    const { rel, depth } = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (skip.has(entry.name)) continue;
      if (++seen > MAX_WALKED_ENTRIES) return { problems, truncated: true };
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isSymbolicLink()) {
        const problem = judgeLink(root, realRoot, path.join(root, childRel));
        if (problem) problems.push({ rel: childRel, problem });
        if (problems.length >= MAX_REPORTED) return { problems, truncated: false };
      } else if (entry.isDirectory() && depth < MAX_WALK_DEPTH) {
        stack.push({ rel: childRel, depth: depth + 1 });
      }
    }
  }
  return { problems, truncated: false };
}

/**
 * The Dockerfile and every symbolic link of a build context stay inside it.
 * `contextDir` must exist. Issues name image.dockerfile or image.context.
 */
export function checkContextFiles(contextDir: string, dockerfile: string): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const realRoot = realpathSync(contextDir);
  const dockerfilePath = path.resolve(contextDir, dockerfile);
  try {
    const real = realpathSync(dockerfilePath);
    if (!inside(realRoot, real))
      issues.push({
        path: 'image.dockerfile',
        message: `${dockerfile} leads to ${real}, outside the build context ${contextDir}; put the Dockerfile in the context (a symbolic link out of it is refused)`,
        expected: 'a file inside image.context',
      });
  } catch {
    // A missing Dockerfile is reported by the caller.
  }
  const { problems, truncated } = walkLinks(contextDir, CONTEXT_IGNORED);
  for (const { rel, problem } of problems)
    issues.push({
      path: 'image.context',
      message: `${rel} ${problem.replace('the folder', 'the build context')}: the image would not hold what it points to, and the context's content hash would not cover it; copy the file into the context instead`,
      found: JSON.stringify(rel),
      expected: 'files and links that stay inside the context',
    });
  if (truncated)
    issues.push({
      path: 'image.context',
      message: `${contextDir} holds more than ${MAX_WALKED_ENTRIES} files and folders; point image.context at the folder that holds just the Dockerfile and what it copies`,
    });
  return issues;
}

/** Symbolic links in a local data folder that lead outside it or loop; issues name `at`. Checks the first MAX_WALKED_ENTRIES entries. */
export function checkFolderLinks(folder: string, at: string, what: string): SpecIssue[] {
  let problems: LinkProblem[];
  try {
    problems = walkLinks(folder, new Set()).problems;
  } catch {
    return [];
  }
  return problems.map(({ rel, problem }) => ({
    path: at,
    message: `${what}: ${rel} ${problem.replace('the folder', folder)}; the training job would read what the spec never named: copy the data into the folder instead`,
    found: JSON.stringify(rel),
  }));
}
