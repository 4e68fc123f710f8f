import { ConfigError, loadConfig } from '../../src/config';

describe('worker configuration from the environment', () => {
  it('applies defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_NAMESPACE: 'default',
      CHAMP_TASK_QUEUE: 'champ-pipelines',
      LOG_LEVEL: 'info',
      CHAMP_METRICS_PORT: 9464,
    });
  });

  it('forces no AWS region: unset, the SDK\'s own chain (a profile\'s region) decides', () => {
    expect(loadConfig({}).AWS_REGION).toBeUndefined();
    expect(loadConfig({ AWS_REGION: 'eu-west-1' }).AWS_REGION).toBe('eu-west-1');
  });

  it('reads overrides, numbers included', () => {
    const c = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', CHAMP_METRICS_PORT: '0', AWS_ENDPOINT_URL_SAGEMAKER: 'http://127.0.0.1:8787' });
    expect(c.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(c.CHAMP_METRICS_PORT).toBe(0);
    expect(c.AWS_ENDPOINT_URL_SAGEMAKER).toBe('http://127.0.0.1:8787');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ LOG_LEVEL: '' }).LOG_LEVEL).toBe('info');
  });

  it.each([
    ['TEMPORAL_ADDRESS', 'localhost', 'host:port'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL'],
    ['CHAMP_METRICS_PORT', '70000', 'CHAMP_METRICS_PORT'],
    ['AWS_REGION', 'Europe', 'us-east-1'],
    ['AWS_ENDPOINT_URL_SAGEMAKER', 'not a url', 'URL'],
  ])('refuses %s=%s with an error naming the variable', (name, value, hint) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      expect((err as Error).message).toContain(`${name}="${value}"`);
      expect((err as Error).message).toContain(hint);
    }
  });

  it('lists every bad variable at once', () => {
    expect(() => loadConfig({ LOG_LEVEL: 'loud', TEMPORAL_ADDRESS: 'x' })).toThrow(/LOG_LEVEL[\s\S]*TEMPORAL_ADDRESS|TEMPORAL_ADDRESS[\s\S]*LOG_LEVEL/);
  });
});

describe('local stack ports', () => {
  it('defaults to 7233, 8233 and 8787 and refuses a non-port naming the variable', () => {
    expect(loadConfig({})).toMatchObject({ CHAMP_TEMPORAL_PORT: 7233, CHAMP_UI_PORT: 8233, CHAMP_LOCAL_SAGEMAKER_PORT: 8787 });
    expect(loadConfig({ CHAMP_UI_PORT: '18233' }).CHAMP_UI_PORT).toBe(18233);
    expect(() => loadConfig({ CHAMP_LOCAL_SAGEMAKER_PORT: 'abc' })).toThrow('CHAMP_LOCAL_SAGEMAKER_PORT="abc": must be a port number 0-65535');
  });
});
