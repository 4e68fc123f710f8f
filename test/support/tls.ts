// A TLS front for the run's dev server, which serves plain gRPC only: a CA and
// certificates made with openssl in a temp folder, and a proxy on 127.0.0.1
// that ends TLS (optionally requiring a client certificate) and pipes the
// bytes to the dev server. Each accepted connection is counted, so a test can
// prove its traffic went through TLS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import * as http2 from 'node:http2';

export interface Certificates {
  dir: string;
  /** The CA that signs the server's and the client's certificates. */
  caCert: string;
  /** A CA that signed nothing here: trusting it must fail. */
  otherCaCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, name: string, ca: string, extensions: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

/** A CA, a server certificate for 127.0.0.1 and localhost, a client certificate, and an unrelated CA. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'champ-tls-'));
  try {
    makeCa(dir, 'ca');
    makeCa(dir, 'other-ca');
    makeLeaf(dir, 'server', 'ca', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
    makeLeaf(dir, 'client', 'ca', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    otherCaCert: join(dir, 'other-ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsProxy {
  /** host:port of the TLS side, on 127.0.0.1. */
  address: string;
  /** Connections that completed the handshake (with a client certificate when one is required). */
  accepted(): number;
  /** Handshakes that failed (no or a wrong client certificate, an unknown CA on the client side). */
  refused(): number;
  close(): Promise<void>;
}

/** Ends TLS on 127.0.0.1 and forwards to `target` (host:port, plain). `requireClientCert` makes it mTLS. */
export async function startTlsProxy(certs: Certificates, target: string, requireClientCert: boolean): Promise<TlsProxy> {
  const [targetHost, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  let accepted = 0;
  let refused = 0;
  const server = createServer(
    {
      cert: readFileSync(certs.serverCert),
      key: readFileSync(certs.serverKey),
      ca: readFileSync(certs.caCert),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
      // gRPC over TLS is HTTP/2 chosen by ALPN.
      ALPNProtocols: ['h2'],
      handshakeTimeout: 10_000,
    },
    (client: TLSSocket) => {
      accepted++;
      const upstream = connect(targetPort, targetHost);
      sockets.add(client);
      sockets.add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream).pipe(client);
    },
  );
  server.on('tlsClientError', (_err, socket) => {
    refused++;
    socket.destroy();
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    accepted: () => accepted,
    refused: () => refused,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

export interface ApiKeyProxy {
  /** host:port of the TLS side, on 127.0.0.1. */
  address: string;
  /** gRPC calls that carried `authorization: Bearer <key>` and were forwarded. */
  authorized(): number;
  /** gRPC calls refused with UNAUTHENTICATED: no key, or another one. */
  refused(): number;
  close(): Promise<void>;
}

/**
 * A gRPC front that checks an API key the way Temporal Cloud does, on each call's
 * `authorization: Bearer <key>` header, and forwards accepted calls (HTTP/2 over
 * TLS) to `target` (plain HTTP/2). A refused call gets gRPC status 16.
 */
export async function startApiKeyProxy(certs: Certificates, target: string, apiKey: string): Promise<ApiKeyProxy> {
  const upstream = http2.connect(`http://${target}`);
  upstream.on('error', () => undefined);
  let authorized = 0;
  let refused = 0;
  const server = http2.createSecureServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), allowHTTP1: false });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers.authorization !== `Bearer ${apiKey}`) {
      refused++;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'invalid API key' }, { endStream: true });
      return;
    }
    authorized++;
    const forwarded: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (name !== ':scheme' && name !== ':authority') forwarded[name] = value;
    const call = upstream.request(forwarded);
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    let trailers: http2.OutgoingHttpHeaders = {};
    call.on('response', (responseHeaders, flags) => {
      // A trailers-only answer (a gRPC error without a body) ends with its headers.
      const endsHere = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      stream.respond(responseHeaders, endsHere ? { endStream: true } : { waitForTrailers: true });
    });
    call.on('trailers', (t) => (trailers = t));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.on('close', () => call.close());
    stream.pipe(call);
    call.on('data', (chunk: Buffer) => {
      if (!stream.headersSent) return;
      stream.write(chunk);
    });
    call.on('end', () => {
      if (stream.headersSent && !stream.writableEnded) stream.end();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    authorized: () => authorized,
    refused: () => refused,
    close: async () => {
      for (const s of sessions) s.destroy();
      upstream.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
