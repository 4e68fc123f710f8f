// Issue 11: each endpoint a durable entity (src/workflows/endpoint/). On the
// local stack (a real Temporal dev server, real workers, the local control
// plane and the example model): pipelines racing for one endpoint are
// serialized; `champ endpoint rollback` puts back the previous model with no
// dropped request; a freeze makes a pipeline wait (or end endpoint-frozen);
// a worker killed while a deployment waits in the queue loses nothing; the
// entity continues as new with its log intact.
import { DescribeEndpointCommand, DescribeEndpointConfigCommand } from '@aws-sdk/client-sagemaker';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { clientsScope } from '../../src/activities';
import { runCli } from '../../src/client';
import { injectFault, reset } from '../../src/local';
import type { PipelineSpec } from '../../src/spec';
import { endpointHistoryQuery, endpointStatusQuery, endpointWorkflow, type PipelineResult } from '../../src/workflows';
import { endpointEntityId } from '../../src/workflows/endpoint/messages';
import { temporalAddress, testClient, uniqueTaskQueue, withWorker } from '../harness/temporal';
import { eventually, keepInvoking, pipelineInput, startE2e, startPipeline, waitForStatus, type E2eEnv } from './helpers';
import { scheduledActivities, type History } from './history';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

jest.setTimeout(400_000);

let env: E2eEnv;
/** One task queue for the file: an entity lives on the task queue that started it. */
const taskQueue = uniqueTaskQueue('e2e-entity');
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  env = await startE2e();
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  if (env) await reset(env.sageMakerUrl).catch(() => undefined);
  await env?.stop();
});

type EntityHandle = WorkflowHandle<typeof endpointWorkflow>;

async function entityOf(client: Client, spec: PipelineSpec): Promise<EntityHandle> {
  return client.workflow.getHandle<typeof endpointWorkflow>(endpointEntityId(await clientsScope(env.awsClients), spec.deployment.endpointName));
}

/** Another model of `spec`'s pipeline for the same endpoint: another ridge strength, so another model_id in its answers. */
function otherModel(spec: PipelineSpec, overrides: Record<string, unknown> = {}): PipelineSpec {
  return env.makeSpec({
    name: spec.name,
    training: { hyperparameters: { power: 1.5, max_iter: 50, l2: 1 } },
    gate: { champion: undefined },
    deployment: { endpointName: spec.deployment.endpointName, keep: spec.deployment.keep },
    ...overrides,
  });
}

/** The attempt number of every start of `activityType`'s tasks: 1 each when no call was retried. */
function startedAttempts(history: History, activityType: string): number[] {
  const ids = new Set(scheduledActivities(history, activityType).map((s) => s.eventId));
  return (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskStartedEventAttributes;
    return a && ids.has(Number(a.scheduledEventId)) ? [a.attempt ?? 0] : [];
  });
}

async function champ(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const cliEnv = { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue, AWS_ENDPOINT_URL_SAGEMAKER: env.sageMakerUrl, USER: 'e2e-oncall' };
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: cliEnv });
  return { code, out, err };
}

async function servingConfig(endpointName: string): Promise<string | undefined> {
  return (await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: endpointName }))).EndpointConfigName;
}

describe('the endpoint entity', () => {
  // Two models of one pipeline on one endpoint with keep: 1; later tests roll it back.
  let first: PipelineSpec;
  let raced: PipelineResult[] = [];

  it('serializes two pipelines racing for one endpoint: both end deployed, one update at a time, none refused, no config deleted while in use', async () => {
    first = env.makeSpec({ gate: { champion: undefined }, deployment: { keep: 1 } });
    const second = otherModel(first);
    const endpointName = first.deployment.endpointName;
    // A held Updating widens the window in which the second deployment would meet the first.
    await injectFault(env.sageMakerUrl, { kind: 'hold', resource: 'endpoint', status: 'Updating', ms: 1500, count: 1 });
    {
      await withWorker({ activities: env.activities, taskQueue }, async ({ client }) => {
        const handles = await Promise.all([startPipeline(client, taskQueue, pipelineInput(first)), startPipeline(client, taskQueue, pipelineInput(second))]);
        raced = await Promise.all(handles.map((h) => h.result()));
        expect(raced.map((r) => [r.outcome, r.reason])).toEqual([
          ['deployed', undefined],
          ['deployed', undefined],
        ]);
        const entity = await entityOf(client, first);
        for (const [i, r] of raced.entries()) {
          expect(r.deployment).toMatchObject({ entityId: entity.workflowId, requestId: expect.stringContaining(handles[i]!.workflowId), state: 'done', outcome: 'deployed' });
          // The run deploys only through the entity: no endpoint call of its own.
          const own = scheduledActivities(await handles[i]!.fetchHistory()).map((a) => a.activityType);
          expect(own.filter((t) => /Endpoint|Model|cleanup/.test(t))).toEqual([]);
          expect(own.filter((t) => t === 'requestDeployment')).toHaveLength(1);
        }

        const log = await entity.query(endpointHistoryQuery);
        expect(log.map((e) => [e.kind, e.outcome, e.requestedBy])).toEqual([
          ['deploy', 'deployed', 'e2e'],
          ['deploy', 'deployed', 'e2e'],
        ]);
        // One after the other: the second started once the first had ended.
        expect(Date.parse(log[1]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(log[0]!.endedAt!));
        // Each endpoint change was made at the first attempt: no UpdateEndpoint was refused as in progress.
        const history = await entity.fetchHistory();
        expect(startedAttempts(history, 'deployEndpoint')).toEqual([1, 1]);
        expect(startedAttempts(history, 'createEndpointConfig')).toEqual([1, 1]);
        // The later one serves; its config exists; no deployment had to make a deleted config again.
        const status = await entity.query(endpointStatusQuery);
        expect(status.lastGood?.requestId).toBe(log[1]!.requestId);
        expect(await servingConfig(endpointName)).toBe(log[1]!.endpointConfig);
        await env.sagemakerClient.send(new DescribeEndpointConfigCommand({ EndpointConfigName: log[1]!.endpointConfig }));
        expect(raced.flatMap((r) => r.warnings)).toEqual([]);
      });
    }
  });

  it('champ endpoint rollback puts back the previous model with 0 dropped requests under a request loop', async () => {
    expect(raced).toHaveLength(2);
    const endpointName = first.deployment.endpointName;
    await withWorker({ activities: env.activities, taskQueue }, async ({ client }) => {
      const entity = await entityOf(client, first);
      const [earlier, later] = await entity.query(endpointHistoryQuery);
      const loop = keepInvoking(env.runtimeClient, endpointName);
      let tally;
      let run;
      try {
        run = await champ(['endpoint', 'rollback', endpointName, '--reason', 'e2e: the new model misbehaves', '--timeout', '180']);
      } finally {
        tally = await loop.stop();
      }
      expect([run.code, run.err]).toEqual([0, []]);
      expect(run.out.join('\n')).toMatch(/: deployed\b.*; \S+ serves$/m);
      expect(tally.failed).toBe(0);
      expect(tally.errors).toEqual([]);
      expect(tally.ok).toBeGreaterThan(0);
      // The answers moved from the later model to the earlier one, once.
      expect(tally.models.length).toBe(2);
      expect(await servingConfig(endpointName)).toBe(earlier!.endpointConfig);
      const log = await entity.query(endpointHistoryQuery);
      expect(log[log.length - 1]).toMatchObject({ kind: 'rollback', outcome: 'deployed', rollbackOf: earlier!.requestId, endpointConfig: earlier!.endpointConfig, requestedBy: 'e2e-oncall' });
      expect(later!.endpointConfig).not.toBe(earlier!.endpointConfig);
    });
  });

  it('a freeze makes a pipeline wait until unfreeze; a spec that says whenFrozen: fail ends endpoint-frozen', async () => {
    const spec = env.makeSpec({ gate: { champion: undefined } });
    const endpointName = spec.deployment.endpointName;
    await withWorker({ activities: env.activities, taskQueue }, async ({ client }) => {
      const before = await (await startPipeline(client, taskQueue, pipelineInput(spec))).result();
      expect(before.outcome).toBe('deployed');
      const frozen = await champ(['endpoint', 'freeze', endpointName, '--reason', 'release window']);
      expect([frozen.code, frozen.err]).toEqual([0, []]);

      const waiting = await startPipeline(client, taskQueue, pipelineInput(otherModel(spec)));
      const queued = await waitForStatus(waiting, (s) => s.deployment?.state === 'queued', 120_000);
      const entity = await entityOf(client, spec);
      expect((await entity.query(endpointStatusQuery)).queue.map((q) => q.requestId)).toEqual([queued.deployment!.requestId]);

      // Meanwhile a whole run whose spec says not to wait ends at once with a clear outcome.
      const refused = await (await startPipeline(client, taskQueue, pipelineInput(otherModel(spec, { deployment: { endpointName, whenFrozen: 'fail' } })))).result();
      expect(refused).toMatchObject({ outcome: 'endpoint-frozen', reason: expect.stringContaining('release window'), deployment: { outcome: 'refused' } });
      // The waiting run is still waiting, and the endpoint still serves what it did.
      expect((await waiting.query('status' as never)) as unknown).toMatchObject({ stage: 'deploying', deployment: { state: 'queued' } });
      expect(await servingConfig(endpointName)).toBe(before.endpointConfigName);

      const unfrozen = await champ(['endpoint', 'unfreeze', endpointName]);
      expect([unfrozen.code, unfrozen.err]).toEqual([0, []]);
      const result = await waiting.result();
      expect(result).toMatchObject({ outcome: 'deployed', deployment: { outcome: 'deployed' } });
      expect(await servingConfig(endpointName)).toBe(result.endpointConfigName);
      const history = await champ(['endpoint', 'history', endpointName]);
      expect(history.out.join('\n')).toMatch(/refused/);
    });
  });

  it('a worker killed while a deployment waits in the queue loses nothing: both pipelines end deployed, each deployed once', async () => {
    const crashQueue = uniqueTaskQueue('e2e-entity-crash');
    const spawn = async () => {
      const w = await startWorkerProcess({ taskQueue: crashQueue, sageMakerUrl: env.sageMakerUrl, home: env.home });
      workers.push(w);
      return w;
    };
    const spec = env.makeSpec({ gate: { champion: undefined } });
    const { client, close } = await testClient();
    try {
      const worker = await spawn();
      // The first deployment creates the endpoint and stays Creating long enough to kill the worker while the second waits.
      await injectFault(env.sageMakerUrl, { kind: 'hold', resource: 'endpoint', status: 'Creating', ms: 8000, count: 1 });
      const handles = [await startPipeline(client, crashQueue, pipelineInput(spec)), await startPipeline(client, crashQueue, pipelineInput(otherModel(spec)))];
      const entity = await entityOf(client, spec);
      await eventually(
        () => entity.query(endpointStatusQuery).catch(() => undefined),
        (s) => s?.current !== undefined && s.queue.length === 1,
        180_000,
        'one deployment running and one queued',
      );
      await worker.kill();
      await spawn();
      const results = await Promise.all(handles.map((h) => h.result()));
      expect(results.map((r) => r.outcome)).toEqual(['deployed', 'deployed']);
      const log = await entity.query(endpointHistoryQuery);
      expect(log.map((e) => e.outcome)).toEqual(['deployed', 'deployed']);
      const history = await entity.fetchHistory();
      expect(scheduledActivities(history, 'deployEndpoint')).toHaveLength(2);
      for (const h of handles) expect(scheduledActivities(await h.fetchHistory(), 'requestDeployment')).toHaveLength(1);
      expect(await servingConfig(spec.deployment.endpointName)).toBe(log[1]!.endpointConfig);
    } finally {
      await close();
    }
  });

  it('continues as new once its history passes the limit in its input, with its log and rollback target intact', async () => {
    const spec = env.makeSpec({ gate: { champion: undefined } });
    const endpointName = spec.deployment.endpointName;
    await withWorker({ activities: env.activities, taskQueue }, async ({ client }) => {
      const scope = await clientsScope(env.awsClients);
      // Started here with a small limit; the pipelines' update-with-start uses the running entity.
      const entity = await client.workflow.start(endpointWorkflow, {
        taskQueue,
        workflowId: endpointEntityId(scope, endpointName),
        args: [{ endpointName, scope, maxHistoryEvents: 30 }],
      });
      const firstRunId = entity.firstExecutionRunId;
      for (const s of [spec, otherModel(spec)]) expect((await (await startPipeline(client, taskQueue, pipelineInput(s))).result()).outcome).toBe('deployed');
      const latest = client.workflow.getHandle<typeof endpointWorkflow>(entity.workflowId);
      const status = await eventually(() => latest.query(endpointStatusQuery), (s) => s.run >= 2 && s.current === undefined, 60_000, 'a later run of the entity');
      expect((await latest.describe()).runId).not.toBe(firstRunId);
      expect(status.logTail.map((e) => e.outcome)).toEqual(['deployed', 'deployed']);
      expect(status.requests).toBe(2);
      // The carried log still knows what to roll back to.
      const rolled = await champ(['endpoint', 'rollback', endpointName, '--timeout', '180']);
      expect([rolled.code, rolled.err]).toEqual([0, []]);
      expect(await servingConfig(endpointName)).toBe(status.logTail[0]!.endpointConfig);
    });
  });
});
