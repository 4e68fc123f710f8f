// Approvals that are wrong, repeated or late, through every way in: `champ
// approve/reject`, the SDK's updates, and the `temporal` CLI's `workflow
// update execute` and `workflow signal`. Each is refused with a clear error (a
// signal, which cannot be refused, is ignored and counted), no decision crosses
// to another run, and the run goes on as if nothing had been sent.
//
// The activities are the in-memory fakes of the workflow tests (named as such):
// the approval paths are the workflow's own; what the activities do around them
// does not change them. The fake setApproval is held at a gate, so a run stays
// open just after its decision.
import type { WorkflowHandle } from '@temporalio/client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseSpec } from '../../src/spec';
import { approvalSignal, approveUpdate, rejectUpdate, statusQuery, trainingPipeline, type PipelineStatus } from '../../src/workflows';
import { temporalAddress } from '../harness/temporal';
import { CANDIDATE_VERSION, fakeActivities } from '../workflows/fake-activities';
import { FAST_POLL, waitForStatus } from '../workflows/helpers';
import { champ, failureChain, startWorker, temporal, type RunningWorker } from './support';

jest.setTimeout(60_000);

type Handle = WorkflowHandle<typeof trainingPipeline>;

/** Calls to the fake setApproval wait here until `release()`. */
const held: Array<() => void> = [];
function release(): void {
  for (const go of held.splice(0)) go();
}

const fake = fakeActivities({
  setApproval: () => new Promise<void>((go) => held.push(go)),
});

const spec = parseSpec({
  ...(parseYaml(readFileSync(join(__dirname, '..', 'fixtures', 'specs', 'valid', 'minimal.yaml'), 'utf8')) as object),
  approval: { required: true, timeout: '1h' },
});

let worker: RunningWorker;
let cliEnv: NodeJS.ProcessEnv;
const runs: Record<'a' | 'b', { id: string; handle: Handle }> = {} as never;
const V = CANDIDATE_VERSION;

beforeAll(async () => {
  worker = await startWorker({ activities: fake.activities });
  cliEnv = { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: worker.taskQueue };
  for (const key of ['a', 'b'] as const) {
    const id = `hostile-approval-${key}-${Date.now()}`;
    const handle = await worker.client.workflow.start(trainingPipeline, { taskQueue: worker.taskQueue, workflowId: id, args: [{ spec, trigger: 'manual', poll: FAST_POLL }] });
    runs[key] = { id, handle };
  }
  for (const { handle } of Object.values(runs)) await waitForStatus(handle, (s) => s.approval?.awaiting === true);
});

afterAll(async () => {
  release();
  for (const { handle } of Object.values(runs ?? {})) await handle?.terminate('test over').catch(() => undefined);
  await worker?.stop();
});

async function status(key: 'a' | 'b'): Promise<PipelineStatus> {
  return runs[key].handle.query(statusQuery);
}

/** What a refusal must leave as it was: both runs awaiting version V, undecided. */
async function expectUndecided(ignoredSignals: number): Promise<void> {
  for (const key of ['a', 'b'] as const) {
    const s = await status(key);
    expect(s.stage).toBe('awaiting-approval');
    expect(s.approval).toMatchObject({ required: true, awaiting: true, modelVersion: V });
    expect(s.approval?.decision).toBeUndefined();
    if (key === 'a') expect(s.ignoredSignals).toBe(ignoredSignals);
  }
}

/** The failure an SDK update call ends with, as one text down its causes. */
async function sdkRefusal(call: () => Promise<unknown>): Promise<string> {
  return call().then(
    () => 'accepted',
    (err: unknown) => failureChain(err),
  );
}

const tcliUpdate = (name: string, json: string, id: string) => temporal(['workflow', 'update', 'execute', '--workflow-id', id, '--name', name, '--input', json]);
const tcliSignal = (json: string, id: string) => temporal(['workflow', 'signal', '--workflow-id', id, '--name', 'approval', '--input', json]);

describe('while a run awaits approval', () => {
  const cliCases: Array<[string, string[], number, RegExp]> = [
    ['a version that is not awaiting', ['approve', '@a', '--version', String(V + 1), '--reviewer', 'bob'], 1, new RegExp(`model version ${V + 1} is not the one awaiting approval; version ${V} is`)],
    ['version 0', ['approve', '@a', '--version', '0', '--reviewer', 'bob'], 2, /--version must be a positive whole number/],
    ['a version that is text', ['approve', '@a', '--version', 'latest', '--reviewer', 'bob'], 2, /--version must be a positive whole number/],
    ['a fractional version', ['approve', '@a', '--version', '7.5', '--reviewer', 'bob'], 2, /--version must be a positive whole number/],
    ['no reviewer', ['approve', '@a', '--version', String(V)], 2, /--reviewer/],
    ['a blank reviewer', ['approve', '@a', '--version', String(V), '--reviewer', '   '], 2, /--reviewer must be a name/],
    ['a reject without a reason', ['reject', '@a', '--version', String(V), '--reviewer', 'bob'], 2, /--reason is required/],
    ['a reject with a blank reason', ['reject', '@a', '--version', String(V), '--reviewer', 'bob', '--reason', ' \t '], 2, /--reason is required/],
    ['a reject of another version', ['reject', '@a', '--version', '1', '--reviewer', 'bob', '--reason', 'bad'], 1, new RegExp(`model version 1 is not the one awaiting approval; version ${V} is`)],
  ];
  it.each(cliCases)('champ refuses %s, and nothing changes', async (_name, args, code, message) => {
    const r = await champ(
      args.map((a) => (a === '@a' ? runs.a.id : a)),
      cliEnv,
    );
    expect(r.out).toEqual([]);
    expect(r.err.join('\n')).toMatch(message);
    expect(r.code).toBe(code);
    await expectUndecided(0);
  });

  const sdkCases: Array<[string, 'approve' | 'reject', unknown, RegExp]> = [
    ['a version as text', 'approve', { modelVersion: String(V), reviewer: 'bob' }, /modelVersion must be an integer/],
    ['no reviewer', 'approve', { modelVersion: V }, /reviewer is required/],
    ['a comment that is a number', 'approve', { modelVersion: V, reviewer: 'bob', comment: 42 }, /comment must be text/],
    ['a reason that is an object', 'reject', { modelVersion: V, reviewer: 'bob', reason: { why: 'x' } }, /reason must be text/],
    ['no input at all', 'approve', undefined, /reviewer is required/],
    ['another version', 'reject', { modelVersion: V + 100, reviewer: 'bob', reason: 'no' }, /is not the one awaiting approval/],
  ];
  it.each(sdkCases)('the SDK update is refused for %s, and nothing changes', async (_name, kind, input, message) => {
    const update = kind === 'approve' ? approveUpdate : rejectUpdate;
    const why = await sdkRefusal(() => runs.a.handle.executeUpdate(update, { args: [input as never] }));
    expect(why).toMatch(message);
    await expectUndecided(0);
  });

  const tcliCases: Array<[string, string, string, RegExp]> = [
    ['another version', 'approve', `{"modelVersion": ${V + 1}, "reviewer": "bob"}`, /is not the one awaiting approval/],
    ['a string for an input', 'approve', '"yes"', /reviewer is required/],
    ['null', 'reject', 'null', /reviewer is required/],
    ['a reviewer that is a list', 'approve', `{"modelVersion": ${V}, "reviewer": ["bob"]}`, /reviewer is required/],
  ];
  it.each(tcliCases)('temporal workflow update execute is refused for %s, and nothing changes', async (_name, name, json, message) => {
    const r = await tcliUpdate(name, json, runs.a.id);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(message);
    await expectUndecided(0);
  });

  const signals: Array<[string, string]> = [
    ['"approved" as text', '{"approved": "yes", "reviewer": "bob"}'],
    ['another version', `{"approved": true, "reviewer": "bob", "modelVersion": ${V + 1}}`],
    ['the version as text', `{"approved": true, "reviewer": "bob", "modelVersion": "${V}"}`],
    ['null', 'null'],
    ['a list', '[true]'],
    ['junk nested deep', `{"approved": ${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`],
  ];
  it('ignores and counts every junk signal, sent with the temporal CLI', async () => {
    for (const [name, json] of signals) {
      const r = await tcliSignal(json, runs.a.id);
      expect({ name, code: r.code, stderr: r.stderr }).toEqual({ name, code: 0, stderr: '' });
    }
    await waitForStatus(runs.a.handle, (s) => s.ignoredSignals === signals.length);
    await expectUndecided(signals.length);
  });
});

describe('decisions that are repeated or late', () => {
  it('approves run a, and run b still awaits its own decision', async () => {
    const r = await champ(['approve', runs.a.id, '--version', String(V), '--reviewer', 'alice'], cliEnv);
    expect(r).toEqual({ code: 0, out: [`approved model version ${V} of ${runs.a.id}`], err: [] });
    expect((await status('a')).approval).toMatchObject({ decision: 'approved', reviewer: 'alice' });
    expect((await status('b')).approval).toMatchObject({ awaiting: true, modelVersion: V });
    expect((await status('b')).approval?.decision).toBeUndefined();
  });

  it('refuses a second approval and a rejection after it, through each way in, and keeps the decision', async () => {
    const twice = await champ(['approve', runs.a.id, '--version', String(V), '--reviewer', 'mallory'], cliEnv);
    expect(twice.code).toBe(1);
    expect(twice.err.join('\n')).toMatch(/^champ: approve refused: .*not awaiting approval/);
    expect(await sdkRefusal(() => runs.a.handle.executeUpdate(rejectUpdate, { args: [{ modelVersion: V, reviewer: 'mallory', reason: 'late' }] }))).toMatch(
      /not awaiting approval/,
    );
    const tcli = await tcliUpdate('reject', `{"modelVersion": ${V}, "reviewer": "mallory", "reason": "late"}`, runs.a.id);
    expect(tcli.code).not.toBe(0);
    expect(tcli.stderr).toMatch(/not awaiting approval/);
    const ignored = (await status('a')).ignoredSignals;
    await runs.a.handle.signal(approvalSignal, { approved: false, reviewer: 'mallory' });
    await waitForStatus(runs.a.handle, (s) => s.ignoredSignals === ignored + 1);
    expect((await status('a')).approval).toMatchObject({ decision: 'approved', reviewer: 'alice' });
  });

  it('refuses an approval after a rejection', async () => {
    const reject = await champ(['reject', runs.b.id, '--version', String(V), '--reviewer', 'carol', '--reason', 'worse on the holdout'], cliEnv);
    expect(reject).toEqual({ code: 0, out: [`rejected model version ${V} of ${runs.b.id}`], err: [] });
    const approve = await champ(['approve', runs.b.id, '--version', String(V), '--reviewer', 'mallory'], cliEnv);
    expect(approve.code).toBe(1);
    expect(approve.err.join('\n')).toMatch(/^champ: approve refused: .*not awaiting approval/);
    expect((await status('b')).approval).toMatchObject({ decision: 'rejected', reviewer: 'carol' });
  });

  it('says a run has ended, and how, to an approval that comes after it', async () => {
    release();
    await expect(runs.a.handle.result()).resolves.toMatchObject({ outcome: 'deployed', approval: { reviewer: 'alice' } });
    await waitForReleased(runs.b.handle);
    await expect(runs.b.handle.result()).resolves.toMatchObject({ outcome: 'rejected-by-reviewer', approval: { reviewer: 'carol' } });

    const late = await champ(['approve', runs.a.id, '--version', String(V), '--reviewer', 'bob'], cliEnv);
    expect(late.code).toBe(1);
    expect(late.err).toEqual([`champ: ${runs.a.id} has ended (COMPLETED, deployed): nothing awaits approval; "champ status ${runs.a.id}" shows how it went`]);
    const lateReject = await champ(['reject', runs.b.id, '--version', String(V), '--reviewer', 'bob', '--reason', 'x'], cliEnv);
    expect(lateReject.err).toEqual([`champ: ${runs.b.id} has ended (COMPLETED, rejected-by-reviewer): nothing awaits approval; "champ status ${runs.b.id}" shows how it went`]);
    const lateCancel = await champ(['cancel', runs.b.id], cliEnv);
    expect(lateCancel).toEqual({ code: 1, out: [], err: [`champ: ${runs.b.id} already ended (COMPLETED, rejected-by-reviewer): nothing to cancel`] });

    expect(await sdkRefusal(() => runs.a.handle.executeUpdate(approveUpdate, { args: [{ modelVersion: V, reviewer: 'bob' }] }))).toMatch(/completed/i);
    const tcli = await tcliUpdate('approve', `{"modelVersion": ${V}, "reviewer": "bob"}`, runs.a.id);
    expect(tcli.code).not.toBe(0);
    expect(tcli.stderr).toMatch(/completed/i);
    const signal = await tcliSignal('{"approved": false}', runs.a.id);
    expect(signal.code).not.toBe(0);
    expect(signal.stderr).toMatch(/completed/i);
  });
});

/** Releases run b's held setApproval once it is waiting there. */
async function waitForReleased(handle: Handle): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    release();
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
