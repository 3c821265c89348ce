import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactServerMessage } from '../errors/index.js';
import { prettyDestination } from './pretty-format.js';

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

/** `json`: one JSON object per line; `pretty`: one human-readable line; `auto`: pretty on a TTY. */
export type LogFormat = 'json' | 'pretty' | 'auto';

/** Options of {@link createLogger}: pino's, plus where and how lines are written. */
export interface CreateLoggerOptions extends LoggerOptions {
  /** Default `SHARDLINE_LOG_FORMAT`, else `auto`. */
  format?: LogFormat;
  /** Append JSON lines to this file instead of writing to stderr (`format` is then ignored). */
  file?: string;
}

/** Whether `format` (or `SHARDLINE_LOG_FORMAT`, else `auto`) means human-readable lines on a stream with `isTTY`. */
export function wantsPretty(format: LogFormat | undefined, isTTY: boolean | undefined): boolean {
  const chosen = format ?? (process.env['SHARDLINE_LOG_FORMAT'] as LogFormat | undefined) ?? 'auto';
  return chosen === 'pretty' || (chosen !== 'json' && isTTY === true);
}

/**
 * Creates the logger: JSON lines on stderr, or human-readable lines when stderr is a terminal
 * (`format: 'auto'`, the default; `SHARDLINE_LOG_FORMAT=json|pretty` overrides), or JSON lines
 * appended to `file`. Secrets are redacted at the logger, so a config object logged by mistake
 * still never prints a password — in either format.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const { format, file, ...pinoOptions } = options;
  const destination = file
    ? pino.destination({ dest: file, sync: true, append: true, mkdir: true })
    : wantsPretty(format, process.stderr.isTTY)
      ? prettyDestination((text) => process.stderr.write(text), { color: process.stderr.hasColors?.() === true })
      : pino.destination({ fd: 2, sync: true });
  return pino(
    {
      name: 'shardline',
      level: process.env['SHARDLINE_LOG_LEVEL'] ?? 'info',
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
      ...pinoOptions,
    },
    destination,
  );
}
