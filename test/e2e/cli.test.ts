// The `champ` command line against the shared dev server and a real worker:
// what an operator types, what they read back, and the exit codes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { runCli } from '../../src/client';
import type { trainingPipeline } from '../../src/workflows';
import { testClient, uniqueTaskQueue, withWorker, temporalAddress } from '../harness/temporal';
import { eventually, startE2e, uniqueSuffix, waitForStatus, type E2eEnv } from './helpers';

jest.setTimeout(90_000);

let env: E2eEnv;
let specFile: string;

beforeAll(async () => {
  env = await startE2e();
  // Approval required: the run then waits at a stable stage for the commands below.
  specFile = join(env.home, 'pipeline.yaml');
  writeFileSync(specFile, toYaml(env.makeSpec({ approval: { required: true, timeout: '10m' } })));
});

afterAll(async () => {
  await env?.stop();
});

interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

async function champ(args: string[], cliEnv: NodeJS.ProcessEnv): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: cliEnv });
  return { code, out: out.flatMap((l) => l.split('\n')), err: err.flatMap((l) => l.split('\n')) };
}

it('starts, shows, lists, refuses a wrong approval, cancels, and reports unknown ids and unreachable servers in one line', async () => {
  const taskQueue = uniqueTaskQueue('e2e-cli');
  const cliEnv = { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue };
  const id = `cli-${uniqueSuffix()}`;
  const { client, close } = await testClient();
  try {
    await withWorker({ activities: env.activities, taskQueue }, async () => {
      const run = await champ(['run', specFile, '--id', id, '--poll-seconds', '0.2'], cliEnv);
      expect(run).toEqual({
        code: 0,
        out: [`started ${id}`, `  http://127.0.0.1:8233/namespaces/default/workflows/${id}`],
        err: [],
      });

      const handle = client.workflow.getHandle<typeof trainingPipeline>(id);
      const awaiting = await waitForStatus(handle, (s) => s.stage === 'awaiting-approval' && s.approval?.awaiting === true);
      const version = awaiting.approval!.modelVersion!;

      const status = await champ(['status', id], cliEnv);
      expect(status.code).toBe(0);
      expect(status.out[0]).toBe(`${id}: RUNNING`);
      expect(status.out).toContain(`pipeline ${awaiting.pipeline}: stage awaiting-approval`);
      expect(status.out.join('\n')).toContain(`awaiting approval of model version ${version}`);

      // The visibility store catches up with a new run a moment later.
      const list = await eventually(
        () => champ(['list'], cliEnv),
        (r) => r.out.some((l) => l.startsWith(`${id} `)),
        15_000,
        `champ list to show ${id}`,
      );
      expect(list.code).toBe(0);
      expect(list.out.find((l) => l.startsWith(`${id} `))).toMatch(/RUNNING\s+awaiting-approval/);

      const wrong = await champ(['approve', id, '--version', String(version + 41), '--reviewer', 'bob'], cliEnv);
      expect(wrong.code).toBe(1);
      expect(wrong.out).toEqual([]);
      expect(wrong.err).toEqual([expect.stringMatching(new RegExp(`^champ: approve refused: .*model version ${version + 41} is not the one awaiting approval; version ${version} is`))]);
      // The refusal changed nothing: the same version still awaits a decision.
      expect((await waitForStatus(handle, (s) => s.stage === 'awaiting-approval')).approval?.awaiting).toBe(true);

      const cancel = await champ(['cancel', id], cliEnv);
      expect(cancel).toEqual({ code: 0, out: [`cancellation requested for ${id}`], err: [] });
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    });

    const unknown = await champ(['status', `no-such-${uniqueSuffix()}`], cliEnv);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toEqual([expect.stringMatching(/^champ: no workflow with id "no-such-\w+" in this namespace/)]);

    const unreachable = await champ(['status', id], { ...cliEnv, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.out).toEqual([]);
    expect(unreachable.err).toHaveLength(1);
    expect(unreachable.err[0]).toMatch(/^champ: cannot reach the Temporal server at 127\.0\.0\.1:1\b/);
    expect(unreachable.err[0]).not.toMatch(/\n|\s+at\s+\S+\s+\(/);
  } finally {
    await close();
  }
});
