// One Temporal dev server per test run, shared by every test file.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executableFor, searchAttributeKeys, withStartRetries } from '../../src/temporal-server';

export default async function globalSetup(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const runDir = mkdtempSync(join(tmpdir(), 'champ-test-'));
  process.env.CHAMP_TEST_RUN_DIR = runDir;
  const env = await withStartRetries(() =>
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: executableFor('temporal'),
        ip: '127.0.0.1',
        searchAttributes: searchAttributeKeys,
        log: { format: 'pretty', level: 'error' },
      },
    }),
  );
  process.env.CHAMP_TEST_TEMPORAL_ADDRESS = env.address;
  (globalThis as { __champTemporal?: TestWorkflowEnvironment }).__champTemporal = env;
}
