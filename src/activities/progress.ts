// Heartbeats for long file walks (hashing a build context or a data set,
// copying a snapshot): often enough for the heartbeat timeout, never once per
// file, and with how far the walk got, so a stuck or slow step can be seen.
import type { ActivityEnv } from './context';

/** A walk reports at least this often (the build and data proxies time out after a minute without one). */
export const HEARTBEAT_EVERY_MS = 10_000;
/** Progress alone sends a heartbeat at most this often. */
const PROGRESS_EVERY_MS = 1_000;

export interface WalkProgress {
  phase: string;
  files: number;
  bytes: number;
}

export interface ProgressBeat {
  /** Starts a phase: the counts start again from zero; the previous phase's last counts are sent first. */
  phase(name: string): void;
  progress(p: { files: number; bytes: number }): void;
  /** Sends the last counts and stops the timer. */
  stop(): void;
}

export function progressHeartbeat(env: ActivityEnv, everyMs = HEARTBEAT_EVERY_MS): ProgressBeat {
  let current: WalkProgress | undefined;
  let lastSent = 0;
  let stopped = false;
  const send = (): void => {
    if (!current) return;
    lastSent = Date.now();
    env.heartbeat({ ...current });
  };
  const timer = setInterval(send, everyMs);
  return {
    phase(name) {
      if (stopped) return;
      send();
      current = { phase: name, files: 0, bytes: 0 };
      send();
    },
    progress(p) {
      if (stopped || !current) return;
      current = { ...current, files: p.files, bytes: p.bytes };
      if (Date.now() - lastSent >= PROGRESS_EVERY_MS) send();
    },
    stop() {
      if (stopped) return;
      send();
      stopped = true;
      clearInterval(timer);
    },
  };
}
