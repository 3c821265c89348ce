/**
 * Stable error codes. A code never changes meaning once released; callers and the CLI
 * (which exits with the code printed) may depend on them.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_ENV_MISSING'
  | 'DEV_PORT_IN_USE'
  | 'DEV_JAVA_MISSING'
  | 'DEV_INSTALL_FAILED'
  | 'DEV_START_FAILED'
  | 'DEV_UNHEALTHY'
  | 'DEV_DOCKER_UNAVAILABLE'
  | 'DEV_STOP_FAILED'
  | 'USAGE';

/** Options shared by every {@link ShardlineError}. */
export interface ShardlineErrorOptions {
  /** True when the same call may succeed if tried again later. */
  retriable?: boolean;
  /** The underlying error, if any. */
  cause?: unknown;
  /** Structured, secret-free context for logs and diagnostics. */
  details?: Record<string, unknown>;
}

/**
 * The root of every error shardline throws. `code` is stable and machine-readable;
 * `retriable` tells a retry layer whether trying again can help. Messages say what was
 * expected and what was found, and never carry a password.
 */
export class ShardlineError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ShardlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** The cluster configuration is missing, unreadable or does not validate. */
export class ConfigError extends ShardlineError {}

/** The local development cluster could not be installed, started, checked or stopped. */
export class DevClusterError extends ShardlineError {}

/** The command line was used wrongly. */
export class UsageError extends ShardlineError {
  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super('USAGE', message, options);
  }
}

/** Narrowing helper that also works across package copies (checks the shape, not the class). */
export function isShardlineError(value: unknown): value is ShardlineError {
  return (
    value instanceof ShardlineError ||
    (value instanceof Error && typeof (value as { code?: unknown }).code === 'string' && 'retriable' in value)
  );
}
