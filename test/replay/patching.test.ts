// The replay test can fail, and patched() is how a change passes it: the same
// extra activity call breaks every committed history when written straight in,
// replays them all behind patched(), and a run started under patched() still
// replays once the patch is deprecated.
import { NativeConnection, Worker, bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { randomUUID } from 'node:crypto';
import { temporalAddress, testClient, uniqueTaskQueue, workflowBundle } from '../harness/temporal';
import { fakeActivities, testSpec } from '../workflows/fake-activities';
import { FAST_POLL } from '../workflows/helpers';
import { trainingPipeline } from './workflows/patched';
import { historyWorkflowType, installQuietRuntime, loadHistories, replayAll, type NamedHistory } from './histories';

jest.setTimeout(180_000);

// The pipeline's histories: the changed bundles here hold trainingPipeline only.
const histories = loadHistories().filter((h) => historyWorkflowType(h.history) === 'trainingPipeline');
const names = histories.map((h) => h.name);
type Bundle = { code: string };
const bundles: Record<'current' | 'unpatched' | 'patched' | 'deprecated', Bundle> = {} as never;

async function bundle(module: string): Promise<Bundle> {
  return bundleWorkflowCode({ workflowsPath: require.resolve(`./workflows/${module}`), logger: new DefaultLogger('ERROR') });
}

/** What each history's replay threw, as `Class: message`, or 'ok'. */
async function replayOutcomes(b: Bundle, hs: NamedHistory[]): Promise<Record<string, string>> {
  const errors = await replayAll(b, hs);
  return Object.fromEntries(hs.map((h) => {
    const e = errors.get(h.name);
    return [h.name, e ? `${e instanceof DeterminismViolationError ? 'DeterminismViolationError' : e.name}: ${e.message}` : 'ok'];
  }));
}

function every(value: unknown, of: string[] = names): Record<string, unknown> {
  return Object.fromEntries(of.map((n) => [n, value]));
}

beforeAll(async () => {
  installQuietRuntime();
  bundles.current = await workflowBundle();
  bundles.unpatched = await bundle('unpatched');
  bundles.patched = await bundle('patched');
  bundles.deprecated = await bundle('deprecated');
});

it('an activity call added without patched() fails the replay of every committed history with a DeterminismViolationError', async () => {
  expect(histories.length).toBeGreaterThanOrEqual(7);
  expect(await replayOutcomes(bundles.unpatched, histories)).toEqual(every(expect.stringMatching(/^DeterminismViolationError: /)));
});

it('the same call behind patched() replays every committed history', async () => {
  expect(await replayOutcomes(bundles.patched, histories)).toEqual(every('ok'));
});

it('a run started under patched() makes the new call, and its history replays on patched() and deprecatePatch() but not on the code before the change', async () => {
  const fake = fakeActivities();
  const workflowId = `history-patched-run-${randomUUID()}`;
  const taskQueue = uniqueTaskQueue('replay');
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const { client, close } = await testClient();
  try {
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: bundles.patched, activities: fake.activities });
    const result = await worker.runUntil(client.workflow.execute(trainingPipeline, { taskQueue, workflowId, args: [{ spec: testSpec(), poll: FAST_POLL }] }));
    expect(result.outcome).toBe('deployed');
    expect(fake.names().slice(0, 2)).toEqual(['describeEndpoint', 'validateSpec']);

    const fresh = [{ name: 'patched-run', workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() }];
    expect(await replayOutcomes(bundles.patched, fresh)).toEqual({ 'patched-run': 'ok' });
    expect(await replayOutcomes(bundles.deprecated, fresh)).toEqual({ 'patched-run': 'ok' });
    // Why a worker with the change must not be rolled back while its runs are open:
    expect(await replayOutcomes(bundles.current, fresh)).toEqual({ 'patched-run': expect.stringMatching(/^DeterminismViolationError: /) });
    // And why deprecatePatch() waits until no run from before the change is open:
    expect(await replayOutcomes(bundles.deprecated, histories)).toEqual(every(expect.stringMatching(/^DeterminismViolationError: /)));
  } finally {
    await close();
    await connection.close();
  }
});
