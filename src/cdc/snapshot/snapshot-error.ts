import { ShardlineError, type ShardlineErrorOptions } from '../../errors/index.js';

/** A snapshot could not read or publish a table (its value, its key, or the source's state). */
export class SnapshotError extends ShardlineError {
  constructor(code: 'SNAPSHOT_VALUE' | 'SNAPSHOT_TABLE' | 'SNAPSHOT_SOURCE', message: string, options: ShardlineErrorOptions = {}) {
    super(code, message, options);
  }
}
