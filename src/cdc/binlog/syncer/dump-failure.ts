import { BinlogError, type BinlogPosition } from '../../../errors/index.js';

const PURGED = /purged|could not find|not find first log|log.*not.*found/i;

/**
 * The typed error for a dump that ended with `failure`: BINLOG_PURGED (not retriable) when the
 * server answered ER_MASTER_FATAL_ERROR_READING_BINLOG (1236) because the binlog it needs is gone,
 * BINLOG_CONNECTION (retriable) for anything else.
 */
export function dumpFailure(instance: string, failure: Error, at: BinlogPosition): BinlogError {
  const errno = (failure as { errno?: number }).errno;
  const purged = errno === 1236 && PURGED.test(failure.message);
  return new BinlogError(purged ? 'BINLOG_PURGED' : 'BINLOG_CONNECTION', `instance ${instance}: ${failure.message}`, at, {
    cause: failure,
    retriable: !purged,
  });
}
