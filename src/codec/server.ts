// The codec server: decrypts and encrypts payloads over HTTP for the Temporal
// Web UI ("Codec Server" in its settings) and `temporal ... --codec-endpoint`.
// It speaks Temporal's remote codec protocol: POST /decode and /encode with
// {"payloads": [{"metadata": {k: base64}, "data": base64}]}.
//
// Anyone who can reach it can read every payload, so it listens on 127.0.0.1,
// answers cross-origin only to the Web UI's origin, and takes JSON only (a
// browser cannot send that cross-origin without a CORS preflight).
import type { Payload, PayloadCodec } from '@temporalio/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfigOrExit } from '../config';
import { AesGcmCodec, PayloadDecryptionError } from './aes-gcm';
import { newKeyEntry, PAYLOAD_KEYS_VARIABLE } from './keys';

/** A history page the UI decodes at once stays far below this. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fromBase64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new BadRequest(`${where} must be base64`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function toPayloads(body: unknown): Payload[] {
  const list = (body as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new BadRequest('the body must be {"payloads": [...]}');
  return list.map((p: unknown, i) => {
    if (typeof p !== 'object' || p === null) throw new BadRequest(`payloads[${i}] must be an object`);
    const { metadata = {}, data = '' } = p as JsonPayload;
    if (typeof metadata !== 'object' || metadata === null) throw new BadRequest(`payloads[${i}].metadata must be an object`);
    return {
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, fromBase64(v, `payloads[${i}].metadata.${k}`)])),
      data: fromBase64(data, `payloads[${i}].data`),
    };
  });
}

function fromPayloads(payloads: Payload[]): { payloads: JsonPayload[] } {
  const b64 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('base64');
  return { payloads: payloads.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) })) };
}

/** The body as text; one over MAX_BODY_BYTES is drained, not kept, so the client still reads the 413. */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  const declared = Number(req.headers['content-length'] ?? 0);
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (declared <= MAX_BODY_BYTES && size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (Math.max(declared, size) > MAX_BODY_BYTES) throw new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`, 413);
  return Buffer.concat(chunks).toString('utf8');
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** 0 for any free port. */
  port: number;
  /** The Web UI's origin, e.g. http://127.0.0.1:8233: the only origin a browser may call from. */
  allowedOrigin: string;
  /** Errors a person should see (a wrong key); never payload contents. */
  onError?: (message: string) => void;
}

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const allowedOrigin = new URL(opts.allowedOrigin).origin;
  const cors = (res: ServerResponse) => {
    res.setHeader('Access-Control-Allow-Origin', allowedOrigin);
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  // A payload that does not decrypt shows why in its place: the UI and the CLI
  // print it where the value would be, rather than failing the whole page.
  const decodeEach = (payloads: Payload[]) =>
    Promise.all(
      payloads.map(async (payload) => {
        try {
          return (await opts.codec.decode([payload]))[0]!;
        } catch (err) {
          if (!(err instanceof PayloadDecryptionError)) throw err;
          opts.onError?.(err.message);
          return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify({ champCodecError: err.message })) };
        }
      }),
    );
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== allowedOrigin) throw new BadRequest(`origin ${origin} may not use this codec server; only ${allowedOrigin} may`, 403);
    if (origin !== undefined) cors(res);
    const path = new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && path === '') {
      send(res, 200, { service: 'champ codec server', endpoints: ['/encode', '/decode'] });
      return;
    }
    if (path !== '/encode' && path !== '/decode') throw new BadRequest(`no such endpoint: ${path || '/'}; use /encode or /decode`, 404);
    if (req.method !== 'POST') throw new BadRequest(`${path} takes POST`, 405);
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new BadRequest('the body must be JSON (Content-Type: application/json)', 415);
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      if (err instanceof BadRequest) throw err;
      throw new BadRequest('the body is not valid JSON');
    }
    const payloads = toPayloads(body);
    const out = path === '/encode' ? await opts.codec.encode(payloads) : await decodeEach(payloads);
    send(res, 200, fromPayloads(out));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest ? err.status : err instanceof PayloadDecryptionError ? 422 : 500;
      const message = err instanceof BadRequest || err instanceof PayloadDecryptionError ? err.message : 'internal error';
      if (status >= 422) opts.onError?.(err instanceof Error && status === 500 ? `codec server: ${err.name}` : message);
      req.resume();
      if (!res.headersSent) send(res, status, { message });
      else res.end();
    });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const newKey = args.indexOf('--new-key');
  if (newKey >= 0) {
    console.log(newKeyEntry(args[newKey + 1] ?? `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`));
    return;
  }
  const config = loadConfigOrExit('champ codec-server');
  if (!config.CHAMP_PAYLOAD_KEYS) {
    console.error(`champ codec-server: ${PAYLOAD_KEYS_VARIABLE} is not set, so payloads are not encrypted and need no codec server; see docs/encryption.md`);
    process.exit(2);
  }
  let server: CodecServer;
  try {
    server = await startCodecServer({
      codec: new AesGcmCodec(config.CHAMP_PAYLOAD_KEYS),
      port: config.CHAMP_CODEC_PORT,
      allowedOrigin: config.CHAMP_UI_URL,
      onError: (message) => console.error(message),
    });
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new ConfigError(
      inUse ? `CHAMP_CODEC_PORT=${config.CHAMP_CODEC_PORT}: 127.0.0.1:${config.CHAMP_CODEC_PORT} is already in use; set CHAMP_CODEC_PORT to a free port` : (err as Error).message,
    );
  }
  console.log(`codec server on ${server.url} (keys ${config.CHAMP_PAYLOAD_KEYS.ids.join(', ')}; encrypting with ${config.CHAMP_PAYLOAD_KEYS.encryptingId})`);
  console.log(`  Web UI: Settings > Codec Server > ${server.url} (answers ${new URL(config.CHAMP_UI_URL).origin} only)`);
  console.log(`  CLI:    temporal workflow show -w <id> --codec-endpoint ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`champ codec-server: ${(err as Error).message}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  });
}
