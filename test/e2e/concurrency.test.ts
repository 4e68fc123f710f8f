// Issue 10, finding 2: three runs of one pipeline at once, on one endpoint,
// with `keep: 1`. Whatever the interleaving, afterwards the champion recorded
// in the registry is the model the endpoint serves, every run ended with a
// clear outcome (none failed), and nothing was made twice. A short hold on
// Updating widens the windows in which the runs meet: an update in flight when
// another starts, a cleanup while another run deploys or verifies.
import {
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  DescribeModelPackageCommand,
  ListEndpointsCommand,
  ListModelPackagesCommand,
  ListTrainingJobsCommand,
} from '@aws-sdk/client-sagemaker';
import { injectFault, reset } from '../../src/local';
import type { PipelineResult } from '../../src/workflows';
import { withWorker } from '../harness/temporal';
import { pipelineInput, startE2e, startPipeline, type E2eEnv } from './helpers';

const TRIALS = 3;
const RUNS = 3;

jest.setTimeout(TRIALS * 150_000);

let env: E2eEnv;

beforeAll(async () => {
  env = await startE2e();
});

afterAll(async () => {
  if (env) await reset(env.sageMakerUrl).catch(() => undefined);
  await env?.stop();
});

/** The training job of every package marked champion. */
async function championJobs(group: string): Promise<string[]> {
  const sm = env.sagemakerClient;
  const list = await sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: group, MaxResults: 100 }));
  const jobs: string[] = [];
  for (const s of list.ModelPackageSummaryList ?? []) {
    const d = await sm.send(new DescribeModelPackageCommand({ ModelPackageName: s.ModelPackageArn }));
    if (d.CustomerMetadataProperties?.['champ:champion'] === 'true') jobs.push(d.CustomerMetadataProperties['champ:trainingJob'] ?? '(none)');
  }
  return jobs;
}

function duplicates(names: string[]): string[] {
  return names.filter((n, i) => names.indexOf(n) !== i);
}

it(`${RUNS} runs of one pipeline at once with keep: 1, ${TRIALS} times: the recorded champion is the serving model, every run ends with a clear outcome, nothing is made twice`, async () => {
  const spec = env.makeSpec({ gate: { champion: undefined }, deployment: { keep: 1 } });
  const endpointName = spec.deployment.endpointName;
  const sm = env.sagemakerClient;
  await injectFault(env.sageMakerUrl, { kind: 'hold', resource: 'endpoint', status: 'Updating', ms: 1500 });
  const trials: string[] = [];
  await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const handles = await Promise.all(Array.from({ length: RUNS }, () => startPipeline(client, taskQueue, pipelineInput(spec))));
      const settled = await Promise.allSettled(handles.map((h) => h.result()));
      const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(((s.reason as Error).cause as Error | undefined)?.cause ?? (s.reason as Error).cause ?? s.reason)] : []));
      expect([trial, failures]).toEqual([trial, []]);
      const results = settled.map((s) => (s as PromiseFulfilledResult<PipelineResult>).value);
      trials.push(`trial ${trial}: ${results.map((r) => r.outcome).join(', ')}`);
      for (const r of results) {
        expect([r.outcome, r.reason]).toEqual([expect.stringMatching(/^(deployed|superseded)$/), r.outcome === 'deployed' ? undefined : expect.stringContaining('superseded by')]);
        expect(duplicates(r.resourcesCreated.map((c) => `${c.kind} ${c.name}`))).toEqual([]);
      }

      // What serves, and what the registry says serves.
      const endpoint = await sm.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
      expect(endpoint.EndpointStatus).toBe('InService');
      const serving = endpoint.EndpointConfigName!;
      const servingRun = results.find((r) => r.endpointConfigName === serving);
      expect([trial, servingRun?.outcome]).toEqual([trial, 'deployed']);
      expect(await championJobs(spec.name)).toEqual([servingRun!.trainingJobName]);
      // The serving config and its model exist (cleanup spared them).
      const config = await sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: serving }));
      await sm.send(new DescribeModelCommand({ ModelName: config.ProductionVariants![0]!.ModelName! }));

      // One training job and one package per run, one endpoint.
      const jobs = await sm.send(new ListTrainingJobsCommand({ NameContains: `${spec.name}-`, MaxResults: 100 }));
      expect(jobs.TrainingJobSummaries).toHaveLength(trial * RUNS);
      const packages = await sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: spec.name, MaxResults: 100 }));
      expect(packages.ModelPackageSummaryList).toHaveLength(trial * RUNS);
      const endpoints = await sm.send(new ListEndpointsCommand({ NameContains: endpointName }));
      expect(endpoints.Endpoints?.map((e) => e.EndpointName)).toEqual([endpointName]);
    }
  });
  process.stdout.write(`${trials.join('\n')}\n`);
});
