import type { ClusterConfig } from '../config/index.js';
import { RouterClosedError, RoutingError, isShardlineError } from '../errors/index.js';
import { executePlan } from '../executor/index.js';
import type { RouterMetrics } from '../metrics/index.js';
import type { Row } from '../net/index.js';
import type { SocketLayer } from '../net/index.js';
import type { ConnectionFactory } from '../pool/index.js';
import { InstancePool } from '../pool/index.js';
import type { Topology } from '../shard/index.js';
import { PlanCache, plan, type PlanOptions, type RoutePlan, type SqlParam } from '../sql/index.js';
import { queryChannel } from '../tracing/index.js';
import { traceQuery } from './query-trace.js';
import type { Explain, InstanceHealth, QueryOptions, Router, ShardSession, Transaction, Uid, WriteResult } from './router-types.js';
import { runTransaction } from './transaction-runner.js';
import { MultiShardWriter } from './multi-shard-writer.js';

function rangesText(shards: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < shards.length;) {
    let j = i;
    while (j + 1 < shards.length && shards[j + 1] === shards[j]! + 1) j++;
    parts.push(i === j ? `${shards[i]}` : `${shards[i]}-${shards[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const NO_PARAMS: readonly SqlParam[] = [];
const NO_OPTIONS: PlanOptions & QueryOptions = {};
const SCATTER: PlanOptions = { scatter: true };

/** The connection factories of a router: its pools', and the multi-statement one of multi-shard writes. */
export interface RouterFactories {
  factory: ConnectionFactory;
  batchFactory: ConnectionFactory;
}

/** The router: plan cache + topology + one pool per instance. Build it with `createRouter`. */
export class ShardedRouter implements Router {
  private readonly pools = new Map<string, InstancePool>();
  private readonly cache: PlanCache;
  private readonly queryTimeoutMs: number;
  private readInstance = 0;
  private closed = false;
  private readonly writer: MultiShardWriter;

  constructor(
    config: ClusterConfig,
    readonly topology: Topology,
    factories: RouterFactories,
    private readonly metrics: RouterMetrics,
    readonly socketLayer: SocketLayer,
    planCacheSize?: number,
  ) {
    const rc = config.router;
    this.cache = new PlanCache(
      topology,
      { maxEntries: planCacheSize ?? rc.planCache.maxEntries, maxBytes: rc.planCache.maxBytes, limits: rc.limits },
      (hit) => metrics.planCache(hit),
    );
    this.queryTimeoutMs = config.pool.queryTimeoutMs;
    for (const inst of config.instances) {
      const shards = rangesText(topology.map.shardsOf(inst.name));
      const endpoint = {
        name: inst.name,
        host: inst.host,
        port: inst.port,
        user: inst.user,
        password: inst.password,
        connectTimeoutMs: config.pool.connectTimeoutMs,
        tls: inst.tls,
        serverPublicKey: inst.serverPublicKey,
      };
      const pool = new InstancePool(endpoint, config.pool, factories.factory, shards, socketLayer);
      pool.breaker.onChange((state) => metrics.breakerState(inst.name, state));
      this.pools.set(inst.name, pool);
    }
    metrics.watchPools({ stats: () => this.health() });
    this.writer = new MultiShardWriter(config, factories.batchFactory, (i) => this.pool(i), this.queryTimeoutMs, socketLayer);
  }

  private pool(instance: string): InstancePool {
    const pool = this.pools.get(instance);
    if (!pool) throw new RoutingError('SQL_UNSUPPORTED', `the shard map names instance ${instance}, which has no pool`);
    return pool;
  }

  private planFor(sql: string, params: readonly SqlParam[], options: PlanOptions): RoutePlan {
    if (this.closed) throw new RouterClosedError();
    const analysis = this.cache.get(sql);
    if (analysis.shardedTables.length === 0 && !analysis.write) options = { ...options, readInstance: this.readInstance++ };
    return plan(analysis, params, this.topology, options);
  }

  private async run(p: RoutePlan, atomic = false): Promise<Row[] | WriteResult> {
    this.metrics.query(p.kind, p.statement);
    try {
      if (p.write && p.targets.length > 1) return await this.writer.write(p, atomic);
      return await executePlan(p, (instance, sql, params) =>
        this.pool(instance).use(async (conn) => {
          const t0 = process.hrtime.bigint();
          try {
            return await conn.query(sql, params, this.queryTimeoutMs);
          } finally {
            this.metrics.instanceLatency(instance, Number(process.hrtime.bigint() - t0) / 1e9);
          }
        }),
      );
    } catch (err) {
      this.metrics.queryFailed(p.kind, isShardlineError(err) ? err.code : 'UNKNOWN');
      throw err;
    }
  }

  async query<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[] = NO_PARAMS,
    options: QueryOptions = NO_OPTIONS,
  ): Promise<T[] | WriteResult> {
    const planOptions = options.scatter ? SCATTER : NO_OPTIONS;
    const atomic = options.atomic === true;
    if (queryChannel.hasSubscribers)
      return (await traceQuery(
        'query',
        sql,
        () => this.planFor(sql, params, planOptions),
        (p) => this.run(p, atomic),
      )) as T[] | WriteResult;
    return (await this.run(this.planFor(sql, params, planOptions), atomic)) as T[] | WriteResult;
  }

  async select<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[] = NO_PARAMS,
    options: QueryOptions = NO_OPTIONS,
  ): Promise<T[]> {
    const planOptions = options.scatter ? SCATTER : NO_OPTIONS;
    if (queryChannel.hasSubscribers)
      return (await traceQuery(
        'select',
        sql,
        () => this.selectPlan(sql, params, planOptions),
        (p) => this.run(p),
      )) as T[];
    return (await this.run(this.selectPlan(sql, params, planOptions))) as T[];
  }

  private selectPlan(sql: string, params: readonly SqlParam[], options: PlanOptions): RoutePlan {
    const p = this.planFor(sql, params, options);
    if (p.statement !== 'select')
      throw new RoutingError('SQL_UNSUPPORTED', `select() runs SELECT statements only, got ${p.statement.toUpperCase()}`);
    return p;
  }

  explain(sql: string, params: readonly SqlParam[] = NO_PARAMS, options: QueryOptions = NO_OPTIONS): Explain {
    const p = this.planFor(sql, params, options.scatter ? SCATTER : NO_OPTIONS);
    return { kind: p.kind, statement: p.statement, shards: p.shards, targets: p.targets, merge: p.merge };
  }

  forUid(uid: Uid): ShardSession {
    const location = this.topology.locate(uid);
    const pinned: PlanOptions = { shard: location.shard, pinnedBy: 'forUid' };
    return {
      location,
      query: async <T extends Row = Row>(sql: string, params: readonly SqlParam[] = []) =>
        (await (queryChannel.hasSubscribers
          ? traceQuery(
              'query',
              sql,
              () => this.planFor(sql, params, pinned),
              (p) => this.run(p),
            )
          : this.run(this.planFor(sql, params, pinned)))) as T[] | WriteResult,
      transaction: <T>(fn: (tx: Transaction) => Promise<T>) => {
        if (this.closed) throw new RouterClosedError();
        this.metrics.query('single', 'transaction');
        return runTransaction(location.shard, this.pool(location.instance), this.cache, this.topology, this.queryTimeoutMs, fn);
      },
    };
  }

  health(): InstanceHealth[] {
    return [...this.pools.values()].map((p) => ({
      instance: p.endpoint.name,
      host: p.endpoint.host,
      port: p.endpoint.port,
      shards: p.shardRange,
      breaker: p.breakerState(),
      pool: p.stats(),
      tcp: p.tcpHealth(),
      events: p.counters(),
    }));
  }

  planCacheStats() {
    return this.cache.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    await this.writer.close();
  }
}
