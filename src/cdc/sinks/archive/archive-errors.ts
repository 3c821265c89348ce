import { SinkError, type ShardlineErrorOptions } from '../../../errors/index.js';
import { isRetriableError } from '../../../retry/index.js';

/** The archive sink could not do what was asked: closed mid-write, or a table it cannot derive. */
export class ArchiveSinkError extends SinkError {
  constructor(code: 'SINK_CLOSED' | 'ARCHIVE_SCHEMA', message: string, options: ShardlineErrorOptions = {}) {
    super('archive', code, message, options);
  }
}

/**
 * What to do about a failed archive statement:
 * - `transient`: roll back, back off, retry the same transaction — the error is retriable as
 *   net/ classified it where it entered (lost connection, deadlock, lock wait timeout, TiDB write
 *   conflict or busy/unavailable region, server shutting down);
 * - `record`: some record's value is refused for good (too long, out of range, incorrect) —
 *   split the transaction to find it and dead-letter it; or the record's table cannot be made
 *   in the archive (too many columns, row too large): its records are dead letters;
 * - `split`: the transaction or one row is too large — split it; a single record left is refused;
 * - `schema`: the archive table or a column is missing — ensure the table again, then retry;
 * - `unknown`: anything else — retried like a transient error but logged as an error, so that a
 *   misconfiguration (a missing grant) stalls the sink visibly instead of losing records.
 */
export type ArchiveErrorClass = 'transient' | 'record' | 'split' | 'schema' | 'unknown';

/** Server errnos that blame a value of some row. */
const RECORD_ERRNO = new Set([
  1048, // column cannot be null
  1264, // out of range
  1265, // data truncated
  1292, // incorrect date/time value
  1300, // invalid string in character set
  1366, // incorrect value for column
  1367, // illegal value
  1406, // data too long
  1411, // incorrect value for function
  1416, // cannot get geometry object
  1690, // value out of range in an expression
  3037, // invalid GIS data
  3140, // invalid JSON text
  3616, // longitude out of range
  3617, // latitude out of range
  3819, // check constraint violated
  4025, // (MariaDB) check constraint violated
  // The archive table a source table needs cannot exist here: its records are refused (dead
  // letters) instead of stalling every table behind a CREATE TABLE that can never succeed.
  1059, // identifier too long
  1071, // key too long
  1074, // column length too big
  1117, // too many columns (the source's plus the archive's five)
  1118, // row size too large (likewise)
]);

/** Server errnos that say the transaction or one entry is too large. */
const SPLIT_ERRNO = new Set([
  1153, // packet larger than max_allowed_packet
  1197, // transaction larger than max_binlog_cache_size
  8004, // TiDB: transaction too large
  8025, // TiDB: entry too large
]);

const SCHEMA_ERRNO = new Set([1049, 1054, 1146]);

/** The driver error fields the labels read. */
interface DriverErrorShape {
  errno?: unknown;
  code?: unknown;
}

/** The errno of a driver error, if the server sent one. */
export function errnoOf(err: unknown): number | undefined {
  const e = err as DriverErrorShape | null;
  return typeof e?.errno === 'number' && e.errno > 0 ? e.errno : undefined;
}

/** A short, value-free label of an error for metrics and logs (`ER_LOCK_DEADLOCK`, `ECONNRESET`, `1213`…). */
export function errorLabel(err: unknown): string {
  const e = err as DriverErrorShape | null;
  if (typeof e?.code === 'string' && e.code.length > 0) return e.code;
  const errno = errnoOf(err);
  return errno === undefined ? 'unknown' : String(errno);
}

/**
 * Classifies an error from the archive (see {@link ArchiveErrorClass}): the record, split and
 * schema errnos are the archive's own business; transient or not is the error's `retriable`.
 */
export function classifyArchiveError(err: unknown): ArchiveErrorClass {
  const errno = errnoOf(err);
  if (errno !== undefined) {
    if (SPLIT_ERRNO.has(errno)) return 'split';
    if (RECORD_ERRNO.has(errno)) return 'record';
    if (SCHEMA_ERRNO.has(errno)) return 'schema';
  }
  return isRetriableError(err) ? 'transient' : 'unknown';
}
