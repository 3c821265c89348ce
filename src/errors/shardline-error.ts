/**
 * Stable error codes. A code never changes meaning once released; callers and the CLI
 * (which exits with the code printed) may depend on them.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_ENV_MISSING'
  | 'FD_BUDGET'
  | 'DEV_PORT_IN_USE'
  | 'DEV_JAVA_MISSING'
  | 'DEV_INSTALL_FAILED'
  | 'DEV_START_FAILED'
  | 'DEV_UNHEALTHY'
  | 'DEV_DOCKER_UNAVAILABLE'
  | 'DEV_STOP_FAILED'
  | 'DEV_INSECURE_BIND'
  | 'DEV_STATE_DIR_UNSAFE'
  | 'INVALID_UID'
  | 'UNKNOWN_TABLE'
  | 'SQL_PARSE'
  | 'SQL_MULTIPLE_STATEMENTS'
  | 'SQL_UNSUPPORTED'
  | 'SQL_PARAM_COUNT'
  | 'SQL_EXECUTABLE_COMMENT'
  | 'SQL_AMBIGUOUS'
  | 'SQL_TOO_LARGE'
  | 'SQL_TOO_COMPLEX'
  | 'SCATTER_TOO_LARGE'
  | 'SHARD_KEY_MISSING'
  | 'SHARD_MISMATCH'
  | 'CROSS_SHARD_TRANSACTION'
  | 'POOL_EXHAUSTED'
  | 'POOL_TIMEOUT'
  | 'SHARD_UNAVAILABLE'
  | 'QUERY_FAILED'
  | 'MULTI_SHARD_WRITE_FAILED'
  | 'XA_RECOVERY_FAILED'
  | 'ROUTER_CLOSED'
  | 'MIGRATION_INVALID'
  | 'MIGRATION_FAILED'
  | 'BINLOG_DECODE'
  | 'KAFKA'
  | 'KAFKA_FENCED'
  | 'KAFKA_MESSAGE_TOO_LARGE'
  | 'CDC_CONFIG'
  | 'BINLOG_UNKNOWN_EVENT'
  | 'BINLOG_CHECKSUM'
  | 'BINLOG_SCHEMA'
  | 'BINLOG_PRECONDITION'
  | 'BINLOG_PURGED'
  | 'BINLOG_CONNECTION'
  | 'GTID_INVALID'
  | 'SINK_CLOSED'
  | 'ES_SINK_FAILED'
  | 'ARCHIVE_SCHEMA'
  | 'TLS_FAILED'
  | 'INSECURE_AUTH'
  | 'AUTH_FAILED'
  | 'SNAPSHOT_VALUE'
  | 'SNAPSHOT_TABLE'
  | 'SNAPSHOT_SOURCE'
  | 'TOKEN_INVALID'
  | 'FAILOVER_FAILED'
  | 'SHARD_MOVED'
  | 'RESHARD_FAILED'
  | 'RESHARD_DIFFERENCE'
  | 'SHARD_HANDOFF'
  | 'ID_SEQUENCE'
  | 'SINK_BEHIND'
  | 'ARCHIVAL_NOT_CONFIGURED'
  | 'ARCHIVAL_FAILED'
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

/** A UID that is not an integer in 0 … 2^64−1 written canonically. */
export class InvalidUidError extends ShardlineError {
  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super('INVALID_UID', message, options);
  }
}

/** SQL text the router cannot parse, or several statements in one string. */
export class SqlParseError extends ShardlineError {
  /** 0-based offset in the SQL text where parsing failed. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;

  constructor(
    code: 'SQL_PARSE' | 'SQL_MULTIPLE_STATEMENTS',
    message: string,
    position: { offset: number; line: number; column: number },
    options: ShardlineErrorOptions = {},
  ) {
    super(code, message, { ...options, details: { ...position, ...(options.details ?? {}) } });
    this.offset = position.offset;
    this.line = position.line;
    this.column = position.column;
  }
}

/**
 * A statement the router refuses to run as asked: unknown table, no shard key without
 * `scatter: true`, a cross-shard statement in a transaction, an unsupported shape.
 */
export class RoutingError extends ShardlineError {}

/** An instance cannot serve now (pool exhausted or timed out, breaker open, server gone). */
export class ShardUnavailableError extends ShardlineError {}

/** The server rejected a statement; carries the server's errno and SQLSTATE. */
export class QueryError extends ShardlineError {}

/** The router was closed: no statement, transaction or session can start on it. */
export class RouterClosedError extends ShardlineError {
  constructor(message = 'the router is closed', options: ShardlineErrorOptions = {}) {
    super('ROUTER_CLOSED', message, options);
  }
}

/** A GTID or GTID set (MySQL `uuid:1-5`, MariaDB `domain-server-seq`) that is not well formed. */
export class GtidError extends ShardlineError {
  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super('GTID_INVALID', message, options);
  }
}

/** A connection's security failed: TLS handshake or verification, an unpinned RSA key, a refused login. */
export class ConnectionSecurityError extends ShardlineError {
  constructor(code: 'TLS_FAILED' | 'INSECURE_AUTH' | 'AUTH_FAILED', message: string, options: ShardlineErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Kafka refused or failed an operation; `KAFKA_FENCED` when a newer producer took over;
 * `KAFKA_MESSAGE_TOO_LARGE` (not retriable) for a record larger than `cdc.maxEventBytes` or than
 * a topic's `max.message.bytes`.
 */
export class KafkaError extends ShardlineError {
  constructor(code: 'KAFKA' | 'KAFKA_FENCED' | 'KAFKA_MESSAGE_TOO_LARGE', message: string, options: ShardlineErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * The binlog source broke off inside a transaction or handed out an item out of order, where no
 * binlog position applies (with a position: {@link BinlogError}).
 */
export class ReplicationError extends ShardlineError {
  constructor(code: 'BINLOG_CONNECTION' | 'BINLOG_DECODE' | 'SHARD_HANDOFF', message: string, options: ShardlineErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A migration file is malformed, or applying it failed. */
export class MigrationError extends ShardlineError {}

/** Where in the binlog something happened. */
export interface BinlogPosition {
  file: string;
  pos: number;
}

/**
 * A binlog event the reader cannot decode, does not know, or whose checksum is wrong; or a
 * server that cannot be read. Always names the file and position.
 */
export class BinlogError extends ShardlineError {
  readonly file: string;
  readonly pos: number;

  constructor(code: ErrorCode, message: string, at: BinlogPosition, options: ShardlineErrorOptions = {}) {
    super(code, `${message} (at ${at.file}:${at.pos})`, {
      ...options,
      details: { file: at.file, pos: at.pos, ...(options.details ?? {}) },
    });
    this.file = at.file;
    this.pos = at.pos;
  }
}

/** The command line, or an API (a connection released twice), was used wrongly. */
export class UsageError extends ShardlineError {
  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super('USAGE', message, options);
  }
}

/** A failover could not be carried out (the target did not catch up, or no single node takes writes); nothing was changed unless the message says so. */
export class FailoverError extends ShardlineError {
  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super('FAILOVER_FAILED', message, options);
  }
}

/**
 * A CDC sink (the archive, Elasticsearch) had not applied a write token, or lagged more than the
 * bound asked, within the wait allowed (`router.analytics.query`'s `after` / `maxStalenessMs`,
 * `router.indexed`). Retriable: the sink may catch up. `details.sink`, `details.waitedMs` and
 * `details.instances` (`{ instance, why, lagMs }` per instance behind) say which and how far.
 */
export class SinkBehindError extends ShardlineError {
  constructor(message: string, options: ShardlineErrorOptions = {}) {
    super('SINK_BEHIND', message, { retriable: true, ...options });
  }
}

/** A shard move could not go on (RESHARD_FAILED), or verify found the target differing from the source (RESHARD_DIFFERENCE: the move never cuts over then). */
export class ReshardError extends ShardlineError {
  constructor(code: 'RESHARD_FAILED' | 'RESHARD_DIFFERENCE', message: string, options: ShardlineErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * The archival job (`shardline archival run|verify`) could not run: a table asked for has no
 * `archival` config (ARCHIVAL_NOT_CONFIGURED), or a physical table, its column or an instance
 * failed it (ARCHIVAL_FAILED; batches committed before stay done — running the job again goes on
 * from the rows that are left).
 */
export class ArchivalError extends ShardlineError {
  constructor(code: 'ARCHIVAL_NOT_CONFIGURED' | 'ARCHIVAL_FAILED', message: string, options: ShardlineErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Narrowing helper that also works across package copies (checks the shape, not the class:
 * a string `code`, `retriable` and `details` — a `DriverError` has the first two, not `details`).
 */
export function isShardlineError(value: unknown): value is ShardlineError {
  return (
    value instanceof ShardlineError ||
    (value instanceof Error && typeof (value as { code?: unknown }).code === 'string' && 'retriable' in value && 'details' in value)
  );
}
