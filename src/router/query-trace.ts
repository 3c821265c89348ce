import type { RoutePlan } from '../sql/index.js';
import { queryChannel, traceWithoutResult, type QueryTraceContext } from '../tracing/index.js';

/**
 * Runs a statement under `shardline:query`: plans it with `planned` (a planning error is traced
 * too), fills the context's route, shards and instances from the plan, and runs it with `run`.
 * Call it only when `queryChannel.hasSubscribers` (the untraced path builds nothing).
 */
export function traceQuery<T>(
  operation: QueryTraceContext['operation'],
  sql: string,
  planned: () => RoutePlan,
  run: (plan: RoutePlan) => Promise<T>,
): Promise<T> {
  const ctx: QueryTraceContext = { operation, sql, route: null, shards: [], instances: [], durationMs: 0 };
  const started = performance.now();
  return traceWithoutResult(queryChannel, ctx, async () => {
    try {
      const p = planned();
      ctx.route = p.kind;
      ctx.shards = [...p.shards];
      ctx.instances = [...new Set(p.targets.map((t) => t.instance))];
      return await run(p);
    } finally {
      ctx.durationMs = performance.now() - started;
    }
  });
}

/** Runs a transaction's own statement (BEGIN, COMMIT, ROLLBACK) under `shardline:query` when anybody listens. */
export function traceTransactionControl<T>(sql: string, shard: number, instance: string, run: () => Promise<T>): Promise<T> {
  if (!queryChannel.hasSubscribers) return run();
  const ctx: QueryTraceContext = { operation: 'transaction', sql, route: 'single', shards: [shard], instances: [instance], durationMs: 0 };
  const started = performance.now();
  return traceWithoutResult(queryChannel, ctx, async () => {
    try {
      return await run();
    } finally {
      ctx.durationMs = performance.now() - started;
    }
  });
}
