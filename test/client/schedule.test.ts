// Pipelines on Temporal Schedules: the options built from a spec, and the
// `champ schedule` commands against the run's shared dev server.
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { scheduleCron } from '../../src/cli/schedule';
import { runCli, type CliIO } from '../../src/client';
import { CATCHUP_WINDOW, NoScheduleError, OVERLAP_POLICY, scheduleOptionsFor } from '../../src/schedules';
import { PIPELINE_WORKFLOW, SEARCH_ATTRIBUTES } from '../../src/shared';
import type { PipelineSpec, PipelineSpecInput } from '../../src/spec/schema';
import { statusQuery, trainingPipeline, type PipelineInput, type PipelineStatus } from '../../src/workflows';
import { temporalAddress, testClient, uniqueTaskQueue, withWorker } from '../harness/temporal';
import { fakeActivities, testSpec } from '../workflows/fake-activities';

jest.setTimeout(30_000);

let dir: string;
let client: Client;
let closeClient: () => Promise<void>;
const made: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'champ-schedule-'));
  ({ client, close: closeClient } = await testClient());
});

afterAll(async () => {
  for (const id of made) await client.schedule.getHandle(id).delete().catch(() => undefined);
  await closeClient?.();
  rmSync(dir, { recursive: true, force: true });
});

function uniqueName(): string {
  return `sched-${randomUUID().slice(0, 8)}`;
}

/** A fresh pipeline name, its schedule id (deleted after the file) and the CLI's environment. */
function newSchedule(taskQueue?: string): { name: string; id: string; env: NodeJS.ProcessEnv } {
  const name = uniqueName();
  const id = `champ-${name}`;
  made.push(id);
  return { name, id, env: cliEnv(taskQueue) };
}

/** A spec file on disk: prebuilt image, s3 data (nothing local to check), optional schedule. */
function specFile(name: string, schedule?: PipelineSpecInput['schedule']): string {
  const spec: PipelineSpecInput = {
    name,
    image: { uri: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${name}:1.0.0` },
    training: { inputs: [{ name: 'train', uri: `s3://champ-data/${name}/train/` }], outputPath: `s3://champ-models/${name}/` },
    deployment: { endpointName: name },
    ...(schedule ? { schedule } : {}),
  };
  const file = join(dir, `${name}-${randomUUID().slice(0, 4)}.yaml`);
  writeFileSync(file, toYaml(spec));
  return file;
}

async function champ(args: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (l) => out.push(...l.split('\n')), err: (l) => err.push(...l.split('\n')), env };
  const code = await runCli(args, io);
  return { code, out, err };
}

function cliEnv(taskQueue = uniqueTaskQueue('schedule')): NodeJS.ProcessEnv {
  return { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue, CHAMP_UI_URL: 'http://ui.test:8233', USER: 'tester' };
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('scheduleOptionsFor', () => {
  const scheduled = (schedule: Partial<NonNullable<PipelineSpec['schedule']>>) =>
    testSpec((s) => {
      s.name = 'claims';
      s.schedule = { cron: '0 3 * * 1', overlap: 'skip', skipWhenDataUnchanged: true, ...schedule };
    });

  it('maps every overlap value of the spec to the Temporal policy of the same meaning', () => {
    expect(OVERLAP_POLICY).toEqual({
      skip: ScheduleOverlapPolicy.SKIP,
      'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
      'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
      'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
      'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
      'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
    });
    const policies = (Object.keys(OVERLAP_POLICY) as Array<keyof typeof OVERLAP_POLICY>).map(
      (overlap) => scheduleOptionsFor(scheduled({ overlap }), { taskQueue: 'q' }).policies?.overlap,
    );
    expect(policies).toEqual(['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL']);
  });

  it('starts trainingPipeline with trigger "schedule" on the cron and zone of the spec, under champ-<name>', () => {
    const spec = scheduled({ cron: '30 2 * * *', timezone: 'Europe/London', overlap: 'buffer-one' });
    const options = scheduleOptionsFor(spec, { taskQueue: 'pipelines-q' });
    expect(options.scheduleId).toBe('champ-claims');
    expect(options.spec).toEqual({ cronExpressions: ['30 2 * * *'], timezone: 'Europe/London' });
    expect(options.policies).toEqual({ overlap: 'BUFFER_ONE', catchupWindow: CATCHUP_WINDOW });
    expect(options.memo).toEqual({ pipeline: 'claims' });
    const { action } = options;
    expect(action).toMatchObject({ type: 'startWorkflow', workflowType: PIPELINE_WORKFLOW, taskQueue: 'pipelines-q', workflowId: 'claims-scheduled' });
    expect(action.args).toEqual([{ spec, trigger: 'schedule', requestedBy: 'schedule champ-claims' } satisfies PipelineInput]);
    expect(action.typedSearchAttributes).toEqual([{ key: { name: SEARCH_ATTRIBUTES.pipeline, type: 'KEYWORD' }, value: 'claims' }]);
  });

  it('names the action by the workflow function the worker registers', () => {
    expect(trainingPipeline.name).toBe(PIPELINE_WORKFLOW);
  });

  it('leaves the zone to Temporal (UTC) when the spec names none, and refuses a spec without a schedule', () => {
    expect(scheduleOptionsFor(scheduled({}), { taskQueue: 'q' }).spec).toEqual({ cronExpressions: ['0 3 * * 1'] });
    expect(() => scheduleOptionsFor(testSpec(), { taskQueue: 'q' })).toThrow(NoScheduleError);
    expect(() => scheduleOptionsFor(testSpec(), { taskQueue: 'q' })).toThrow(/schedule\.cron/);
  });
});

describe('champ schedule', () => {
  it('apply creates the schedule, a second apply updates it in place, and list shows the new cron', async () => {
    const { name, id, env } = newSchedule();

    const created = await champ(['schedule', 'apply', specFile(name, { cron: '0 3 * * 1' })], env);
    expect(created.err).toEqual([]);
    expect(created.code).toBe(0);
    expect(created.out[0]).toBe(`created schedule ${id}: cron 0 3 * * 1 (UTC), overlap skip, task queue ${env.CHAMP_TASK_QUEUE}`);
    // Three Monday 03:00 UTC runs, a week apart.
    const next = created.out[1]!.replace('  next runs: ', '').split(', ');
    expect(next).toHaveLength(3);
    for (const t of next) expect(t).toMatch(/^\d{4}-\d\d-\d\dT03:00:00Z$/);
    expect(new Date(next[0]!).getUTCDay()).toBe(1);
    expect(Date.parse(next[1]!) - Date.parse(next[0]!)).toBe(7 * 24 * 3600 * 1000);
    expect(created.out[2]).toBe(`  http://ui.test:8233/namespaces/default/schedules/${id}`);

    const updated = await champ(['schedule', 'apply', specFile(name, { cron: '15 6 * * *', timezone: 'America/New_York', overlap: 'buffer-one' })], env);
    expect(updated.code).toBe(0);
    expect(updated.out[0]).toBe(`updated schedule ${id}: cron 15 6 * * * (America/New_York), overlap buffer-one, task queue ${env.CHAMP_TASK_QUEUE}`);

    const desc = await client.schedule.getHandle(id).describe();
    expect(desc.spec.timezone).toBe('America/New_York');
    expect(desc.spec.calendars?.[0]).toMatchObject({ minute: [{ start: 15, end: 15 }], hour: [{ start: 6, end: 6 }] });
    expect(desc.policies.overlap).toBe('BUFFER_ONE');
    expect(scheduleCron(desc)).toBe('15 6 * * * (America/New_York)');
    expect((desc.action.args?.[0] as PipelineInput).trigger).toBe('schedule');

    // The visibility store catches up with a new schedule a moment later.
    const list = await eventually(
      () => champ(['schedule', 'list'], env),
      (r) => r.out.some((l) => l.startsWith(`${id} `)),
      `champ schedule list to show ${id}`,
    );
    expect(list.out[0]).toMatch(/^SCHEDULE ID\s+CRON\s+PAUSED\s+NEXT RUN$/);
    expect(list.out.find((l) => l.startsWith(`${id} `))).toMatch(/^\S+\s+15 6 \* \* \* \(America\/New_York\)\s+no\s+\d{4}-\d\d-\d\dT\d\d:15:00Z$/);
  });

  it('pause (with its note) and unpause show in the schedule, and apply keeps a paused schedule paused', async () => {
    const { name, id, env } = newSchedule();
    const file = specFile(name, { cron: '@daily' });
    expect((await champ(['schedule', 'apply', file], env)).code).toBe(0);
    const handle = client.schedule.getHandle(id);

    expect(await champ(['schedule', 'pause', name, '--note', 'data feed late'], env)).toEqual({ code: 0, out: [`paused ${id}`], err: [] });
    expect((await handle.describe()).state).toMatchObject({ paused: true, note: 'data feed late' });

    const reapplied = await champ(['schedule', 'apply', file], env);
    expect(reapplied.out[0]).toMatch(/^updated schedule .* \(paused\)$/);
    expect((await handle.describe()).state).toMatchObject({ paused: true, note: 'data feed late' });

    const unpaused = await champ(['schedule', 'unpause', id], env);
    expect(unpaused.code).toBe(0);
    expect(unpaused.out).toEqual([expect.stringMatching(new RegExp(`^unpaused ${id}; next run \\d{4}-\\d\\d-\\d\\dT00:00:00Z$`))]);
    expect((await handle.describe()).state.paused).toBe(false);
  });

  it('trigger starts a run now with trigger "schedule", and a second trigger while it runs is refused by the skip policy', async () => {
    const taskQueue = uniqueTaskQueue('schedule-trigger');
    const { name, id, env } = newSchedule(taskQueue);
    expect((await champ(['schedule', 'apply', specFile(name, { cron: '0 3 * * 1', skipWhenDataUnchanged: true })], env)).code).toBe(0);

    // No worker yet: the run started by the trigger stays running, so the second trigger meets it.
    const first = await champ(['schedule', 'trigger', name], env);
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    const runId = /^triggered champ-\S+: started (\S+)$/.exec(first.out[0]!)?.[1];
    expect(runId).toMatch(new RegExp(`^${name}-scheduled-`));
    expect(first.out[1]).toBe(`  http://ui.test:8233/namespaces/default/workflows/${encodeURIComponent(runId!)}`);

    const second = await champ(['schedule', 'trigger', id], env);
    expect(second.code).toBe(1);
    expect(second.err).toEqual([`champ: ${id}: the trigger started nothing: ${runId} is still running and the overlap policy is skip; wait for it, or "champ cancel ${runId}"`]);

    // The champion was trained on the same data, so a scheduled run has nothing to add:
    // that outcome is only reachable with trigger "schedule".
    const fake = fakeActivities({
      describeChampion: async () => ({ modelPackageArn: 'arn:aws:sagemaker:us-east-1:0:model-package/x/1', version: 1, metrics: [], dataFingerprint: 'fp-new' }),
    });
    await withWorker({ activities: fake.activities, taskQueue }, async () => {
      const run = client.workflow.getHandle<typeof trainingPipeline>(runId!);
      const result = await run.result();
      expect(result.outcome).toBe('skipped-data-unchanged');
      const status: PipelineStatus = await run.query(statusQuery);
      expect(status).toMatchObject({ trigger: 'schedule', requestedBy: `schedule ${id}`, pipeline: name });
    });
    expect(fake.names()).not.toContain('startTraining');
    const desc = await client.workflow.getHandle(runId!).describe();
    expect(desc.searchAttributes[SEARCH_ATTRIBUTES.pipeline]).toEqual([name]);
  });

  it('delete removes the schedule; unknown schedules are one line with exit 1', async () => {
    const { name, id, env } = newSchedule();
    expect((await champ(['schedule', 'apply', specFile(name, { cron: '@hourly' })], env)).code).toBe(0);

    expect(await champ(['schedule', 'delete', name], env)).toEqual({ code: 0, out: [`deleted schedule ${id}; runs it started go on`], err: [] });
    await expect(client.schedule.getHandle(id).describe()).rejects.toThrow(ScheduleNotFoundError);

    for (const command of ['delete', 'trigger', 'pause', 'unpause']) {
      const gone = await champ(['schedule', command, name], env);
      expect(gone).toEqual({ code: 1, out: [], err: [`champ: no schedule "${id}" in this namespace; "champ schedule list" shows the schedules`] });
    }
  });

  it('apply refuses a spec without a schedule section (exit 2, naming schedule.cron) before contacting the server', async () => {
    const name = uniqueName();
    const file = specFile(name);
    // An unreachable server proves the refusal comes first.
    const refused = await champ(['schedule', 'apply', file], { ...cliEnv(), TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(refused).toEqual({
      code: 2,
      out: [],
      err: [`champ: ${file}: pipeline "${name}" has no schedule section: add schedule.cron (e.g. "0 3 * * 1") to run it on a schedule`],
    });
  });
});
