// Credentials never reach a log line: not as a field, not in a message, not in
// an error, not through the Temporal SDK's logger, however deep.
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { createLogger, temporalLogger } from '../../src/logging';

const ACCESS_KEY_ID = 'AKIAIOSFODNN7TESTKEY';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTONLYKEY';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ';
const SECRETS = [ACCESS_KEY_ID, SECRET_KEY, SESSION_TOKEN, 'hunter2hunter2', 'abcdefghijklmnopqrstuvwx'];

function capture() {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = createLogger({ level: 'trace', format: 'json', name: 'test', destination });
  return { log, text: () => text };
}

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('the worker logger', () => {
  it('redacts secret-named fields at any depth, and keeps the rest', () => {
    const { log, text } = capture();
    log.info(
      {
        credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_KEY, sessionToken: SESSION_TOKEN },
        request: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=x', 'content-type': 'application/json' } },
        nested: [{ deeper: { env: { DB_PASSWORD: 'hunter2hunter2', REGION: 'eu-west-1' } } }],
        workflowId: 'wf-1',
      },
      'calling SageMaker',
    );
    expectNoSecret(text());
    const line = JSON.parse(text()) as Record<string, unknown>;
    expect(line).toMatchObject({ workflowId: 'wf-1', msg: 'calling SageMaker', request: { headers: { 'content-type': 'application/json' } } });
    expect(JSON.stringify(line)).toContain('eu-west-1');
  });

  it('scrubs credential-shaped text from messages, strings and errors', () => {
    const { log, text } = capture();
    log.warn(`training failed: AWS_SECRET_ACCESS_KEY=${SECRET_KEY}\0AWS_ACCESS_KEY_ID=${ACCESS_KEY_ID}`);
    log.info({ reason: `printed /proc/1/environ: AWS_SESSION_TOKEN=${SESSION_TOKEN}` }, 'job ended');
    log.error({ err: new Error(`request failed with Authorization: Bearer abcdefghijklmnopqrstuvwx`) }, 'call failed');
    const failure = ApplicationFailure.nonRetryable(`container said password=hunter2hunter2`, 'TrainingFailed');
    log.error({ err: failure }, 'activity failed');
    expectNoSecret(text());
    expect(text()).toContain('[redacted]');
    expect(text()).toContain('ApplicationFailure');
  });

  it('redacts what the Temporal SDK logs through it', () => {
    const { log, text } = capture();
    temporalLogger(log).error('Activity failed', { error: new Error(`exit 1: ${ACCESS_KEY_ID}`), activityType: 'startTraining', password: 'hunter2hunter2' });
    expectNoSecret(text());
    expect(text()).toContain('startTraining');
  });

  it('stays bounded on a self-referencing or very deep object', () => {
    const { log, text } = capture();
    let deep: Record<string, unknown> = { secret: SECRET_KEY };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    const cycle: Record<string, unknown> = { token: SESSION_TOKEN };
    cycle.self = cycle;
    log.info({ deep, cycle }, 'deep');
    expectNoSecret(text());
    expect(text()).toContain('[too deep]');
  });
});
