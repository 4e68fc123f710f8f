// What every `champ` subcommand shares: its errors and exit codes, its output,
// the connection to Temporal, spec loading and table layout.
import { Client, Connection } from '@temporalio/client';
import { InvalidArgumentError } from 'commander';
import { dataConverterFor } from '../codec';
import { loadConfig, type Config } from '../config';
import { loadSpecFile, SpecError } from '../spec';
import { connectionOptions, explainConnectionFailure, HOST_PORT, probeTls, type TemporalSettings } from '../temporal-connection';

/** An error the user can act on: printed as one line, exit code given. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Exit codes, also listed in `champ --help`. */
export const EXIT = {
  ok: 0,
  /** The server, the workflow or a refused request: nothing the command line itself got wrong. */
  failed: 1,
  /** Bad arguments, a bad spec or bad configuration. */
  usage: 2,
  /** `run --wait`: the pipeline ended without deploying (rejected, rolled back, failed, cancelled ...). */
  notDeployed: 3,
  /** `run --wait` interrupted with Ctrl-C; the pipeline keeps running. */
  interrupted: 130,
} as const;

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Registers a Ctrl-C handler; returns its removal. Tests leave it out. */
  onInterrupt?: (handler: () => void) => () => void;
}

export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

/** The configuration from `io.env`; a bad variable is a usage error naming it. */
function cliConfig(io: CliIO): Config {
  try {
    return loadConfig(io.env);
  } catch (err) {
    throw new CliError(String((err as Error)?.message ?? err), EXIT.usage);
  }
}

/** The connection flags every command that talks to Temporal takes; each stands for the variable the temporal CLI reads. */
export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  profile?: string;
}

/** The environment with the flags in place of their variables: a flag wins over the variable, the variable over the profile. */
export function withConnectionFlags(env: NodeJS.ProcessEnv, flags: ConnectionFlags): NodeJS.ProcessEnv {
  return {
    ...env,
    ...(flags.address !== undefined ? { TEMPORAL_ADDRESS: flags.address } : {}),
    ...(flags.namespace !== undefined ? { TEMPORAL_NAMESPACE: flags.namespace } : {}),
    ...(flags.profile !== undefined ? { TEMPORAL_PROFILE: flags.profile } : {}),
  };
}

/** commander parsers of the connection flags, refusing a bad value before anything connects. */
export const connectionFlagParsers = {
  address(value: string): string {
    if (!HOST_PORT.test(value)) throw new InvalidArgumentError('give host:port, e.g. 127.0.0.1:7233 or <namespace>.<account>.tmprl.cloud:7233');
    return value;
  },
  name(value: string): string {
    if (value.trim() === '') throw new InvalidArgumentError('must not be blank');
    return value;
  },
};

/** The connection error in one line; when gRPC says only "deadline", one TLS handshake finds out why. */
async function connectionFailure(err: unknown, t: TemporalSettings): Promise<string> {
  let why = explainConnectionFailure(err, t);
  if (why === 'no answer in time' && t.tls !== undefined) {
    const handshake = await probeTls(t);
    if (handshake) why = explainConnectionFailure(handshake, t);
  }
  const hint = /^(connection refused|unknown host|no answer in time)/.test(why) ? ' Start it with "npm run dev" or set TEMPORAL_ADDRESS.' : '';
  const via = [t.profile ? `profile "${t.profile}"` : '', t.security === 'plain' ? '' : t.security].filter(Boolean).join(', ');
  return `cannot reach the Temporal server at ${t.address}${via ? ` (${via})` : ''}: ${why}.${hint}`;
}

/** Connects to Temporal, runs `fn`, closes the connection whatever happens. */
export async function withClient(io: CliIO, fn: (client: Client, config: Config) => Promise<void>): Promise<void> {
  const config = cliConfig(io);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(config.temporal), connectTimeout: '5s' });
  } catch (err) {
    throw new CliError(await connectionFailure(err, config.temporal));
  }
  try {
    await fn(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverterFor(config.CHAMP_PAYLOAD_KEYS) }), config);
  } finally {
    await connection.close();
  }
}

export function loadSpecOrExplain(path: string) {
  try {
    return loadSpecFile(path);
  } catch (err) {
    if (err instanceof SpecError) {
      // An unreadable file is not a spec with bad fields: one line says so. A
      // document-level problem (too many aliases, too large) is a bad spec.
      const only = err.issues.length === 1 ? err.issues[0]! : undefined;
      if (only && only.path === '' && only.message.startsWith('cannot read the spec file')) throw new CliError(`${path}: ${only.message}`, EXIT.usage);
      throw new CliError(`${path}: invalid pipeline spec\n${err.format()}`, EXIT.usage);
    }
    throw new CliError(`${path}: ${firstLine(err)}`, EXIT.usage);
  }
}

/** A Web UI page of this namespace: `workflows/<id>` or `schedules/<id>`. */
export function uiLink(config: Config, kind: 'workflows' | 'schedules', id: string): string {
  return `${config.CHAMP_UI_URL}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/${kind}/${encodeURIComponent(id)}`;
}

/** A time as the CLI shows it: UTC to the second. */
export function utc(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Columns padded to their widest cell, so ids of any length line up. */
export function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}
