// The ledger of live processes, in a file, for the crash that no exit handler
// sees (SIGKILL, OOM): the next control plane on the same state folder reads it
// and kills what the crash orphaned.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { planeIdFor, removeOrphanContainers } from './docker';
import { removeDockerContainers } from './exit-registry';
import { processStartTicks } from './proc';

export { processStartTicks };

export interface LedgerEntry {
  pid: number;
  /** The process's start time (Linux /proc/<pid>/stat field 22): a pid reused by a stranger has another. */
  startTicks: string | null;
  dockerName?: string;
  /** The control plane that started it: while that one lives, its processes are not orphans. */
  owner: number;
  ownerStartTicks: string | null;
}

function readLedger(file: string): LedgerEntry[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return Array.isArray(parsed) ? (parsed as LedgerEntry[]).filter((e) => typeof e?.pid === 'number') : [];
  } catch {
    return [];
  }
}

function writeLedger(file: string, entries: LedgerEntry[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(entries));
  renameSync(tmp, file);
}

/** One launcher's entries in its ledger file, rewritten whole on every change. */
export class CrashLedger {
  private readonly entries = new Map<number, LedgerEntry>();

  constructor(private readonly file: string) {}

  add(pid: number, dockerName: string | undefined): void {
    this.entries.set(pid, {
      pid,
      startTicks: processStartTicks(pid),
      ...(dockerName ? { dockerName } : {}),
      owner: process.pid,
      ownerStartTicks: processStartTicks(process.pid),
    });
    this.save();
  }

  remove(pid: number): void {
    this.entries.delete(pid);
    this.save();
  }

  private save(): void {
    try {
      writeLedger(this.file, [...this.entries.values()]);
    } catch {
      // The ledger only helps after a crash; a write failure must not stop a container.
    }
  }
}

/**
 * Kills the process groups a crashed control plane left behind, as listed in
 * its ledger, then empties the ledger. A pid is killed only while it is
 * provably the same process (same start time), never a stranger that reused
 * the number; without /proc nothing can be proven and nothing is killed.
 * Docker containers of this state folder whose control plane is gone are
 * removed too, found by their labels, all but those named in `keepContainers`
 * (running training containers the restarted control plane re-attaches to; the
 * orphaned `docker start --attach` client of each is killed all the same).
 * Returns the pids killed.
 */
export function reapOrphans(ledgerFile: string, keepContainers: ReadonlySet<string> = new Set()): number[] {
  const killed: number[] = [];
  const dockerNames: string[] = [];
  const kept: LedgerEntry[] = [];
  for (const e of readLedger(ledgerFile)) {
    if (typeof e.owner === 'number' && e.ownerStartTicks !== null && processStartTicks(e.owner) === e.ownerStartTicks) {
      // Another control plane on this state folder, still running: its processes are its own.
      kept.push(e);
      continue;
    }
    if (e.dockerName && !keepContainers.has(e.dockerName)) dockerNames.push(e.dockerName);
    if (e.startTicks === null || processStartTicks(e.pid) !== e.startTicks) continue;
    try {
      process.kill(-e.pid, 'SIGKILL');
      killed.push(e.pid);
    } catch {
      // Gone meanwhile.
    }
  }
  removeDockerContainers(dockerNames);
  // By label as well: a container made just before the crash may not be in the ledger yet.
  removeOrphanContainers(planeIdFor(ledgerFile), keepContainers);
  try {
    writeLedger(ledgerFile, kept);
  } catch {
    // No state folder yet: nothing was recorded either.
  }
  return killed;
}
