import { pino, type Logger, type LoggerOptions } from 'pino';

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
  'authorization',
  '*.authorization',
];

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
      ...options,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
