import { isShardlineError, type ShardlineError } from '../../src/errors/index.js';

/** The ShardlineError `fn` throws synchronously; anything else thrown is rethrown, and returning is a failure. */
export function failure(fn: () => unknown): ShardlineError {
  try {
    fn();
  } catch (err) {
    if (!isShardlineError(err)) throw err;
    return err;
  }
  throw new Error('expected an error');
}
