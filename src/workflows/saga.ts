// The run's undo list (the saga pattern): after each change that succeeds, its
// compensation; on failure they run newest first.
import * as wf from '@temporalio/workflow';
import { describe } from './failures';

export interface Compensation {
  what: string;
  run: (reason: string) => Promise<void>;
}

/**
 * `strict` (a rollback) lets the first error through: the caller's failure
 * path then unwinds the rest leniently. `lenient` logs each error, reports it
 * through `onFailure`, and goes on.
 */
export type UnwindMode = 'strict' | 'lenient';

export class Saga {
  private compensations: Compensation[] = [];

  constructor(private readonly onFailure: (message: string) => void) {}

  get pending(): boolean {
    return this.compensations.length > 0;
  }

  /** Registers how to undo a change; returns it, for `drop`. */
  add(what: string, run: (reason: string) => Promise<void>): Compensation {
    const c = { what, run };
    this.compensations.push(c);
    return c;
  }

  /** Forgets one compensation: what it would undo is settled or replaced. */
  drop(c: Compensation): void {
    this.compensations = this.compensations.filter((x) => x !== c);
  }

  /** Forgets them all: nothing done so far is to be undone. */
  clear(): void {
    this.compensations = [];
  }

  /** Runs the compensations newest first, each at most once. */
  async unwind(reason: string, mode: UnwindMode): Promise<void> {
    for (let c = this.compensations.pop(); c; c = this.compensations.pop()) {
      try {
        wf.log.info(`compensating: ${c.what}`);
        await c.run(reason);
      } catch (err) {
        if (mode === 'strict') throw err;
        wf.log.error(`compensation failed: ${c.what}`, { error: describe(err) });
        this.onFailure(`compensation failed: ${c.what}: ${describe(err)}`);
      }
    }
  }
}
