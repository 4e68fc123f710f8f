// The ledger of live processes, in a file, for the crash that no exit handler
// sees (SIGKILL, OOM): the next control plane on the same state folder reads it
// and kills what the crash orphaned.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { removeDockerContainers } from './exit-registry';

export interface LedgerEntry {
  pid: number;
  /** The process's start time (Linux /proc/<pid>/stat field 22): a pid reused by a stranger has another. */
  startTicks: string | null;
  dockerName?: string;
  /** The control plane that started it: while that one lives, its processes are not orphans. */
  owner: number;
  ownerStartTicks: string | null;
}

/** The start time of a live process, or null when it is gone (a zombie is gone too) or there is no /proc. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A dead process whose parent has not reaped it yet (inits that never reap exist) still has its /proc entry.
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
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
 * Returns the pids killed.
 */
export function reapOrphans(ledgerFile: string): number[] {
  const killed: number[] = [];
  const dockerNames: string[] = [];
  const kept: LedgerEntry[] = [];
  for (const e of readLedger(ledgerFile)) {
    if (typeof e.owner === 'number' && e.ownerStartTicks !== null && processStartTicks(e.owner) === e.ownerStartTicks) {
      // Another control plane on this state folder, still running: its processes are its own.
      kept.push(e);
      continue;
    }
    if (e.dockerName) dockerNames.push(e.dockerName);
    if (e.startTicks === null || processStartTicks(e.pid) !== e.startTicks) continue;
    try {
      process.kill(-e.pid, 'SIGKILL');
      killed.push(e.pid);
    } catch {
      // Gone meanwhile.
    }
  }
  removeDockerContainers(dockerNames);
  try {
    writeLedger(ledgerFile, kept);
  } catch {
    // No state folder yet: nothing was recorded either.
  }
  return killed;
}
