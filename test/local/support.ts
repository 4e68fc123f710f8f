// What the control-plane tests of every layer share: waiting on a probe,
// scratch folders, and whether a container process still runs.
import { promises as fsp, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** Polls `probe` until it returns a value (not undefined), or fails naming what it waited for and the last error. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A scratch folder inside the test run's folder (removed by the global teardown), else the OS temp folder. */
export async function makeTempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(process.env.CHAMP_TEST_RUN_DIR ?? tmpdir(), `champ-${prefix}-`));
}

/** Removes a folder that may hold read-only snapshots. */
export async function removeDir(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
}

/** Alive and not a zombie (an orphan reparented to a PID 1 that never reaps would look alive to kill(pid, 0)). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc on this OS: kill(pid, 0) is the best answer there is.
    return true;
  }
}
