// Small helpers the benchmarks share: flags, free ports, percentiles, and a
// cleanup list that also runs on Ctrl-C so no process or temp folder is left.
export { freePort } from '../src/net';

// Node 20 is supported; the SDK's notice about its future versions is noise in a benchmark's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export function fail(bench: string, message: string): never {
  console.error(`${bench}: ${message}`);
  process.exit(2);
}

/** A flag's value as a number within [min, max]; the error names the flag and what it takes. */
export function numberFlag(bench: string, name: string, raw: string | undefined, min: number, max: number, integer = true): number {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    fail(bench, `--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}


/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function ms(value: number): string {
  return Number.isNaN(value) ? '-' : `${value.toFixed(value < 10 ? 1 : 0)} ms`;
}

export function seconds(valueMs: number): string {
  return Number.isNaN(valueMs) ? '-' : `${(valueMs / 1000).toFixed(2)} s`;
}

export function sleep(msToWait: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msToWait));
}

/** Cleanup steps run in reverse order once, at the end or on SIGINT/SIGTERM. */
export class Cleanup {
  private steps: Array<() => Promise<void> | void> = [];
  private ran: Promise<void> | undefined;

  constructor(private readonly bench: string) {
    const onSignal = (signal: NodeJS.Signals) => {
      console.error(`${bench}: ${signal}, cleaning up`);
      void this.run().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.ran ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step();
        } catch (err) {
          console.error(`${this.bench}: a cleanup step failed: ${(err as Error).message}`);
        }
      }
    })();
    return this.ran;
  }
}
