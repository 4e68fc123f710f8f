import { createAwsClients, destroyAwsClients, isLoopbackUrl } from '../../src/aws/clients';

describe('createAwsClients', () => {
  const noCreds = { HOME: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/c', AWS_CONFIG_FILE: '/nonexistent/f' };

  it('is local when the SageMaker endpoint from AWS_ENDPOINT_URL_SAGEMAKER is loopback, and uses dummy credentials', async () => {
    const c = createAwsClients({ env: { ...noCreds, AWS_ENDPOINT_URL_SAGEMAKER: 'http://127.0.0.1:8799' } });
    try {
      expect(c.local).toBe(true);
      expect(c.sagemakerEndpoint).toBe('http://127.0.0.1:8799');
      expect(await c.sagemaker.config.region()).toBe('us-east-1');
      const creds = await c.sagemaker.config.credentials();
      expect(creds.accessKeyId).toBe('champlocal');
    } finally {
      destroyAwsClients(c);
    }
  });

  it('lets an explicit endpoint win over the environment', async () => {
    const c = createAwsClients({
      region: 'eu-west-1',
      endpoints: { sagemaker: 'https://sagemaker.example.com' },
      env: { ...noCreds, AWS_ENDPOINT_URL_SAGEMAKER: 'http://127.0.0.1:8799' },
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    try {
      expect(c.local).toBe(false);
      const ep = await c.sagemaker.config.endpoint?.();
      expect(ep?.hostname).toBe('sagemaker.example.com');
      expect(c.sagemaker.config.maxAttempts).toBeDefined();
    } finally {
      destroyAwsClients(c);
    }
  });

  it('is not local against AWS itself', () => {
    const c = createAwsClients({ region: 'us-east-1', env: { ...noCreds } });
    expect(c.local).toBe(false);
    destroyAwsClients(c);
  });

  it('knows the ECR endpoint in effect (explicit, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL), which decides whether local builds push', () => {
    const local = { ...noCreds, AWS_ENDPOINT_URL_SAGEMAKER: 'http://127.0.0.1:8799' };
    const cases: Array<[Parameters<typeof createAwsClients>[0], string | undefined]> = [
      [{ env: local }, undefined],
      [{ env: { ...local, AWS_ENDPOINT_URL_ECR: 'http://127.0.0.1:8799' } }, 'http://127.0.0.1:8799'],
      [{ env: { ...local, AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' } }, 'http://127.0.0.1:4566'],
      [{ env: { ...local, AWS_ENDPOINT_URL_ECR: 'http://127.0.0.1:8799', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' } }, undefined],
      [{ env: local, endpoints: { ecr: 'http://127.0.0.1:9000' } }, 'http://127.0.0.1:9000'],
    ];
    for (const [config, expected] of cases) {
      const c = createAwsClients(config);
      expect(c.ecrEndpoint).toBe(expected);
      destroyAwsClients(c);
    }
  });

  it('rejects a bad maxAttempts or endpoint, naming the field', () => {
    expect(() => createAwsClients({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => createAwsClients({ endpoints: { s3: 'not a url' } })).toThrow(/endpoints\.s3/);
  });

  it('recognises loopback URLs only', () => {
    expect(isLoopbackUrl('http://localhost:1')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:1')).toBe(true);
    expect(isLoopbackUrl('https://api.sagemaker.us-east-1.amazonaws.com')).toBe(false);
    expect(isLoopbackUrl(undefined)).toBe(false);
  });
});
