import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactServerMessage } from '../errors/index.js';

export type { Logger } from 'pino';

/** Paths whose values are replaced by `[redacted]` in every log line. */
export const REDACTED_PATHS: readonly string[] = [
  'password',
  '*.password',
  '*.*.password',
  'replication.password',
  '*.replication.password',
  'config.instances[*].password',
  'config.instances[*].replication.password',
  'config.archive.password',
  '*.*.*.password',
  'passphrase',
  '*.passphrase',
  '*.*.passphrase',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'authorization',
  '*.authorization',
  'values',
  '*.values',
  'params',
  '*.params',
];

/** What a logged error shows: its kind, code, errno, SQLSTATE and message, with quoted values redacted. */
export interface LoggedError {
  type: string;
  message: string;
  code?: string;
  errno?: number;
  sqlState?: string;
  stack?: string;
  cause?: LoggedError | string;
}

/**
 * The `err`/`error` serializer: never a driver's interpolated SQL (`sql`), bound values
 * (`values`) or server text quoting a value (`sqlMessage`); messages go through
 * {@link redactServerMessage}; the stack keeps its frames under the redacted message.
 */
export function serializeError(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) return typeof value === 'string' ? redactServerMessage(value) : value;
  const e = value as Error & { code?: unknown; errno?: unknown; sqlState?: unknown };
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const message = redactServerMessage(e.message, errno);
  const frames = (e.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  const out: LoggedError = { type: e.name, message, stack: [`${e.name}: ${message}`, ...frames].join('\n') };
  if (typeof e.code === 'string') out.code = e.code;
  if (errno !== undefined) out.errno = errno;
  if (typeof e.sqlState === 'string') out.sqlState = e.sqlState;
  if (e.cause !== undefined && depth < 5) out.cause = serializeError(e.cause, depth + 1) as LoggedError | string;
  return out;
}

/**
 * Creates the structured logger (JSON lines on stderr). Secrets are redacted at the logger,
 * so a config object logged by mistake still never prints a password.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'shardline',
      level: process.env['SHARDLINE_LOG_LEVEL'] ?? 'info',
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
      ...options,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
