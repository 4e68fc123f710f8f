// Docker mode for real, against the engine scripts/engine/ensure.sh starts (or a
// developer's own): each test proves that a container of the engine ran, by
// asking the engine (docker ps / inspect) while it runs, never by trusting the
// control plane's word. Without an engine the tests report themselves skipped,
// with the reason.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateTrainingJobCommand,
  DeleteEndpointCommand,
  DescribeTrainingJobCommand,
  StopTrainingJobCommand,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { ContainerLauncher } from '../../src/local/containers';
import { planeIdFor } from '../../src/local/containers/docker';
import { containerLedger, trainingJobDir } from '../../src/local/server';
import { writeContext } from '../local/runtime/fixtures';
import { endpointStatus, ROLE, spawnPlane, startPlane, trainingJob, trainToEnd, until, type Plane } from '../local/integration/helpers';
import { makeTempDir, removeDir } from '../local/support';
import { docker, engineMissing } from './support';

const RUN = `docker-mode-${process.pid}-${randomBytes(3).toString('hex')}`;
const TEST_LABEL = `org.champ.test=${RUN}`;
const IMAGE = `champ-docker-test/${RUN}:v1`;

/** The base image the test image builds on: the example's, which ensure.sh builds from Debian's packages. */
const BASE = 'python:3.11.9-slim';
const noEngine = engineMissing();
const noBase = noEngine ?? (docker(['image', 'inspect', BASE]).status === 0 ? undefined : `the base image ${BASE} is missing (scripts/engine/base-images.sh builds it)`);
if (noBase) console.warn(`docker-mode tests skipped: ${noBase}`);

/** Names of the containers labelled `label` (all states), as the engine lists them. */
function containers(label: string): string[] {
  return docker(['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}']).stdout.split('\n').filter(Boolean);
}

interface Inspected {
  Args: string[];
  Config: { Env: string[]; Labels: Record<string, string> };
  HostConfig: { Init: boolean | null; NanoCpus: number; Memory: number };
  State: { Running: boolean };
}

function inspect(name: string): Inspected {
  const r = docker(['inspect', name]);
  if (r.status !== 0) throw new Error(`docker inspect ${name}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as Inspected[])[0] as Inspected;
}

let dir: string;
let data: string;
const planeIds = new Set<string>();

(noBase ? describe.skip : describe)(`docker mode${noBase ? ` (skipped: ${noBase})` : ''}`, () => {
  let plane: Plane;

  beforeAll(async () => {
    dir = await makeTempDir('docker-mode');
    const ctx = await writeContext(path.join(dir, 'ctx'), {
      Dockerfile: `FROM ${BASE}\nENV PYTHONUNBUFFERED=1 PATH="/opt/program:\${PATH}"\nCOPY program/ /opt/program/\nRUN chmod 0755 /opt/program/train /opt/program/serve\nWORKDIR /opt/program\n`,
    });
    const built = docker(['build', '-q', '--label', TEST_LABEL, '-t', IMAGE, ctx], 300_000);
    if (built.status !== 0) throw new Error(`docker build of the test image failed: ${built.stderr}`);
    data = path.join(dir, 'data');
    await fsp.mkdir(data, { recursive: true });
    await fsp.writeFile(path.join(data, 'rows.csv'), 'abc\n');
    const home = path.join(dir, 'home');
    plane = await startPlane({ stateDir: home, isolation: 'docker' });
    planeIds.add(planeIdFor(containerLedger(plane.server.stateRoot)));
  }, 360_000);

  afterAll(async () => {
    await plane?.close();
    for (const id of planeIds) {
      const left = containers(`org.champ.local.plane=${id}`);
      if (left.length > 0) docker(['rm', '-f', ...left]);
    }
    docker(['rmi', '-f', IMAGE]);
    if (dir) await removeDir(dir);
  });

  const job = (name: string, hps: Record<string, string>, environment: Record<string, string> = {}) => ({
    ...trainingJob(name, IMAGE, { train: pathToFileURL(data).href }, path.join(dir, 'out'), hps),
    Environment: environment,
  });

  it('trains in a container of the engine: labelled with its job, under --init, limited by its instance type, its environment never on a command line', async () => {
    const secret = `value-${randomBytes(6).toString('hex')}`;
    await plane.sm.send(new CreateTrainingJobCommand(job('dk-labels', { mode: 'sleep' }, { MODEL_SETTING: secret })));
    const name = await until('the engine to run the job\'s container', async () => {
      const n = containers('org.champ.local.training-job=dk-labels')[0];
      return n && inspect(n).State.Running ? n : undefined;
    }, 60_000);
    const c = inspect(name);
    expect(c.HostConfig.Init).toBe(true);
    expect(c.Config.Labels).toMatchObject({ 'org.champ.local.kind': 'training-job', 'org.champ.local.training-job': 'dk-labels' });
    expect(c.Config.Labels['org.champ.local.plane']).toBe(planeIdFor(containerLedger(plane.server.stateRoot)));
    // ml.m5.large: 2 vCPU and 8 GiB, at most what this machine has.
    expect(c.HostConfig.NanoCpus).toBeGreaterThan(0);
    expect(c.HostConfig.Memory).toBeGreaterThan(0);
    // Inside the container the variable is set; on no command line (the engine's record of it, or any process's) is it.
    expect(c.Config.Env).toContain(`MODEL_SETTING=${secret}`);
    expect(JSON.stringify(c.Args)).not.toContain(secret);
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps).toContain(name);
    expect(ps).not.toContain(secret);
    const log = await fsp.readFile(path.join(trainingJobDir(plane.server.stateRoot, 'dk-labels'), 'train.log'), 'utf8');
    expect(log.split('\n')[0]).toMatch(/^\[champ\] isolation: docker; container champ-dk-labels-[0-9a-f]{6} of image champ-docker-test\//);
    await plane.sm.send(new StopTrainingJobCommand({ TrainingJobName: 'dk-labels' }));
    await until('dk-labels to be Stopped', async () => {
      const d = await plane.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'dk-labels' }));
      return d.TrainingJobStatus === 'Stopped' ? d : undefined;
    }, 30_000);
  }, 120_000);

  it('never puts the environment on a command line, not even the short-lived docker create\'s', async () => {
    const secret = `value-${randomBytes(6).toString('hex')}`;
    // Every docker command the control plane runs goes through a shim that records its arguments.
    const shimDir = path.join(dir, 'shim');
    const argvLog = path.join(shimDir, 'argv.log');
    const realDocker = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim();
    await fsp.mkdir(shimDir, { recursive: true });
    await fsp.writeFile(path.join(shimDir, 'docker'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec '${realDocker}' "$@"\n`, { mode: 0o755 });
    const shimmed = await spawnPlane(path.join(dir, 'argv-home'), { CHAMP_LOCAL_ISOLATION: 'docker', PATH: `${shimDir}:${process.env.PATH ?? ''}` });
    try {
      await shimmed.sm.send(new CreateTrainingJobCommand(job('dk-argv', { mode: 'ok' }, { MODEL_SETTING: secret })));
      const { final } = await trainToEnd(shimmed.sm, job('dk-argv-2', { mode: 'ok' }, { MODEL_SETTING: secret }), 60_000);
      expect(final.TrainingJobStatus).toBe('Completed');
    } finally {
      await shimmed.stop();
    }
    const argv = await fsp.readFile(argvLog, 'utf8');
    expect(argv).toMatch(/^create --init --rm .*--env-file \S+ champ-docker-test\/\S+ train$/m);
    expect(argv).not.toContain(secret);
  }, 120_000);

  it('StopTrainingJob stops a program that ignores nothing in about a second (--init passes SIGTERM on), and Stopped means the container is gone', async () => {
    await plane.sm.send(new CreateTrainingJobCommand(job('dk-stop', { mode: 'sleep' })));
    const name = await until('the engine to run dk-stop', async () => {
      const n = containers('org.champ.local.training-job=dk-stop')[0];
      return n && inspect(n).State.Running ? n : undefined;
    }, 60_000);
    // The program has printed: it runs, not just its container.
    await until('dk-stop to print', async () => {
      const log = await fsp.readFile(path.join(trainingJobDir(plane.server.stateRoot, 'dk-stop'), 'train.log'), 'utf8');
      return log.includes('sleeping') ? true : undefined;
    }, 30_000);
    const asked = Date.now();
    await plane.sm.send(new StopTrainingJobCommand({ TrainingJobName: 'dk-stop' }));
    await until('dk-stop to be Stopped', async () => {
      const d = await plane.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'dk-stop' }));
      return d.TrainingJobStatus === 'Stopped' ? d : undefined;
    }, 30_000);
    const took = Date.now() - asked;
    // Without an init the program, as PID 1, ignores SIGTERM and the whole 5 s grace passes before SIGKILL.
    expect(took).toBeLessThan(4_000);
    expect(docker(['inspect', name]).status).not.toBe(0);
  }, 120_000);

  it('a container has ended (exited, stop() resolved) only once the engine has removed it', async () => {
    const launcher = new ContainerLauncher({ imageStore: path.join(dir, 'no-store'), isolation: 'docker' });
    planeIds.add(launcher.planeId);
    for (const mode of ['ok', 'sleep']) {
      const optMl = path.join(dir, `gone-${mode}`, 'opt', 'ml');
      await fsp.mkdir(path.join(optMl, 'input', 'config'), { recursive: true });
      await fsp.mkdir(path.join(optMl, 'model'), { recursive: true });
      await fsp.mkdir(path.join(optMl, 'output'), { recursive: true });
      await fsp.writeFile(path.join(optMl, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ mode }));
      await fsp.writeFile(path.join(optMl, 'input', 'config', 'resourceconfig.json'), JSON.stringify({ current_host: 'algo-1' }));
      const label = `org.champ.local.training-job=gone-${mode}-${RUN}`;
      const c = await launcher.start({
        imageUri: IMAGE, command: 'train', optMlDir: optMl, environment: {}, logFile: path.join(dir, `gone-${mode}`, 'log'), name: `gone-${mode}`,
        owner: { kind: 'training-job', name: `gone-${mode}-${RUN}` },
      });
      expect(containers(label)).toHaveLength(1);
      if (mode === 'sleep') await c.stop(10_000);
      await c.exited;
      // Asked at once, not polled: the engine must not know it any more.
      expect(containers(label)).toEqual([]);
    }
  }, 120_000);

  it('a missing image fails the job with a ClientError that names the image', async () => {
    const missing = `127.0.0.1:${process.env.CHAMP_REGISTRY_PORT ?? '5000'}/champ-no-such/${RUN}:missing`;
    const { final } = await trainToEnd(plane.sm, { ...job('dk-missing', {}), AlgorithmSpecification: { TrainingImage: missing, TrainingInputMode: 'File' } }, 120_000);
    expect(final.TrainingJobStatus).toBe('Failed');
    expect(final.FailureReason).toMatch(new RegExp(`^ClientError: Requested image ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} not found`));
  }, 150_000);

  it('trains, then serves the model from a container of the engine; deleting the endpoint removes it', async () => {
    const { final } = await trainToEnd(plane.sm, job('dk-ok', { mode: 'ok', alpha: '7' }), 60_000);
    expect(final.TrainingJobStatus).toBe('Completed');
    await plane.sm.send(new CreateModelCommand({ ModelName: 'dk-model', ExecutionRoleArn: ROLE, PrimaryContainer: { Image: IMAGE, ModelDataUrl: final.ModelArtifacts?.S3ModelArtifacts } }));
    await plane.sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'dk-cfg', ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'dk-model', InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }] }));
    const planeLabel = `org.champ.local.plane=${planeIdFor(containerLedger(plane.server.stateRoot))}`;
    const before = new Set(containers(planeLabel));
    await plane.sm.send(new CreateEndpointCommand({ EndpointName: 'dk-ep', EndpointConfigName: 'dk-cfg' }));
    await endpointStatus(plane.sm, 'dk-ep', 'InService', [], 60_000);
    const serving = containers(planeLabel).filter((n) => !before.has(n));
    expect(serving).toHaveLength(1);
    expect(inspect(serving[0]!).State.Running).toBe(true);
    const out = await plane.rt.send(new InvokeEndpointCommand({ EndpointName: 'dk-ep', Body: Buffer.from('x'), ContentType: 'text/plain' }));
    expect(Buffer.from(out.Body!).toString()).toBe('data=abc;alpha=7|x');
    await plane.sm.send(new DeleteEndpointCommand({ EndpointName: 'dk-ep' }));
    await until('the serving container to be removed', async () => (docker(['inspect', serving[0]!]).status !== 0 ? true : undefined), 30_000);
  }, 180_000);

  it('a SIGKILLed control plane leaves its training container running; the next start on its state folder re-attaches to it and the job completes', async () => {
    const home = path.join(dir, 'crash-home');
    const env = { CHAMP_LOCAL_ISOLATION: 'docker' };
    const first = await spawnPlane(home, env);
    let second: Awaited<ReturnType<typeof spawnPlane>> | undefined;
    try {
      // 'sleep' prints, sleeps a minute, then exits 0: the job is InProgress when the plane dies.
      await first.sm.send(new CreateTrainingJobCommand(job('dk-crash', { mode: 'sleep' })));
      const name = await until('the engine to run dk-crash', async () => {
        const n = containers('org.champ.local.training-job=dk-crash')[0];
        return n && inspect(n).State.Running ? n : undefined;
      }, 60_000);
      planeIds.add(inspect(name).Config.Labels['org.champ.local.plane'] ?? '');
      await first.kill();
      // The crash ran no exit handler: the engine still runs the container.
      expect(inspect(name).State.Running).toBe(true);
      second = await spawnPlane(home, env);
      const plane = second;
      // As SageMaker's would, the job goes on in the same container: no second one, none removed.
      const resumed = await plane.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'dk-crash' }));
      expect(resumed.TrainingJobStatus).toBe('InProgress');
      expect(resumed.SecondaryStatusTransitions?.map((t) => t.StatusMessage)).toContain(`The local control plane restarted: re-attaching to the training container ${name}`);
      expect(containers('org.champ.local.training-job=dk-crash')).toEqual([name]);
      // Its exit, seen through the re-attached client, decides the outcome.
      const done = await until('dk-crash to end', async () => {
        const d = await plane.sm.send(new DescribeTrainingJobCommand({ TrainingJobName: 'dk-crash' }));
        return d.TrainingJobStatus !== 'InProgress' ? d : undefined;
      }, 120_000);
      expect(done.TrainingJobStatus).toBe('Completed');
      await until('the container to be removed', async () => (docker(['inspect', name]).status !== 0 ? true : undefined), 30_000);
    } finally {
      await first.kill();
      await second?.stop();
    }
  }, 240_000);

  it('a program in a container cannot read the credentials the control plane was started with', async () => {
    const home = path.join(dir, 'snoop-home');
    const canary = `canary${randomBytes(8).toString('hex')}`;
    const snooper = await spawnPlane(home, { CHAMP_LOCAL_ISOLATION: 'docker', AWS_SECRET_ACCESS_KEY: canary, AWS_SESSION_TOKEN: canary, GITHUB_TOKEN: canary });
    try {
      await until('the isolation line', async () => (/^isolation: /m.test(snooper.stdout()) ? true : undefined));
      expect(snooper.stdout()).toMatch(/^isolation: docker$/m);
      const { final } = await trainToEnd(snooper.sm, job('dk-snoop', { mode: 'snoop' }), 90_000);
      expect(final.TrainingJobStatus).toBe('Failed');
      // The probe read something (docker-init as PID 1, itself): a probe that read nothing would prove nothing.
      expect(final.FailureReason).toMatch(/^snooped [1-9]\d* processes \(me \d+, parent 1\); found: /);
      expect(final.FailureReason).not.toContain(canary);
    } finally {
      await snooper.stop();
    }
  }, 150_000);

  it('leaves no container of its planes and no tag of its own behind', async () => {
    await plane.close();
    for (const id of planeIds) expect(containers(`org.champ.local.plane=${id}`)).toEqual([]);
    docker(['rmi', '-f', IMAGE]);
    expect(docker(['image', 'inspect', IMAGE]).status).not.toBe(0);
  }, 60_000);
});
