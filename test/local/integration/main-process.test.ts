// `npm run local-sagemaker` as a real process: it prints its URL, answers the
// SDK, serves an endpoint, and on SIGTERM exits 0 leaving no process behind.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, ListEndpointsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { snapshotContext } from '../../../src/artifacts/image-store';
import { writeContext } from '../runtime/fixtures';
import { endpointStatus, ROLE, spawnPlane, trainingJob, trainToEnd, until } from './helpers';
import { isProcessAlive, makeTempDir, removeDir } from '../support';
import { descendants } from '../../support/inspect';

const ROOT = path.resolve(__dirname, '../../..');


function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('it-main');
});
afterAll(async () => {
  await removeDir(dir);
});

test('the local-sagemaker command prints its URL, answers, and on SIGTERM exits 0 with no child process left', async () => {
  const home = path.join(dir, 'home');
  // The command's default image store is <state-dir>/images.
  const ctxDir = await writeContext(path.join(dir, 'ctx'));
  const { imageUri } = await snapshotContext({ contextDir: ctxDir, repository: 'echo', store: path.join(home, 'images') });

  const env = { ...process.env };
  delete env.CHAMP_IMAGE_STORE;
  // What `npm run local-sagemaker` runs, without npm in between: npm exec dies on SIGTERM without passing
  // it on, which would orphan the server; tsx relays the signal and exits with the server's own code.
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['src/local/main.ts', '--port', '0', '--state-dir', home], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let tree: number[] = [];
  const commandLines = new Map<number, string | undefined>();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no URL printed within 20 s; stderr: ${stderr}`)), 20_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      void exited.then((e) => reject(new Error(`exited early (${String(e.code)}); stderr: ${stderr}`)));
    });

    const sm = new SageMakerClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' } });
    try {
      expect((await sm.send(new ListEndpointsCommand({}))).Endpoints).toEqual([]);
      await sm.send(new CreateModelCommand({ ModelName: 'echo', ExecutionRoleArn: ROLE, PrimaryContainer: { Image: imageUri } }));
      await sm.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'echo', ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'echo', InitialInstanceCount: 1 }] }));
      await sm.send(new CreateEndpointCommand({ EndpointName: 'echo', EndpointConfigName: 'echo' }));
      await endpointStatus(sm, 'echo', 'InService');
    } finally {
      sm.destroy();
    }

    tree = descendants(child.pid as number);
    for (const pid of tree) commandLines.set(pid, commandLine(pid));
    // The server under tsx and the serve process at least.
    expect(tree.length).toBeGreaterThanOrEqual(2);
    child.kill('SIGTERM');
    const exit = await exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // Its children end on its way out, but not necessarily before its own exit is seen: wait, bounded.
    await until('every process of the tree gone', async () => (tree.filter(isProcessAlive).length === 0 ? true : undefined), 10_000).catch(() => undefined);
    expect(tree.filter(isProcessAlive)).toEqual([]);
  } finally {
    // Whatever happened above, nothing of this test may outlive it; a pid is killed only while it is
    // still the process seen here (same command line), never a stranger that reused the number.
    const running = child.exitCode === null && child.signalCode === null;
    const ours = [...tree, ...(running ? [child.pid as number, ...descendants(child.pid as number)] : [])];
    for (const pid of ours) {
      if (commandLines.get(pid) !== undefined && commandLine(pid) !== commandLines.get(pid)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}, 40_000);

describe('no container can read the credentials the control plane was started with', () => {
  // A hostile training program reads /proc/1/environ, /proc/$PPID/environ and every /proc/<pid>/environ
  // it can open, and puts what it finds into its FailureReason, which reaches the caller (and a workflow's history).
  const snoop = async (isolation: string): Promise<{ reason: string; canary: string; stdout: string }> => {
    const home = path.join(dir, `snoop-${isolation}`);
    const ctxDir = await writeContext(path.join(home, 'ctx'));
    const { imageUri } = await snapshotContext({ contextDir: ctxDir, repository: 'snoop', store: path.join(home, 'images') });
    const data = path.join(home, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(path.join(data, 'rows.csv'), '1\n');
    const canary = `canary${randomBytes(8).toString('hex')}`;
    const plane = await spawnPlane(home, {
      CHAMP_LOCAL_ISOLATION: isolation,
      AWS_ACCESS_KEY_ID: `AKIA${canary}`,
      AWS_SECRET_ACCESS_KEY: canary,
      AWS_SESSION_TOKEN: canary,
      GITHUB_TOKEN: canary,
    });
    try {
      const { final } = await trainToEnd(
        plane.sm,
        trainingJob('snoop', imageUri, { train: pathToFileURL(data).href }, path.join(home, 'out'), { mode: 'snoop' }),
        60_000,
      );
      expect(final.TrainingJobStatus).toBe('Failed');
      await until('the isolation line', async () => (/^isolation: /m.test(plane.stdout()) ? true : undefined));
      return { reason: final.FailureReason ?? '', canary, stdout: plane.stdout() };
    } finally {
      await plane.stop();
    }
  };

  it('namespace mode: the program sees only its own PID namespace, where nothing holds them', async () => {
    const { reason, canary, stdout } = await snoop('namespace');
    expect(stdout).toMatch(/^isolation: namespace$/m);
    // The probe ran and read something (its own process at least): a silent failure to read would prove nothing.
    expect(reason).toMatch(/^snooped [1-9]\d* processes \(me \d+, parent \d+\); found: /);
    // Its parent is the namespace's init (which holds only the container's own environment), not the control plane.
    expect(reason).toMatch(/, parent 1\); /);
    expect(reason).not.toContain(canary);
  }, 90_000);

  it('env mode cannot hide them (it shares the process table, as documented), which shows the probe finds what is there', async () => {
    const { reason, canary, stdout } = await snoop('env');
    expect(stdout).toMatch(/^isolation: env/m);
    expect(reason).toContain(canary);
  }, 90_000);
});
