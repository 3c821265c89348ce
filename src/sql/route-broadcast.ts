import { RoutingError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import { mergeFor } from './route-merge.js';
import type { PlanOptions } from './route-options.js';
import type { RoutePlan, SqlParam } from './route-plan.js';
import { render } from './route-render.js';

/**
 * A statement that reads or writes only broadcast tables: pinned, it runs on the pinned shard's
 * instance (reads only); otherwise a read goes to one instance that holds shards (round-robin by
 * `readInstance`) and a write to every configured instance — one that holds no shard yet too
 * (the target of a shard move), so that it is current when shards move there.
 * @throws {RoutingError} a write inside a shard session (`SQL_UNSUPPORTED`) or a transaction
 * (`CROSS_SHARD_TRANSACTION`).
 */
export function routeBroadcast(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions): RoutePlan {
  if (options.shard !== undefined) {
    if (a.write)
      throw new RoutingError(
        options.pinnedBy === 'transaction' ? 'CROSS_SHARD_TRANSACTION' : 'SQL_UNSUPPORTED',
        'writes to broadcast tables go to every instance: run them with router.query, outside a shard session or transaction',
      );
    const instance = topology.map.instanceOf(options.shard);
    return {
      statement: a.statement,
      write: a.write,
      fanOut: false,
      kind: 'single',
      shards: [options.shard],
      targets: [{ instance, shards: [], sql: render(a, topology, options.shard), params: [...params] }],
      merge: mergeFor(a, params, false),
    };
  }
  const owners = topology.map.instances;
  const chosen = a.write ? topology.instances : [owners[(options.readInstance ?? 0) % owners.length]!];
  return {
    statement: a.statement,
    write: a.write,
    fanOut: a.write,
    kind: 'broadcast',
    shards: [],
    targets: chosen.map((instance) => ({ instance, shards: [], sql: render(a, topology, 0), params: [...params] })),
    merge: a.write ? { kind: 'sum-affected' } : { kind: 'single' },
  };
}
