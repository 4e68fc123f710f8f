import { LocalConfigError, loadLocalConfig } from '../../src/local/config';

describe('the control plane configuration from the environment', () => {
  it('applies the documented defaults when nothing is set', () => {
    expect(loadLocalConfig({})).toEqual({
      CHAMP_LOCAL_SAGEMAKER_PORT: 8787,
      CHAMP_HOME: '.champ',
      CHAMP_LOCAL_HEALTH_TIMEOUT_MS: 60_000,
      CHAMP_LOCAL_MAX_ENDPOINTS: 10,
      CHAMP_LOCAL_MAX_TRAINING_JOBS: 10,
      CHAMP_LOCAL_ISOLATION: 'auto',
      // Below the kernel's ephemeral range (32768-60999).
      CHAMP_LOCAL_PORT_RANGE: { first: 30000, last: 32767 },
      CHAMP_LOCAL_REGISTRY: '127.0.0.1:5000',
      AWS_REGION: 'us-east-1',
    });
  });

  it('reads overrides, numbers included, and treats an empty variable as unset', () => {
    const c = loadLocalConfig({ CHAMP_LOCAL_MAX_ENDPOINTS: '2', CHAMP_LOCAL_SAGEMAKER_PORT: '0', CHAMP_IMAGE_STORE: '/images', CHAMP_LOCAL_ISOLATION: '' });
    expect(c).toMatchObject({ CHAMP_LOCAL_MAX_ENDPOINTS: 2, CHAMP_LOCAL_SAGEMAKER_PORT: 0, CHAMP_IMAGE_STORE: '/images', CHAMP_LOCAL_ISOLATION: 'auto' });
  });

  it.each([
    ['CHAMP_LOCAL_SAGEMAKER_PORT', '70000', 'is not a port number 0-65535'],
    ['CHAMP_LOCAL_MAX_TRAINING_JOBS', '-1', 'is not a whole number of 0 or more'],
    ['CHAMP_LOCAL_HEALTH_TIMEOUT_MS', 'soon', 'is not a whole number of 0 or more'],
    ['CHAMP_LOCAL_ISOLATION', 'chroot', 'is not a mode: use auto, docker, namespace or env'],
    ['AWS_REGION', 'Europe', 'is not an AWS region such as us-east-1'],
    ['CHAMP_LOCAL_PORT_RANGE', '30000', 'is not a port range such as 30000-32767'],
    ['CHAMP_LOCAL_PORT_RANGE', '40000-30000', 'starts after it ends: write the lower port first'],
    ['CHAMP_LOCAL_PORT_RANGE', '80-90', 'must lie within 1024-65535'],
  ])('refuses %s=%s naming the variable and what to write', (name, value, fix) => {
    expect(() => loadLocalConfig({ [name]: value })).toThrow(LocalConfigError);
    expect(() => loadLocalConfig({ [name]: value })).toThrow(`${name}="${value}" ${fix}`);
  });

  it('reads a port range', () => {
    expect(loadLocalConfig({ CHAMP_LOCAL_PORT_RANGE: ' 20000 - 20009 ' }).CHAMP_LOCAL_PORT_RANGE).toEqual({ first: 20000, last: 20009 });
  });

  it('lists every bad variable at once', () => {
    expect(() => loadLocalConfig({ CHAMP_LOCAL_MAX_ENDPOINTS: 'x', CHAMP_LOCAL_ISOLATION: 'y' })).toThrow(
      /CHAMP_LOCAL_MAX_ENDPOINTS[\s\S]*CHAMP_LOCAL_ISOLATION/,
    );
  });
});
