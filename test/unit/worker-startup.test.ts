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

describe('the worker process at startup', () => {
  const FAKE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTONLYKEY';
  const KEY_MATERIAL = 'c2hvcnQtYnV0LXNlY3JldC1rZXktbWF0ZXJpYWw=';

  async function runWorker(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const { spawn } = await import('node:child_process');
    const { resolve } = await import('node:path');
    const { freePort } = await import('../../src/net');
    const closed = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../src/worker.ts')], {
      cwd: resolve(__dirname, '../..'),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        TEMPORAL_ADDRESS: `127.0.0.1:${closed}`,
        CHAMP_METRICS_PORT: '0',
        LOG_LEVEL: 'trace',
        LOG_FORMAT: 'json',
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7TESTKEY',
        AWS_SECRET_ACCESS_KEY: FAKE_SECRET,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((r) => child.once('close', r));
    clearTimeout(timer);
    return { code, output };
  }

  it('refuses bad payload keys naming the variable, never showing them or the AWS credentials', async () => {
    const { code, output } = await runWorker({ CHAMP_PAYLOAD_KEYS: `k1:${KEY_MATERIAL}` });
    expect(code).toBe(2);
    expect(output).toContain('CHAMP_PAYLOAD_KEYS=(');
    expect(output).toContain('the key must be 32 bytes');
    for (const secret of [KEY_MATERIAL, FAKE_SECRET, 'AKIAIOSFODNN7TESTKEY']) expect(output).not.toContain(secret);
  }, 70_000);

  it('fails to reach Temporal in one line, with no credential in anything it printed', async () => {
    const { code, output } = await runWorker({ AWS_REGION: 'eu-west-1' });
    expect(code).toBe(2);
    expect(output).toMatch(/cannot reach the Temporal server at 127\.0\.0\.1:\d+ \(TEMPORAL_ADDRESS\)/);
    for (const secret of [FAKE_SECRET, 'AKIAIOSFODNN7TESTKEY']) expect(output).not.toContain(secret);
  }, 70_000);

  it('refuses to start without an AWS region, naming AWS_REGION and AWS_PROFILE, before it connects anywhere', async () => {
    const { code, output } = await runWorker({ AWS_CONFIG_FILE: '/nonexistent/aws-config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials' });
    expect(code).toBe(2);
    expect(output).toContain('champ worker: no AWS region: set AWS_REGION (e.g. AWS_REGION=us-east-1), or AWS_PROFILE to a profile');
    expect(output).not.toMatch(/cannot reach the Temporal server/);
  }, 70_000);

  it("takes the region of AWS_PROFILE's section in the AWS config file, forcing none of its own", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'champ-aws-profile-'));
    try {
      const configFile = join(dir, 'config');
      writeFileSync(configFile, '[profile team]\nregion = ap-southeast-2\n');
      const { code, output } = await runWorker({ AWS_PROFILE: 'team', AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials') });
      // Past the region check: the next start-up step (Temporal, on a closed port) is what stops it.
      expect(code).toBe(2);
      expect(output).not.toContain('no AWS region');
      expect(output).toContain('"region":"ap-southeast-2"');
      expect(output).toMatch(/cannot reach the Temporal server at 127\.0\.0\.1:\d+ \(TEMPORAL_ADDRESS\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 70_000);
});
