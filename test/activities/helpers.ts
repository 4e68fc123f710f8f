// Shared test helpers: SDK clients with mocks attached, a scripted Docker, and
// a runner for activities that need Temporal's activity Context.
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { mockClient } from 'aws-sdk-client-mock';
import { SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { createAwsClients, type AwsClients } from '../../src/aws/clients';
import type { DockerResult, DockerRunner, DockerRunOptions } from '../../src/activities/docker';

export function mockedClients(local = false) {
  const clients: AwsClients = createAwsClients({
    region: 'us-east-1',
    local,
    credentials: { accessKeyId: 'AKIATESTTESTTEST', secretAccessKey: 'test-secret-key-never-shown' },
    env: {},
  });
  return {
    clients,
    sageMakerMock: mockClient(clients.sagemaker),
    runtimeMock: mockClient(clients.runtime),
    s3Mock: mockClient(clients.s3),
    ecrMock: mockClient(clients.ecr),
  };
}

export function awsError(name: string, status: number, message = `${name}`, extra: Record<string, unknown> = {}): Error {
  const e = new SageMakerServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
  return Object.assign(e, extra);
}

export interface LoggedLine {
  level: string;
  message: string;
  meta?: Record<string, unknown>;
}

/** Runs an activity function inside a mock activity Context and keeps its logs and heartbeats. */
export function activityRunner(attempt = 1) {
  const logs: LoggedLine[] = [];
  const heartbeats: unknown[] = [];
  const record = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    logs.push({ level, message, ...(meta ? { meta } : {}) });
  };
  const logger = {
    log: (level: string, message: string, meta?: Record<string, unknown>) => record(level)(message, meta),
    trace: record('trace'),
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
  const env = new MockActivityEnvironment({ attempt }, { logger });
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  return {
    logs,
    heartbeats,
    run<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> {
      return env.run(fn, input);
    },
  };
}

/** The ApplicationFailure a promise rejects with (fails the test if it resolves or throws anything else). */
export async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
}

export interface DockerCall {
  args: string[];
  stdin?: string;
  env?: Record<string, string>;
}

/** A DockerRunner that answers from a script and records every call. */
export function scriptedDocker(script: (args: string[], call: number) => DockerResult | Promise<DockerResult>) {
  const calls: DockerCall[] = [];
  const runner: DockerRunner = {
    async run(args: readonly string[], options: DockerRunOptions = {}) {
      calls.push({ args: [...args], ...(options.stdin !== undefined ? { stdin: options.stdin } : {}), ...(options.env ? { env: options.env } : {}) });
      const r = await script([...args], calls.length);
      for (const line of r.output.split('\n')) if (line) options.onLine?.(line);
      return r;
    },
  };
  return { runner, calls };
}

export const ok = (output = ''): DockerResult => ({ code: 0, output });
export const fail = (output: string, code = 1): DockerResult => ({ code, output });
