import { spawn } from 'node:child_process';
import { promises as fsp, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import {
  ContainerLauncher,
  dockerAvailable,
  liveContainerPids,
  namespaceIsolationAvailable,
  processStartTicks,
  reapOrphans,
  type LedgerEntry,
  type RunningContainer,
} from '../../../src/local/containers';
import { snapshotContext } from '../../../src/artifacts/image-store';
import { isProcessAlive, makeTempDir, removeDir } from '../support';
import { loadLocalConfig } from '../../../src/local/config';
import { descendants } from '../../support/inspect';

const readlinkOr = (link: string): string => {
  try {
    return readlinkSync(link);
  } catch {
    return '';
  }
};

const isolationFromEnv = (env: NodeJS.ProcessEnv): string => loadLocalConfig(env).CHAMP_LOCAL_ISOLATION;

/** train: prints its SM_* view and /opt/ml's content, starts a grandchild, then waits. */
const TRAIN_SH = `#!/bin/sh
echo "SM_MODEL_DIR=$SM_MODEL_DIR"
echo "SM_CHANNEL_TRAIN=$SM_CHANNEL_TRAIN"
echo "SM_HPS=$SM_HPS"
echo "SM_HP_EPOCHS=$SM_HP_EPOCHS"
echo "SM_HOSTS=$SM_HOSTS"
echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
echo "AWS_PROFILE=$AWS_PROFILE"
echo "AWS_CONTAINER_AUTHORIZATION_TOKEN=$AWS_CONTAINER_AUTHORIZATION_TOKEN"
echo "AWS_WEB_IDENTITY_TOKEN_FILE=$AWS_WEB_IDENTITY_TOKEN_FILE"
echo "GITHUB_TOKEN=$GITHUB_TOKEN"
echo "AWS_REGION=$AWS_REGION"
echo "marker=$(cat /opt/ml/marker 2>/dev/null || echo none)"
echo "arg=$1"
sleep 60 &
echo "grandchild=$!"
[ "$WAIT" = "1" ] && wait
exit 0
`;

let root: string;
let store: string;
let imageUri: string;

beforeAll(async () => {
  root = await makeTempDir('containers');
  store = path.join(root, 'store');
  const ctx = path.join(root, 'ctx');
  await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
  await fsp.writeFile(path.join(ctx, 'program', 'train'), TRAIN_SH, { mode: 0o755 });
  await fsp.writeFile(path.join(ctx, 'program', 'serve'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  imageUri = (await snapshotContext({ contextDir: ctx, repository: 'shell', store })).imageUri;
});

afterAll(async () => {
  await removeDir(root);
});

async function optMl(name: string): Promise<string> {
  const dir = path.join(root, name, 'opt', 'ml');
  await fsp.mkdir(path.join(dir, 'model'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'marker'), name);
  return dir;
}

function collect(): { lines: string[]; onLine: (l: string) => void; value: (key: string) => string | undefined } {
  const lines: string[] = [];
  return {
    lines,
    onLine: (l) => lines.push(l),
    value: (key) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1),
  };
}

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ContainerLauncher', () => {
  it('env isolation: the program sees SM_* variables pointing at the job folder and the region, but no credentials of any kind', async () => {
    const launcher = new ContainerLauncher({ imageStore: store, isolation: 'env' });
    const dir = await optMl('env-job');
    const out = collect();
    const secrets = {
      AWS_SECRET_ACCESS_KEY: 'do-not-leak',
      AWS_PROFILE: 'prod-admin',
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'do-not-leak',
      AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token',
      GITHUB_TOKEN: 'do-not-leak',
    };
    const regionBefore = process.env.AWS_REGION;
    Object.assign(process.env, secrets, { AWS_REGION: 'eu-west-1' });
    let c: RunningContainer;
    try {
      c = await launcher.start({
        imageUri,
        command: 'train',
        optMlDir: dir,
        environment: {},
        logFile: path.join(root, 'env-job', 'log'),
        name: 'env-job',
        channels: ['train'],
        hyperParameters: { epochs: '3' },
        onLine: out.onLine,
      });
    } finally {
      for (const k of Object.keys(secrets)) delete process.env[k];
      if (regionBefore === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = regionBefore;
    }
    expect(c.mode).toBe('env');
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(out.value('SM_MODEL_DIR')).toBe(path.join(dir, 'model'));
    expect(out.value('SM_CHANNEL_TRAIN')).toBe(path.join(dir, 'input', 'data', 'train'));
    expect(out.value('SM_HPS')).toBe('{"epochs":"3"}');
    expect(out.value('SM_HP_EPOCHS')).toBe('3');
    expect(out.value('SM_HOSTS')).toBe('["algo-1"]');
    for (const k of Object.keys(secrets)) expect(`${k}=${out.value(k) ?? '?'}`).toBe(`${k}=`);
    expect(out.value('AWS_REGION')).toBe('eu-west-1');
    expect(out.value('arg')).toBe('train');
    expect(await fsp.readFile(path.join(root, 'env-job', 'log'), 'utf8')).toContain('SM_HOSTS=["algo-1"]');
    // The main process ended, so the container did: its grandchild went with it.
    const grandchild = Number(out.value('grandchild'));
    await waitFor(() => !isProcessAlive(grandchild));
  });

  it('namespace isolation: /opt/ml is the job folder, privately per process', async () => {
    if (!(await namespaceIsolationAvailable())) {
      console.warn('skipping namespace isolation: not available here');
      return;
    }
    const launcher = new ContainerLauncher({ imageStore: store, isolation: 'namespace' });
    const [a, b] = await Promise.all(
      ['ns-a', 'ns-b'].map(async (name) => {
        const out = collect();
        const c = await launcher.start({ imageUri, command: 'train', optMlDir: await optMl(name), environment: {}, logFile: path.join(root, name, 'log'), name, onLine: out.onLine });
        expect(c.mode).toBe('namespace');
        await c.exited;
        return out;
      }),
    );
    expect(a!.value('marker')).toBe('ns-a');
    expect(b!.value('marker')).toBe('ns-b');
  });

  it('namespace isolation: the image is read-only, and stop() ends a program in its own PID namespace at once, not after the grace', async () => {
    if (!(await namespaceIsolationAvailable())) {
      console.warn('skipping namespace isolation: not available here');
      return;
    }
    const ctx = path.join(root, 'ns-stop');
    await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
    await fsp.writeFile(
      path.join(ctx, 'program', 'train'),
      '#!/bin/sh\nif touch /opt/program/written 2>/dev/null; then echo image=writable; else echo image=read-only; fi\necho ready\nsleep 60 &\nwait\n',
      { mode: 0o755 },
    );
    const uri = (await snapshotContext({ contextDir: ctx, repository: 'ns-stop', store })).imageUri;
    const out = collect();
    const c = await new ContainerLauncher({ imageStore: store, isolation: 'namespace' }).start({ imageUri: uri, command: 'train', optMlDir: await optMl('ns-stop'), environment: {}, logFile: path.join(root, 'ns-stop', 'log'), name: 'ns-stop', onLine: out.onLine });
    await waitFor(() => out.lines.includes('ready'), 10_000);
    expect(out.value('image')).toBe('read-only');
    const asked = Date.now();
    const exit = await c.stop(10_000);
    // SIGTERM passed on: well before the 10 s grace and its SIGKILL (bash reports the program's death by SIGTERM as 143).
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(exit).toEqual({ code: 143, signal: null });
  });

  it('stop() kills the whole process group, grandchildren included', async () => {
    const launcher = new ContainerLauncher({ imageStore: store, isolation: 'env' });
    const out = collect();
    const c = await launcher.start({ imageUri, command: 'train', optMlDir: await optMl('stop-job'), environment: { WAIT: '1' }, logFile: path.join(root, 'stop-job', 'log'), name: 'stop', onLine: out.onLine });
    await waitFor(() => out.value('grandchild') !== undefined);
    const grandchild = Number(out.value('grandchild'));
    expect(isProcessAlive(grandchild)).toBe(true);
    expect(liveContainerPids()).toContain(c.pid);
    const exit = await c.stop(1_000);
    expect(exit.signal).toBe('SIGTERM');
    await waitFor(() => !isProcessAlive(grandchild));
    expect(liveContainerPids()).not.toContain(c.pid);
  });

  it('refuses a program that is not executable, saying how to fix it', async () => {
    const launcher = new ContainerLauncher({ imageStore: store, isolation: 'env' });
    await expect(
      launcher.start({ imageUri, command: 'serve', optMlDir: await optMl('noexec'), environment: {}, logFile: path.join(root, 'noexec', 'log'), name: 'x' }),
    ).rejects.toThrow(/program\/serve is not executable; make it executable \(chmod \+x\)/);
  });

  it('refuses, in process mode, an image whose Dockerfile does what process mode never applies, saying how to run it under Docker', async () => {
    const ctx = path.join(root, 'byoc');
    await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
    await fsp.writeFile(path.join(ctx, 'program', 'serve'), '#!/bin/sh\nexec nginx\n', { mode: 0o755 });
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), 'FROM python:3.11-slim\nRUN apt-get update && \\\n    apt-get install -y nginx\nCOPY program/ /opt/program/\n');
    const byoc = (await snapshotContext({ contextDir: ctx, repository: 'byoc', store })).imageUri;
    for (const isolation of ['env', 'namespace'] as const) {
      if (isolation === 'namespace' && !(await namespaceIsolationAvailable())) continue;
      const launcher = new ContainerLauncher({ imageStore: store, isolation });
      await expect(
        launcher.start({ imageUri: byoc, command: 'serve', optMlDir: await optMl(`byoc-${isolation}`), environment: {}, logFile: path.join(root, 'byoc', 'log'), name: 'byoc' }),
      ).rejects.toThrow(
        `cannot run faithfully in process mode (isolation ${isolation}): its Dockerfile has \`RUN apt-get update && apt-get install -y nginx\`, and process mode never applies a Dockerfile`,
      );
    }
    // The example's Dockerfile only copies its programs to /opt/program and makes them executable: process mode does the same.
    const fine = path.join(root, 'fine');
    await fsp.mkdir(path.join(fine, 'program'), { recursive: true });
    await fsp.writeFile(path.join(fine, 'program', 'train'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
    await fsp.writeFile(path.join(fine, 'Dockerfile'), 'FROM python:3.11-slim\nCOPY program/ /opt/program/\nRUN chmod 0755 /opt/program/train\nWORKDIR /opt/program\n');
    const fineUri = (await snapshotContext({ contextDir: fine, repository: 'fine', store })).imageUri;
    const c = await new ContainerLauncher({ imageStore: store, isolation: 'env' }).start({ imageUri: fineUri, command: 'train', optMlDir: await optMl('fine'), environment: {}, logFile: path.join(root, 'fine', 'log'), name: 'fine' });
    expect(await c.exited).toEqual({ code: 0, signal: null });
  });

  it('gives a process stdout it can open as /dev/stdout, and a /tmp of its own', async () => {
    const ctx = path.join(root, 'devstdout');
    await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
    // As nginx does with its log symlinks: open the path, not the descriptor.
    await fsp.writeFile(
      path.join(ctx, 'program', 'train'),
      '#!/bin/sh\necho "via /dev/stdout" > /dev/stdout || exit 9\necho "via /dev/stderr" > /dev/stderr || exit 8\nd=${TMPDIR:-/tmp}\nls "$d" | grep -c . | sed "s/^/tmp-entries=/"\ntouch "$d/mine-$1"\n',
      { mode: 0o755 },
    );
    const uri = (await snapshotContext({ contextDir: ctx, repository: 'devstdout', store })).imageUri;
    for (const isolation of ['env', 'namespace'] as const) {
      if (isolation === 'namespace' && !(await namespaceIsolationAvailable())) continue;
      for (const round of [1, 2]) {
        const out = collect();
        const c = await new ContainerLauncher({ imageStore: store, isolation }).start({ imageUri: uri, command: 'train', optMlDir: await optMl(`devstdout-${isolation}-${round}`), environment: {}, logFile: path.join(root, 'devstdout', `${isolation}-${round}.log`), name: 'devstdout', onLine: out.onLine });
        expect(await c.exited).toEqual({ code: 0, signal: null });
        expect(out.lines).toEqual(expect.arrayContaining(['via /dev/stdout', 'via /dev/stderr']));
        // The first run's file is not in the second's /tmp: each container starts with an empty one.
        expect(out.value('tmp-entries')).toBe('0');
      }
    }
  });

  it('a serving program writes its log file itself: its stdout is the file, nothing passes through the control plane, and lastLines() reads the file', async () => {
    const ctx = path.join(root, 'ownlog');
    await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
    await fsp.writeFile(path.join(ctx, 'program', 'serve'), '#!/bin/sh\necho "request 1"\necho "request 2" >&2\nexec sleep 60\n', { mode: 0o755 });
    const uri = (await snapshotContext({ contextDir: ctx, repository: 'ownlog', store })).imageUri;
    for (const isolation of ['env', 'namespace'] as const) {
      if (isolation === 'namespace' && !(await namespaceIsolationAvailable())) continue;
      const logFile = path.join(root, 'ownlog', `${isolation}.log`);
      const c = await new ContainerLauncher({ imageStore: store, isolation }).start({ imageUri: uri, command: 'serve', optMlDir: await optMl(`ownlog-${isolation}`), environment: {}, logFile, name: 'ownlog' });
      try {
        await waitFor(() => c.lastLines().includes('request 2'));
        expect(c.lastLines()).toEqual(expect.arrayContaining(['request 1', 'request 2']));
        expect(c.lastLines()[0]).toMatch(/^\[champ\] isolation: /);
        // The process's stdout is the log file itself, not a pipe or socket to the control plane.
        const pids = [c.pid, ...descendants(c.pid)];
        const stdouts = pids.map((pid) => readlinkOr(`/proc/${pid}/fd/1`));
        expect(stdouts).toContain(logFile);
        expect(stdouts.filter((t) => /^(pipe|socket):/.test(t))).toEqual([]);
      } finally {
        await c.stop(1_000);
      }
    }
  });

  it('refuses images it cannot run, with the reason', async () => {
    const launcher = new ContainerLauncher({ imageStore: store, isolation: 'env' });
    await expect(launcher.modeFor('champ.local/shell:ctx-0000000000000000')).rejects.toThrow(/is not in the local image store/);
    await expect(launcher.modeFor('python:3.11')).rejects.toThrow(/image python:3.11 is not in the local image store, and CHAMP_LOCAL_ISOLATION=env runs only local images/);
    // Only when no engine answers (as on this machine) does auto mode name Docker as the missing piece.
    if (!(await dockerAvailable())) {
      await expect(new ContainerLauncher({ imageStore: store, isolation: 'auto' }).modeFor('python:3.11')).rejects.toThrow(
        'image python:3.11 is not in the local image store and no Docker engine answers',
      );
    }
  });

  it('reads CHAMP_LOCAL_ISOLATION and rejects an unknown mode naming the choices', () => {
    expect(isolationFromEnv({})).toBe('auto');
    expect(isolationFromEnv({ CHAMP_LOCAL_ISOLATION: 'namespace' })).toBe('namespace');
    expect(() => isolationFromEnv({ CHAMP_LOCAL_ISOLATION: 'chroot' })).toThrow(/CHAMP_LOCAL_ISOLATION="chroot" is not a mode: use auto, docker, namespace or env/);
  });

  it('kills its containers when the control plane process is terminated', async () => {
    const script = path.join(root, 'plane.ts');
    const containersModule = path.resolve(__dirname, '../../../src/local/containers');
    await fsp.writeFile(
      script,
      `import { ContainerLauncher } from ${JSON.stringify(containersModule)};
const launcher = new ContainerLauncher({ imageStore: ${JSON.stringify(store)}, isolation: 'env' });
launcher.start({ imageUri: ${JSON.stringify(imageUri)}, command: 'train', optMlDir: ${JSON.stringify(path.join(root, 'plane', 'opt', 'ml'))},
  environment: { WAIT: '1' }, logFile: ${JSON.stringify(path.join(root, 'plane', 'log'))}, name: 'plane',
  onLine: (l) => { if (l.startsWith('grandchild=')) console.log(l); } }).then((c) => console.log('pid=' + c.pid));
setInterval(() => undefined, 1000);
`,
    );
    const tsx = path.resolve(__dirname, '../../../node_modules/.bin/tsx');
    const plane = spawn(tsx, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    plane.stdout.on('data', (c: Buffer) => (text += c.toString()));
    try {
      await waitFor(() => /pid=\d+/.test(text) && /grandchild=\d+/.test(text), 20_000);
      const pid = Number(/pid=(\d+)/.exec(text)![1]);
      const grandchild = Number(/grandchild=(\d+)/.exec(text)![1]);
      expect(isProcessAlive(pid)).toBe(true);
      const exited = new Promise((r) => plane.once('exit', r));
      plane.kill('SIGTERM');
      await exited;
      await waitFor(() => !isProcessAlive(pid) && !isProcessAlive(grandchild));
    } finally {
      plane.kill('SIGKILL');
    }
  }, 30_000);
});

describe('the ledger of live processes, for after a crash of the control plane', () => {
  const readLedger = async (file: string): Promise<LedgerEntry[]> => JSON.parse(await fsp.readFile(file, 'utf8')) as LedgerEntry[];

  it('lists a container while it runs, with this control plane as its owner, and drops it when it ends', async () => {
    const ledgerFile = path.join(root, 'ledger-1.json');
    const launcher = new ContainerLauncher({ imageStore: store, isolation: 'env', ledgerFile });
    const c = await launcher.start({ imageUri, command: 'train', optMlDir: await optMl('ledger-job'), environment: { WAIT: '1' }, logFile: path.join(root, 'ledger-job', 'log'), name: 'ledger' });
    expect(await readLedger(ledgerFile)).toEqual([{ pid: c.pid, startTicks: processStartTicks(c.pid), owner: process.pid, ownerStartTicks: processStartTicks(process.pid) }]);
    await c.stop(500);
    expect(await readLedger(ledgerFile)).toEqual([]);
  });

  it('reapOrphans kills the process groups of a dead owner, never a reused pid nor a live owner\'s processes', async () => {
    const orphan = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const bystander = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const deadOwner = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => deadOwner.once('exit', r));
    try {
      const ledgerFile = path.join(root, 'ledger-2.json');
      const entries: LedgerEntry[] = [
        { pid: orphan.pid!, startTicks: processStartTicks(orphan.pid!), owner: deadOwner.pid!, ownerStartTicks: '1' },
        // Same pid number as a live process, but another start time: a stranger that reused the number.
        { pid: bystander.pid!, startTicks: '1', owner: deadOwner.pid!, ownerStartTicks: '1' },
        // Started by a control plane that still runs (this one).
        { pid: bystander.pid!, startTicks: processStartTicks(bystander.pid!), owner: process.pid, ownerStartTicks: processStartTicks(process.pid) },
      ];
      await fsp.writeFile(ledgerFile, JSON.stringify(entries));
      expect(reapOrphans(ledgerFile)).toEqual([orphan.pid]);
      await waitFor(() => !isProcessAlive(orphan.pid!));
      expect(isProcessAlive(bystander.pid!)).toBe(true);
      expect(await readLedger(ledgerFile)).toEqual([entries[2]]);
    } finally {
      for (const p of [orphan, bystander]) p.kill('SIGKILL');
    }
  });
});
