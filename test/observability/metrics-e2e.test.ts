// The worker's own metrics end to end: a worker process with its metrics on a
// configured address runs pipelines against the local control plane (one
// approved and deployed with a throttled SageMaker call on the way, one rolled
// back, one rejected by the gate); /metrics then carries champ's series.
import { injectFault, reset } from '../../src/local';
import { METRICS } from '../../src/observability/names';
import { approveUpdate } from '../../src/workflows';
import { dashboardMetrics } from '../deploy/dashboard';
import { eventually, pipelineInput, runPipeline, smokeTestFailingSpec, startE2e, startPipeline, waitForStatus, type E2eEnv } from '../e2e/helpers';
import { startWorkerProcess, type WorkerProcess } from '../e2e/worker-process';
import { testClient, uniqueTaskQueue } from '../harness/temporal';
import { freePort, scrape, series, total, type Sample } from './prometheus';

jest.setTimeout(300_000);

let env: E2eEnv;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  env = await startE2e();
});

afterAll(async () => {
  await worker?.kill();
  await env?.stop();
});

it('after an approved deploy, a rollback and a gate rejection, /metrics on CHAMP_METRICS_ADDRESS shows outcomes, stage and approval histograms, rejections, rollbacks and SageMaker requests and throttles per operation', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const taskQueue = uniqueTaskQueue('metrics');
  worker = await startWorkerProcess({ taskQueue, sageMakerUrl: env.sageMakerUrl, home: env.home, env: { CHAMP_METRICS_ADDRESS: address } });
  const { client, close } = await testClient();
  try {
    // 1. Approved and deployed; the first DescribeTrainingJob is throttled (the SDK retries it).
    await injectFault(env.sageMakerUrl, { kind: 'operation', operation: 'DescribeTrainingJob', mode: 'throttle', count: 1 });
    const spec = env.makeSpec({ approval: { required: true, timeout: '1h', onTimeout: 'reject' } });
    const handle = await startPipeline(client, taskQueue, pipelineInput(spec));
    const waiting = await waitForStatus(handle, (s) => s.stage === 'awaiting-approval' && s.candidate.version !== undefined, 120_000);
    await handle.executeUpdate(approveUpdate, { args: [{ modelVersion: waiting.candidate.version!, reviewer: 'metrics-test' }] });
    expect((await handle.result()).outcome).toBe('deployed');

    // 2. The same endpoint with a smoke test that fails: rolled back.
    expect((await runPipeline(client, taskQueue, pipelineInput(smokeTestFailingSpec(env, spec)))).result.outcome).toBe('rolled-back');

    // 3. A gate the candidate cannot pass.
    const gated = env.makeSpec({ gate: { thresholds: [{ metric: 'validation:gini', op: '>=', value: 0.99 }] } });
    expect((await runPipeline(client, taskQueue, pipelineInput(gated))).result.outcome).toBe('rejected-by-gate');

    // The exporter publishes what the worker recorded within its export interval (1 s): wait for the last run's counter.
    const samples: Sample[] = await eventually(
      () => scrape(address),
      (s) => total(s, METRICS.pipelines, { pipeline: gated.name, outcome: 'rejected-by-gate' }) === 1,
      30_000,
      `${METRICS.pipelines} for ${gated.name} on http://${address}/metrics`,
    );

    expect(total(samples, METRICS.pipelines, { pipeline: spec.name, outcome: 'deployed' })).toBe(1);
    expect(total(samples, METRICS.pipelines, { pipeline: spec.name, outcome: 'rolled-back' })).toBe(1);
    expect(total(samples, METRICS.rollbacks, { pipeline: spec.name })).toBe(1);
    expect(total(samples, METRICS.gateRejections, { pipeline: gated.name })).toBe(1);
    expect(total(samples, METRICS.gateRejections, { pipeline: spec.name })).toBe(0);
    // The workflow meter adds the SDK's own labels.
    expect(series(samples, METRICS.pipelines, { pipeline: spec.name })[0]!.labels).toMatchObject({ namespace: 'default', taskQueue, workflowType: 'trainingPipeline' });

    // Histograms: an observation for each stage each run went through, in buckets.
    for (const stage of ['validating', 'building', 'training', 'gating', 'registering', 'deploying']) {
      expect([stage, total(samples, `${METRICS.stageDuration}_count`, { pipeline: spec.name, stage }) >= 2]).toEqual([stage, true]);
    }
    expect(total(samples, `${METRICS.stageDuration}_count`, { pipeline: spec.name, stage: 'awaiting-approval' })).toBe(1);
    expect(total(samples, `${METRICS.stageDuration}_count`, { pipeline: gated.name, stage: 'gating' })).toBe(1);
    expect(total(samples, `${METRICS.stageDuration}_count`, { pipeline: gated.name, stage: 'deploying' })).toBe(0);
    expect(series(samples, `${METRICS.stageDuration}_bucket`, { pipeline: spec.name, stage: 'training' }).map((s) => s.labels.le)).toEqual(expect.arrayContaining(['60', '3600', '+Inf']));
    expect(total(samples, `${METRICS.approvalWait}_count`, { pipeline: spec.name })).toBe(1);
    expect(total(samples, `${METRICS.approvalWait}_sum`, { pipeline: spec.name })).toBeGreaterThan(0);
    expect(series(samples, `${METRICS.approvalWait}_bucket`, { pipeline: spec.name }).map((s) => s.labels.le)).toEqual(expect.arrayContaining(['86400', '604800']));

    // SageMaker requests per operation, and the throttled one.
    expect(total(samples, METRICS.awsThrottles, { service: 'sagemaker', operation: 'DescribeTrainingJob' })).toBe(1);
    expect(total(samples, METRICS.awsRequests, { service: 'sagemaker', operation: 'DescribeTrainingJob', result: 'throttled' })).toBe(1);
    expect(total(samples, METRICS.awsRequests, { service: 'sagemaker', operation: 'DescribeTrainingJob', result: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(total(samples, METRICS.awsRequests, { service: 'sagemaker', operation: 'CreateTrainingJob', result: 'ok' })).toBe(3);
    expect(total(samples, METRICS.awsRequests, { service: 'sagemaker-runtime', operation: 'InvokeEndpoint' })).toBeGreaterThanOrEqual(2);
    // Every metric the Grafana dashboard reads is on /metrics (deploy/grafana/champ.json).
    const exported = new Set(samples.map((s) => s.name));
    expect(dashboardMetrics().filter((m) => !exported.has(m))).toEqual([]);
    expect(series(samples, 'temporal_activity_execution_latency_bucket')[0]!.labels).toHaveProperty('activity_type');
    // The SDK's own metrics are still there, on the same endpoint.
    expect(series(samples, 'temporal_workflow_completed').length + series(samples, 'workflow_completed').length).toBeGreaterThan(0);
  } finally {
    await close();
    await reset(env.sageMakerUrl);
  }
});
