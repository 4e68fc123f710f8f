// `npm run dev` as a user runs it: a real process tree on free ports. The Web
// UI answers, a worker polls, the real `temporal` CLI sees a workflow our
// client started, and Ctrl-C (SIGINT to the process group) leaves nothing behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../../src/client';
import { findTemporalBinary } from '../../src/temporal-server';
import { freePort } from '../../src/net';

const ROOT = resolve(__dirname, '..', '..');


/** GET without keep-alive, so no pooled socket outlives the test. */
function httpStatus(url: string): Promise<number> {
  return new Promise((res, rej) => {
    get(url, { agent: false }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    }).on('error', rej);
  });
}

/** Pids of live processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (cmd.includes(needle) || env.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

describe('npm run dev', () => {
  let home: string;
  let dev: ChildProcess | undefined;
  let output = '';

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'champ-dev-test-'));
  });

  afterAll(() => {
    dev?.stdout?.destroy();
    dev?.stderr?.destroy();
    if (dev?.pid && dev.exitCode === null) {
      try {
        process.kill(-dev.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const pid of processesMentioning(home)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('serves the UI, runs a worker the temporal CLI can see work for, and stops cleanly on Ctrl-C', async () => {
    const [temporalPort, uiPort, sageMakerPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      ...process.env,
      CHAMP_HOME: home,
      CHAMP_TEMPORAL_PORT: String(temporalPort),
      CHAMP_UI_PORT: String(uiPort),
      CHAMP_LOCAL_SAGEMAKER_PORT: String(sageMakerPort),
      CHAMP_METRICS_PORT: '0',
      CHAMP_TASK_QUEUE: 'dev-stack-test',
      LOG_FORMAT: 'json',
    };
    dev = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/dev.ts'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    dev.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    dev.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((r) => dev!.once('exit', (code) => r(code)));

    const deadline = Date.now() + 60_000;
    while (!output.includes('Ctrl-C stops everything')) {
      if (dev.exitCode !== null) throw new Error(`npm run dev exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`npm run dev did not come up in 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(output).toContain(`Web UI        http://127.0.0.1:${uiPort}`);
    expect(output).toContain('worker polling');
    // Not on the default ports: the second terminal is told what to export.
    expect(output).toContain(`export TEMPORAL_ADDRESS=127.0.0.1:${temporalPort} CHAMP_UI_URL=http://127.0.0.1:${uiPort}`);
    // No noise at the default log level: webpack's report, the SDK's Node notice.
    expect(output).not.toMatch(/webpack|NodeVersionSupportWarning/);

    expect(await httpStatus(`http://127.0.0.1:${uiPort}/`)).toBe(200);
    expect(await httpStatus(`http://127.0.0.1:${sageMakerPort}/ping`)).toBe(200);

    const cliEnv = { TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`, CHAMP_TASK_QUEUE: 'dev-stack-test' };
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), env: cliEnv };
    const workflowId = `dev-stack-${Date.now()}`;
    // The example's spec, with its data folders (generated, not in git) under this test's home.
    const example = join(ROOT, 'examples', 'claims-severity');
    for (const channel of ['train', 'validation']) mkdirSync(join(home, 'data', channel), { recursive: true });
    writeFileSync(
      join(home, 'pipeline.yaml'),
      readFileSync(join(example, 'pipeline.yaml'), 'utf8')
        .replace(/context: \.\s/, `context: ${example}\n`)
        .replace('outputPath: file://../../.champ/', 'outputPath: file://./'),
    );
    const run = await runCli(['run', join(home, 'pipeline.yaml'), '--id', workflowId], io);
    expect(lines.join('\n')).toContain(`started ${workflowId}`);
    expect(run).toBe(0);

    const temporal = findTemporalBinary('temporal');
    expect(temporal).toBeDefined();
    const list = spawnSync(temporal!, ['workflow', 'list', '--address', `127.0.0.1:${temporalPort}`, '--output', 'json'], { encoding: 'utf8' });
    expect(list.status).toBe(0);
    expect(list.stdout).toContain(workflowId);

    // The worker picked it up: the workflow's history goes past its first task.
    let history = '';
    for (let i = 0; i < 50 && !/WORKFLOW_TASK_COMPLETED|WorkflowTaskCompleted/.test(history); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      history = spawnSync(temporal!, ['workflow', 'show', '--address', `127.0.0.1:${temporalPort}`, '--workflow-id', workflowId, '--output', 'json'], { encoding: 'utf8' }).stdout;
    }
    expect(history).toMatch(/WORKFLOW_TASK_COMPLETED|WorkflowTaskCompleted/);
    expect(await runCli(['cancel', workflowId], io)).toBe(0);

    process.kill(-dev.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref())]);
    expect(code).toBe(0);
    // The stack's processes end on its way out, not necessarily before its own exit: wait for it, bounded.
    const goneBy = Date.now() + 15_000;
    while (processesMentioning(home).length > 0 && Date.now() < goneBy) await new Promise((r) => setTimeout(r, 100));
    expect(processesMentioning(home)).toEqual([]);
  }, 120_000);
});
