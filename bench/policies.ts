// Detection lag and describe calls of waiting policies, simulated from the
// policies themselves (no clock, no server): for a job that ends `durationMs`
// after the wait begins, when does each policy notice, and how many describes
// did it make? The policies are champ's (src/activities/waiting.ts), champ's
// fixed retry policy from before it, the AWS SDK's training waiter (smithy's
// util-waiter: delay random in [minDelay, min(maxDelay, minDelay * 2^(n-1))]),
// and a plain 15 s loop.
import { FAST_PATH_MS, fastIntervalMs, nextPollDelayMs, type PollPolicy } from '../src/activities/waiting';

export interface PolicyOutcome {
  /** From the job's end to the describe that sees it. */
  lagMs: number;
  /** Describe calls made until then. */
  calls: number;
}

export interface Policy {
  name: string;
  note: string;
  /** Deterministic policies give one outcome; randomised ones the mean of many. */
  simulate(durationMs: number): PolicyOutcome;
}

/** Poll times (ms after the wait began) until one is at or past the end. */
function run(durationMs: number, next: (t: number, calls: number) => number): PolicyOutcome {
  let t = 0;
  let calls = 0;
  for (;;) {
    calls++;
    if (t >= durationMs) return { lagMs: t - durationMs, calls };
    t += next(t, calls);
  }
}

/** champ: a fast path on the first attempt, then each retry delay a fifth of the time waited, within the policy. */
export function champPolicy(policy: PollPolicy): Policy {
  const fast = fastIntervalMs(policy);
  return {
    name: `champ adaptive (${policy.initialMs / 1000} s to ${policy.maxMs / 1000} s)`,
    note: `fast path every ${fast} ms for ${FAST_PATH_MS / 1000} s, then a fifth of the time waited, bounded by the poll settings; job reported as Training throughout`,
    simulate: (durationMs) =>
      run(durationMs, (t) => (t < FAST_PATH_MS ? fast : nextPollDelayMs(policy, { waitedMs: t, phase: 'running' }))),
  };
}

/** champ before issue 14: Temporal's retry backoff alone (initial, x1.5, capped). */
export function retryBackoffPolicy(initialMs: number, maxMs: number, coefficient = 1.5): Policy {
  return {
    name: `retry backoff (${initialMs / 1000} s x${coefficient} to ${maxMs / 1000} s)`,
    note: 'the retry policy as the poll loop, no fast path (champ before this change)',
    simulate: (durationMs) => run(durationMs, (_t, calls) => Math.min(maxMs, initialMs * coefficient ** (calls - 1))),
  };
}

/** A seeded generator, so a run of the benchmark is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The SDK's waitUntilTrainingJobCompletedOrStopped: minDelay 120 s, maxDelay 21,600 s, jittered exponential backoff. */
export function sdkWaiterPolicy(minDelayS = 120, maxDelayS = 21_600, trials = 400): Policy {
  const min = minDelayS * 1000;
  const max = maxDelayS * 1000;
  const ceiling = Math.log(max / min) / Math.log(2) + 1;
  return {
    name: `AWS SDK training waiter (${minDelayS} s to ${maxDelayS} s, jittered)`,
    note: `smithy util-waiter backoff; mean of ${trials} seeded trials`,
    simulate(durationMs) {
      const random = mulberry32(42);
      let lag = 0;
      let calls = 0;
      for (let i = 0; i < trials; i++) {
        const o = run(durationMs, (_t, n) => {
          if (n > ceiling) return max;
          const capped = Math.min(min * 2 ** (n - 1), max);
          return min + random() * (capped - min);
        });
        lag += o.lagMs;
        calls += o.calls;
      }
      return { lagMs: lag / trials, calls: calls / trials };
    },
  };
}

export function fixedLoopPolicy(intervalMs: number): Policy {
  return {
    name: `fixed ${intervalMs / 1000} s loop`,
    note: 'describe, sleep, repeat',
    simulate: (durationMs) => run(durationMs, () => intervalMs),
  };
}

/** Nominal job durations; each row averages jobs from d to 1.2 d. */
export const JOB_DURATIONS_MS = [60_000, 5 * 60_000, 15 * 60_000, 3600_000, 2 * 3600_000, 8 * 3600_000];

export interface LagRow {
  policy: string;
  durationS: number;
  /** Mean over the samples. */
  lagS: number;
  calls: number;
  callsPerJobHour: number;
}

/** Samples per duration: jobs from d to 1.2 d, so a figure is not one lucky or unlucky alignment with the polls. */
const SAMPLES = 20;

export function lagTable(policies: Policy[], durations = JOB_DURATIONS_MS): LagRow[] {
  const rows: LagRow[] = [];
  for (const p of policies) {
    for (const d of durations) {
      let lag = 0;
      let calls = 0;
      let perHour = 0;
      for (let k = 0; k < SAMPLES; k++) {
        const duration = d * (1 + (0.2 * k) / SAMPLES);
        const o = p.simulate(duration);
        lag += o.lagMs;
        calls += o.calls;
        perHour += o.calls / (duration / 3600_000);
      }
      rows.push({
        policy: p.name,
        durationS: d / 1000,
        lagS: Math.round(lag / SAMPLES / 100) / 10,
        calls: Math.round((calls / SAMPLES) * 10) / 10,
        callsPerJobHour: Math.round((perHour / SAMPLES) * 10) / 10,
      });
    }
  }
  return rows;
}
