// The AES-256-GCM payload codec, its keys and its HTTP server, without Temporal.
import type { Payload } from '@temporalio/common';
import { request } from 'node:http';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, newKeyEntry, parsePayloadKeys, PayloadDecryptionError } from '../../src/codec';
import { startCodecServer, type CodecServer } from '../../src/codec/server';
import { ConfigError, loadConfig } from '../../src/config';

const OLD = newKeyEntry('k-old');
const NEW = newKeyEntry('k-new');

function json(value: unknown): Payload {
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) };
}
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

describe('AesGcmCodec', () => {
  const secret = { spec: { name: 'claims-severity' }, token: 'do-not-store' };

  it('seals a payload whole (metadata too) and opens it again', async () => {
    const codec = new AesGcmCodec(parsePayloadKeys(NEW));
    const [sealed] = await codec.encode([json(secret)]);
    expect(text(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('k-new');
    expect(text(sealed!.data)).not.toContain('claims-severity');
    expect(text(sealed!.data)).not.toContain('json/plain');
    const [opened] = await codec.decode([sealed!]);
    expect(text(opened!.metadata!.encoding)).toBe('json/plain');
    expect(JSON.parse(text(opened!.data))).toEqual(secret);
  });

  it('uses a fresh nonce each time: the same payload never seals to the same bytes', async () => {
    const codec = new AesGcmCodec(parsePayloadKeys(NEW));
    const [a, b] = await codec.encode([json(secret), json(secret)]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('opens what an old key sealed once a new key is added first, and seals with the new one', async () => {
    const [old] = await new AesGcmCodec(parsePayloadKeys(OLD)).encode([json(secret)]);
    const rotated = new AesGcmCodec(parsePayloadKeys(`${NEW},${OLD}`));
    expect(JSON.parse(text((await rotated.decode([old!]))[0]!.data))).toEqual(secret);
    expect(text((await rotated.encode([json(1)]))[0]!.metadata![KEY_ID_METADATA])).toBe('k-new');
  });

  it('names the missing key id and the ids it holds', async () => {
    const [sealed] = await new AesGcmCodec(parsePayloadKeys(NEW)).encode([json(secret)]);
    await expect(new AesGcmCodec(parsePayloadKeys(OLD)).decode([sealed!])).rejects.toThrow(
      'a payload is encrypted with key id "k-new", which CHAMP_PAYLOAD_KEYS does not hold (it holds "k-old"); add that key after the encrypting one',
    );
  });

  it('refuses a wrong key under the right id, and a relabelled or altered payload', async () => {
    const [sealed] = await new AesGcmCodec(parsePayloadKeys(NEW)).encode([json(secret)]);
    const wrong = new AesGcmCodec(parsePayloadKeys(newKeyEntry('k-new')));
    await expect(wrong.decode([sealed!])).rejects.toThrow(PayloadDecryptionError);
    await expect(wrong.decode([sealed!])).rejects.toThrow(/key id "k-new" does not decrypt/);
    // Relabelled: k-old's key exists but the id is authenticated with the data.
    const both = new AesGcmCodec(parsePayloadKeys(`${NEW},${OLD}`));
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('k-old') } };
    await expect(both.decode([relabelled])).rejects.toThrow(PayloadDecryptionError);
    const altered = Buffer.from(sealed!.data!);
    altered[20] = altered[20]! ^ 1;
    await expect(both.decode([{ ...sealed!, data: altered }])).rejects.toThrow(PayloadDecryptionError);
  });

  it('passes unencrypted payloads through, so histories from before encryption stay readable', async () => {
    const plain = json(secret);
    expect(await new AesGcmCodec(parsePayloadKeys(NEW)).decode([plain])).toEqual([plain]);
  });
});

describe('CHAMP_PAYLOAD_KEYS', () => {
  it('is off by default', () => {
    expect(loadConfig({}).CHAMP_PAYLOAD_KEYS).toBeUndefined();
  });

  it('never shows key material in an error, a log or JSON', () => {
    const material = OLD.split(':')[1]!;
    const keyring = loadConfig({ CHAMP_PAYLOAD_KEYS: `${NEW},${OLD}` }).CHAMP_PAYLOAD_KEYS!;
    expect(JSON.stringify(keyring)).toBe('{"encryptingId":"k-new","ids":["k-new","k-old"]}');
    let message = '';
    try {
      loadConfig({ CHAMP_PAYLOAD_KEYS: `${OLD},k2:${material.slice(0, 20)}` });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain('CHAMP_PAYLOAD_KEYS=(');
    expect(message).toContain('entry 2 ("k2"): the key must be 32 bytes in base64');
    expect(message).not.toContain(material);
    expect(message).not.toContain(material.slice(0, 20));
  });

  it.each([
    ['an entry without an id', 'k1', 'entry 1 must be "id:base64key"'],
    ['a repeated id', `${OLD},${OLD}`, 'repeats the key id "k-old"'],
    ['an id with a space', 'bad id:AAAA', 'entry 1 must be "id:base64key"'],
    ['no entry', ' , ', 'holds no key'],
  ])('refuses %s naming the problem', (_what, value, fragment) => {
    expect(() => loadConfig({ CHAMP_PAYLOAD_KEYS: value })).toThrow(fragment);
  });
});

describe('the codec server', () => {
  const UI = 'http://127.0.0.1:8233';
  let server: CodecServer;
  const codec = new AesGcmCodec(parsePayloadKeys(`${NEW},${OLD}`));

  beforeAll(async () => {
    server = await startCodecServer({ codec, port: 0, allowedOrigin: UI });
  });
  afterAll(async () => {
    await server.close();
  });

  function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string }) {
    return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const req = request(`${server.url}${path}`, { method: init.method ?? 'POST', headers: init.headers, agent: false, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
      req.on('error', reject);
      req.end(init.body);
    });
  }
  const wire = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });

  it('listens on 127.0.0.1', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('decodes and encodes in the remote codec protocol, with CORS for the Web UI', async () => {
    const [sealed] = await codec.encode([json({ a: 1 })]);
    const res = await call('/decode', { headers: { 'Content-Type': 'application/json', Origin: UI, 'X-Namespace': 'default' }, body: JSON.stringify({ payloads: [wire(sealed!)] }) });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    const out = JSON.parse(res.body) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    expect(Buffer.from(out.payloads[0]!.data, 'base64').toString()).toBe('{"a":1}');
    const enc = await call('/encode', { headers: { 'Content-Type': 'application/json' }, body: res.body });
    const encoded = JSON.parse(enc.body) as { payloads: Array<{ metadata: Record<string, string> }> };
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
  });

  it('answers the preflight of the Web UI, and refuses any other origin', async () => {
    const pre = await call('/decode', { method: 'OPTIONS', headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' } });
    expect(pre.status).toBe(204);
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/X-Namespace/i);
    const evil = await call('/decode', { headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: '{"payloads":[]}' });
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const evilPre = await call('/decode', { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
    expect(evilPre.status).toBe(403);
  });

  it('takes JSON only, so a page cannot post a form or text/plain without a preflight', async () => {
    const res = await call('/encode', { headers: { 'Content-Type': 'text/plain' }, body: '{"payloads":[]}' });
    expect(res.status).toBe(415);
  });

  it('shows why a payload does not decrypt in its place, answers bad input with 400 and a huge body with 413', async () => {
    const [sealed] = await new AesGcmCodec(parsePayloadKeys(newKeyEntry('k-elsewhere'))).encode([json(1)]);
    const [fine] = await codec.encode([json(2)]);
    const res = await call('/decode', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ payloads: [wire(sealed!), wire(fine!)] }) });
    expect(res.status).toBe(200);
    const out = JSON.parse(res.body) as { payloads: Array<{ data: string }> };
    expect(JSON.parse(Buffer.from(out.payloads[0]!.data, 'base64').toString())).toEqual({
      champCodecError: expect.stringContaining('key id "k-elsewhere", which CHAMP_PAYLOAD_KEYS does not hold') as unknown,
    });
    expect(Buffer.from(out.payloads[1]!.data, 'base64').toString()).toBe('2');
    expect((await call('/decode', { headers: { 'Content-Type': 'application/json' }, body: '{"payloads":[{"data":"%%"}]}' })).status).toBe(400);
    expect((await call('/decode', { headers: { 'Content-Type': 'application/json' }, body: 'nope' })).status).toBe(400);
    expect((await call('/decode', { headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(17 * 1024 * 1024) })).status).toBe(413);
  });
});
