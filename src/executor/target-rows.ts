import type { RowStream } from '../net/index.js';
import type { RouteTarget } from '../sql/index.js';
import { wrapQueryError } from './execute-plan.js';

/**
 * A round trip's row stream whose failures are typed as `router.query`'s are: a server error
 * becomes `QUERY_FAILED` and a lost connection `SHARD_UNAVAILABLE`, naming the instance and
 * shards ({@link wrapQueryError}), instead of the driver's error; `onError` sees it first.
 */
export function targetRows(
  rows: RowStream,
  target: Pick<RouteTarget, 'instance' | 'shards' | 'sql'>,
  onError: (err: Error) => void = () => undefined,
): RowStream {
  return {
    get fields() {
      return rows.fields;
    },
    async *[Symbol.asyncIterator]() {
      try {
        yield* rows;
      } catch (err) {
        const typed = wrapQueryError(err, target);
        onError(typed);
        throw typed;
      }
    },
  };
}
