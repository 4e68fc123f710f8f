// A credential written into a spec is refused naming the field and never
// echoed; a reference to one (an ARN, an environment variable's name) and the
// long identifiers a spec legitimately holds pass.
import { parseSpec } from '../../src/spec';
import { credentialKind } from '../../src/spec/credentials';
import { baseSpec, specError } from './support';

const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('credentials in a spec', () => {
  it('refuses a literal secret, names the field and never shows the value', () => {
    const spec = baseSpec();
    spec.deployment.environment = { AWS_SECRET_ACCESS_KEY: AWS_SECRET };
    spec.training.hyperparameters = { token: 'AKIAIOSFODNN7EXAMPLE' };
    const err = specError(() => parseSpec(spec));
    const paths = err.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['deployment.environment.AWS_SECRET_ACCESS_KEY', 'training.hyperparameters.token']));
    const text = `${err.message}\n${err.format()}\n${JSON.stringify(err.issues)}`;
    expect(text).not.toContain(AWS_SECRET);
    expect(text).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(text).toContain('Secrets Manager or SSM parameter ARN');
  });

  it.each([
    ['a Secrets Manager ARN', 'DB_PASSWORD', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/claims/db-AbCdEf'],
    ['an SSM parameter ARN', 'API_TOKEN', 'arn:aws:ssm:eu-west-1:123456789012:parameter/claims/api-token'],
    ['an environment variable name', 'UPSTREAM_TOKEN', 'CLAIMS_UPSTREAM_TOKEN'],
    ['an environment variable as ${NAME}', 'SECRET_KEY', '${CLAIMS_SECRET_KEY}'],
  ])('accepts %s', (_what, name, value) => {
    const spec = baseSpec();
    spec.deployment.environment = { [name]: value };
    expect(parseSpec(spec).deployment.environment[name]).toBe(value);
  });

  it.each([
    ['a commit hash under a plain name', 'commit', '3f9a2c7e1b8d4f6a0e5c9b2d7f1a4e8c6b3d0a9f'],
    ['a short word under a *_KEY name', 'SORT_KEY', 'customer_id'],
    ['a model name under a KEY name', 'FEATURE_KEY', 'claims-severity-features-v2'],
    ['a sentence under a TOKEN name', 'TOKENIZER', 'bert-base-uncased'],
  ])('does not mistake %s for a credential', (_what, name, value) => {
    expect(credentialKind(value, name)).toBeUndefined();
  });

  it.each([
    ['AKIAIOSFODNN7EXAMPLE', undefined, 'AWS access key id'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----', undefined, 'private key'],
    ['Bearer abcdefghijklmnop1234', undefined, 'bearer token'],
    [AWS_SECRET, 'aws_secret_access_key', 'secret'],
    ['s3cr3tPassw0rdForTheDatabase', 'DB_PASSWORD', 'secret'],
  ])('sees %s (named %s) as %s', (value, name, what) => {
    expect(credentialKind(value, name)).toContain(what);
  });
});
