import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  CreateTrainingJobCommand,
  DescribeEndpointCommand,
  DescribeModelPackageCommand,
  DescribeTrainingJobCommand,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { processStartTicks } from '../../../src/local/containers';
import { containerLedger, startLocalSageMaker } from '../../../src/local/server';
import { rejectionOf, useHarness } from './fake-runtime';
import { until } from '../support';

// Slow enough that the recovery's deploy cannot finish before the test looks at the status, on a busy machine too.
const h = useHarness({ deployDelayMs: 400 });

test('after a restart a running training job runs again (with what is left of its MaxRuntime) and completes, one past its MaxRuntime ends Stopped, and a serving endpoint comes back', async () => {
  const job = (name: string, maxRuntime: number) =>
    new CreateTrainingJobCommand({
      TrainingJobName: name,
      AlgorithmSpecification: { TrainingImage: 'local/m:1', TrainingInputMode: 'File' },
      RoleArn: 'arn:aws:iam::000000000000:role/champ-local',
      OutputDataConfig: { S3OutputPath: 'file:///tmp/out' },
      ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 1 },
      StoppingCondition: { MaxRuntimeInSeconds: maxRuntime },
    });
  await h.sm.send(job('cut-off', 600));
  const createdMs = Date.now();
  await h.sm.send(job('out-of-time', 1));
  await h.sm.send(new CreateModelCommand({ ModelName: 'm', PrimaryContainer: { Image: 'local/m:1' } }));
  await h.sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'c', ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'm', InitialInstanceCount: 1 }] }));
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'survivor', EndpointConfigName: 'c' }));
  await until('InService', async () => ((await h.sm.send(new DescribeEndpointCommand({ EndpointName: 'survivor' }))).EndpointStatus === 'InService' ? true : undefined));
  await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'g' }));
  const { ModelPackageArn } = await h.sm.send(new CreateModelPackageCommand({ ModelPackageGroupName: 'g', ModelApprovalStatus: 'Approved' }));
  // 'out-of-time' has used up its second of MaxRuntime by the restart (a state of the clock, not of the machine's speed).
  await until('2 s since the jobs were created', async () => (Date.now() - createdMs > 2100 ? true : undefined));

  // The new server's fakes serve nothing until the recovery deploys again (held here), so the endpoint is seen Creating.
  await h.restart({ holdDeploys: true });

  const resumed = await h.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'cut-off' }));
  expect(resumed.TrainingJobStatus).toBe('InProgress');
  expect(resumed.SecondaryStatusTransitions?.map((t) => t.StatusMessage)).toContain(
    'The local control plane restarted while the job ran: running the training program again from the start',
  );
  // The same inputs, the clock not reset: at most what was left of the 600 s.
  const again = h.training.started.find((r) => r.jobName === 'cut-off');
  expect(again?.resume).toEqual({});
  expect(again?.maxRuntimeSeconds).toBeGreaterThan(500);
  expect(again?.maxRuntimeSeconds).toBeLessThanOrEqual(598);
  expect(h.training.started.map((r) => r.jobName)).toEqual(['cut-off']);
  h.training.end('cut-off', { status: 'Completed', modelArtifact: 'file:///tmp/out/cut-off/output/model.tar.gz' });
  const done = await until('Completed', async () => {
    const d = await h.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'cut-off' }));
    return d.TrainingJobStatus === 'Completed' ? d : undefined;
  });
  expect(done.ModelArtifacts?.S3ModelArtifacts).toBe('file:///tmp/out/cut-off/output/model.tar.gz');

  const late = await h.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'out-of-time' }));
  expect([late.TrainingJobStatus, late.SecondaryStatus]).toEqual(['Stopped', 'MaxRuntimeExceeded']);
  expect(late.TrainingEndTime).toBeInstanceOf(Date);

  expect((await h.sm.send(new DescribeEndpointCommand({ EndpointName: 'survivor' }))).EndpointStatus).toBe('Creating');
  // It exists and served before: a retryable answer while its containers start again, never "not found".
  const recovering = await rejectionOf(h.rt.send(new InvokeEndpointCommand({ EndpointName: 'survivor', Body: Buffer.from('x') })));
  expect(recovering.name).toBe('ServiceUnavailable');
  expect(recovering.$metadata?.httpStatusCode).toBe(503);
  h.releaseDeploys();
  const ep = await until('back InService', async () => {
    const d = await h.sm.send(new DescribeEndpointCommand({ EndpointName: 'survivor' }));
    return d.EndpointStatus === 'InService' ? d : undefined;
  });
  expect(ep.EndpointConfigName).toBe('c');
  expect(h.endpoints.deploys).toEqual([{ endpointName: 'survivor', configName: 'c' }]);
  const out = await h.rt.send(new InvokeEndpointCommand({ EndpointName: 'survivor', Body: Buffer.from('x') }));
  expect(out.InvokedProductionVariant).toBe('AllTraffic');

  const p = await h.sm.send(new DescribeModelPackageCommand({ ModelPackageName: ModelPackageArn }));
  expect(p.ModelApprovalStatus).toBe('Approved');
});

test('a temp file left by a crash mid-save is ignored and removed; a state.json not written by the control plane stops startup naming the file', async () => {
  const home = mkdtempSync(join(process.env.CHAMP_TEST_RUN_DIR ?? tmpdir(), 'local-sm-torn-'));
  const root = join(home, 'local-sagemaker');
  mkdirSync(root, { recursive: true });
  const runtime = { training: h.training, endpoints: h.endpoints };
  try {
    // The crash came after the temp file was half written, before the rename: state.json is the previous whole one.
    writeFileSync(join(root, 'state.json'), JSON.stringify({ version: 1, models: { m: { describe: { ModelName: 'm', ModelArn: 'arn', CreationTime: 1 } } } }));
    writeFileSync(join(root, 'state.json.4242.tmp'), '{"version":1,"models":{"m');
    const s = await startLocalSageMaker({ port: 0, stateDir: home, runtime, log: () => undefined });
    await s.close();
    expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(root, 'state.json'))).toBe(true);

    writeFileSync(join(root, 'state.json'), '{"version":1,"models":{"m');
    await expect(startLocalSageMaker({ port: 0, stateDir: home, runtime, log: () => undefined })).rejects.toThrow(
      `${join(root, 'state.json')} is not readable JSON`,
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('starting on the state folder of a control plane that was SIGKILLed kills the container processes it orphaned', async () => {
  const home = mkdtempSync(join(process.env.CHAMP_TEST_RUN_DIR ?? tmpdir(), 'local-sm-crash-'));
  const root = join(home, 'local-sagemaker');
  mkdirSync(root, { recursive: true });
  const orphan = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  const crashed = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => crashed.once('exit', r));
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    writeFileSync(
      containerLedger(root),
      JSON.stringify([{ pid: orphan.pid, startTicks: processStartTicks(orphan.pid!), owner: crashed.pid, ownerStartTicks: '1' }]),
    );
    const s = await startLocalSageMaker({ port: 0, stateDir: home, runtime: { training: h.training, endpoints: h.endpoints }, log: () => undefined });
    await s.close();
    await until('orphan gone', async () => (alive(orphan.pid!) ? undefined : true));
  } finally {
    orphan.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
});

describe('a restart during UpdateEndpoint', () => {
  const models = async (tag: string): Promise<void> => {
    await h.sm.send(new CreateModelCommand({ ModelName: `${tag}-old`, PrimaryContainer: { Image: `local/${tag}:1` } }));
    await h.sm.send(new CreateModelCommand({ ModelName: `${tag}-new`, PrimaryContainer: { Image: `local/${tag}:2` } }));
    for (const which of ['old', 'new'])
      await h.sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: `${tag}-${which}`,
          ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `${tag}-${which}`, InitialInstanceCount: 1 }],
        }),
      );
    await h.sm.send(new CreateEndpointCommand({ EndpointName: tag, EndpointConfigName: `${tag}-old` }));
    await until('InService', async () => ((await h.sm.send(new DescribeEndpointCommand({ EndpointName: tag }))).EndpointStatus === 'InService' ? true : undefined));
  };

  /** Starts an update the old server never finishes, then restarts with the new server's deploys held. */
  const restartMidUpdate = async (tag: string): Promise<void> => {
    const releaseOld = h.endpoints.holdDeploys();
    await h.sm.send(new UpdateEndpointCommand({ EndpointName: tag, EndpointConfigName: `${tag}-new` }));
    expect((await h.sm.send(new DescribeEndpointCommand({ EndpointName: tag }))).EndpointStatus).toBe('Updating');
    // restart() freezes the old server's state before it yields, so the old deploy ending now is never recorded.
    const restarting = h.restart({ holdDeploys: true });
    releaseOld();
    await restarting;
  };

  const settled = (tag: string) =>
    until('update ended', async () => {
      const d = await h.sm.send(new DescribeEndpointCommand({ EndpointName: tag }));
      return d.EndpointStatus === 'Updating' ? undefined : d;
    });

  test('the update resumes: Updating, Describe and Invoke answer while it recovers (Invoke retryable), then InService on the new config', async () => {
    await models('mover');
    await restartMidUpdate('mover');

    const during = await h.sm.send(new DescribeEndpointCommand({ EndpointName: 'mover' }));
    expect(during.EndpointStatus).toBe('Updating');
    expect(during.EndpointConfigName).toBe('mover-old');
    expect(during.PendingDeploymentSummary?.EndpointConfigName).toBe('mover-new');
    const err = await rejectionOf(h.rt.send(new InvokeEndpointCommand({ EndpointName: 'mover', Body: Buffer.from('x') })));
    expect(err.name).toBe('ServiceUnavailable');
    expect(err.$metadata?.httpStatusCode).toBe(503);
    expect(err.message).not.toContain('not found');

    h.releaseDeploys();
    const d = await settled('mover');
    expect(d.EndpointStatus).toBe('InService');
    expect(d.EndpointConfigName).toBe('mover-new');
    expect(d.FailureReason).toBeUndefined();
    expect(d.PendingDeploymentSummary).toBeUndefined();
    // The old config served again first, then the update ran.
    expect(h.endpoints.deploys.filter((x) => x.endpointName === 'mover')).toEqual([
      { endpointName: 'mover', configName: 'mover-old' },
      { endpointName: 'mover', configName: 'mover-new' },
    ]);
    const out = await h.rt.send(new InvokeEndpointCommand({ EndpointName: 'mover', Body: Buffer.from('x') }));
    expect(JSON.parse(Buffer.from(out.Body!).toString('utf8')).config).toBe('mover-new');
  });

  test('a resumed update whose new variant never gets healthy ends InService on the old config with FailureReason, as SageMaker does', async () => {
    await models('faller');
    await restartMidUpdate('faller');
    h.endpoints.unhealthyImages.add('local/faller:2');
    h.releaseDeploys();
    const d = await settled('faller');
    expect(d.EndpointStatus).toBe('InService');
    expect(d.EndpointConfigName).toBe('faller-old');
    expect(d.FailureReason).toContain('ping health check');
    const out = await h.rt.send(new InvokeEndpointCommand({ EndpointName: 'faller', Body: Buffer.from('x') }));
    expect(JSON.parse(Buffer.from(out.Body!).toString('utf8')).config).toBe('faller-old');
  });
});
