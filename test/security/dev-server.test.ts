// The Temporal dev server as `npm run dev` starts it: a web page cannot start
// a workflow through its HTTP API on loopback, the Web UI still answers, and
// the AWS credentials in the user's shell do not reach the server's process.
import { Connection } from '@temporalio/client';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/net';
import { devServerEnvironment, startDevServer, type DevServer } from '../../src/temporal-server';

jest.setTimeout(90_000);

function http(url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in 10 s`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The addresses `pid` listens on (TCP, IPv4 and IPv6), from its socket inodes and /proc/net. */
function listeningAddresses(pid: number): string[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((inode): inode is string => inode !== undefined),
  );
  const addresses: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local_address rem_address st ... inode (index 9); 0A is LISTEN.
      if (cols.length > 9 && cols[3] === '0A' && inodes.has(cols[9]!)) addresses.push(hexAddress(cols[1]!));
    }
  }
  return addresses;
}

function hexAddress(hex: string): string {
  const [ip, port] = hex.split(':') as [string, string];
  const host =
    ip.length === 8
      ? (ip.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.')
      : ip === '00000000000000000000000000000000'
        ? '::'
        : ip === '0000000000000000FFFF00000100007F' || ip === '00000000000000000000000001000000'
          ? '127.0.0.1'
          : ip;
  return `${host}:${parseInt(port, 16)}`;
}

/** Where `npm run dev` puts its codec server when payloads are encrypted; nothing needs to listen there for this test. */
const CODEC = 'http://127.0.0.1:8888';
const FAKE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTONLYKEY';

describe('the dev server of npm run dev', () => {
  let home: string;
  let server: DevServer;
  let connection: Connection;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'champ-security-dev-'));
    // What a user's shell may hold; startDevServer must not pass it on.
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7TESTONLY',
      AWS_SECRET_ACCESS_KEY: FAKE_SECRET,
      AWS_SESSION_TOKEN: 'session-token-test-only',
      GITHUB_TOKEN: 'ghp_testonlytestonlytestonlytestonly0000',
    };
    server = await startDevServer({ stateDir: join(home, 'temporal'), port: await freePort(), uiPort: await freePort(), env, codecEndpoint: CODEC });
    connection = await Connection.connect({ address: server.address });
  });

  afterAll(async () => {
    await connection?.close();
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  async function workflowExists(workflowId: string): Promise<boolean> {
    try {
      await connection.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId } });
      return true;
    } catch (err) {
      if (/not found/i.test(String((err as Error).message))) return false;
      throw err;
    }
  }

  it('refuses a cross-origin text/plain POST to its HTTP API, and no workflow starts', async () => {
    const workflowId = 'evil-cross-origin';
    const res = await http(`${server.httpApiUrl}/api/v1/namespaces/default/workflows/${workflowId}`, {
      method: 'POST',
      headers: { Origin: 'http://evil.example', 'Content-Type': 'text/plain' },
      body: JSON.stringify({ workflowType: { name: 'trainingPipeline' }, taskQueue: { name: 'champ-pipelines' }, input: null }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await workflowExists(workflowId)).toBe(false);
  });

  it('refuses the same POST without an Origin too (the HTTP API is shut, not filtered)', async () => {
    const workflowId = 'evil-no-origin';
    const res = await http(`${server.httpApiUrl}/api/v1/namespaces/default/workflows/${workflowId}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ workflowType: { name: 'trainingPipeline' }, taskQueue: { name: 'champ-pipelines' } }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await workflowExists(workflowId)).toBe(false);
  });

  it('keeps the Web UI answering, its API included, and refuses a cross-origin POST there (CSRF token)', async () => {
    expect((await http(`${server.uiUrl}/`, { method: 'GET' })).status).toBe(200);
    const list = await http(`${server.uiUrl}/api/v1/namespaces/default/workflows`, { method: 'GET' });
    expect(list.status).toBe(200);
    const res = await http(`${server.uiUrl}/api/v1/namespaces/default/workflows/evil-through-ui`, {
      method: 'POST',
      headers: { Origin: 'http://evil.example', 'Content-Type': 'text/plain' },
      body: JSON.stringify({ workflowType: { name: 'trainingPipeline' }, taskQueue: { name: 'champ-pipelines' } }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await workflowExists('evil-through-ui')).toBe(false);
  });

  it('points the Web UI at the codec server it was given', async () => {
    const settings = JSON.parse((await http(`${server.uiUrl}/api/v1/settings`, { method: 'GET' })).body) as { Codec?: { Endpoint?: string } };
    expect(settings.Codec?.Endpoint).toBe(CODEC);
  });

  it('keeps the gRPC API champ uses working', async () => {
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
  });

  it('listens on 127.0.0.1 only: gRPC, UI, HTTP API, metrics and the rest', () => {
    const addresses = listeningAddresses(server.pid);
    expect(addresses.length).toBeGreaterThanOrEqual(3);
    expect(addresses.filter((a) => !a.startsWith('127.0.0.1:'))).toEqual([]);
  });

  it('runs without the credentials in the starting environment', () => {
    const environ = readFileSync(`/proc/${server.pid}/environ`, 'utf8');
    const names = environ.split('\0').map((kv) => kv.split('=')[0]);
    expect(names).not.toContain('AWS_ACCESS_KEY_ID');
    expect(names).not.toContain('AWS_SECRET_ACCESS_KEY');
    expect(names).not.toContain('AWS_SESSION_TOKEN');
    expect(names).not.toContain('GITHUB_TOKEN');
    expect(environ).not.toContain(FAKE_SECRET);
    expect(names).toContain('PATH');
  });
});

describe('devServerEnvironment', () => {
  it('keeps what a process needs and nothing else', () => {
    expect(
      devServerEnvironment({ PATH: '/usr/bin', HOME: '/home/u', LC_ALL: 'C.UTF-8', AWS_PROFILE: 'prod', AWS_SECRET_ACCESS_KEY: FAKE_SECRET, DATABASE_URL: 'postgres://u:p@h/db' }),
    ).toEqual({ PATH: '/usr/bin', HOME: '/home/u', LC_ALL: 'C.UTF-8' });
  });
});
