// Issue 10, finding 1: the rollback of a candidate that failed its smoke test
// does not take (its update fails, or the control plane crashes while it
// runs), and the endpoint is left on the rejected candidate. The pipeline must
// roll back again and end rolled-back with the previous model serving.
// The control plane here is this file's own, with the real runtime behind a
// wrapper that can lose one deployment, and restarted on the same port with
// the same state folder: close() freezes the state on disk as a crash leaves it.
import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../src/activities';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import { injectFault, loadLocalConfig, startLocalSageMaker, type LocalSageMaker } from '../../src/local';
import type { EndpointRuntime, InvokeRequest, InvokeResponse, VariantSpec } from '../../src/local/runtime';
import { defaultRuntime } from '../../src/local/server';
import type { Client } from '@temporalio/client';
import type { PipelineHandle } from '../../src/cli/progress';
import { withWorker } from '../harness/temporal';
import { eventually, invokeExample, pipelineInput, runPipeline, smokeTestFailingSpec, startE2e, startPipeline, waitForStatus, type E2eEnv } from './helpers';
import { activityCompletions, entityHistory, scheduledActivities } from './history';

jest.setTimeout(240_000);

let env: E2eEnv;
let stateDir: string;
let plane: LocalSageMaker | undefined;
let clients: AwsClients;

/**
 * The real endpoint runtime, except that the next deployment of one config
 * fails as a lost update does: the endpoint stays InService on what it ran,
 * with a FailureReason, exactly as after an UpdateEndpoint that failed.
 */
class LosesOneDeployment implements EndpointRuntime {
  private armed?: string;
  lost = 0;

  constructor(private readonly inner: EndpointRuntime) {}

  loseNextDeploymentOf(configName: string): void {
    this.armed = configName;
  }

  async deploy(endpointName: string, configName: string, variants: VariantSpec[], opts: { healthTimeoutMs: number }): Promise<void> {
    if (this.armed === configName) {
      this.armed = undefined;
      this.lost += 1;
      throw new Error(`the update to ${configName} was lost (injected by the test)`);
    }
    return this.inner.deploy(endpointName, configName, variants, opts);
  }
  invoke(endpointName: string, req: InvokeRequest): Promise<InvokeResponse> {
    return this.inner.invoke(endpointName, req);
  }
  isServing(endpointName: string): boolean {
    return this.inner.isServing(endpointName);
  }
  remove(endpointName: string): Promise<void> {
    return this.inner.remove(endpointName);
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

let endpoints: LosesOneDeployment;

/** A control plane with its own state folder and the shared image store; `port` 0 picks one. */
function startPlane(port: number): Promise<LocalSageMaker> {
  const runtime = defaultRuntime(join(stateDir, 'local-sagemaker'), { imageStore: env.imageStore, isolation: loadLocalConfig().CHAMP_LOCAL_ISOLATION });
  endpoints = new LosesOneDeployment(runtime.endpoints);
  return startLocalSageMaker({ port, stateDir, imageStore: env.imageStore, healthTimeoutMs: 30_000, log: () => undefined, runtime: { training: runtime.training, endpoints } });
}

beforeAll(async () => {
  // The shared setup gives the data, the specs and the image store; its own control plane stays idle.
  env = await startE2e();
  stateDir = mkdtempSync(join(tmpdir(), 'champ-e2e-crash-'));
  plane = await startPlane(0);
  clients = createAwsClients({ endpoints: { sagemaker: plane.url, sagemakerRuntime: plane.url }, env: {} });
});

afterAll(async () => {
  if (clients) destroyAwsClients(clients);
  await plane?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  await env?.stop();
});

const describeEndpoint = (sm: SageMakerClient, name: string) => sm.send(new DescribeEndpointCommand({ EndpointName: name }));

/** A live endpoint (first run deployed) and a spec of another model whose answer lacks what its smoke test expects. */
async function deployedThenFailing(client: Client, taskQueue: string) {
  const spec = env.makeSpec();
  const endpointName = spec.deployment.endpointName;
  const failing = smokeTestFailingSpec(env, spec);
  const first = await runPipeline(client, taskQueue, pipelineInput(spec));
  expect(first.result.outcome).toBe('deployed');
  const firstModelId = (await invokeExample(clients.runtime, endpointName)).model_id;
  return { endpointName, failing, firstConfig: first.result.endpointConfigName!, firstModelId };
}

/** The run ended rolled back and the first model serves again. */
async function expectRolledBack(client: Client, handle: PipelineHandle, endpointName: string, firstConfig: string, firstModelId: string) {
  const result = await handle.result();
  expect(result.outcome).toBe('rolled-back');
  expect(result.reason).toContain('does.not.exist');
  expect(await describeEndpoint(clients.sagemaker, endpointName)).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: firstConfig });
  expect((await invokeExample(clients.runtime, endpointName)).model_id).toBe(firstModelId);
  // The deployment and its rollbacks ran in the endpoint's entity, after the first run's deployment there.
  const history = await entityHistory(client, result);
  const all = activityCompletions(history, 'awaitEndpoint') as Array<{ configName?: string }>;
  const settled = all.slice(all.findIndex((s) => s.configName !== firstConfig));
  expect(settled[settled.length - 1]).toMatchObject({ configName: firstConfig });
  return { history, settled };
}

it('the rollback of a rejected candidate fails and leaves the endpoint on the candidate: the rollback is driven again and the run ends rolled-back with the previous model serving', async () => {
  const activities = createActivities({ clients, imageStore: env.imageStore, dockerInfoTimeoutMs: 5000 });
  await withWorker({ activities }, async ({ client, taskQueue }) => {
    const { endpointName, failing, firstConfig, firstModelId } = await deployedThenFailing(client, taskQueue);
    // The next deployment of the first config is the rollback's: it fails, the endpoint stays on the candidate.
    endpoints.loseNextDeploymentOf(firstConfig);
    const handle = await startPipeline(client, taskQueue, pipelineInput(failing));
    const candidateConfig = (await waitForStatus(handle, (s) => s.resources.endpointConfig !== undefined, 120_000)).resources.endpointConfig!;
    const { history, settled } = await expectRolledBack(client, handle, endpointName, firstConfig, firstModelId);
    expect(endpoints.lost).toBe(1);
    // The first rollback left the candidate serving (with the failure), the second put the first config back.
    expect(scheduledActivities(history, 'rollbackEndpoint')).toHaveLength(2);
    expect(settled.map((s) => s.configName)).toEqual([candidateConfig, candidateConfig, firstConfig]);
  });
});

it('a control-plane crash during the rollback of a rejected candidate: the run ends rolled-back with the previous model serving', async () => {
  const activities = createActivities({ clients, imageStore: env.imageStore, dockerInfoTimeoutMs: 5000 });
  await withWorker({ activities }, async ({ client, taskQueue }) => {
    const { endpointName, failing, firstConfig, firstModelId } = await deployedThenFailing(client, taskQueue);
    // The candidate's update and the rollback's each stay Updating for a while: time to crash in the second.
    const port = plane!.port;
    await injectFault(plane!.url, { kind: 'hold', resource: 'endpoint', status: 'Updating', ms: 8000, count: 2 });
    const handle = await startPipeline(client, taskQueue, pipelineInput(failing));
    // The endpoint's entity rolls back (the pipeline hears of it only after): watch the endpoint itself.
    const rollingBack = await eventually(
      () => describeEndpoint(clients.sagemaker, endpointName),
      (d) => d.EndpointStatus === 'Updating' && d.PendingDeploymentSummary?.EndpointConfigName === firstConfig,
      180_000,
      `endpoint ${endpointName} Updating back to ${firstConfig}`,
    );
    const candidateConfig = rollingBack.EndpointConfigName!;
    expect(candidateConfig).not.toBe(firstConfig);

    // The crash: the state on disk says Updating; whatever the restart brings back, the run must end on the first config.
    await plane!.close();
    plane = await startPlane(port);
    await expectRolledBack(client, handle, endpointName, firstConfig, firstModelId);
  });
});
