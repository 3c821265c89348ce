import { sanitizeDriverError, type ServerErrorClass, type ServerErrorFacts } from '../errors/driver-error.js';

/**
 * The one table of what MySQL, MariaDB, TiDB and socket errors mean to a retry layer. Every
 * server error enters shardline through net/ ({@link serverError}) and carries its class from
 * there (`DriverError.kind`, `DriverError.retriable`); nothing else keeps a list of errnos to
 * decide whether to retry.
 */

/** The connection was lost or could not be made; another connection may work. */
const CONNECTION_ERRNO = new Set([
  1040, // too many connections
  1053, // server shutdown in progress
  1927, // connection killed
  2002, // can't connect through the socket
  2003, // can't connect to the server
  2006, // server has gone away
  2013, // lost connection during query
  2055, // lost connection at reading
  4031, // disconnected by the server after the client was idle
]);

/** Driver and socket codes of a lost or impossible connection. */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN', // the resolver failed for now
]);

/** The server refused this time; the same statement or transaction may succeed. */
const TRANSIENT_ERRNO = new Set([
  1205, // lock wait timeout
  1213, // deadlock
  1290, // read-only (failover in progress)
  1317, // query interrupted
  1792, // read-only transaction
  8002, // TiDB: cannot retry SELECT FOR UPDATE
  8022, // TiDB: transaction commit failed, safe to retry
  8027, // TiDB: information schema out of date
  8028, // TiDB: information schema changed during the transaction
  9001, // TiDB: PD server timeout
  9002, // TiKV server timeout
  9003, // TiKV server busy
  9004, // TiDB: resolve lock timeout
  9005, // TiDB: region unavailable
  9006, // TiDB: GC life time shorter than the transaction
  9007, // TiDB: write conflict
  9008, // TiKV: too many pending tasks
]);

/** The server refused the account, its credentials or the authentication method. */
const AUTH_ERRNO = new Set([
  1044, // access denied to the database
  1045, // access denied (wrong user or password)
  1130, // host not allowed to connect
  1251, // client does not support the authentication protocol
  1698, // access denied (no password for an account that needs one)
  1820, // password must be reset
  1862, // password expired
  2059, // authentication plugin cannot be loaded
  3118, // account locked
]);

const AUTH_CODES = new Set([
  'AUTH_SWITCH_PLUGIN_ERROR',
  'MYSQL_CLEAR_PASSWORD_NOT_ENABLED',
  'ER_NOT_SUPPORTED_AUTH_MODE',
  'ER_PLUGIN_IS_NOT_LOADED',
]);

/**
 * The statement was refused for its size: the server sends the error and then closes the
 * connection (MySQL, MariaDB). The same statement fails the same way anywhere.
 */
const TOO_LARGE_ERRNO = 1153; // ER_NET_PACKET_TOO_LARGE: a packet bigger than max_allowed_packet

/** The host name does not resolve (as opposed to EAI_AGAIN, a resolver failing for now). */
const UNKNOWN_HOST_CODES = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA', 'EAI_FAIL']);

const CONNECTION: ServerErrorClass = Object.freeze({ kind: 'connection', retriable: true });
const TRANSIENT: ServerErrorClass = Object.freeze({ kind: 'transient', retriable: true });
const AUTH: ServerErrorClass = Object.freeze({ kind: 'auth', retriable: false });
const UNKNOWN_HOST: ServerErrorClass = Object.freeze({ kind: 'unknown-host', retriable: false });
const CLIENT: ServerErrorClass = Object.freeze({ kind: 'client', retriable: false });
const OTHER: ServerErrorClass = Object.freeze({ kind: 'other', retriable: false });

/** The code {@link serverError} gives mysql2's refusal of a column name (it has none of its own). */
export const DRIVER_REFUSED_FIELD_NAME = 'DRIVER_REFUSED_FIELD_NAME';

/**
 * mysql2 (`helpers.fieldEscape`) throws while parsing a result whose column is named `__proto__`
 * or another of Object.prototype's private properties, and closes the connection: an error with no
 * errno and no code, which would otherwise read as a lost connection. Its text is the only sign.
 */
const MYSQL2_FIELD_NAME_REFUSAL = /^The field name \(.*\) can't be the same as an object's private property\.$/s;

/**
 * Classifies a driver error by its errno (server errors are positive; Node's socket errors carry
 * a negative errno and a code) and code. A fatal error without a server errno and without a
 * known code (the socket closed under a statement) is a lost connection.
 */
export function classifyServerError(facts: ServerErrorFacts): ServerErrorClass {
  const errno = facts.errno !== undefined && facts.errno > 0 ? facts.errno : undefined;
  const code = facts.code;
  if (
    (errno !== undefined && AUTH_ERRNO.has(errno)) ||
    (code !== undefined && (AUTH_CODES.has(code) || code.startsWith('ER_ACCESS_DENIED')))
  )
    return AUTH;
  if (code !== undefined && UNKNOWN_HOST_CODES.has(code)) return UNKNOWN_HOST;
  if (code === DRIVER_REFUSED_FIELD_NAME || errno === TOO_LARGE_ERRNO) return CLIENT;
  if (errno !== undefined) {
    if (CONNECTION_ERRNO.has(errno)) return CONNECTION;
    if (TRANSIENT_ERRNO.has(errno)) return TRANSIENT;
    return OTHER;
  }
  if (code !== undefined && CONNECTION_CODES.has(code)) return CONNECTION;
  return facts.fatal ? CONNECTION : OTHER;
}

/**
 * A driver error as it enters shardline: sanitized ({@link sanitizeDriverError}) and classified
 * ({@link classifyServerError}). Shardline's own errors and already sanitized ones pass unchanged.
 */
export function serverError(err: unknown, sql?: string): unknown {
  if (err instanceof Error) {
    const e = err as Error & { errno?: unknown; code?: unknown };
    if (e.errno === undefined && e.code === undefined && MYSQL2_FIELD_NAME_REFUSAL.test(e.message)) e.code = DRIVER_REFUSED_FIELD_NAME;
  }
  return sanitizeDriverError(err, sql, classifyServerError);
}

/**
 * Whether a raw driver error leaves its connection unusable: fatal, timed out by mysql2, or a
 * server error after which the server hangs up (a packet over `max_allowed_packet`: the error
 * arrives before the close, so the connection looks healthy for a moment).
 */
export function leavesConnectionUnusable(err: unknown): boolean {
  const e = err as { fatal?: unknown; code?: unknown; errno?: unknown } | null;
  return e !== null && (e.fatal === true || e.code === 'PROTOCOL_SEQUENCE_TIMEOUT' || e.errno === TOO_LARGE_ERRNO);
}
