import { isShardlineError } from './shardline-error.js';

/**
 * What a database server error may carry once it enters shardline: the server's errno, SQLSTATE
 * and driver code, the statement as written with placeholders, and the server's message with
 * every quoted value redacted. Never the interpolated statement (mysql2's `err.sql`), never the
 * bound values, never the raw driver error as a cause.
 */

/** What replaces a value quoted by a server message. */
export const REDACTED = '<redacted>';

/**
 * Messages (English, as MySQL and MariaDB print them) that quote a value. Each keeps the text
 * around the value — key, column and function names — and replaces the value. The value part is
 * greedy (up to the last occurrence of the text after it), so a value that itself contains the
 * closing text (`a' for key 'x`) is still redacted completely.
 */
const VALUE_PATTERNS: readonly RegExp[] = [
  // 1062, 1586, 1569: Duplicate entry '4111…' for key 'users.PRIMARY'
  /(\bentry ')[\s\S]*(' for key )/i,
  // 1366, 1292, 1411, 1525: Incorrect integer value: 'x' for column 'c' at row 1 / for function str_to_date
  /(\bvalue: ')[\s\S]*(' for (?:column|function)\b)/i,
  // 1292: Truncated incorrect DOUBLE value: 'x'
  /(\bvalue: ')(?![\s\S]*' for (?:column|function)\b)[\s\S]*(')/i,
  // 1064, 1149: … near 'VALUES (…)' at line 1
  /(\bnear ')[\s\S]*(' at line \d+)/i,
  // 1300: Invalid utf8mb4 character string: 'F09F'
  /(\bcharacter string: ')[\s\S]*(')/i,
  // 1367: Illegal double '1e999' value found during parsing
  /(\billegal \w+ ')[\s\S]*(' value found)/i,
  // 1918 (MariaDB): Encountered illegal value '' when converting to DECIMAL
  /(\billegal value ')[\s\S]*(' when )/i,
  // 1690: BIGINT UNSIGNED value is out of range in '(`t`.`c` - 5)'
  /(\bout of range in ')[\s\S]*(')/i,
  // 1231: Variable 'x' can't be set to the value of 'y'
  /(\bto the value of ')[\s\S]*(')/i,
];

/** `scheme://user:password@` in any message: the password goes. */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi;

/**
 * Server errnos whose message quotes a value. When none of {@link VALUE_PATTERNS} matches (a
 * translated message, a server version with other wording), everything between the first and
 * the last quote is redacted: fail closed.
 */
const VALUE_ERRNOS = new Set([1062, 1064, 1149, 1231, 1292, 1300, 1366, 1367, 1411, 1525, 1569, 1586, 1690, 1918, 3140]);

/**
 * Redacts the values a server message quotes, keeping key, column and function names (and the
 * password of any `scheme://user:password@` URL):
 * `Duplicate entry '4111111111111111' for key 'users.PRIMARY'` →
 * `Duplicate entry '<redacted>' for key 'users.PRIMARY'`.
 */
export function redactServerMessage(message: string, errno?: number): string {
  let out = message;
  let matched = false;
  for (const pattern of VALUE_PATTERNS) {
    const next = out.replace(pattern, `$1${REDACTED}$2`);
    if (next !== out) {
      matched = true;
      out = next;
    }
  }
  if (!matched && errno !== undefined && VALUE_ERRNOS.has(errno)) {
    const first = out.search(/['"]/);
    const last = Math.max(out.lastIndexOf("'"), out.lastIndexOf('"'));
    if (first !== -1 && last > first) out = `${out.slice(0, first + 1)}${REDACTED}${out.slice(last)}`;
  }
  return out.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
}

/**
 * What a server or driver error means to whoever would retry, decided once where the error
 * enters shardline (net/'s `classifyServerError`):
 * - `connection`: the connection was lost or could not be made (reset, refused, timed out,
 *   server gone or shutting down, too many connections) — retriable, on another connection;
 * - `transient`: the server refused this time (deadlock, lock wait timeout, read-only during a
 *   failover, TiDB write conflict…) — retriable;
 * - `auth`: the server refused the credentials or the authentication method — not retriable;
 * - `unknown-host`: the host name does not resolve — not retriable;
 * - `client`: the driver refused what the server sent for this statement (mysql2 will not build a
 *   row with a column named `__proto__` and closes the connection) — not retriable, and the
 *   instance is not in doubt although the connection is gone;
 * - `other`: anything else (the statement or a value is wrong, a missing privilege, an error the
 *   table does not know) — not retriable.
 */
export type ServerErrorKind = 'connection' | 'transient' | 'auth' | 'unknown-host' | 'client' | 'other';

/** A classification: the kind and whether retrying can help. */
export interface ServerErrorClass {
  readonly kind: ServerErrorKind;
  readonly retriable: boolean;
}

/** What a classifier reads: the driver's fields only, never the message. */
export interface ServerErrorFacts {
  errno: number | undefined;
  code: string | undefined;
  fatal: boolean;
}

/** Decides a {@link ServerErrorClass} (net/ passes its table to {@link sanitizeDriverError}). */
export type ServerErrorClassifier = (facts: ServerErrorFacts) => ServerErrorClass;

const UNCLASSIFIED: ServerErrorClass = { kind: 'other', retriable: false };

/** A database error as shardline keeps it (see the module comment). */
export class DriverError extends Error {
  /** The server's error number (1062, 1213…), when the server sent one. */
  readonly errno: number | undefined;
  readonly sqlState: string | undefined;
  /** The driver's code (`ER_DUP_ENTRY`, `ECONNRESET`, `PROTOCOL_CONNECTION_LOST`…). */
  readonly code: string | undefined;
  /** The connection cannot be used any more. */
  readonly fatal: boolean;
  /** The statement as written, with placeholders, never with the values interpolated. */
  readonly sql: string | undefined;
  /** What the error means to a retry layer (`other` when it was never classified). */
  readonly kind: ServerErrorKind;
  /** True when the same call may succeed if tried again (decided with {@link kind}). */
  readonly retriable: boolean;

  constructor(
    message: string,
    info: {
      errno?: number | undefined;
      sqlState?: string | undefined;
      code?: string | undefined;
      fatal?: boolean | undefined;
      sql?: string | undefined;
      kind?: ServerErrorKind;
      retriable?: boolean;
    },
  ) {
    super(message);
    this.name = 'DriverError';
    this.errno = info.errno;
    this.sqlState = info.sqlState;
    this.code = info.code;
    this.fatal = info.fatal ?? false;
    this.sql = info.sql;
    this.kind = info.kind ?? 'other';
    this.retriable = info.retriable ?? false;
  }
}

interface RawDriverError {
  message?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  code?: unknown;
  fatal?: unknown;
}

/**
 * Turns whatever a driver threw into a {@link DriverError}: errno, SQLSTATE, code and fatal are
 * copied, the message is redacted ({@link redactServerMessage}), `sql` is the statement with
 * placeholders given by the caller, `kind` and `retriable` come from `classify` (net/ passes
 * its one table; without it the error is `other`, not retriable). The driver's own object (whose
 * `sql` is the interpolated statement and whose `sqlMessage` quotes values) is dropped, not kept
 * as a cause. Errors that are already sanitized, and shardline's own errors, are returned as
 * they are.
 */
export function sanitizeDriverError(err: unknown, sql?: string, classify?: ServerErrorClassifier): unknown {
  if (err instanceof DriverError) return err;
  if (err === null || typeof err !== 'object') return err;
  const e = err as RawDriverError;
  if (isShardlineError(err)) return err;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const message = typeof e.message === 'string' ? e.message : 'database error';
  const code = typeof e.code === 'string' ? e.code : undefined;
  const fatal = e.fatal === true;
  const { kind, retriable } = classify?.({ errno, code, fatal }) ?? UNCLASSIFIED;
  return new DriverError(redactServerMessage(message, errno), {
    errno,
    sqlState: typeof e.sqlState === 'string' && e.sqlState !== '' ? e.sqlState : undefined,
    code,
    fatal,
    sql,
    kind,
    retriable,
  });
}

/**
 * Whether an error is the driver refusing a statement's result (kind `client`), directly or as the
 * cause of a shardline error: the connection is lost but the instance answered, so a breaker does
 * not count it.
 */
export function isClientRefusal(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++, e = e.cause) if (e instanceof DriverError) return e.kind === 'client';
  return false;
}
