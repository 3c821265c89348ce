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
      fillRoute(ctx, p);
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

/**
 * The `shardline:query` publications of one `router.stream` (operation `stream`), which
 * `tracePromise` cannot make for a generator: `start` when the stream is first read, `end` once it
 * is planned (or planning failed), then `error` when it failed and `asyncStart`/`asyncEnd` when it
 * is over — read to its end, left early by its consumer, or failed. Create it only when
 * `queryChannel.hasSubscribers`.
 */
export class StreamTrace {
  private readonly ctx: QueryTraceContext;
  private readonly started = performance.now();

  constructor(sql: string) {
    this.ctx = { operation: 'stream', sql, route: null, shards: [], instances: [], durationMs: 0 };
    queryChannel.start.publish(this.ctx);
  }

  /** The plan's route, shards and instances (call before `opened`). */
  planned(p: RoutePlan): void {
    fillRoute(this.ctx, p);
  }

  /** The synchronous part is over: planned, or planning failed. */
  opened(): void {
    queryChannel.end.publish(this.ctx);
  }

  failed(err: unknown): void {
    this.ctx.error = err;
    queryChannel.error.publish(this.ctx);
  }

  /** The stream is over (after `failed` when it failed). */
  done(): void {
    this.ctx.durationMs = performance.now() - this.started;
    queryChannel.asyncStart.publish(this.ctx);
    queryChannel.asyncEnd.publish(this.ctx);
  }
}

function fillRoute(ctx: QueryTraceContext, p: RoutePlan): void {
  ctx.route = p.kind;
  ctx.shards = [...p.shards];
  ctx.instances = [...new Set(p.targets.map((t) => t.instance))];
}
