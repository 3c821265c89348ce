import { RoutingError } from '../errors/index.js';
import { executePlan, wrapQueryError } from '../executor/index.js';
import type { DbConnection, Row } from '../net/index.js';
import type { InstancePool } from '../pool/index.js';
import type { PlanCache, SqlParam } from '../sql/index.js';
import { plan } from '../sql/index.js';
import type { Topology } from '../shard/index.js';
import { queryChannel } from '../tracing/index.js';
import { traceQuery, traceTransactionControl } from './query-trace.js';
import type { Transaction, WriteResult } from './router-types.js';

/**
 * Runs `fn` in a transaction pinned to one shard. Any statement that routes to another shard
 * rolls the transaction back at once and fails; COMMIT happens only if `fn` resolves and no
 * statement was refused. The connection goes back to the pool (or is destroyed) on every path;
 * it is destroyed when a statement left state on it (a user variable, a named lock).
 * `onCommit` gets the GTID the commit got (read-your-writes tokens of a session).
 */
export async function runTransaction<T>(
  shard: number,
  pool: InstancePool,
  cache: PlanCache,
  topology: Topology,
  queryTimeoutMs: number,
  fn: (tx: Transaction) => Promise<T>,
  onCommit?: (instance: string, gtid: string) => void,
): Promise<T> {
  const conn: DbConnection = await pool.acquire();
  const tx$ = { state: 'open' as 'open' | 'aborted' | 'done', abortError: undefined as unknown, setsSession: false };
  const control = (sql: string) => traceTransactionControl(sql, shard, conn.instance, () => conn.query(sql, [], queryTimeoutMs));
  const rollback = async () => {
    try {
      await control('ROLLBACK');
    } catch {
      conn.destroy();
    }
  };
  const tx: Transaction = {
    shard,
    async query<R extends Row = Row>(sql: string, params: readonly SqlParam[] = []): Promise<R[] | WriteResult> {
      if (tx$.state !== 'open') {
        throw new RoutingError(
          'CROSS_SHARD_TRANSACTION',
          tx$.state === 'aborted' ? 'the transaction was rolled back after a refused statement' : 'the transaction has already finished',
        );
      }
      const planned = () => plan(cache.get(sql), params, topology, { shard, pinnedBy: 'transaction' });
      const run = (p: ReturnType<typeof planned>) => {
        if (p.setsSession) tx$.setsSession = true;
        return executePlan(p, (_instance, physical, values) => conn.query(physical, values, queryTimeoutMs));
      };
      try {
        return (await (queryChannel.hasSubscribers ? traceQuery('transaction', sql, planned, run) : run(planned()))) as R[] | WriteResult;
      } catch (err) {
        if (err instanceof RoutingError && err.code === 'CROSS_SHARD_TRANSACTION' && tx$.state === 'open') {
          tx$.state = 'aborted';
          tx$.abortError = err;
          await rollback();
        }
        throw err;
      }
    },
  };
  const target = { instance: conn.instance, shards: [shard] };
  let failure: unknown = true;
  try {
    await control('BEGIN').catch((err: unknown) => {
      throw wrapQueryError(err, { ...target, sql: 'BEGIN' });
    });
    const result = await fn(tx);
    if (tx$.state === 'aborted') throw tx$.abortError;
    const committed = await control('COMMIT').catch((err: unknown) => {
      throw wrapQueryError(err, { ...target, sql: 'COMMIT' });
    });
    tx$.state = 'done';
    if (onCommit && committed.kind === 'ok' && committed.gtid) onCommit(conn.instance, committed.gtid);
    failure = false;
    return result;
  } catch (err) {
    if (tx$.state === 'open') await rollback();
    tx$.state = 'done';
    failure = err ?? true;
    throw err;
  } finally {
    // A variable set or a named lock taken in the transaction would stay with the next borrower.
    if (tx$.setsSession) conn.destroy();
    await pool.settle(conn, failure);
  }
}
