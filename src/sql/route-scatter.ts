import { RoutingError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import type { PlanOptions } from './route-options.js';
import type { RoutePlan, SqlParam } from './route-plan.js';
import { routeShardSet } from './route-shard-set.js';

/**
 * A statement without a shard-key predicate, with `{ scatter: true }`, runs on every shard.
 * @throws {RoutingError} see {@link routeShardSet}.
 */
export function routeScatter(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions): RoutePlan {
  return routeShardSet(
    a,
    params,
    topology,
    options,
    'scatter',
    Array.from({ length: topology.shardCount }, (_, i) => i),
  );
}

/** The refusal of a statement on a sharded table that has no shard-key predicate and no scatter opt-in. */
export function shardKeyMissing(a: Analysis, topology: Topology): RoutingError {
  const table = a.shardedTables[0]!;
  const column = (topology.table(table) as { shardKey: string }).shardKey;
  return new RoutingError(
    'SHARD_KEY_MISSING',
    `no shard-key predicate on sharded table ${table}: add \`${column} = ?\` or \`${column} IN (…)\` to the WHERE clause, or pass { scatter: true } to run on all ${topology.shardCount} shards`,
    { details: { table, column } },
  );
}
