// The Temporal cluster the worker and the CLI connect to: address, namespace,
// TLS or mTLS and API key, read exactly as the `temporal` CLI reads them (its
// TEMPORAL_* environment variables over a profile of its TOML config file,
// through @temporalio/envconfig), then checked so that a wrong setting stops
// the start with the variable or profile key named, not a transport error.
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConfig, loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import { existsSync, readFileSync } from 'node:fs';
import { platform } from 'node:os';
import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { DEFAULT_NAMESPACE } from './shared';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const HOST_PORT = /^[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}$/;

/** Variables whose value a message must never show. */
export const TEMPORAL_SECRET_VARIABLES = ['TEMPORAL_API_KEY', 'TEMPORAL_TLS_CLIENT_KEY_DATA'] as const;

export interface TemporalSettings {
  address: string;
  namespace: string;
  /** TLS settings, or true for TLS with the system's CA roots; undefined for a plain connection. */
  tls?: TLSConfig | true;
  apiKey?: string;
  /** gRPC headers (TEMPORAL_GRPC_META_* or the profile's grpc_meta). */
  metadata?: Record<string, string>;
  /** The profile taken from the config file, when the file has it. */
  profile?: string;
  /** How the connection is secured, for logs and messages: "plain", "TLS", "mTLS", with "+ API key". */
  security: string;
}

/** The connection options both SDK connections (client and worker) take. */
export function connectionOptions(s: TemporalSettings): { address: string; tls?: TLSConfig | true; apiKey?: string; metadata?: Record<string, string> } {
  return {
    address: s.address,
    ...(s.tls !== undefined ? { tls: s.tls } : {}),
    ...(s.apiKey !== undefined ? { apiKey: s.apiKey } : {}),
    ...(s.metadata && Object.keys(s.metadata).length > 0 ? { metadata: s.metadata } : {}),
  };
}

/** The config file the `temporal` CLI reads: TEMPORAL_CONFIG_FILE, else its per-platform default. */
export function temporalConfigFile(env: Record<string, string | undefined>): string | undefined {
  if (env.TEMPORAL_CONFIG_FILE) return env.TEMPORAL_CONFIG_FILE;
  const os = platform();
  let dir: string | undefined;
  if (os === 'win32') dir = env.APPDATA;
  else if (os === 'darwin') dir = env.HOME ? join(env.HOME, 'Library', 'Application Support') : undefined;
  else if (env.XDG_CONFIG_HOME) dir = isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
  else dir = env.HOME ? join(env.HOME, '.config') : undefined;
  return dir ? join(dir, 'temporalio', 'temporal.toml') : undefined;
}

type Vars = Record<string, string>;

/** The TEMPORAL_* variables that are set and not empty (empty means unset, as for every champ variable). */
function temporalVars(env: NodeJS.ProcessEnv): Vars {
  const out: Vars = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value !== '' && (name.startsWith('TEMPORAL_') || ['HOME', 'XDG_CONFIG_HOME', 'APPDATA'].includes(name))) out[name] = value;
  }
  return out;
}

const TLS_FIELDS = {
  serverCACert: { variable: 'TEMPORAL_TLS_SERVER_CA_CERT', key: 'server_ca_cert', what: 'a PEM CA certificate' },
  clientCert: { variable: 'TEMPORAL_TLS_CLIENT_CERT', key: 'client_cert', what: 'a PEM client certificate' },
  clientKey: { variable: 'TEMPORAL_TLS_CLIENT_KEY', key: 'client_key', what: 'a PEM private key' },
} as const;

/**
 * Resolves the Temporal settings from the environment (and the profile file it
 * names). Returns every problem found, each naming where the bad value came from.
 */
export function resolveTemporalSettings(env: NodeJS.ProcessEnv): { settings?: TemporalSettings; problems: string[] } {
  const vars = temporalVars(env);
  const problems: string[] = [];
  const file = temporalConfigFile(vars);
  const profileName = vars.TEMPORAL_PROFILE ?? 'default';
  const fileExists = file !== undefined && existsSync(file);
  const where = (variable: string, key: string): string =>
    vars[variable] !== undefined ? variable : `${key} of profile "${profileName}" in ${file ?? 'the config file'}`;

  if (vars.TEMPORAL_CONFIG_FILE && !fileExists) {
    problems.push(`TEMPORAL_CONFIG_FILE=${JSON.stringify(vars.TEMPORAL_CONFIG_FILE)}: no such file; unset it, or create it with "temporal config set"`);
    return { problems };
  }
  if (vars.TEMPORAL_TLS !== undefined && !['true', 'false', '1', '0'].includes(vars.TEMPORAL_TLS)) {
    problems.push(`TEMPORAL_TLS=${JSON.stringify(vars.TEMPORAL_TLS)}: must be true or false`);
  }
  if (vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === 'true' || vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === '1') {
    problems.push(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: champ always verifies the server; set TEMPORAL_TLS_SERVER_NAME to a name its certificate holds instead',
    );
  }

  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars, ...(vars.TEMPORAL_PROFILE ? { profile: vars.TEMPORAL_PROFILE } : {}) });
  } catch (err) {
    const message = String((err as Error)?.message ?? err).split('\n')[0]!;
    if (/^Profile '.*' not found/.test(message)) {
      problems.push(
        fileExists
          ? `TEMPORAL_PROFILE=${JSON.stringify(profileName)}: ${file} has no such profile; "temporal config list" shows its profiles`
          : `TEMPORAL_PROFILE=${JSON.stringify(profileName)}: there is no config file (${file ?? 'set HOME or TEMPORAL_CONFIG_FILE'}) to hold it; create the profile with "temporal config set --profile ${profileName} ..." or unset TEMPORAL_PROFILE`,
      );
    } else {
      problems.push(`${vars.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE' : 'the Temporal config file'} ${file}: ${message}`);
    }
    return { problems };
  }

  const address = profile.address ?? DEFAULT_TEMPORAL_ADDRESS;
  if (!HOST_PORT.test(address)) {
    problems.push(`${where('TEMPORAL_ADDRESS', 'address')}=${JSON.stringify(address)}: must be host:port, e.g. 127.0.0.1:7233`);
  }
  const namespace = profile.namespace ?? DEFAULT_NAMESPACE;

  const tls = profile.tls;
  if (tls && !tls.disabled) {
    if ((tls.clientCert === undefined) !== (tls.clientKey === undefined)) {
      const [given, missing] = tls.clientCert ? [TLS_FIELDS.clientCert, TLS_FIELDS.clientKey] : [TLS_FIELDS.clientKey, TLS_FIELDS.clientCert];
      problems.push(
        `${where(`${given.variable}_PATH`, `tls.${given.key}_path`)}: mTLS needs both the client certificate and its key; set ${missing.variable}_PATH (or _DATA) too`,
      );
    }
    for (const field of Object.keys(TLS_FIELDS) as Array<keyof typeof TLS_FIELDS>) {
      const source = tls[field];
      if (!source) continue;
      const spec = TLS_FIELDS[field];
      const isPath = 'path' in source;
      const name = where(`${spec.variable}_${isPath ? 'PATH' : 'DATA'}`, `tls.${spec.key}_${isPath ? 'path' : 'data'}`);
      let text: string;
      try {
        text = 'path' in source ? readFileSync(source.path, 'utf8') : typeof source.data === 'string' ? source.data : Buffer.from(source.data).toString('utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
        problems.push(`${name}=${JSON.stringify((source as { path: string }).path)}: cannot read the file (${code}); give the path of ${spec.what}`);
        continue;
      }
      if (!/-----BEGIN [A-Z ]+-----/.test(text)) {
        const shown = isPath ? `=${JSON.stringify((source as { path: string }).path)}` : '';
        problems.push(`${name}${shown}: is not ${spec.what} (no "-----BEGIN ...-----" line)`);
      }
    }
  }
  if (problems.length > 0) return { problems };

  const options = toClientOptions(profile).connectionOptions;
  const tlsOption = options.tls === false || options.tls === null || options.tls === undefined ? undefined : (options.tls as TLSConfig | true);
  const mutual = typeof tlsOption === 'object' && tlsOption.clientCertPair !== undefined;
  const security = [tlsOption === undefined ? 'plain' : mutual ? 'mTLS' : 'TLS', ...(profile.apiKey ? ['API key'] : [])].join(' + ');
  return {
    problems,
    settings: {
      address,
      namespace,
      ...(tlsOption !== undefined ? { tls: tlsOption } : {}),
      ...(profile.apiKey ? { apiKey: profile.apiKey } : {}),
      ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0 ? { metadata: profile.grpcMeta } : {}),
      ...(fileExists && profileNames(vars).includes(profileName) ? { profile: profileName } : {}),
      security,
    },
  };
}

/**
 * A dev server this process started on loopback: a plain connection to its
 * default namespace, whatever TLS, API key, namespace or profile the
 * environment names for the team's real cluster.
 */
export function localDevServerSettings(address: string): TemporalSettings {
  return { address, namespace: DEFAULT_NAMESPACE, security: 'plain' };
}

function profileNames(vars: Vars): string[] {
  try {
    return Object.keys(loadClientConfig({ overrideEnvVars: vars }).profiles);
  } catch {
    return [];
  }
}

/**
 * Why a connection failed, in words a person can act on: a certificate or
 * handshake problem names the TLS settings; otherwise the first line.
 */
export function explainConnectionFailure(err: unknown, s: TemporalSettings): string {
  const text = String((err as Error)?.message ?? err) + ' ' + String((err as { cause?: Error })?.cause?.message ?? '');
  const first = String((err as Error)?.message ?? err).split('\n')[0]!;
  if (/certificate|UnknownIssuer|BadSignature|handshake|tls|ssl|alert/i.test(text)) {
    if (/NotValidForName|hostname|altname|name mismatch/i.test(text)) {
      return `the server's TLS certificate is not valid for ${s.address}: set TEMPORAL_TLS_SERVER_NAME to a name it holds`;
    }
    if (/UnknownIssuer|unable to (get|verify)|self.signed|untrusted|unknown ca|verify/i.test(text)) {
      return 'the server\'s TLS certificate is not signed by the CA champ trusts: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed it (the system roots are used when unset)';
    }
    if (/certificate.?required|bad.?certificate|handshake.?failure/i.test(text)) {
      return 'the server refused the TLS handshake (mTLS?): set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH to a client certificate it accepts';
    }
    return `TLS failed: ${first}`;
  }
  if (/connection refused|ECONNREFUSED/i.test(text)) return 'connection refused';
  if (/dns error|failed to lookup|name or service not known|ENOTFOUND/i.test(text)) return 'unknown host';
  if (/unauthenticated|permission denied|401|403/i.test(text)) {
    return s.apiKey !== undefined
      ? 'the server refused the API key: check TEMPORAL_API_KEY, and that the key may use the namespace (TEMPORAL_NAMESPACE)'
      : 'the server refused the connection\'s credentials: check the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH) or set TEMPORAL_API_KEY, and the namespace (TEMPORAL_NAMESPACE)';
  }
  if (/deadline|timed? ?out/i.test(text)) {
    return s.tls === undefined
      ? 'no answer in time (a server that wants TLS does not answer a plain connection: set TEMPORAL_TLS=true, or a TLS setting)'
      : 'no answer in time';
  }
  return first;
}

/**
 * One TLS handshake with the settings, for when the gRPC client reports only
 * "no answer in time": resolves with the handshake's error, or undefined when
 * the handshake (and a moment after it, when TLS 1.3 servers refuse a client
 * certificate) went well. Bounded by `timeoutMs`.
 */
export function probeTls(s: TemporalSettings, timeoutMs = 5000): Promise<Error | undefined> {
  const cut = s.address.lastIndexOf(':');
  const host = s.address.slice(0, cut).replace(/^\[|\]$/g, '');
  const port = Number(s.address.slice(cut + 1));
  const t = typeof s.tls === 'object' ? s.tls : {};
  const servername = t.serverNameOverride ?? (isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const socket = tlsConnect({
      host,
      port,
      ALPNProtocols: ['h2'],
      ...(servername ? { servername } : {}),
      ...(t.serverRootCACertificate ? { ca: Buffer.from(t.serverRootCACertificate) } : {}),
      ...(t.clientCertPair ? { cert: Buffer.from(t.clientCertPair.crt), key: Buffer.from(t.clientCertPair.key) } : {}),
    });
    const timer = setTimeout(() => done(new Error('no TLS handshake in time')), timeoutMs);
    socket.once('error', (err) => done(err));
    socket.once('secureConnect', () => setTimeout(() => done(undefined), Math.min(1000, timeoutMs)));
  });
}
