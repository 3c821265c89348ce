import { RoutingError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import { mergeFor } from './route-merge.js';
import { DEFAULT_UNION_CHUNK, type PlanOptions } from './route-options.js';
import type { RouteKind, RoutePlan, SqlParam } from './route-plan.js';
import { inListOwners, render, shardStatement, type InListOwners } from './route-render.js';
import { unionTargets } from './route-union.js';

/**
 * The plan of a statement already bound to a set of shards (ascending): one shard is one round
 * trip; a write runs once per shard; a read is batched per instance (see {@link unionTargets}).
 * `owners`: the key's IN list by shard when the caller has computed it (see {@link inListOwners}).
 * @throws {RoutingError} `SQL_UNSUPPORTED`: several shards for a statement that must stay on one
 * (`perShardBlocker`), or a multi-shard SELECT that cannot be merged.
 */
export function routeShardSet(
  a: Analysis,
  params: readonly SqlParam[],
  topology: Topology,
  options: PlanOptions,
  kind: RouteKind,
  shards: number[],
  owners?: InListOwners | null,
): RoutePlan {
  if (shards.length > 1 && a.perShardBlocker) {
    throw new RoutingError(
      'SQL_UNSUPPORTED',
      `${a.perShardBlocker} cannot run on several shards and be merged: the statement touches ${shards.length} shards`,
      {
        details: { reason: a.perShardBlocker },
      },
    );
  }
  const merge = mergeFor(a, params, shards.length > 1, options);
  // field by field, not `{ ...base, targets, merge }`: a point query's plan is made per call (see docs/ARCHITECTURE.md, "Object spreads")
  const planOf = (targets: RoutePlan['targets']): RoutePlan => ({
    statement: a.statement,
    write: a.write,
    fanOut: false,
    kind,
    shards,
    targets,
    merge,
  });
  if (shards.length === 1)
    return planOf([{ instance: topology.map.instanceOf(shards[0]!), shards, sql: render(a, topology, shards[0]!), params: [...params] }]);
  if (a.write) {
    const own = owners ?? inListOwners(a, params, topology);
    const targets = shards.map((shard) => {
      const { sql, params: values } = shardStatement(a, topology, shard, params, own);
      return { instance: topology.map.instanceOf(shard), shards: [shard], sql, params: values };
    });
    return planOf(targets);
  }
  const rewrite = a.select?.rewrite;
  if (!rewrite) return planOf(unionTargets(a, topology, shards, params, merge, options.unionChunk ?? DEFAULT_UNION_CHUNK, '', owners));
  const partialParams = rewrite.params.map((i) => params[i]!);
  const rows = merge.kind === 'sorted' && merge.limit !== null ? merge.limit + merge.offset : null;
  return planOf(
    unionTargets(
      rewrite.analysis,
      topology,
      shards,
      partialParams,
      merge,
      options.unionChunk ?? DEFAULT_UNION_CHUNK,
      rows === null ? '' : ` LIMIT ${rows}`,
    ),
  );
}
