// The endpoint entity on the dev server with fake activities: what its
// messages do to its queue and log (the end-to-end tests run it for real).
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { endpointHistoryQuery, endpointStatusQuery, endpointWorkflow, freezeUpdate, requestDeploymentUpdate, rollbackUpdate, unfreezeUpdate, type DeploymentRequest } from '../../src/workflows';
import { withWorker } from '../harness/temporal';
import { fakeActivities, testSpec } from './fake-activities';

// The first test also waits for the workflow bundle (built once per run).
jest.setTimeout(120_000);

const spec = testSpec();

function request(requestId: string, config: string, over: Partial<DeploymentRequest> = {}): DeploymentRequest {
  return {
    requestId,
    requestedBy: 'test',
    plan: {
      pipeline: spec.name,
      model: `${config}-model`,
      endpointConfig: config,
      imageUri: 'img:1',
      modelArtifact: 'file:///tmp/model.tar.gz',
      roleArn: spec.training.roleArn,
      deployment: spec.deployment,
      deployTimeout: '1m',
      tags: {},
    },
    poll: { initialMs: 50, maxMs: 100 },
    ...over,
  };
}

async function startEntity(client: Client, taskQueue: string) {
  return client.workflow.start(endpointWorkflow, { taskQueue, workflowId: `entity-test-${randomUUID()}`, args: [{ endpointName: spec.deployment.endpointName, scope: 'unit' }] });
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('endpointWorkflow', () => {
  it('takes a request sent twice once, runs requests in arrival order, and refuses one for another endpoint in its validator', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const entity = await startEntity(client, taskQueue);
      const first = await entity.executeUpdate(requestDeploymentUpdate, { args: [request('a', 'cfg-a')] });
      const again = await entity.executeUpdate(requestDeploymentUpdate, { args: [request('a', 'cfg-a')] });
      const second = await entity.executeUpdate(requestDeploymentUpdate, { args: [request('b', 'cfg-b')] });
      expect([first.requestId, again.requestId, second.requestId]).toEqual(['a', 'a', 'b']);
      const other = { ...request('c', 'cfg-c'), plan: { ...request('c', 'cfg-c').plan, deployment: { ...spec.deployment, endpointName: 'another-endpoint' } } };
      const refused = await entity.executeUpdate(requestDeploymentUpdate, { args: [other] }).then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((refused as WorkflowUpdateFailedError).cause)).toContain('request.plan.deployment.endpointName');

      const log = await until(() => entity.query(endpointHistoryQuery), (l) => l.length === 2, 'two deployments logged');
      expect(log.map((e) => [e.requestId, e.outcome])).toEqual([
        ['a', 'deployed'],
        ['b', 'deployed'],
      ]);
      expect(fake.inputs('createEndpointConfig').map((i) => i.configName)).toEqual(['cfg-a', 'cfg-b']);
      expect(fake.endpoint.configName).toBe('cfg-b');
      // Sent again after it ended, a request is answered with its outcome, not run again.
      const late = await entity.executeUpdate(requestDeploymentUpdate, { args: [request('a', 'cfg-a')] });
      expect(late).toMatchObject({ state: 'done', outcome: { outcome: 'deployed' } });
      expect(fake.inputs('deployEndpoint')).toHaveLength(2);
    });
  });

  it('holds requests while frozen, still runs a rollback, and refuses a rollback with nowhere to go', async () => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const entity = await startEntity(client, taskQueue);
      const nowhere = await entity.executeUpdate(rollbackUpdate, { args: [{ by: 'oncall' }] }).then(() => undefined, (e: unknown) => e);
      expect(String((nowhere as WorkflowUpdateFailedError).cause)).toContain('no previous good deployment');
      await entity.executeUpdate(requestDeploymentUpdate, { args: [request('a', 'cfg-a')] });
      await entity.executeUpdate(requestDeploymentUpdate, { args: [request('b', 'cfg-b')] });
      await until(() => entity.query(endpointHistoryQuery), (l) => l.length === 2, 'two deployments logged');

      await entity.executeUpdate(freezeUpdate, { args: [{ by: 'oncall', reason: 'incident' }] });
      const queued = await entity.executeUpdate(requestDeploymentUpdate, { args: [request('c', 'cfg-c')] });
      expect(queued.state).toBe('queued');
      const refused = await entity.executeUpdate(requestDeploymentUpdate, { args: [request('d', 'cfg-d', { whenFrozen: 'fail' })] });
      expect(refused).toMatchObject({ state: 'done', outcome: { outcome: 'refused', reason: expect.stringContaining('incident') } });
      const back = await entity.executeUpdate(rollbackUpdate, { args: [{ by: 'oncall', reason: 'bad answers' }] });
      const rolled = await until(() => entity.query(endpointHistoryQuery), (l) => l.some((e) => e.requestId === back.requestId && e.outcome), 'the rollback ended');
      expect(rolled[rolled.length - 1]).toMatchObject({ kind: 'rollback', outcome: 'deployed', endpointConfig: 'cfg-a', rollbackOf: 'a' });
      expect(fake.endpoint.configName).toBe('cfg-a');
      // c still waits: frozen.
      expect((await entity.query(endpointStatusQuery)).queue.map((q) => q.requestId)).toEqual(['c']);

      await entity.executeUpdate(unfreezeUpdate, { args: [{ by: 'oncall' }] });
      await until(() => entity.query(endpointHistoryQuery), (l) => l.some((e) => e.requestId === 'c' && e.outcome === 'deployed'), 'c deployed after unfreeze');
      expect(fake.endpoint.configName).toBe('cfg-c');
    });
  });
});
