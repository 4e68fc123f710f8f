// pino for everything the worker says; Temporal's own logs are routed into it.
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino, { type Logger } from 'pino';

export function createLogger(opts: { level: string; format?: 'json' | 'pretty'; name?: string }): Logger {
  const pretty = opts.format ? opts.format === 'pretty' : process.stdout.isTTY === true;
  return pino({
    name: opts.name ?? 'champ',
    level: opts.level,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
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
 * Adapts pino to the Temporal SDK's Logger interface. `quiet` moves info to
 * debug (for chatty parts such as the workflow bundler).
 */
export function temporalLogger(logger: Logger, opts: { quiet?: boolean } = {}): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields: LogMetadata = {};
    for (const [k, v] of Object.entries(meta ?? {})) if (!DROPPED_META.has(k)) fields[k] = v;
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
