import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const env = (globalThis as { __champTemporal?: TestWorkflowEnvironment }).__champTemporal;
  const t0 = Date.now();
  await env?.teardown();
  if (process.env.CHAMP_DEBUG_TEARDOWN) console.log(`teardown took ${Date.now() - t0} ms`);
  if (process.env.CHAMP_TEST_RUN_DIR) rmSync(process.env.CHAMP_TEST_RUN_DIR, { recursive: true, force: true });
}
