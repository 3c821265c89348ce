import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import { SINGLE, SUM_AFFECTED } from './route-merge.js';
import type { PlanOptions } from './route-options.js';
import type { RoutePlan, SqlParam } from './route-plan.js';
import { render } from './route-render.js';
import { assertPinned, keyValue } from './route-shards.js';

/**
 * The hot path: a statement bounded by one shard-key value (`uid = ?`) runs on that value's shard.
 * The plan's target shares `params` (no copy).
 * @throws {RoutingError} the shard is not the pinned one.
 * @throws {InvalidUidError} the value is not a UID.
 */
export function routeOneKey(
  a: Analysis,
  key: NonNullable<Analysis['key']>,
  params: readonly SqlParam[],
  topology: Topology,
  options: PlanOptions,
): RoutePlan {
  const shard = topology.shardOfKey(key.table, keyValue(key.values[0]!, params));
  if (options.shard !== undefined && options.shard !== shard) assertPinned(options, [shard], `${key.column} = …`);
  const shards = [shard];
  return {
    kind: 'single',
    statement: a.statement,
    write: a.write,
    fanOut: false,
    shards,
    targets: [{ instance: topology.map.instanceOf(shard), shards, sql: render(a, topology, shard), params: params as SqlParam[] }],
    merge: a.write ? SUM_AFFECTED : SINGLE,
  };
}
