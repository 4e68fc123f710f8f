import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const env = (globalThis as { __champTemporal?: TestWorkflowEnvironment }).__champTemporal;
  await env?.teardown();
  if (process.env.CHAMP_TEST_RUN_DIR) rmSync(process.env.CHAMP_TEST_RUN_DIR, { recursive: true, force: true });
}
