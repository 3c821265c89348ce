import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import type { PlanOptions } from './route-options.js';
import type { RoutePlan, SqlParam } from './route-plan.js';
import { inListOwners } from './route-render.js';
import { routeShardSet } from './route-shard-set.js';
import { assertPinned, shardsOfKeys } from './route-shards.js';

/**
 * A statement bounded by several shard-key values (`uid IN (…)`) runs on their distinct shards:
 * `single` when they all fall on one, else `multi`. Each value is hashed once: a prunable IN list's
 * owners (see {@link inListOwners}) give the shards and go on to the per-shard statements.
 * @throws {RoutingError} a value outside the pinned shard; see {@link routeShardSet}.
 * @throws {InvalidUidError} a value that is not a UID.
 */
export function routeInList(
  a: Analysis,
  key: NonNullable<Analysis['key']>,
  params: readonly SqlParam[],
  topology: Topology,
  options: PlanOptions,
): RoutePlan {
  const owners = inListOwners(a, params, topology);
  const shards = owners ? [...owners.byShard.keys()].sort((x, y) => x - y) : shardsOfKeys(key.table, key.values, params, topology);
  assertPinned(options, shards, `${key.column} = …`);
  return routeShardSet(a, params, topology, options, shards.length === 1 ? 'single' : 'multi', shards, owners);
}
