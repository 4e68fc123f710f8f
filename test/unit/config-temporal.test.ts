// The Temporal connection settings as the temporal CLI reads them: its
// TEMPORAL_* variables over a profile of its TOML file, and every bad setting
// refused at start with the variable or the profile key named.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { explainConnectionFailure, resolveTemporalSettings } from '../../src/temporal-connection';
import { makeCertificates, type Certificates } from '../support/tls';

let dir: string;
let certs: Certificates;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'champ-temporal-config-'));
  certs = makeCertificates();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  certs.remove();
});

function configFile(name: string, toml: string): string {
  const file = join(dir, name);
  writeFileSync(file, toml);
  return file;
}

function problems(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted the settings');
}

describe('Temporal connection settings', () => {
  it('defaults to a plain connection to 127.0.0.1:7233, namespace default', () => {
    const c = loadConfig({});
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', security: 'plain' });
    expect(c.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
  });

  it('reads the profile TEMPORAL_PROFILE names from the file TEMPORAL_CONFIG_FILE names, with mTLS files and an API key', () => {
    const file = configFile(
      'cloud.toml',
      `[profile.default]\naddress = "127.0.0.1:7233"\n\n[profile.cloud]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\napi_key = "secret-key"\n[profile.cloud.tls]\nserver_ca_cert_path = "${certs.caCert}"\nclient_cert_path = "${certs.clientCert}"\nclient_key_path = "${certs.clientKey}"\n`,
    );
    const c = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
    expect(c.TEMPORAL_ADDRESS).toBe('ns.acct.tmprl.cloud:7233');
    expect(c.TEMPORAL_NAMESPACE).toBe('ns.acct');
    expect(c.temporal).toMatchObject({ profile: 'cloud', apiKey: 'secret-key', security: 'mTLS + API key' });
    const tls = c.temporal.tls as { serverRootCACertificate?: Uint8Array; clientCertPair?: { crt: Uint8Array; key: Uint8Array } };
    expect(Buffer.from(tls.serverRootCACertificate!).toString()).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(tls.clientCertPair!.key).toString()).toContain('PRIVATE KEY');
  });

  it('lets the variables win over the profile, as the temporal CLI does', () => {
    const file = configFile('env-wins.toml', '[profile.default]\naddress = "from-file:7233"\nnamespace = "file-ns"\n');
    const c = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: '127.0.0.1:9999' });
    expect(c.TEMPORAL_ADDRESS).toBe('127.0.0.1:9999');
    expect(c.TEMPORAL_NAMESPACE).toBe('file-ns');
  });

  it('finds the default profile file under XDG_CONFIG_HOME like the temporal CLI', () => {
    const xdg = join(dir, 'xdg');
    require('node:fs').mkdirSync(join(xdg, 'temporalio'), { recursive: true });
    writeFileSync(join(xdg, 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "xdg-host:7233"\n');
    expect(loadConfig({ XDG_CONFIG_HOME: xdg }).temporal).toMatchObject({ address: 'xdg-host:7233', profile: 'default' });
  });

  it('an API key alone turns TLS on with the system roots (Temporal Cloud)', () => {
    const c = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'k' });
    expect(c.temporal).toMatchObject({ tls: true, apiKey: 'k', security: 'TLS + API key' });
  });

  it('TEMPORAL_TLS=true with a CA is server-verified TLS; TEMPORAL_TLS=false turns it off', () => {
    expect(loadConfig({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert }).temporal.security).toBe('TLS');
    expect(loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert }).temporal.security).toBe('plain');
  });

  it.each([
    [{ TEMPORAL_CONFIG_FILE: '/no/such/temporal.toml' }, 'TEMPORAL_CONFIG_FILE="/no/such/temporal.toml": no such file'],
    [{ TEMPORAL_PROFILE: 'cloud' }, 'TEMPORAL_PROFILE="cloud": there is no config file'],
    [{ TEMPORAL_TLS: 'yes' }, 'TEMPORAL_TLS="yes": must be true or false'],
    [{ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' }, 'set TEMPORAL_TLS_SERVER_NAME'],
    [{ TEMPORAL_ADDRESS: 'cloud.example' }, 'TEMPORAL_ADDRESS="cloud.example": must be host:port'],
    [{ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/no/ca.pem' }, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH="/no/ca.pem": cannot read the file (ENOENT)'],
    [{ TEMPORAL_TLS_CLIENT_CERT_PATH: '/x/client.pem' }, 'TEMPORAL_TLS_CLIENT_CERT_PATH: mTLS needs both the client certificate and its key; set TEMPORAL_TLS_CLIENT_KEY_PATH'],
  ])('refuses %j naming the variable and the fix', (env, message) => {
    expect(problems(env)).toContain(message);
  });

  it('refuses a CA file that is not PEM, and a profile the file lacks', () => {
    const notPem = configFile('not-pem.txt', 'hello');
    expect(problems({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: notPem })).toContain(`TEMPORAL_TLS_SERVER_CA_CERT_PATH="${notPem}": is not a PEM CA certificate`);
    const file = configFile('one.toml', '[profile.default]\naddress = "a:1"\n');
    expect(problems({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' })).toContain(`TEMPORAL_PROFILE="prod": ${file} has no such profile; "temporal config list"`);
  });

  it('names the profile key when the bad value came from the file', () => {
    const file = configFile('bad-key.toml', `[profile.default]\naddress = "nohost"\n[profile.default.tls]\nclient_key_path = "${certs.clientKey}"\n`);
    const message = problems({ TEMPORAL_CONFIG_FILE: file });
    expect(message).toContain(`address of profile "default" in ${file}="nohost": must be host:port`);
    expect(message).toContain(`tls.client_key_path of profile "default" in ${file}: mTLS needs both`);
  });

  it('never shows an API key or key data, even beside another bad variable', () => {
    const message = problems({ TEMPORAL_API_KEY: 'very-secret-api-key', TEMPORAL_TLS_CLIENT_KEY_DATA: 'secret-key-data', TEMPORAL_TLS_CLIENT_CERT_DATA: 'nope', LOG_LEVEL: 'loud' });
    expect(message).toContain('LOG_LEVEL="loud"');
    expect(message).toContain('TEMPORAL_TLS_CLIENT_KEY_DATA: is not a PEM private key');
    expect(message).not.toContain('very-secret-api-key');
    expect(message).not.toContain('secret-key-data');
  });
});

describe('connection failures in words', () => {
  const tls = resolveTemporalSettings({ TEMPORAL_TLS: 'true' }).settings!;
  const plain = resolveTemporalSettings({}).settings!;
  it.each([
    ['tonic::transport::Error(Transport, ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }))', tls, 'not signed by the CA champ trusts: set TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
    ['hyper::Error(Io, Custom { kind: InvalidData, error: "received fatal alert: CertificateRequired" })', tls, 'set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH'],
    ["Hostname/IP does not match certificate's altnames", tls, 'set TEMPORAL_TLS_SERVER_NAME'],
    ['Failed to connect before the deadline', plain, 'set TEMPORAL_TLS=true'],
    ['14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1', plain, 'connection refused'],
  ])('%s', (message, settings, expected) => {
    expect(explainConnectionFailure(new Error(message), settings)).toContain(expected);
  });
});

describe('the local stack', () => {
  it("connects plainly to the dev server it started, whatever TLS, API key, namespace or profile the shell holds for the team's cluster", () => {
    const teamCluster = { TEMPORAL_PROFILE: 'prod', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'true', TEMPORAL_NAMESPACE: 'ml.a1b2c', TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233' };
    expect(() => loadConfig(teamCluster)).toThrow(ConfigError); // no such profile here
    const c = loadConfig(teamCluster, { localTemporal: '127.0.0.1:7777' });
    expect(c.temporal).toEqual({ address: '127.0.0.1:7777', namespace: 'default', security: 'plain' });
    expect(c.TEMPORAL_ADDRESS).toBe('127.0.0.1:7777');
    expect(c.TEMPORAL_NAMESPACE).toBe('default');
  });
});
