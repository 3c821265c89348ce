import { RoutingError } from '../errors/index.js';
import type { Topology } from '../shard/index.js';
import type { Analysis } from './analysis.js';
import { routeBroadcast } from './route-broadcast.js';
import { routeGroups } from './route-groups.js';
import { routeInList } from './route-in-list.js';
import { routeInsert } from './route-insert.js';
import { routeOneKey } from './route-one-key.js';
import type { PlanOptions } from './route-options.js';
import { routePinned } from './route-pinned.js';
import type { RoutePlan, SqlParam } from './route-plan.js';
import type { SessionStateUse } from './session-state.js';
import { routeScatter, shardKeyMissing } from './route-scatter.js';

export type { PlanOptions } from './route-options.js';
export { render } from './route-render.js';

const NO_OPTIONS: PlanOptions = {};

/**
 * Turns an analysis and its parameters into a plan: the shards, one physical statement per
 * round trip, and how results merge. Picks the route kind; each kind builds its plan in its own
 * `route-*.ts`: one key value, several independent groups, broadcast tables only, an INSERT split
 * by row, an IN list, a pinned shard, or a scatter over every shard.
 *
 * @throws {RoutingError} no shard key without `scatter`, a statement leaving its pinned shard,
 * an unmergeable multi-shard SELECT, wrong placeholder count.
 * @throws {InvalidUidError} a shard-key value that is not a UID.
 */
export function plan(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions = NO_OPTIONS): RoutePlan {
  if (a.session !== null) checkSessionState(a.session, options);
  const p = route(a, params, topology, options);
  if (a.lockingRead) p.lockingRead = true;
  if (a.session?.sets) p.setsSession = true;
  return p;
}

/**
 * Refuses a statement that uses its connection's state outside a transaction (the only place
 * where consecutive statements share one connection), and a file written on the server anywhere.
 */
function checkSessionState(use: SessionStateUse, options: PlanOptions): void {
  if (use.file) {
    throw new RoutingError('SQL_UNSUPPORTED', `${use.what} writes a file on the database server of each shard: ${use.instead}`);
  }
  if (options.pinnedBy === 'transaction') return;
  throw new RoutingError(
    'SQL_UNSUPPORTED',
    `${use.what} uses the state of the connection the statement runs on, and outside a transaction each statement may run on another pooled connection: ${use.instead}, or run the statements inside router.forUid(uid).transaction()`,
  );
}

function route(a: Analysis, params: readonly SqlParam[], topology: Topology, options: PlanOptions): RoutePlan {
  if (params.length !== a.paramCount) {
    throw new RoutingError('SQL_PARAM_COUNT', `the SQL has ${a.paramCount} placeholder(s) but ${params.length} value(s) were given`);
  }
  if (a.key !== null && a.key.values.length === 1) return routeOneKey(a, a.key, params, topology, options);
  if (a.groups.length > 1) return routeGroups(a, params, topology, options);
  if (a.shardedTables.length === 0) return routeBroadcast(a, params, topology, options);
  if (a.insert) return routeInsert(a, a.insert, params, topology, options);
  if (a.key) return routeInList(a, a.key, params, topology, options);
  if (options.shard !== undefined) return routePinned(a, params, topology, options as PlanOptions & { shard: number });
  if (options.scatter) return routeScatter(a, params, topology, options);
  throw shardKeyMissing(a, topology);
}
