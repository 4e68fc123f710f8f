// Writes the prebuilt workflow bundle used by the worker in production.
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

async function main(): Promise<void> {
  const root = resolve(__dirname, '..', '..');
  const out = resolve(root, 'dist', 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: resolve(root, 'src', 'workflows', 'index.ts') });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  console.log(`wrote ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
