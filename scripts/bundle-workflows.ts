// Writes the prebuilt workflow bundles used by the worker in production: one
// for plain payloads, and one for encrypted payloads whose failure converter
// encodes failure messages and stack traces too (src/codec/failure-converter.ts).
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ENCODING_FAILURE_CONVERTER_PATH } from '../src/codec';

async function main(): Promise<void> {
  const root = resolve(__dirname, '..', '..');
  const workflowsPath = resolve(root, 'src', 'workflows', 'index.ts');
  for (const [file, extra] of [
    ['workflow-bundle.js', {}],
    ['workflow-bundle-encrypted.js', { failureConverterPath: ENCODING_FAILURE_CONVERTER_PATH }],
  ] as const) {
    const out = resolve(root, 'dist', file);
    const { code } = await bundleWorkflowCode({ workflowsPath, ...extra });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, code);
    console.log(`wrote ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
