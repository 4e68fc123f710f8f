// The training pipeline end to end: the shared Temporal dev server, a real
// worker with the real activities, the local control plane and the example
// model. Everything is asserted through the SageMaker SDK and the workflow.
import { DescribeEndpointCommand, DescribeEndpointConfigCommand, DescribeModelCommand, DescribeTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withWorker } from '../harness/temporal';
import { activitiesRan, entityHistory } from './history';
import { rejectUpdate, statusQuery, type PipelineResult, type PipelineStatus } from '../../src/workflows';
import { eventually, invokeExample, keepInvoking, modelPackages, pipelineInput, runPipeline, smokeTestFailingSpec, startE2e, startPipeline, waitForStatus, type E2eEnv } from './helpers';

jest.setTimeout(120_000);

let env: E2eEnv;

beforeAll(async () => {
  env = await startE2e();
});

afterAll(async () => {
  await env?.stop();
});

async function endpointMissing(name: string): Promise<boolean> {
  try {
    await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: name }));
    return false;
  } catch (err) {
    if ((err as Error).name === 'ValidationException' && /could not find/i.test((err as Error).message)) return true;
    throw err;
  }
}

describe('trainingPipeline against the local control plane', () => {
  it('creates the endpoint on the first run and updates it on the second without dropping a request, moving the champion to the new model', async () => {
    const spec = env.makeSpec();
    const endpointName = spec.deployment.endpointName;
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const first = await runPipeline(client, taskQueue, pipelineInput(spec));
      expect(first.result).toMatchObject({ outcome: 'deployed', endpointName, modelVersion: 1 });
      const firstConfig = first.result.endpointConfigName!;
      expect(firstConfig).toBeTruthy();

      const described = await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
      expect(described.EndpointStatus).toBe('InService');
      expect(described.EndpointConfigName).toBe(firstConfig);
      const answer = await invokeExample(env.runtimeClient, endpointName);
      expect(answer.predictions).toHaveLength(1);
      expect(answer.predictions[0]!.prediction).toBeGreaterThan(0);
      expect(Object.keys(answer.predictions[0]!.risk_terms)).toEqual(expect.arrayContaining(['base', 'driver_age', 'region_east']));
      expect(await modelPackages(env.sagemakerClient, spec.name)).toEqual([expect.objectContaining({ version: 1, approval: 'Approved', champion: true })]);

      // Requests keep flowing through the whole second run: the update must not drop one.
      const traffic = keepInvoking(env.runtimeClient, endpointName);
      const second = await startPipeline(client, taskQueue, pipelineInput(spec));
      const secondResult = await second.result();
      const tally = await traffic.stop();
      expect(tally.errors).toEqual([]);
      expect(tally.ok).toBeGreaterThan(10);
      expect(secondResult).toMatchObject({ outcome: 'deployed', endpointName, modelVersion: 2 });
      const secondConfig = secondResult.endpointConfigName!;
      expect(secondConfig).not.toBe(firstConfig);
      expect(secondResult.resourcesCreated.filter((r) => r.kind === 'endpoint')).toEqual([]);

      // The deploy activity's own answer, from the history: an update of the live endpoint.
      // It ran in the endpoint's entity workflow, which the run's deployment request names.
      const deploys = activitiesRan(await entityHistory(client, secondResult), 'deployEndpoint')
        .filter((d) => (d.input as { configName?: string }).configName === secondConfig)
        .map((d) => d.result);
      expect(deploys).toEqual([expect.objectContaining({ action: 'updated', previousConfigName: firstConfig })]);

      const after = await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
      expect(after).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: secondConfig });
      expect(after.FailureReason).toBeUndefined();
      expect((await invokeExample(env.runtimeClient, endpointName)).predictions).toHaveLength(1);

      // Version 1 was the champion the second run was judged against; version 2 is the champion now.
      const status: PipelineStatus = await second.query(statusQuery);
      expect(status.champion?.version).toBe(1);
      expect(status.candidate.version).toBe(2);
      const packages = await modelPackages(env.sagemakerClient, spec.name);
      expect(packages).toEqual([
        expect.objectContaining({ version: 1, approval: 'Approved', champion: false }),
        expect.objectContaining({ version: 2, approval: 'Approved', champion: true }),
      ]);
    });
  });

  it('deploys nothing when the candidate fails the gate', async () => {
    const spec = env.makeSpec({ gate: { thresholds: [{ metric: 'validation:gini', op: '>=', value: 0.99 }] } });
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const { result } = await runPipeline(client, taskQueue, pipelineInput(spec));
      expect(result.outcome).toBe('rejected-by-gate');
      expect(result.reason).toMatch(/validation:gini >= 0\.99: got 0\.\d+/);
      expect(result.gate?.rules).toEqual(expect.arrayContaining([expect.objectContaining({ metric: 'validation:gini', verdict: 'fail' })]));
      expect(result.resourcesCreated.map((r) => r.kind)).not.toEqual(expect.arrayContaining(['model']));
      expect(result.resourcesCreated.map((r) => r.kind)).not.toEqual(expect.arrayContaining(['endpoint']));
      expect(result.modelPackageArn).toBeUndefined();
      expect(await endpointMissing(spec.deployment.endpointName)).toBe(true);
      await expect(modelMissing(`${result.trainingJobName!.replace(/-train$/, '')}-model`)).resolves.toBe(true);
      expect(await modelPackages(env.sagemakerClient, spec.name).catch(() => [])).toEqual([]);
    });
  });

  it("deploys nothing when the reviewer rejects the candidate, and records the package as Rejected", async () => {
    const spec = env.makeSpec({ approval: { required: true, timeout: '10m' } });
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, pipelineInput(spec));
      const awaiting = await waitForStatus(handle, (s) => s.stage === 'awaiting-approval' && s.approval?.awaiting === true);
      const version = awaiting.approval!.modelVersion!;
      expect(version).toBe(1);
      const decision = await handle.executeUpdate(rejectUpdate, { args: [{ modelVersion: version, reviewer: 'alice', reason: 'gini too low for production' }] });
      expect(decision).toMatchObject({ decision: 'rejected', reviewer: 'alice', via: 'update' });
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'rejected-by-reviewer', reason: 'gini too low for production', modelVersion: 1 });
      expect(result.approval).toMatchObject({ decision: 'rejected', reviewer: 'alice' });
      expect(await endpointMissing(spec.deployment.endpointName)).toBe(true);
      expect(await modelPackages(env.sagemakerClient, spec.name)).toEqual([expect.objectContaining({ version: 1, approval: 'Rejected', champion: false })]);
    });
  });

  it("cleans up its own versions beyond `keep` after promotion and never another pipeline's, even one whose name starts with its own", async () => {
    const mine = env.makeSpec({ deployment: { keep: 1 } });
    // Another team's pipeline, named with ours plus a suffix: its resources start with "<ours>-" too.
    const theirs = env.makeSpec({ name: `${mine.name}-b`, deployment: { keep: 1 } });
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const other = await runPipeline(client, taskQueue, pipelineInput(theirs));
      expect(other.result.outcome).toBe('deployed');
      const first = await runPipeline(client, taskQueue, pipelineInput(mine));
      const second = await runPipeline(client, taskQueue, pipelineInput(mine));
      expect([first.result.outcome, second.result.outcome]).toEqual(['deployed', 'deployed']);
      expect(second.result.warnings).toEqual([]);

      // keep: 1 leaves only the live version of this pipeline.
      const names = (r: PipelineResult) => ({ config: r.endpointConfigName!, model: r.endpointConfigName!.replace(/-config$/, '-model') });
      await expect(configExists(names(first.result).config)).resolves.toBe(false);
      await expect(modelMissing(names(first.result).model)).resolves.toBe(true);
      await expect(configExists(names(second.result).config)).resolves.toBe(true);
      await expect(modelMissing(names(second.result).model)).resolves.toBe(false);

      // The other pipeline's live version is untouched and still answers.
      await expect(configExists(names(other.result).config)).resolves.toBe(true);
      await expect(modelMissing(names(other.result).model)).resolves.toBe(false);
      const described = await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: theirs.deployment.endpointName }));
      expect(described).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: names(other.result).config });
    });
  });

  it('rolls a new model that fails its smoke test back, and the old model keeps answering', async () => {
    const spec = env.makeSpec();
    const endpointName = spec.deployment.endpointName;
    const failing = smokeTestFailingSpec(env, spec);
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const first = await runPipeline(client, taskQueue, pipelineInput(spec));
      expect(first.result.outcome).toBe('deployed');
      const firstConfig = first.result.endpointConfigName!;
      const firstModelId = (await invokeExample(env.runtimeClient, endpointName)).model_id;

      const second = await runPipeline(client, taskQueue, pipelineInput(failing));
      expect(second.result.outcome).toBe('rolled-back');
      expect(second.result.reason).toContain('does.not.exist');
      const rolledBackConfig = second.result.resourcesCreated.find((r) => r.kind === 'endpoint-config');
      expect(rolledBackConfig).toMatchObject({ deleted: true });
      expect(rolledBackConfig!.name).not.toBe(firstConfig);

      const described = await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
      expect(described).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: firstConfig });
      const answer = await invokeExample(env.runtimeClient, endpointName);
      expect(answer.model_id).toBe(firstModelId);
      // Not vacuous: the rolled-back model was a different one.
      expect(await trainedModelId(second.result.trainingJobName!)).not.toBe(firstModelId);
      expect(answer.predictions[0]!.risk_terms).toHaveProperty('base');

      // The first model stays the champion; the rolled-back candidate is marked Rejected.
      const packages = await eventually(() => modelPackages(env.sagemakerClient, spec.name), (p) => p.length === 2);
      expect(packages).toEqual([
        expect.objectContaining({ version: 1, approval: 'Approved', champion: true }),
        expect.objectContaining({ version: 2, approval: 'Rejected', champion: false }),
      ]);
    });
  });
});

/** The model_id in a training job's model.tar.gz (a file:// artifact locally). */
async function trainedModelId(jobName: string): Promise<string> {
  const job = await env.sagemakerClient.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
  const artifact = fileURLToPath(job.ModelArtifacts!.S3ModelArtifacts!);
  const modelJson = execFileSync('tar', ['-xzOf', artifact, 'model.json'], { encoding: 'utf8' });
  return (JSON.parse(modelJson) as { model_id: string }).model_id;
}

async function configExists(name: string): Promise<boolean> {
  try {
    await env.sagemakerClient.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name }));
    return true;
  } catch (err) {
    if ((err as Error).name === 'ValidationException') return false;
    throw err;
  }
}

async function modelMissing(name: string): Promise<boolean> {
  try {
    await env.sagemakerClient.send(new DescribeModelCommand({ ModelName: name }));
    return false;
  } catch (err) {
    if ((err as Error).name === 'ValidationException') return true;
    throw err;
  }
}
