// What an operator reads back from `champ` when things do not go to plan:
// failures with their reason, Ctrl-C while following, ended workflows, bad
// options and missing local data. Against the run's shared dev server, no worker.
import { ActivityFailure, ApplicationFailure, CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTable } from '../../src/cli/common';
import { describeWorkflowFailure, progressLines } from '../../src/cli/progress';
import { runCli, type CliIO } from '../../src/client';
import { trainingPipeline, type PipelineStatus } from '../../src/workflows';
import { temporalAddress, testClient, uniqueTaskQueue } from '../harness/temporal';
import { testSpec } from '../workflows/fake-activities';

const MINIMAL_SPEC = join(__dirname, '..', 'fixtures', 'specs', 'valid', 'minimal.yaml');

function capture(env: NodeJS.ProcessEnv = {}, onInterrupt?: CliIO['onInterrupt']) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (l) => out.push(...l.split('\n')), err: (l) => err.push(...l.split('\n')), env, onInterrupt };
  return { io, out, err };
}

function status(partial: Partial<PipelineStatus>): PipelineStatus {
  return {
    stage: 'starting',
    pipeline: 'claims',
    trigger: 'manual',
    candidate: { metrics: [] },
    champion: null,
    resources: { endpoint: 'claims' },
    logs: {},
    timings: [],
    ignoredSignals: 0,
    ...partial,
  };
}

describe('champ output', () => {
  it('names the deepest cause of a failed workflow, not "Workflow execution failed"', () => {
    const app = ApplicationFailure.create({ message: 'file:///data/train does not exist: create it', type: 'AwsNotFound', nonRetryable: true });
    const activity = new ActivityFailure('Activity task failed', 'fingerprintData', '5', 'NON_RETRYABLE_FAILURE', undefined, app);
    const failed = new WorkflowFailedError('Workflow execution failed', activity, 'NON_RETRYABLE_FAILURE');
    expect(describeWorkflowFailure(failed)).toEqual({ end: 'failed', reason: 'file:///data/train does not exist: create it' });
    expect(describeWorkflowFailure(new WorkflowFailedError('Workflow execution cancelled', new CancelledFailure('x'), 'CANCEL_REQUESTED')).end).toBe('cancelled');
  });

  it('shows every stage entered since the last poll once, with what it works on', () => {
    const shown = new Set<string>();
    const first = progressLines(
      status({
        stage: 'gating',
        timings: [
          { stage: 'validating', startedAt: 't' },
          { stage: 'training', startedAt: 't' },
          { stage: 'gating', startedAt: 't' },
        ],
        resources: { endpoint: 'claims', trainingJob: 'claims-abc-train' },
        gate: { passed: true, rules: [{ rule: 'gini >= 0.1', kind: 'threshold', metric: 'gini', value: 0.2, threshold: 0.1, verdict: 'pass' }] },
      }),
      shown,
      'wf-1',
      3,
    );
    expect(first).toEqual([
      '     3s  validating',
      '     3s  training           claims-abc-train',
      '     3s  gating             gini >= 0.1: pass',
    ]);
    const next = progressLines(
      status({
        stage: 'awaiting-approval',
        timings: [{ stage: 'training', startedAt: 't' }, { stage: 'awaiting-approval', startedAt: 't' }],
        approval: { awaiting: true, required: true, modelVersion: 4 },
      }),
      shown,
      'wf-1',
      5,
    );
    expect(next).toEqual([expect.stringMatching(/^ {5}5s {2}awaiting-approval {2}model version 4: champ approve wf-1 --version 4 --reviewer <you>/)]);
  });

  it('lines up list columns whatever the id length', () => {
    const lines = formatTable(['ID', 'STATUS'], [['a-very-long-workflow-id', 'RUNNING'], ['b', 'FAILED']]);
    expect(lines.map((l) => l.indexOf(l.trim().split(/\s+/)[1]!))).toEqual([25, 25, 25]);
  });
});

describe('champ refuses bad input before it reaches the server', () => {
  it('refuses --limit 0 naming the option, with exit 2', async () => {
    const { io, err } = capture({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(await runCli(['list', '--limit', '0'], io)).toBe(2);
    expect(err[0]).toMatch(/^champ: .*--limit must be a whole number of at least 1, got "0"/);
  });

  it('refuses to start a run whose file:// training data is missing, naming the channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'champ-cli-'));
    try {
      const spec = readFileSync(MINIMAL_SPEC, 'utf8').replace('s3://champ-data/minimal/train/', `file://${dir}/nothing-here`);
      writeFileSync(join(dir, 'spec.yaml'), spec);
      const { io, out, err } = capture({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
      expect(await runCli(['run', join(dir, 'spec.yaml')], io)).toBe(2);
      expect(out).toEqual([]);
      expect(err.join('\n')).toContain(`training.inputs[0].uri: channel "train": ${dir}/nothing-here does not exist on this machine`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says in one line that a spec file does not exist', async () => {
    const { io, err } = capture();
    expect(await runCli(['validate', '/nonexistent/spec.yaml'], io)).toBe(2);
    expect(err).toEqual(['champ: /nonexistent/spec.yaml: cannot read the spec file: no such file']);
  });

  it('prints its version with -V and keeps --version for the model version of approve', async () => {
    const v = capture();
    expect(await runCli(['-V'], v.io)).toBe(0);
    expect(v.out).toEqual([JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version]);
    const a = capture({ TEMPORAL_ADDRESS: temporalAddress() });
    expect(await runCli(['approve', 'no-such-run', '--version', '4', '--reviewer', 'al'], a.io)).toBe(1);
    expect(a.err).toEqual([expect.stringMatching(/^champ: no workflow with id "no-such-run"/)]);
  });
});

describe('champ against a pipeline that does not end well', () => {
  it('refuses to cancel a run that already ended, saying how it ended', async () => {
    const { client, close } = await testClient();
    try {
      const id = `cli-ended-${Date.now()}`;
      const handle = await client.workflow.start(trainingPipeline, { taskQueue: uniqueTaskQueue('cli'), workflowId: id, args: [{ spec: testSpec() }] });
      await handle.terminate('test');
      const { io, out, err } = capture({ TEMPORAL_ADDRESS: temporalAddress() });
      expect(await runCli(['cancel', id], io)).toBe(1);
      expect(out).toEqual([]);
      expect(err).toEqual([`champ: ${id} already ended (TERMINATED): nothing to cancel`]);
    } finally {
      await close();
    }
  });

  it('run --wait ends with exit 3 and the reason when the run does not finish', async () => {
    const { client, close } = await testClient();
    const taskQueue = uniqueTaskQueue('cli');
    const id = `cli-wait-${Date.now()}`;
    try {
      const { io, out, err } = capture({ TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue });
      const run = runCli(['run', MINIMAL_SPEC, '--id', id, '--wait'], io);
      // No worker polls this queue: the run waits until the operator gives up on it.
      await waitFor(() => out.includes(`started ${id}`));
      await client.workflow.getHandle(id).terminate('operator gave up');
      expect(await run).toBe(3);
      expect(err).toEqual([`champ: ${id} terminated: operator gave up`]);
    } finally {
      await close();
    }
  });

  it('Ctrl-C during run --wait stops following with exit 130 and leaves the pipeline running', async () => {
    const { client, close } = await testClient();
    const taskQueue = uniqueTaskQueue('cli');
    const id = `cli-ctrl-c-${Date.now()}`;
    let interrupt: (() => void) | undefined;
    try {
      const { io, out, err } = capture({ TEMPORAL_ADDRESS: temporalAddress(), CHAMP_TASK_QUEUE: taskQueue }, (handler) => {
        interrupt = handler;
        return () => (interrupt = undefined);
      });
      const run = runCli(['run', MINIMAL_SPEC, '--id', id, '--wait'], io);
      await waitFor(() => out.includes(`started ${id}`) && interrupt !== undefined);
      interrupt!();
      expect(await run).toBe(130);
      expect(interrupt).toBeUndefined();
      expect(err).toEqual([`champ: stopped following ${id}; the pipeline keeps running. Follow it with "champ status ${id}", stop it with "champ cancel ${id}"`]);
      expect((await client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
      await client.workflow.getHandle(id).terminate('test done');
    } finally {
      await close();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
