// Payload encryption end to end: the real worker (startWorker) and the CLI's
// client (withClient) with CHAMP_PAYLOAD_KEYS run a pipeline on the local
// control plane. The history holds only ciphertext; the client reads the
// result; the real `temporal` CLI shows plaintext through the codec server;
// a payload written with an old key is read once a new key is added first;
// a missing or wrong key fails with a message naming the key id.
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { withClient, type CliIO } from '../../src/cli/common';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, newKeyEntry, parsePayloadKeys } from '../../src/codec';
import { startCodecServer, type CodecServer } from '../../src/codec/server';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logging';
import { injectFault } from '../../src/local';
import { findTemporalBinary } from '../../src/temporal-server';
import { startWorker, type StartedWorker } from '../../src/worker';
import { trainingPipeline, type PipelineResult } from '../../src/workflows';
import { pipelineInput, startE2e, uniqueSuffix, type E2eEnv } from '../e2e/helpers';
import { temporalAddress, uniqueTaskQueue } from '../harness/temporal';

jest.setTimeout(180_000);

const OLD = newKeyEntry('k-old');
const NEW = newKeyEntry('k-new');
const OTHER = newKeyEntry('k-new'); // the same id, another key: what a mistyped key looks like
const UI_ORIGIN = 'http://127.0.0.1:8233';

let e2e: E2eEnv;
let worker: StartedWorker;
let raw: Connection;
let workflowId: string;
let specName: string;
let result: PipelineResult;
let workerLog = '';

function io(keys: string): CliIO {
  return { out: () => undefined, err: () => undefined, env: { TEMPORAL_ADDRESS: temporalAddress(), CHAMP_PAYLOAD_KEYS: keys } };
}

/** Every Payload in a history (objects with metadata and data), with where it sits. */
function payloadsIn(node: unknown, path = ''): Array<{ path: string; payload: Payload }> {
  if (node === null || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap((item, i) => payloadsIn(item, `${path}[${i}]`));
  const obj = node as Record<string, unknown>;
  if (obj.metadata && typeof obj.metadata === 'object' && 'data' in obj && !Array.isArray(obj.metadata)) return [{ path, payload: obj as Payload }];
  return Object.entries(obj).flatMap(([k, v]) => payloadsIn(v, path ? `${path}.${k}` : k));
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const meta = (p: Payload, key: string) => (p.metadata?.[key] ? Buffer.from(p.metadata[key]!).toString('utf8') : undefined);

beforeAll(async () => {
  e2e = await startE2e();
  // startWorker bundles the workflows itself, as `npm run dev` does: with the failure converter that encodes messages.
  const config = loadConfig({
    TEMPORAL_ADDRESS: temporalAddress(),
    CHAMP_TASK_QUEUE: uniqueTaskQueue('encrypted'),
    CHAMP_METRICS_PORT: '0',
    CHAMP_IMAGE_STORE: e2e.imageStore,
    AWS_ENDPOINT_URL_SAGEMAKER: e2e.sageMakerUrl,
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: e2e.sageMakerUrl,
    // Rotated: k-new encrypts, k-old still decrypts.
    CHAMP_PAYLOAD_KEYS: `${NEW},${OLD}`,
  });
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      workerLog += chunk.toString();
      done();
    },
  });
  worker = await startWorker(config, createLogger({ level: 'info', format: 'json', destination }));
  raw = await Connection.connect({ address: temporalAddress() });

  const spec = e2e.makeSpec();
  specName = spec.name;
  workflowId = `encrypted-${uniqueSuffix()}`;
  // A client that only has the old key starts the run: its input is sealed with k-old.
  // Training stays InProgress until released once the wait has failed "not ready" at least once, so
  // the history holds a retried poll's failure message whatever the machine's speed.
  await injectFault(e2e.sageMakerUrl, { kind: 'hold', resource: 'training', status: 'InProgress', ms: 600_000, count: 1 });
  await withClient(io(OLD), async (client) => {
    await client.workflow.start(trainingPipeline, { taskQueue: config.CHAMP_TASK_QUEUE, workflowId, args: [pipelineInput(spec)] });
  });
  await withClient(io(`${NEW},${OLD}`), async (client) => {
    const handle = client.workflow.getHandle<typeof trainingPipeline>(workflowId);
    await waitFor(async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some((a) => a.activityType?.name === 'awaitTraining' && (a.attempt ?? 0) >= 2);
    }, 120_000, 'awaitTraining retried after "not ready"');
    await injectFault(e2e.sageMakerUrl, { kind: 'release', resource: 'training', status: 'InProgress' });
    result = await handle.result();
  });
});

afterAll(async () => {
  if (worker) {
    worker.worker.shutdown();
    await worker.done;
  }
  await raw?.close();
  await e2e?.stop();
});

async function rawHistory() {
  return new Client({ connection: raw }).workflow.getHandle(workflowId).fetchHistory();
}

describe('payload encryption', () => {
  it('lets the worker complete the pipeline and the client read its result', () => {
    expect(result.outcome).toBe('deployed');
  });

  it('says at startup that encryption is on and with which key id, never the key', () => {
    expect(workerLog).toMatch(/"payloadEncryption":"on \(key k-new\)"/);
    for (const entry of [NEW, OLD]) expect(workerLog).not.toContain(entry.split(':')[1]);
  });

  it('stores every input, result, message and failure message as ciphertext in the history', async () => {
    const history = await rawHistory();
    // Search attributes stay plain for visibility queries; patch markers are the SDK's own (the names of code changes).
    const found = payloadsIn(history.events).filter(({ path }) => !/searchAttributes|indexedFields|markerRecordedEventAttributes\.details\.patch-data/.test(path));
    expect(found.length).toBeGreaterThan(10);
    const plain = found.filter(({ payload }) => meta(payload, 'encoding') !== ENCRYPTED_ENCODING).map(({ path }) => path);
    expect(plain).toEqual([]);
    const readable = found.map(({ payload }) => Buffer.from(payload.data ?? []).toString('utf8')).join('\n');
    expect(readable).not.toContain(specName);
    expect(readable).not.toContain('"outcome"');
    // Failure messages (the retried polls name the training job and its log path) are encoded and sealed as well.
    const messages = JSON.stringify(history.events).match(/"message":"[^"]*"/g) ?? [];
    expect(messages.filter((m) => m !== '"message":"Encoded failure"')).toEqual([]);
    // The input came from the client with the old key, what the worker wrote later with the new one.
    const ids = new Set(found.map(({ payload }) => meta(payload, KEY_ID_METADATA)));
    expect(ids).toEqual(new Set(['k-old', 'k-new']));
  });

  it('reads a payload sealed with the old key once a new key is added first (rotation)', async () => {
    const history = await rawHistory();
    const input = payloadsIn(history.events?.[0]?.workflowExecutionStartedEventAttributes?.input)[0]!.payload;
    expect(meta(input, KEY_ID_METADATA)).toBe('k-old');
    const [decoded] = await new AesGcmCodec(parsePayloadKeys(`${NEW},${OLD}`)).decode([input]);
    expect(JSON.parse(Buffer.from(decoded!.data!).toString('utf8'))).toMatchObject({ spec: { name: specName } });
  });

  it('fails clearly for a client without the key that sealed the result', async () => {
    await expect(
      withClient(io(OLD), async (client) => {
        await client.workflow.getHandle<typeof trainingPipeline>(workflowId).result();
      }),
    ).rejects.toThrow(/key id "k-new", which CHAMP_PAYLOAD_KEYS does not hold \(it holds "k-old"\)/);
    await expect(
      withClient(io(`${OTHER},${OLD}`), async (client) => {
        await client.workflow.getHandle<typeof trainingPipeline>(workflowId).result();
      }),
    ).rejects.toThrow(/key id "k-new" does not decrypt with the key CHAMP_PAYLOAD_KEYS gives that id/);
  });

  describe('through the codec server', () => {
    let good: CodecServer;
    let wrong: CodecServer;
    const temporal = findTemporalBinary('temporal')!;
    // Asynchronous: the codec servers answer from this very process.
    const show = (codec: string | undefined) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        const args = ['workflow', 'show', '--address', temporalAddress(), '-w', workflowId, '--output', 'json', ...(codec ? ['--codec-endpoint', codec] : [])];
        execFile(temporal, args, { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } }, (err, stdout, stderr) =>
          resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
        );
      });

    /** The payloads of `temporal workflow show --output json` as text (it prints their data in base64). */
    const payloadText = (stdout: string): string =>
      payloadsIn(JSON.parse(stdout))
        .map(({ payload }) => Buffer.from(String(payload.data ?? ''), 'base64').toString('utf8'))
        .join('\n');

    beforeAll(async () => {
      good = await startCodecServer({ codec: new AesGcmCodec(parsePayloadKeys(`${NEW},${OLD}`)), port: 0, allowedOrigin: UI_ORIGIN });
      wrong = await startCodecServer({ codec: new AesGcmCodec(parsePayloadKeys(OTHER)), port: 0, allowedOrigin: UI_ORIGIN });
    });

    afterAll(async () => {
      await good?.close();
      await wrong?.close();
    });

    it('shows plaintext to `temporal workflow show --codec-endpoint`, and ciphertext without it', async () => {
      const without = await show(undefined);
      expect(without.status).toBe(0);
      for (const plain of ['requestedBy', 'validation:deviance=', '"outcome"', 'not ready yet']) expect(payloadText(without.stdout)).not.toContain(plain);
      const through = await show(good.url);
      expect(through.stderr).toBe('');
      expect(through.status).toBe(0);
      for (const plain of ['requestedBy', 'validation:deviance=', '"outcome"', 'not ready yet']) expect(payloadText(through.stdout)).toContain(plain);
    });

    it('shows why in place of each payload through a codec server with the wrong key', async () => {
      const r = await show(wrong.url);
      expect(r.status).toBe(0);
      const text = payloadText(r.stdout);
      expect(text).toContain('champCodecError');
      expect(text).toContain('key id \\"k-old\\", which CHAMP_PAYLOAD_KEYS does not hold');
      expect(text).not.toContain('requestedBy');
    });
  });
});
