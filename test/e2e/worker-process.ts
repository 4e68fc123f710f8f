// The worker as a separate process (`tsx src/worker.ts`), so a test can kill
// it with SIGKILL the way a crashed host would.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { workflowBundle, temporalAddress } from '../harness/temporal';

const ROOT = resolve(__dirname, '../..');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything the process wrote so far (for failure messages). */
  output(): string;
  /** Resolves with the exit signal or code once the process (group) has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to the whole process group: tsx may run the worker in a child process. */
  kill(): Promise<void>;
}

export interface WorkerProcessOptions {
  taskQueue: string;
  sageMakerUrl: string;
  home: string;
  /** Variables added to (or replacing) the worker's environment, e.g. a TLS connection's. */
  env?: Record<string, string>;
}

/** Starts a worker process and resolves once it polls its task queue. */
export async function startWorkerProcess(opts: WorkerProcessOptions, readyTimeoutMs = 60_000): Promise<WorkerProcess> {
  const runDir = process.env.CHAMP_TEST_RUN_DIR;
  if (!runDir) throw new Error('CHAMP_TEST_RUN_DIR is unset: run the tests through jest (its global setup makes it)');
  // Writes $CHAMP_TEST_RUN_DIR/workflow-bundle.js when no test built it yet.
  await workflowBundle();
  const child = spawn(TSX, ['src/worker.ts'], {
    cwd: ROOT,
    // Its own process group, so kill() reaches every process tsx started.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: opts.home,
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      TEMPORAL_ADDRESS: temporalAddress(),
      CHAMP_TASK_QUEUE: opts.taskQueue,
      AWS_ENDPOINT_URL_SAGEMAKER: opts.sageMakerUrl,
      AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: opts.sageMakerUrl,
      CHAMP_HOME: opts.home,
      CHAMP_METRICS_PORT: '0',
      CHAMP_WORKFLOW_BUNDLE: resolve(runDir, 'workflow-bundle.js'),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      ...opts.env,
    },
  });
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  let alive = true;
  void exited.then(() => (alive = false));

  const kill = async (): Promise<void> => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
    if (alive) await exited;
  };

  const deadline = Date.now() + readyTimeoutMs;
  while (!/worker polling/.test(out)) {
    if (!alive) throw new Error(`the worker process exited before polling:\n${out.slice(-3000)}`);
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`the worker process did not poll within ${readyTimeoutMs} ms:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => out, exited, kill };
}
