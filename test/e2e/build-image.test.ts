// buildImage end to end: the first run builds the image into the store, the
// second over the same content finds it and skips the build; a changed
// context builds again.
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { runCli } from '../../src/client';
import { temporalAddress, withWorker } from '../harness/temporal';
import { buildImage, imageBuildStatusQuery } from '../../src/workflows';
import { EXAMPLE_DIR, startE2e, uniqueSuffix, type E2eEnv } from './helpers';

jest.setTimeout(180_000);

let env: E2eEnv;
beforeAll(async () => {
  env = await startE2e();
});
afterAll(async () => env?.stop());

it('an image-only run builds once, skips the second time, and builds again when the context changes', async () => {
  // A copy of the example's context, so that changing it changes no one else's.
  const context = join(env.home, 'context');
  cpSync(EXAMPLE_DIR, context, { recursive: true, filter: (src) => !src.includes(`${EXAMPLE_DIR}/data`) });
  const spec = env.makeSpec({ image: { context } });
  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    const run = async () => {
      const handle = await client.workflow.start(buildImage, { taskQueue, workflowId: `build-${uniqueSuffix()}`, args: [{ spec, requestedBy: 'e2e' }] });
      return { result: await handle.result(), handle };
    };
    const first = await run();
    expect(first.result).toMatchObject({ outcome: 'built', pipeline: spec.name });
    expect(first.result.imageUri).toContain(first.result.contentHash.slice(0, 16));

    const second = await run();
    expect(second.result).toMatchObject({ outcome: 'skipped-exists', imageUri: first.result.imageUri, contentHash: first.result.contentHash });
    expect(second.result.reason).toContain('build skipped');
    expect(await second.handle.query(imageBuildStatusQuery)).toMatchObject({ stage: 'done', result: { outcome: 'skipped-exists' } });

    writeFileSync(join(context, 'program', 'NOTE.txt'), 'a change to the build context\n');
    const third = await run();
    expect(third.result.outcome).toBe('built');
    expect(third.result.contentHash).not.toBe(first.result.contentHash);
  });
});

it('champ build builds, then says the image exists and skips', async () => {
  const specFile = join(env.home, 'build.yaml');
  writeFileSync(specFile, toYaml(env.makeSpec()));
  await withWorker({ activities: env.activities }, async ({ taskQueue }) => {
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue } });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const first = await cli(['build', specFile]);
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toMatch(/: built: built (\S+) from content [0-9a-f]+\n\s+image: \S+$/);
    const second = await cli(['build', specFile]);
    expect(second).toMatchObject({ code: 0, err: '' });
    expect(second.out).toMatch(/: skipped-exists: \S+ already exists for content [0-9a-f]+: build skipped/);
    const printed = await cli(['build', specFile, '--print-input']);
    expect(JSON.parse(printed.out)).toMatchObject({ spec: { name: expect.any(String) } });
  });
});
