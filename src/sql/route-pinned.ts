import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import type { PlanOptions } from './route-options.js';
import type { RoutePlan, SqlParam } from './route-plan.js';
import { routeShardSet } from './route-shard-set.js';

/** A statement without a shard-key predicate inside a shard session or transaction runs on the pinned shard. */
export function routePinned(
  a: Analysis,
  params: readonly SqlParam[],
  topology: Topology,
  options: PlanOptions & { shard: number },
): RoutePlan {
  return routeShardSet(a, params, topology, options, 'single', [options.shard]);
}
