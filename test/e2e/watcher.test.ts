// The data watcher end to end: one pipeline run per new data fingerprint.
// Unchanged data starts nothing (and costs a handful of history events), two
// watchers racing on new data start one run, and data trained on once is never
// trained again, even when it comes back.
import { appendFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListTrainingJobsCommand } from '@aws-sdk/client-sagemaker';
import { ScheduleOverlapPolicy, WorkflowExecutionStatusName, type Client } from '@temporalio/client';
import { runCli } from '../../src/client';
import { temporalAddress, withWorker } from '../harness/temporal';
import { applySchedule, scheduleIdFor, scheduleOptionsFor } from '../../src/schedules';
import { dataWatcher, type PipelineResult, type WatchResult } from '../../src/workflows';
import { eventually, FAST_POLL, startE2e, uniqueSuffix, type E2eEnv } from './helpers';

jest.setTimeout(240_000);

let env: E2eEnv;
let spec: ReturnType<E2eEnv['makeSpec']>;
let trainFile: string;

beforeAll(async () => {
  env = await startE2e();
  // The watcher's own copy of the data, so that changing it changes no one else's.
  const data = join(env.home, 'watched');
  cpSync(join(env.home, 'data'), data, { recursive: true });
  trainFile = join(data, 'train', 'train.csv');
  spec = env.makeSpec({
    training: { inputs: [{ name: 'train', uri: `file://${join(data, 'train')}` }, { name: 'validation', uri: `file://${join(data, 'validation')}` }] },
    schedule: { cron: '0 3 * * *', overlap: 'allow-all', watch: {} },
  });
});
afterAll(async () => env?.stop());

async function trainingJobs(): Promise<string[]> {
  const out = await env.sagemakerClient.send(new ListTrainingJobsCommand({ NameContains: spec.name, MaxResults: 100 }));
  return (out.TrainingJobSummaries ?? []).map((j) => j.TrainingJobName ?? '');
}

async function watch(client: Client, taskQueue: string): Promise<{ result: WatchResult; events: number }> {
  const handle = await client.workflow.start(dataWatcher, {
    taskQueue,
    workflowId: `watch-${uniqueSuffix()}`,
    args: [{ spec, trigger: 'schedule', requestedBy: 'e2e', poll: FAST_POLL }],
  });
  const result = await handle.result();
  const events = (await handle.fetchHistory()).events?.length ?? 0;
  return { result, events };
}

async function pipelineEnd(client: Client, workflowId: string): Promise<PipelineResult> {
  return (await client.workflow.getHandle(workflowId).result()) as PipelineResult;
}

it('the watcher starts one pipeline per new fingerprint, does nothing on unchanged data, and never trains a fingerprint twice', async () => {
  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    // New data: a run starts under an id made of the pipeline and the fingerprint.
    const first = await watch(client, taskQueue);
    expect(first.result).toMatchObject({ outcome: 'started', pipeline: spec.name });
    expect(first.result.pipelineWorkflowId).toBe(`${spec.name}-data-${first.result.fingerprint.slice(0, 24)}`);
    expect((await pipelineEnd(client, first.result.pipelineWorkflowId)).outcome).toBe('deployed');
    expect(await trainingJobs()).toHaveLength(1);

    // Unchanged data: nothing starts, and the check is a handful of events.
    const again = await watch(client, taskQueue);
    expect(again.result).toMatchObject({ outcome: 'skipped-seen', fingerprint: first.result.fingerprint, pipelineWorkflowId: first.result.pipelineWorkflowId });
    expect(again.result.reason).toMatch(/^data unchanged/);
    expect(again.events).toBeLessThanOrEqual(20);
    expect(await trainingJobs()).toHaveLength(1);

    // New data, two watchers racing: one run starts, the other finds it.
    const original = readFileSync(trainFile, 'utf8');
    appendFileSync(trainFile, original.split('\n').slice(1, 101).join('\n') + '\n');
    const raced = await Promise.all([watch(client, taskQueue), watch(client, taskQueue)]);
    expect(raced.map((r) => r.result.outcome).sort()).toEqual(['skipped-seen', 'started']);
    expect(raced[0]!.result.pipelineWorkflowId).toBe(raced[1]!.result.pipelineWorkflowId);
    expect(raced[0]!.result.fingerprint).not.toBe(first.result.fingerprint);
    await pipelineEnd(client, raced[0]!.result.pipelineWorkflowId);
    expect(await trainingJobs()).toHaveLength(2);

    // The first data again: its fingerprint was trained on, so nothing starts.
    writeFileSync(trainFile, original);
    const back = await watch(client, taskQueue);
    expect(back.result).toMatchObject({ outcome: 'skipped-seen', fingerprint: first.result.fingerprint });
    expect(await trainingJobs()).toHaveLength(2);

    // The runs and skips are listed, each with its reason.
    const listed = await eventually(
      async () => {
        const rows: Array<{ outcome: string; status: string }> = [];
        for await (const w of client.workflow.list({ query: `WorkflowType = 'dataWatcher' AND ChampPipeline = '${spec.name}'` })) {
          rows.push({ outcome: String(w.searchAttributes?.ChampOutcome?.[0] ?? ''), status: w.status.name });
        }
        return rows;
      },
      (rows) => rows.length === 5,
      20_000,
      'five watcher runs listed',
    );
    expect(listed.map((r) => r.outcome).sort()).toEqual(['skipped-seen', 'skipped-seen', 'skipped-seen', 'started', 'started']);
    expect(listed.every((r) => r.status === ('COMPLETED' as WorkflowExecutionStatusName))).toBe(true);
    const out: string[] = [];
    expect(await runCli(['schedule', 'runs', spec.name], { out: (l) => out.push(l), err: () => undefined, env: { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue } })).toBe(0);
    expect(out[0]).toMatch(/^STARTED \(UTC\)\s+CHECK\s+OUTCOME\s+REASON/);
    expect(out.filter((l) => / started\s+new data/.test(l))).toHaveLength(2);
    expect(out.filter((l) => / skipped-seen\s+data unchanged/.test(l))).toHaveLength(3);
  });
});

it('schedule.watch makes the pipeline\'s Temporal Schedule start the watcher, which a trigger runs', async () => {
  const options = scheduleOptionsFor(spec, { taskQueue: 'q' });
  expect(options.action).toMatchObject({ workflowType: 'dataWatcher', workflowId: `${spec.name}-watch` });
  expect(scheduleOptionsFor({ ...spec, schedule: { ...spec.schedule!, watch: undefined } }, { taskQueue: 'q' }).action.workflowType).toBe('trainingPipeline');

  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    expect(await applySchedule(client, spec, taskQueue)).toBe('created');
    const handle = client.schedule.getHandle(scheduleIdFor(spec.name));
    try {
      await handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
      const run = await eventually(
        async () => (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId,
        (id) => id !== undefined,
        20_000,
        'the scheduled watcher run',
      );
      expect(run).toMatch(new RegExp(`^${spec.name}-watch-`));
      const result = (await client.workflow.getHandle(run!).result()) as WatchResult;
      // The data is what the first test trained on: the schedule's check starts nothing.
      expect(result.outcome).toBe('skipped-seen');
    } finally {
      await handle.delete();
    }
  });
});
