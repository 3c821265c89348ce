import { DriverError, QueryError, ShardUnavailableError, isShardlineError, sanitizeDriverError } from '../errors/index.js';
import type { QueryOutcome, ServerErrorInfo } from '../net/index.js';
import type { RoutePlan, RouteTarget } from '../sql/index.js';
import { mergeResults, type RouterResult } from './merge-results.js';
import { tokenOf } from './write-outcomes.js';

/** Runs one physical statement on one instance (a pool borrow, or a pinned connection). */
export type RunOnInstance = (instance: string, sql: string, params: readonly unknown[]) => Promise<QueryOutcome>;

/** Longest SQL text an error keeps (the statement with placeholders, never with values). */
const MAX_ERROR_SQL = 2000;

/**
 * Wraps a driver error into the error hierarchy, naming the instance and shards. The error keeps
 * the server's errno, SQLSTATE and code and the physical statement with placeholders
 * (`details.sql`); its message and cause are sanitized ({@link sanitizeDriverError}): no bound
 * value, no interpolated SQL, no value quoted by the server. Whether it is retriable, and whether
 * the connection was lost (then the shard is unavailable), was decided where the error entered
 * (net/: `DriverError.kind` and `retriable`); an error that did not come through net/ is neither.
 */
export function wrapQueryError(err: unknown, target: Pick<RouteTarget, 'instance' | 'shards'> & { sql?: string }): Error {
  if (isShardlineError(err)) return err;
  const sql =
    target.sql === undefined ? undefined : target.sql.length > MAX_ERROR_SQL ? `${target.sql.slice(0, MAX_ERROR_SQL)}…` : target.sql;
  const cause = sanitizeDriverError(err, sql);
  const e = cause as Error & ServerErrorInfo;
  const driver = cause instanceof DriverError ? cause : undefined;
  const where = `instance ${target.instance}${target.shards.length === 1 ? ` (shard ${target.shards[0]})` : target.shards.length ? ` (${target.shards.length} shards)` : ''}`;
  if (driver?.kind === 'connection') {
    return new ShardUnavailableError('SHARD_UNAVAILABLE', `${where} is unavailable: ${e.message}`, {
      retriable: driver.retriable,
      cause,
      details: { instance: target.instance, code: e.code },
    });
  }
  return new QueryError('QUERY_FAILED', `${where}: ${e.message}`, {
    retriable: driver?.retriable ?? false,
    cause,
    details: { instance: target.instance, errno: e.errno, sqlState: e.sqlState, code: e.code, ...(sql === undefined ? {} : { sql }) },
  });
}

/**
 * Executes a plan: instances in parallel, the round trips of one instance in order, and merges
 * the results. Fail-closed: if any round trip fails, the whole call fails (a partial answer is
 * never returned).
 */
export async function executePlan(plan: RoutePlan, run: RunOnInstance): Promise<RouterResult> {
  if (plan.targets.length === 1) {
    const t = plan.targets[0]!;
    let outcome: QueryOutcome;
    try {
      outcome = await run(t.instance, t.sql, t.params);
    } catch (err) {
      throw wrapQueryError(err, t);
    }
    const result = mergeResults(plan.merge, [outcome]);
    if (outcome.kind === 'ok' && outcome.gtid !== undefined && !Array.isArray(result)) {
      const token = tokenOf([[t.instance, outcome.gtid]]);
      if (token) result.token = token;
    }
    return result;
  }
  const byInstance = new Map<string, { index: number; target: RouteTarget }[]>();
  plan.targets.forEach((target, index) => {
    let list = byInstance.get(target.instance);
    if (!list) byInstance.set(target.instance, (list = []));
    list.push({ index, target });
  });
  const outcomes = new Array<QueryOutcome>(plan.targets.length);
  await Promise.all(
    [...byInstance.values()].map(async (list) => {
      for (const { index, target } of list) {
        try {
          outcomes[index] = await run(target.instance, target.sql, target.params);
        } catch (err) {
          throw wrapQueryError(err, target);
        }
      }
    }),
  );
  const result = mergeResults(plan.merge, outcomes);
  if (!Array.isArray(result)) {
    const token = tokenOf(outcomes.flatMap((o, i) => (o.kind === 'ok' && o.gtid ? [[plan.targets[i]!.instance, o.gtid] as const] : [])));
    if (token) result.token = token;
  }
  return result;
}
