// What /proc says about a process, for telling a live process from a stranger that reused its pid.
import { readFileSync } from 'node:fs';

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
