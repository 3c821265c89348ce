import { RoutingError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { KeySource } from './analysis.js';
import type { PlanOptions } from './route-options.js';
import type { SqlParam } from './route-plan.js';

/** The shard-key value a source names: the bound value of its placeholder, or its literal. */
export function keyValue(source: KeySource, params: readonly SqlParam[]): unknown {
  return 'param' in source ? params[source.param] : source.literal;
}

/**
 * The distinct shards of some shard-key values of logical table `table`, ascending.
 * @throws {InvalidUidError} a value that is not a UID.
 */
export function shardsOfKeys(table: string, values: readonly KeySource[], params: readonly SqlParam[], topology: Topology): number[] {
  return [...new Set(values.map((v) => topology.shardOfKey(table, keyValue(v, params))))].sort((x, y) => x - y);
}

/**
 * Refuses shards other than the one a session or transaction is pinned to (no-op when unpinned).
 * @param what the part of the statement that routes, for the message.
 * @throws {RoutingError} `CROSS_SHARD_TRANSACTION` inside a transaction, else `SHARD_MISMATCH`.
 */
export function assertPinned(options: PlanOptions, shards: readonly number[], what: string): void {
  if (options.shard === undefined) return;
  const other = shards.find((s) => s !== options.shard);
  if (other !== undefined) {
    const code = options.pinnedBy === 'transaction' ? 'CROSS_SHARD_TRANSACTION' : 'SHARD_MISMATCH';
    throw new RoutingError(
      code,
      `${what} routes to shard ${other}, but this ${options.pinnedBy ?? 'session'} is bound to shard ${options.shard}`,
      {
        details: { expected: options.shard, found: other },
      },
    );
  }
}
