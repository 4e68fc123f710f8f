// Scratch folders of process-mode containers (a private /tmp, the FIFOs of its
// stdout and stderr) live in the OS temp folder. A control plane that closes
// removes its own; one that crashes (SIGKILL, OOM) cannot, so each folder's name
// carries the pid of the process that made it, and the next control plane to
// start removes those whose process is gone.
import { existsSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { processStartTicks } from './proc';

export type ScratchKind = 'tmp' | 'io';

/** `champ-<kind>-<pid>-<random>`: mkdtemp adds six characters. */
const OWNED = /^champ-(?:tmp|io)-(\d+)-[A-Za-z0-9]{6}$/;
/** Folders named before the pid was part of the name: their owner is unknown, so only old ones go. */
const UNOWNED = /^champ-(?:tmp|io)-[A-Za-z0-9]{6}$/;
/** Longer than any container runs unattended here (the longest training the spec allows is a day). */
const UNOWNED_MAX_AGE_MS = 2 * 24 * 3600 * 1000;

/** A new scratch folder of this process in `root` (default: the OS temp folder). */
export function makeScratchDir(kind: ScratchKind, root: string = tmpdir()): Promise<string> {
  return fsp.mkdtemp(path.join(root, `champ-${kind}-${process.pid}-`));
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still has its pid; /proc tells it apart where there is one.
  return existsSync('/proc/self') ? processStartTicks(pid) !== null : true;
}

/**
 * Removes the scratch folders in `root` whose owning process is gone (and
 * unowned ones older than two days). Never throws; returns what it removed.
 */
export async function sweepStaleScratch(root: string = tmpdir(), isAlive: (pid: number) => boolean = alive): Promise<string[]> {
  const removed: string[] = [];
  const entries = await fsp.readdir(root, { withFileTypes: true }).catch(() => []);
  const now = Date.now();
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const owned = OWNED.exec(e.name);
    const dir = path.join(root, e.name);
    let stale = false;
    if (owned) stale = !isAlive(Number(owned[1]));
    else if (UNOWNED.test(e.name)) {
      const st = await fsp.stat(dir).catch(() => undefined);
      stale = st !== undefined && now - st.mtimeMs > UNOWNED_MAX_AGE_MS;
    }
    if (!stale) continue;
    try {
      await fsp.rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another control plane swept it first, or it is not ours to remove: leave it.
    }
  }
  return removed;
}
