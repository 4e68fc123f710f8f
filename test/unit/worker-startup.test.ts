// The worker's startup failures that a person can fix read as one line naming
// the variable; its logs drop what says nothing to a reader.
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { temporalLogger } from '../../src/logging';
import { explainStartupError } from '../../src/worker';

describe('worker startup errors', () => {
  it('turns a metrics port in use into one line naming CHAMP_METRICS_PORT and the fix', () => {
    const config = loadConfig({ CHAMP_METRICS_PORT: '9464' });
    const err = explainStartupError(new Error('Failed to start prometheus metrics exporter: Address already in use (os error 98)'), config);
    expect(err?.message).toBe(
      'CHAMP_METRICS_PORT=9464: 127.0.0.1:9464 is already in use (another worker?); set CHAMP_METRICS_PORT to a free port, or 0 to turn the metrics off',
    );
    expect(explainStartupError(new Error('something else'), config)).toBeUndefined();
  });
});

describe('Temporal SDK logs through pino', () => {
  function capture() {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    return { logger: pino({ level: 'info' }, stream), lines };
  }

  it('drops the opaque task token and keeps the fields a reader needs', () => {
    const { logger, lines } = capture();
    temporalLogger(logger).info('activity done', { taskToken: 'CiQwMWEx...', workflowId: 'wf-1', attempt: 2 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'activity done', workflowId: 'wf-1', attempt: 2 });
    expect(lines[0]).not.toHaveProperty('taskToken');
  });

  it('moves a quiet source (the bundler) from info to debug', () => {
    const { logger, lines } = capture();
    temporalLogger(logger, { quiet: true }).info('asset workflow-bundle.js 1.7 MiB');
    temporalLogger(logger, { quiet: true }).warn('a real warning');
    expect(lines.map((l) => l.msg)).toEqual(['a real warning']);
  });
});
