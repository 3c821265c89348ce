import { RoutingError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import { mergeFor } from './route-merge.js';
import type { PlanOptions } from './route-options.js';
import type { RoutePlan, SqlParam } from './route-plan.js';
import { shardTarget } from './route-render.js';
import { assertPinned, shardsOfKeys } from './route-shards.js';

/**
 * The one shard on which every group of a statement with several independent sharded-table
 * groups (UNION branches, subqueries or joins not on the shard key) lands.
 * @throws {RoutingError} a group without a key predicate (unless pinned), or groups on different shards.
 */
function oneShardForGroups(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions): number {
  let shard: number | undefined;
  const found: string[] = [];
  for (const g of a.groups) {
    let shards: number[];
    if (g.pin) shards = shardsOfKeys(g.pin.table, g.pin.values, params, topology);
    else if (options.shard !== undefined) shards = [options.shard];
    else {
      throw new RoutingError(
        'SHARD_KEY_MISSING',
        `no shard-key predicate for sharded table ${g.table} in one part of the statement (a UNION branch, subquery or derived table, or a join not on ${g.column}): every part that reads a sharded table needs its own \`${g.column} = ?\` or \`${g.column} IN (…)\`, or a join on ${g.column} to a part that has one; scatter cannot run such statements`,
        { details: { table: g.table, column: g.column } },
      );
    }
    found.push(`${g.table} → ${shards.join(',')}`);
    if (shards.length !== 1 || (shard !== undefined && shards[0] !== shard)) {
      throw new RoutingError(
        'SQL_UNSUPPORTED',
        `the parts of the statement that read sharded tables route to different shards (${found.join('; ')}): UNION branches, subqueries and joins not on the shard key must all land on one shard; run them as separate queries`,
        { details: { shards: found } },
      );
    }
    shard = shards[0]!;
  }
  assertPinned(options, [shard!], `${a.groups[0]!.column} = …`);
  return shard!;
}

/**
 * A statement with several independent groups of sharded tables (see key-groups.ts) runs on one
 * shard only: the one every group's key predicate (or the pinned shard) names.
 * @throws {RoutingError} see {@link oneShardForGroups}; the shard is not the pinned one.
 * @throws {InvalidUidError} a key value that is not a UID.
 */
export function routeGroups(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions): RoutePlan {
  const shard = oneShardForGroups(a, params, topology, options);
  return {
    statement: a.statement,
    write: a.write,
    fanOut: false,
    kind: 'single',
    shards: [shard],
    targets: [shardTarget(a, topology, shard, params)],
    merge: mergeFor(a, params, false),
  };
}
