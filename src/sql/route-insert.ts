import type { Topology } from '../shard/index.js';
import type { Analysis, InsertRows } from './analysis.js';
import type { PlanOptions } from './route-options.js';
import type { RoutePlan, RouteTarget, SqlParam } from './route-plan.js';
import { render } from './route-render.js';
import { assertPinned, keyValue } from './route-shards.js';

/**
 * An INSERT/REPLACE into a sharded table: its VALUES tuples grouped by the shard of their key, one
 * statement per shard carrying only that shard's tuples and their values (the text and values
 * around the tuples, such as ON DUPLICATE KEY UPDATE, repeated in each).
 * @throws {RoutingError} a row outside the pinned shard.
 * @throws {InvalidUidError} a row's key that is not a UID.
 */
export function routeInsert(
  a: Analysis,
  ins: InsertRows,
  params: readonly SqlParam[],
  topology: Topology,
  options: PlanOptions,
): RoutePlan {
  const byShard = new Map<number, number[]>();
  ins.rows.forEach((row, i) => {
    const shard = topology.shardOfKey(ins.table, keyValue(row.key, params));
    let list = byShard.get(shard);
    if (!list) byShard.set(shard, (list = []));
    list.push(i);
  });
  const shards = [...byShard.keys()].sort((x, y) => x - y);
  assertPinned(options, shards, 'an INSERT row');
  const before = params.slice(0, ins.paramsBefore);
  const after = params.slice(ins.paramsAfter);
  const targets = shards.map((shard): RouteTarget => {
    const rows = byShard.get(shard)!;
    if (rows.length === ins.rows.length)
      return { instance: topology.map.instanceOf(shard), shards: [shard], sql: render(a, topology, shard), params: [...params] };
    const tuples = rows.map((r) => a.sql.slice(ins.rows[r]!.start, ins.rows[r]!.end)).join(', ');
    const rowParams = rows.flatMap((r) => {
      const row = ins.rows[r]!;
      return row.paramCount ? params.slice(row.firstParam, row.firstParam + row.paramCount) : [];
    });
    return {
      instance: topology.map.instanceOf(shard),
      shards: [shard],
      sql: render(a, topology, shard, 0, ins.start) + tuples + render(a, topology, shard, ins.end),
      params: [...before, ...rowParams, ...after],
    };
  });
  return {
    statement: a.statement,
    write: a.write,
    fanOut: false,
    kind: shards.length === 1 ? 'single' : 'multi',
    shards,
    targets,
    merge: { kind: 'sum-affected' },
  };
}
