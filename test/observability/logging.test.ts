// The worker's log lines: level names, ISO times, one field name for each thing
// in workflow and activity lines (a real worker on the test server), and
// colour only on a terminal.
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { Runtime } from '@temporalio/worker';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, logFormat, temporalLogger } from '../../src/logging';
import type { PipelineActivities } from '../../src/activities/types';
import { trainingPipeline } from '../../src/workflows';
import { withWorker } from '../harness/temporal';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '../..');
type Line = Record<string, unknown>;

function capture(level = 'info') {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { log: createLogger({ level, format: 'json', name: 'test', destination }), lines };
}

describe('JSON lines', () => {
  it('carry the level by name and the time as an ISO 8601 instant', () => {
    const { log, lines } = capture('debug');
    log.debug('d');
    log.info({ workflowId: 'wf-1' }, 'i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => l.level)).toEqual(['debug', 'info', 'warn', 'error']);
    for (const l of lines) {
      expect(l.time).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/));
      expect(Math.abs(Date.parse(l.time as string) - Date.now())).toBeLessThan(60_000);
    }
  });
});

describe('field names across workflows and activities', () => {
  it("a workflow's lines and its activity's lines name the run runId, and share workflowId, workflowType, namespace and taskQueue", async () => {
    const { log, lines } = capture('debug');
    // This file's worker logs through the worker's own adapter, as src/worker.ts installs it.
    Runtime.install({ logger: temporalLogger(log.child({ component: 'temporal' })) });
    const activities = {
      async validateSpec() {
        Context.current().log.info('checking the spec');
        throw ApplicationFailure.create({ type: 'SpecInvalid', message: 'spec.name is missing', nonRetryable: true });
      },
    } as unknown as PipelineActivities;
    await withWorker({ activities }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start(trainingPipeline, { taskQueue, workflowId: `log-fields-${Date.now()}`, args: [{ spec: { name: 'log-fields' } as never }] });
      await expect(handle.result()).rejects.toThrow();
      // Workflow lines reach the logger through a sink, after the task completes.
      const deadline = Date.now() + 30_000;
      while (!lines.some((l) => l.msg === 'pipeline failed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const runId = handle.firstExecutionRunId;
      const fromActivity = lines.find((l) => l.msg === 'checking the spec');
      const fromWorkflow = lines.find((l) => l.msg === 'pipeline failed');
      expect(fromActivity).toMatchObject({ runId, workflowId: handle.workflowId, workflowType: 'trainingPipeline', activityType: 'validateSpec', attempt: 1, taskQueue, namespace: 'default', level: 'info' });
      expect(fromWorkflow).toMatchObject({ runId, workflowId: handle.workflowId, workflowType: 'trainingPipeline', taskQueue, namespace: 'default', level: 'error' });
      // No line anywhere uses the other name.
      expect(lines.filter((l) => 'workflowRunId' in l)).toEqual([]);
    });
  });
});

describe('text or JSON, colour or not', () => {
  it('chooses text on a terminal and JSON elsewhere; colour only on a terminal without NO_COLOR', () => {
    expect(logFormat(undefined, { isTTY: true, noColor: false })).toEqual({ pretty: true, colour: true });
    expect(logFormat(undefined, { isTTY: false, noColor: false })).toEqual({ pretty: false, colour: false });
    expect(logFormat('pretty', { isTTY: false, noColor: false })).toEqual({ pretty: true, colour: false });
    expect(logFormat('pretty', { isTTY: true, noColor: true })).toEqual({ pretty: true, colour: false });
    expect(logFormat('json', { isTTY: true, noColor: false })).toEqual({ pretty: false, colour: false });
  });

  const program = "const { createLogger } = require('./src/logging'); const log = createLogger({ level: 'info', format: process.env.LOG_FORMAT || undefined }); log.warn({ workflowId: 'wf-9' }, 'into a pipe');";

  it('LOG_FORMAT=pretty into a pipe writes readable text with no escape codes', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', program], { cwd: ROOT, env: { ...process.env, LOG_FORMAT: 'pretty', NO_COLOR: '' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('into a pipe');
    expect(run.stdout).toContain('WARN');
    expect(run.stdout).toContain('wf-9');
    expect(run.stdout).not.toContain('\u001b[');
  });

  it('unset LOG_FORMAT into a pipe writes JSON lines', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', program], { cwd: ROOT, env: { ...process.env, LOG_FORMAT: '' }, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ level: 'warn', msg: 'into a pipe', workflowId: 'wf-9' });
  });

  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  (script.status === 0 ? it : it.skip)('LOG_FORMAT=pretty on a terminal (script(1) gives it one) is in colour', () => {
    const command = `${JSON.stringify(process.execPath)} --import tsx -e ${JSON.stringify(program)}`;
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, LOG_FORMAT: 'pretty', NO_COLOR: '' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toContain('into a pipe');
    expect(run.stdout).toContain('\u001b[');
  });
});
