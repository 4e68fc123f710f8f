// The worker and the CLI reach Temporal through mTLS, configured only through
// the temporal CLI's variables: the run's dev server behind a TLS proxy that
// requires a client certificate from the test's CA. A pipeline completes over
// it; a wrong CA or a missing client certificate fails fast, saying which.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { runCli } from '../../src/client';
import { loadConfig } from '../../src/config';
import { findTemporalBinary } from '../../src/temporal-server';
import { temporalAddress, uniqueTaskQueue } from '../harness/temporal';
import { startE2e, uniqueSuffix, type E2eEnv } from '../e2e/helpers';
import { startWorkerProcess } from '../e2e/worker-process';
import { makeCertificates, startApiKeyProxy, startTlsProxy, type ApiKeyProxy, type Certificates, type TlsProxy } from '../support/tls';

jest.setTimeout(180_000);

let certs: Certificates;
let proxy: TlsProxy;
let env: E2eEnv;

beforeAll(async () => {
  certs = makeCertificates();
  proxy = await startTlsProxy(certs, temporalAddress(), true);
  env = await startE2e();
});

afterAll(async () => {
  await env?.stop();
  await proxy?.close();
  certs?.remove();
});

/** The temporal CLI's variables for mTLS to the proxy; no TEMPORAL_ADDRESS: the CLI gets --address. */
function mtlsVariables(ca = certs.caCert): Record<string, string> {
  return {
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
  };
}

async function champ(args: string[], cliEnv: NodeJS.ProcessEnv): Promise<{ code: number; out: string[]; err: string[]; ms: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const started = Date.now();
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: cliEnv });
  return { code, out: out.flatMap((l) => l.split('\n')), err: err.flatMap((l) => l.split('\n')), ms: Date.now() - started };
}

it('a worker and the CLI complete a pipeline through mTLS, every connection through the proxy', async () => {
  const taskQueue = uniqueTaskQueue('tls');
  const worker = await startWorkerProcess({
    taskQueue,
    sageMakerUrl: env.sageMakerUrl,
    home: env.home,
    env: { TEMPORAL_ADDRESS: proxy.address, ...mtlsVariables() },
  });
  try {
    expect(worker.output()).toContain('"temporalSecurity":"mTLS"');
    const workerConnections = proxy.accepted();
    expect(workerConnections).toBeGreaterThan(0);

    const specFile = join(env.home, `tls-${uniqueSuffix()}.yaml`);
    writeFileSync(specFile, toYaml(env.makeSpec()));
    const id = `tls-${uniqueSuffix()}`;
    const run = await champ(['run', specFile, '--id', id, '--wait', '--poll-seconds', '0.2', '--address', proxy.address], {
      ...mtlsVariables(),
      CHAMP_TASK_QUEUE: taskQueue,
    });
    expect(run.err).toEqual([]);
    expect(run.out[0]).toBe(`started ${id}`);
    expect(run.out.at(-1)).toBe(`${id}: deployed`);
    expect(run.code).toBe(0);
    expect(proxy.accepted()).toBeGreaterThan(workerConnections);

    // The same server, read back through the flags alone: --address wins over a wrong TEMPORAL_ADDRESS.
    const status = await champ(['status', id, '--address', proxy.address], { ...mtlsVariables(), TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(status.out[0]).toBe(`${id}: COMPLETED`);
  } finally {
    await worker.kill();
  }
});

it('a CA that did not sign the server certificate fails the CLI in one line naming the CA setting, within 15 s', async () => {
  const refusedBefore = proxy.refused();
  const r = await champ(['list', '--address', proxy.address], mtlsVariables(certs.otherCaCert));
  expect(r.code).toBe(1);
  expect(r.out).toEqual([]);
  expect(r.err).toEqual([
    `champ: cannot reach the Temporal server at ${proxy.address} (mTLS): the server's TLS certificate is not signed by the CA champ trusts: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed it (the system roots are used when unset).`,
  ]);
  expect(r.ms).toBeLessThan(15_000);
  expect(proxy.refused()).toBeGreaterThan(refusedBefore);
});

it('a missing client certificate fails the CLI naming the client certificate settings', async () => {
  const r = await champ(['list'], { TEMPORAL_ADDRESS: proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert });
  expect(r.code).toBe(1);
  expect(r.err).toHaveLength(1);
  expect(r.err[0]).toContain(`cannot reach the Temporal server at ${proxy.address} (TLS)`);
  expect(r.err[0]).toContain('set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH');
  expect(r.ms).toBeLessThan(15_000);
});

it('a plain connection to the TLS port says TLS may be wanted', async () => {
  const r = await champ(['list', '--address', proxy.address], {});
  expect(r.code).toBe(1);
  expect(r.err[0]).toContain('set TEMPORAL_TLS=true');
});

it('a worker given the wrong CA exits at start with code 2 and the same explanation', async () => {
  const started = Date.now();
  const failed = await startWorkerProcess({
    taskQueue: uniqueTaskQueue('tls-wrong-ca'),
    sageMakerUrl: env.sageMakerUrl,
    home: env.home,
    env: { TEMPORAL_ADDRESS: proxy.address, ...mtlsVariables(certs.otherCaCert) },
  }).then(
    async (w) => {
      await w.kill();
      return undefined;
    },
    (err: Error) => err.message,
  );
  expect(failed).toContain(`champ worker: cannot reach the Temporal server at ${proxy.address} (TEMPORAL_ADDRESS, mTLS): the server's TLS certificate is not signed by the CA champ trusts`);
  expect(Date.now() - started).toBeLessThan(60_000);
});

/** The `temporal ...` and `champ ...` lines of the ```sh blocks of docs/temporal-cloud.md. */
function docCommands(): string[] {
  const doc = readFileSync(resolve(__dirname, '../../docs/temporal-cloud.md'), 'utf8');
  return [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n')).filter((l) => /^(temporal|champ) /.test(l));
}

it("docs/temporal-cloud.md: its profile commands make profiles champ reads, and its mTLS profile lists runs through the proxy", async () => {
  const temporal = findTemporalBinary('temporal');
  if (!temporal) throw new Error('the temporal CLI is not installed (npm run temporal:install)');
  const home = mkdtempSync(join(tmpdir(), 'champ-doc-home-'));
  try {
    mkdirSync(join(home, 'certs'));
    copyFileSync(certs.caCert, join(home, 'certs', 'ca.pem'));
    copyFileSync(certs.clientCert, join(home, 'certs', 'client.pem'));
    copyFileSync(certs.clientKey, join(home, 'certs', 'client.key'));
    // Only what the doc's shell lines read: HOME (the profile file and the certificates) and the API key variable.
    const shellEnv = { PATH: `${dirname(temporal)}:${process.env.PATH ?? ''}`, HOME: home, TEMPORAL_CLOUD_API_KEY: 'doc-test-key' };
    const lines = docCommands();
    const champLines = lines.filter((l) => l.startsWith('champ '));
    expect(champLines).toEqual(['champ --profile prod list', 'champ --profile prod-mtls list']);
    for (const line of lines.filter((l) => l.startsWith('temporal config set '))) {
      execFileSync('bash', ['-c', line], { env: shellEnv, stdio: 'pipe', timeout: 30_000 });
    }
    // The API key profile as champ reads it (no Temporal Cloud is reachable from a test).
    const prod = loadConfig({ HOME: home, TEMPORAL_PROFILE: 'prod' });
    expect(prod.temporal).toMatchObject({ address: 'us-east-1.aws.api.temporal.io:7233', namespace: 'ml-pipelines.a1b2c', apiKey: 'doc-test-key', tls: true, profile: 'prod' });

    // The mTLS profile, its address pointed at the proxy in front of the run's dev server (namespace "default").
    execFileSync(temporal, ['config', 'set', '--profile', 'prod-mtls', '--prop', 'address', '--value', proxy.address], { env: shellEnv, stdio: 'pipe' });
    execFileSync(temporal, ['config', 'set', '--profile', 'prod-mtls', '--prop', 'namespace', '--value', 'default'], { env: shellEnv, stdio: 'pipe' });
    const accepted = proxy.accepted();
    const list = await champ(champLines[1]!.split(' ').slice(1), { HOME: home });
    expect(list.err).toEqual([]);
    expect(list.code).toBe(0);
    expect(proxy.accepted()).toBeGreaterThan(accepted);

    for (const line of lines.filter((l) => l.startsWith('temporal operator search-attribute create '))) {
      execFileSync('bash', ['-c', line], { env: { ...shellEnv, TEMPORAL_ADDRESS: temporalAddress() }, stdio: 'pipe', timeout: 30_000 });
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

describe('API key (Temporal Cloud)', () => {
  const KEY = 'champ-test-api-key-0123456789';
  let keyProxy: ApiKeyProxy;
  beforeAll(async () => {
    keyProxy = await startApiKeyProxy(certs, temporalAddress(), KEY);
  });
  afterAll(async () => {
    await keyProxy?.close();
  });

  const keyVariables = (key: string): Record<string, string> => ({
    TEMPORAL_ADDRESS: keyProxy.address,
    TEMPORAL_API_KEY: key,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
  });

  it('the CLI and a worker send TEMPORAL_API_KEY on every call, over TLS', async () => {
    const list = await champ(['list'], keyVariables(KEY));
    expect(list.err).toEqual([]);
    expect(list.code).toBe(0);
    const worker = await startWorkerProcess({ taskQueue: uniqueTaskQueue('api-key'), sageMakerUrl: env.sageMakerUrl, home: env.home, env: keyVariables(KEY) });
    try {
      expect(worker.output()).toContain('"temporalSecurity":"TLS + API key"');
      expect(worker.output()).not.toContain(KEY);
    } finally {
      await worker.kill();
    }
    expect(keyProxy.authorized()).toBeGreaterThan(1);
    expect(keyProxy.refused()).toBe(0);
  });

  it('a wrong API key fails the CLI in one line naming TEMPORAL_API_KEY, never showing a key', async () => {
    const r = await champ(['list'], keyVariables('not-the-key'));
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toBe(
      `champ: cannot reach the Temporal server at ${keyProxy.address} (TLS + API key): the server refused the API key: check TEMPORAL_API_KEY, and that the key may use the namespace (TEMPORAL_NAMESPACE).`,
    );
    expect(r.err[0]).not.toContain('not-the-key');
    expect(r.err[0]).not.toContain(KEY);
    expect(keyProxy.refused()).toBeGreaterThan(0);
  });
});
