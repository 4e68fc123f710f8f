// pino for everything the worker says; Temporal's own logs are routed into it.
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino, { stdSerializers, type DestinationStream, type Logger } from 'pino';
import { scrubCredentials } from './spec/credentials';

/** Fields whose value is a credential, whatever it looks like. */
const SECRET_FIELD = /secret|token|passw(?:or)?d|passphrase|credential|authorization|cookie|(?:api|access|auth|signing|encryption|master|private)[_-]?key/i;
/** How deep a log object is searched; what lies deeper is replaced, not written unread. */
const MAX_DEPTH = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A log object with credentials taken out: secret-named fields are replaced
 * and credential-shaped text in every string is. A log line goes to terminals,
 * files and log services that nobody vets for secrets.
 */
export function redactForLog(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubCredentials(value);
  if (value instanceof Error) return redactError(value);
  if (depth >= MAX_DEPTH && (Array.isArray(value) || isPlainObject(value))) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactForLog(item, depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    out[key] = SECRET_FIELD.test(key) && field !== null && typeof field !== 'object' && typeof field !== 'boolean' ? '[redacted]' : redactForLog(field, depth + 1);
  }
  return out;
}

function redactError(err: Error): unknown {
  return redactForLog({ ...stdSerializers.err(err) });
}

/** Where a log goes, for the choice of format: a terminal gets text (in colour), anything else JSON. */
export interface LogTarget {
  isTTY: boolean;
  /** NO_COLOR set (https://no-color.org): text without colour even on a terminal. */
  noColor: boolean;
}

function stdoutTarget(): LogTarget {
  return { isTTY: process.stdout.isTTY === true, noColor: (process.env.NO_COLOR ?? '') !== '' };
}

/**
 * The format in effect: LOG_FORMAT when set, else text on a terminal and JSON
 * elsewhere. Colour only on a terminal: LOG_FORMAT=pretty into a pipe or file
 * writes plain text, never escape codes.
 */
export function logFormat(format: 'json' | 'pretty' | undefined, target: LogTarget): { pretty: boolean; colour: boolean } {
  const pretty = format ? format === 'pretty' : target.isTTY;
  return { pretty, colour: pretty && target.isTTY && !target.noColor };
}

/**
 * The worker's logger. JSON lines carry `level` as a name ("info") and `time`
 * as an ISO 8601 instant, so a log service reads them without a mapping.
 */
export function createLogger(opts: { level: string; format?: 'json' | 'pretty'; name?: string; destination?: DestinationStream; target?: LogTarget }): Logger {
  const { pretty, colour } = opts.destination ? { pretty: false, colour: false } : logFormat(opts.format, opts.target ?? stdoutTarget());
  const options: pino.LoggerOptions = {
    name: opts.name ?? 'champ',
    level: opts.level,
    timestamp: pino.stdTimeFunctions.isoTime,
    // pino-pretty reads the numeric level; JSON gets the name.
    formatters: { log: (object) => redactForLog(object) as Record<string, unknown>, ...(pretty ? {} : { level: (label: string) => ({ level: label }) }) },
    // formatters.log has already turned an `err` into a redacted plain object by the time serializers run.
    serializers: { msg: (msg: unknown) => (typeof msg === 'string' ? scrubCredentials(msg) : msg), err: (err: unknown) => (err instanceof Error ? redactError(err) : err) },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: colour, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Metadata that says nothing to a reader: the task token is an opaque blob. */
const DROPPED_META = new Set(['taskToken']);

/**
 * One name for each thing in every line: the SDK calls the run id `runId` in
 * workflow lines and `workflowRunId` in activity lines; champ's lines say
 * `runId`. The other names (workflowId, workflowType, activityType, activityId,
 * attempt, namespace, taskQueue) are the same in both already.
 */
const RENAMED_META: Record<string, string> = { workflowRunId: 'runId' };

/**
 * Adapts pino to the Temporal SDK's Logger interface. `quiet` moves info to
 * debug (for chatty parts such as the workflow bundler).
 */
export function temporalLogger(logger: Logger, opts: { quiet?: boolean } = {}): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields: LogMetadata = {};
    for (const [k, v] of Object.entries(meta ?? {})) if (!DROPPED_META.has(k)) fields[RENAMED_META[k] ?? k] = v;
    const target = opts.quiet && level === 'INFO' ? 'debug' : LEVELS[level];
    logger[target](fields, message);
  };
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}
