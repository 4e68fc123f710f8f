// A worker process killed with SIGKILL in the middle of training: a new worker
// finishes the pipeline from its history, without a second training job or a
// second endpoint update.
import { DescribeEndpointCommand, ListTrainingJobsCommand } from '@aws-sdk/client-sagemaker';
import { testClient, uniqueTaskQueue } from '../harness/temporal';
import { injectFault, reset } from '../../src/local';
import { eventually, invokeExample, pipelineInput, startE2e, startPipeline, waitForStatus, type E2eEnv } from './helpers';
import { activitiesRan, entityHistory, scheduledActivities } from './history';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

jest.setTimeout(150_000);

let env: E2eEnv;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  env = await startE2e();
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await env?.stop();
});

it('a worker killed with SIGKILL during training is replaced and the pipeline ends deployed with one training job and one endpoint update', async () => {
  const taskQueue = uniqueTaskQueue('e2e-crash');
  const spawnWorker = async () => {
    const w = await startWorkerProcess({ taskQueue, sageMakerUrl: env.sageMakerUrl, home: env.home });
    workers.push(w);
    return w;
  };
  const spec = env.makeSpec();
  const endpointName = spec.deployment.endpointName;
  const { client, close } = await testClient();
  try {
    const first = await spawnWorker();
    const firstRun = await (await startPipeline(client, taskQueue, pipelineInput(spec))).result();
    expect(firstRun.outcome).toBe('deployed');
    const firstConfig = firstRun.endpointConfigName!;

    // Held until released: the kill lands mid-training, whatever the machine's speed.
    await injectFault(env.sageMakerUrl, { kind: 'hold', resource: 'training', status: 'InProgress', ms: 600_000, count: 1 });
    const handle = await startPipeline(client, taskQueue, pipelineInput(spec));
    const training = await waitForStatus(handle, (s) => s.stage === 'training' && s.resources.trainingJob !== undefined);
    const jobName = training.resources.trainingJob!;
    await eventually(
      () => env.sagemakerClient.send(new ListTrainingJobsCommand({ NameContains: jobName })),
      (l) => l.TrainingJobSummaries?.[0]?.TrainingJobStatus === 'InProgress',
      20_000,
      `training job ${jobName} InProgress`,
    );

    await first.kill();
    expect((await first.exited).signal).toBe('SIGKILL');
    // Still training: the kill happened in the middle of it.
    expect((await env.sagemakerClient.send(new ListTrainingJobsCommand({ NameContains: jobName }))).TrainingJobSummaries?.[0]?.TrainingJobStatus).toBe('InProgress');
    await spawnWorker();
    await injectFault(env.sageMakerUrl, { kind: 'release', resource: 'training', status: 'InProgress' });

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'deployed', trainingJobName: jobName, endpointName });

    const jobs = await env.sagemakerClient.send(new ListTrainingJobsCommand({ NameContains: jobName }));
    expect(jobs.TrainingJobSummaries?.map((j) => [j.TrainingJobName, j.TrainingJobStatus])).toEqual([[jobName, 'Completed']]);
    // The pipeline's two runs made two jobs in all: the first run's and this one.
    const all = await env.sagemakerClient.send(new ListTrainingJobsCommand({ NameContains: `${spec.name}-` }));
    expect(all.TrainingJobSummaries).toHaveLength(2);

    const history = await handle.fetchHistory();
    expect(scheduledActivities(history, 'startTraining')).toHaveLength(1);
    // The deployment ran in the endpoint's entity: one deployEndpoint for this run's config, an update of the first.
    const deploys = activitiesRan(await entityHistory(client, result), 'deployEndpoint')
      .filter((d) => (d.input as { configName?: string }).configName === result.endpointConfigName);
    expect(deploys).toEqual([expect.objectContaining({ result: expect.objectContaining({ action: 'updated', previousConfigName: firstConfig }) })]);

    const described = await env.sagemakerClient.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
    expect(described).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: result.endpointConfigName });
    expect(described.EndpointConfigName).not.toBe(firstConfig);
    expect((await invokeExample(env.runtimeClient, endpointName)).predictions).toHaveLength(1);
  } finally {
    await close();
    await reset(env.sageMakerUrl);
  }
});
