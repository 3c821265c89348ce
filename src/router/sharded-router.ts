import type { ClusterConfig } from '../config/index.js';
import { MultiShardWriteError, RouterClosedError, RoutingError, isShardlineError } from '../errors/index.js';
import { executePlan, streamMerge, targetRows, type RunOnInstance } from '../executor/index.js';
import { WriteTokens } from '../gtid/index.js';
import type { RouterMetrics } from '../metrics/index.js';
import type { Row } from '../net/index.js';
import type { SocketLayer } from '../net/index.js';
import type { ConnectionFactory } from '../pool/index.js';
import { InstancePool } from '../pool/index.js';
import { MOVE_FENCE_SQLSTATE, type Topology } from '../shard/index.js';
import { analyzeKeyset, PlanCache, plan, type PlanOptions, type RoutePlan, type SqlLimits, type SqlParam } from '../sql/index.js';
import { queryChannel } from '../tracing/index.js';
import { StreamTrace, traceQuery } from './query-trace.js';
import type {
  Analytics,
  AnalyticsOptions,
  Consistency,
  Explain,
  IndexedOptions,
  InstanceHealth,
  NextIdOptions,
  QueryOptions,
  Router,
  RouterSession,
  ShardSession,
  Transaction,
  Uid,
  WriteResult,
} from './router-types.js';
import { ReplicaReads, type ReadPolicy } from './replica-reads.js';
import { runTransaction } from './transaction-runner.js';
import { MultiShardWriter } from './multi-shard-writer.js';
import { ShardMapWatcher } from './shard-map-watcher.js';
import { IdAllocator } from './id-allocator.js';
import { segmentLease } from './id-segments.js';
import { keysetPaginate } from './keyset-paginate.js';
import { ArchiveAnalytics } from './archive-analytics.js';

/** ER_NO_SUCH_TABLE: a finished shard move renamed the shard's tables away (or the schema is not migrated). */
const NO_SUCH_TABLE = 1146;

/** A server error of a statement that a shard move's fence stopped before it wrote anything. */
function fenceError(details: { errno?: unknown; sqlState?: unknown } | undefined): boolean {
  return details?.errno === NO_SUCH_TABLE || details?.sqlState === MOVE_FENCE_SQLSTATE;
}

function movedError(shard: number | string, waitedMs: number, cause: unknown): RoutingError {
  return new RoutingError(
    'SHARD_MOVED',
    `shard ${shard}: its tables are fenced by a shard move and no new shard map was published within ${waitedMs} ms`,
    { retriable: true, cause },
  );
}

/** Whether `err` says a statement met a shard move's fence (or its table gone) before it wrote anything. */
function fencedByMove(err: unknown): boolean {
  if (err instanceof MultiShardWriteError)
    return err.retriable && err.instances.some((i) => fenceError((i.error as { details?: { errno?: unknown } } | undefined)?.details));
  return isShardlineError(err) && err.code === 'QUERY_FAILED' && fenceError(err.details);
}

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
  private readonly replicas: ReplicaReads | null;
  private readonly consistency: Consistency;
  private readonly maxLagMs: number;
  private readonly maxWaitMs: number;
  /** Every instance's configured primary pool (closed with the router whichever node writes). */
  private readonly configuredPools: InstancePool[] = [];
  private readonly mapWatcher: ShardMapWatcher;
  private readonly movedWaitMs: number;
  private readonly ids: IdAllocator;
  private readonly archive: ArchiveAnalytics;

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
    this.scatterBounds = { maxOffset: rc.scatter.maxOffset, maxGroups: rc.scatter.maxGroups };
    this.sqlLimits = rc.limits;
    this.consistency = rc.consistency;
    this.maxLagMs = rc.maxReplicaLagMs;
    this.maxWaitMs = rc.maxWaitMs;
    /** A node of an instance (the primary or a replica): the instance's account and TLS, the node's address and key. */
    const endpointOf = (
      node: { name: string; host: string; port: number; serverPublicKey?: string | undefined },
      inst: ClusterConfig['instances'][number],
    ) => ({
      name: node.name,
      host: node.host,
      port: node.port,
      user: inst.user,
      password: inst.password,
      connectTimeoutMs: config.pool.connectTimeoutMs,
      tls: inst.tls,
      serverPublicKey: node.serverPublicKey,
      trackGtids: inst.flavour,
    });
    for (const inst of config.instances) {
      const shards = rangesText(topology.map.shardsOf(inst.name));
      const pool = new InstancePool(endpointOf(inst, inst), config.pool, factories.factory, shards, socketLayer);
      pool.breaker.onChange((state) => metrics.breakerState(inst.name, state));
      this.pools.set(inst.name, pool);
      this.configuredPools.push(pool);
    }
    this.replicas = config.instances.some((i) => i.replicas?.length)
      ? new ReplicaReads(
          config,
          endpointOf,
          factories.factory,
          this.pools,
          socketLayer,
          this.queryTimeoutMs,
          (i, outcome) => metrics.replicaRead(i, outcome),
          (instance, pool) => this.switchPrimary(instance, pool),
        )
      : null;
    this.movedWaitMs = rc.movedWaitMs;
    this.mapWatcher = new ShardMapWatcher(
      topology,
      config.instances.map((i) => i.name),
      (instance, sql) => this.pool(instance).use((conn) => conn.query(sql, [], this.queryTimeoutMs)),
      config.sharding.naming.metaDatabase,
      rc.shardMapCheckMs,
    );
    metrics.watchPools({ stats: () => this.health() });
    this.writer = new MultiShardWriter(config, factories.batchFactory, (i) => this.pool(i), this.queryTimeoutMs, socketLayer);
    const idInstance = rc.ids.instance ?? config.instances[0]!.name;
    this.ids = new IdAllocator(
      segmentLease(config.sharding.naming.metaDatabase, (work) => this.pool(idInstance).use(work), this.queryTimeoutMs),
      rc.ids,
    );
    const archive = new ArchiveAnalytics(config, factories.factory, socketLayer);
    this.archive = archive;
    this.analytics = Object.freeze({
      query: <T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: AnalyticsOptions) =>
        archive.query<T>(sql, params, options),
      health: () => archive.health(),
    });
  }

  /** SQL on the archive store (see {@link Analytics}); nothing is opened before the first call. */
  readonly analytics: Analytics;

  indexed(token: string | readonly string[], options?: IndexedOptions): Promise<void> {
    return this.archive.indexed(token, options);
  }

  /**
   * A failover moved `instance`'s writes to another of its nodes: new statements, transactions
   * and multi-shard writes go to that node's pool; what was in flight on the fenced node fails
   * there with a retriable read-only error (1290), never writing.
   */
  private switchPrimary(instance: string, pool: InstancePool): void {
    if (this.closed) return;
    this.pools.set(instance, pool);
    this.writer.forget(instance);
  }

  /** Resolves once the routers' view of which node of each instance takes writes is known (first monitor round). */
  async ready(): Promise<void> {
    await Promise.all([this.replicas?.monitor.start(), this.mapWatcher.start()]);
  }

  /**
   * Plans and runs a statement; when its shard's table was fenced by a shard move (the statement
   * ran nowhere), waits up to `router.movedWaitMs` for the new shard map and runs it again where
   * the map now says. The caller sees latency, not an error.
   * @throws {RoutingError} SHARD_MOVED (retriable) when no new map came in time
   */
  private async routed<R>(make: () => RoutePlan, exec: (p: RoutePlan) => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      const version = this.topology.map.version;
      const p = make();
      try {
        return await exec(p);
      } catch (err) {
        if (attempt >= 3 || p.shards.length === 0 || !fencedByMove(err)) throw err;
        if (!(await this.mapWatcher.waitForVersionAbove(version, this.movedWaitMs)))
          throw movedError(p.shards.length === 1 ? p.shards[0]! : `set of ${p.shards.length}`, this.movedWaitMs, err);
      }
    }
  }

  private readonly scatterBounds: { maxOffset: number; maxGroups: number };
  private readonly sqlLimits: SqlLimits;

  private pool(instance: string): InstancePool {
    const pool = this.pools.get(instance);
    if (!pool) throw new RoutingError('SQL_UNSUPPORTED', `the shard map names instance ${instance}, which has no pool`);
    return pool;
  }

  private planFor(sql: string, params: readonly SqlParam[], options: PlanOptions): RoutePlan {
    if (this.closed) throw new RouterClosedError();
    const analysis = this.cache.get(sql);
    if (analysis.shardedTables.length === 0 && !analysis.write) options = Object.assign({}, options, { readInstance: this.readInstance++ });
    if (analysis.select?.rewrite) options = Object.assign({}, options, this.scatterBounds);
    return plan(analysis, params, this.topology, options);
  }

  /** Runs one physical statement on an instance's primary. */
  private readonly onPrimary: RunOnInstance = (instance, sql, params) =>
    this.pool(instance).use(async (conn) => {
      const t0 = process.hrtime.bigint();
      try {
        return await conn.query(sql, params, this.queryTimeoutMs);
      } finally {
        this.metrics.instanceLatency(instance, Number(process.hrtime.bigint() - t0) / 1e9);
      }
    });

  private async run(p: RoutePlan, atomic = false, read: ReadPolicy | null = null): Promise<Row[] | WriteResult> {
    this.metrics.query(p.kind, p.statement);
    try {
      if (p.write && p.targets.length > 1) return await this.writer.write(p, atomic);
      if (read === null || p.write || p.lockingRead) return await executePlan(p, this.onPrimary);
      const replicas = this.replicas!;
      return await executePlan(p, (instance, sql, params) =>
        replicas.read(instance, sql, params, read, () => this.onPrimary(instance, sql, params)),
      );
    } catch (err) {
      this.metrics.queryFailed(p.kind, isShardlineError(err) ? err.code : 'UNKNOWN');
      throw err;
    }
  }

  /**
   * Where reads of a call may go: null for the primary (the default, and always without
   * replicas); else the tokens the read must see — `after`, and a session's own writes unless
   * the call asks for `replica` (eventual) reads.
   */
  private readPolicy(options: QueryOptions, session?: WriteTokens): ReadPolicy | null {
    if (this.replicas === null) return null;
    const consistency = options.consistency ?? (options.after !== undefined || session ? 'session' : this.consistency);
    if (consistency === 'primary') return null;
    let tokens = consistency === 'session' ? session : undefined;
    if (options.after !== undefined) {
      const given = WriteTokens.parse(options.after);
      if (tokens) given.merge(tokens);
      tokens = given;
    }
    const need = tokens && !tokens.empty ? tokens : null;
    return {
      need: need ? (instance) => need.get(instance) : () => undefined,
      maxLagMs: this.maxLagMs,
      maxWaitMs: options.maxWaitMs ?? this.maxWaitMs,
    };
  }

  async query<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[] = NO_PARAMS,
    options: QueryOptions = NO_OPTIONS,
  ): Promise<T[] | WriteResult> {
    return this.queryIn(sql, params, options, undefined);
  }

  private async queryIn<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[],
    options: QueryOptions,
    session: WriteTokens | undefined,
  ): Promise<T[] | WriteResult> {
    const planOptions = options.scatter ? SCATTER : NO_OPTIONS;
    const atomic = options.atomic === true;
    const read = this.readPolicy(options, session);
    if (queryChannel.hasSubscribers)
      return (await traceQuery(
        'query',
        sql,
        () => this.planFor(sql, params, planOptions),
        (p) => this.run(p, atomic, read),
      )) as T[] | WriteResult;
    return (await this.routed(
      () => this.planFor(sql, params, planOptions),
      (p) => this.run(p, atomic, read),
    )) as T[] | WriteResult;
  }

  async *stream<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[] = NO_PARAMS,
    options: QueryOptions = NO_OPTIONS,
  ): AsyncGenerator<T, void, undefined> {
    const trace = queryChannel.hasSubscribers ? new StreamTrace(sql) : null;
    let counted: RoutePlan | null = null;
    try {
      let p: RoutePlan;
      try {
        p = this.planFor(sql, params, options.scatter ? SCATTER : NO_OPTIONS);
        trace?.planned(p);
      } finally {
        trace?.opened();
      }
      if (p.write) throw new RoutingError('SQL_UNSUPPORTED', 'router.stream reads rows: run writes with router.query');
      if (p.merge.kind === 'grouped') {
        for (const row of await this.select<T>(sql, params, options)) yield row;
        return;
      }
      this.metrics.query(p.kind, p.statement);
      counted = p;
      const read = p.lockingRead ? null : this.readPolicy(options);
      const opens = p.targets.map((t) => async () => {
        const onReplica = read ? await this.replicas!.borrowForRead(t.instance, read) : null;
        const pool = onReplica?.pool ?? this.pool(t.instance);
        const conn = onReplica?.conn ?? (await pool.acquire());
        if (!conn.stream) {
          await pool.release(conn);
          throw new RoutingError('SQL_UNSUPPORTED', `the connections of instance ${t.instance} cannot stream rows`);
        }
        let failure: unknown;
        const rows = targetRows(conn.stream(t.sql, t.params, this.queryTimeoutMs), t, (err) => (failure = err));
        return { rows, close: () => pool.settle(conn, failure) };
      });
      yield* streamMerge(p.merge, opens) as AsyncGenerator<T, void, undefined>;
    } catch (err) {
      if (counted) this.metrics.queryFailed(counted.kind, isShardlineError(err) ? err.code : 'UNKNOWN');
      trace?.failed(err);
      throw err;
    } finally {
      trace?.done();
    }
  }

  async *paginate<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[],
    options: QueryOptions & { pageSize: number },
  ): AsyncGenerator<T[], void, undefined> {
    const { pageSize, ...rest } = options;
    const pages = analyzeKeyset(sql, this.topology, this.sqlLimits);
    yield* keysetPaginate(pages, params, pageSize, (s, p) => this.select(s, p, rest)) as AsyncGenerator<T[], void, undefined>;
  }

  async select<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[] = NO_PARAMS,
    options: QueryOptions = NO_OPTIONS,
  ): Promise<T[]> {
    return this.selectIn(sql, params, options, undefined);
  }

  private async selectIn<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[],
    options: QueryOptions,
    session: WriteTokens | undefined,
  ): Promise<T[]> {
    const planOptions = options.scatter ? SCATTER : NO_OPTIONS;
    const read = this.readPolicy(options, session);
    if (queryChannel.hasSubscribers)
      return (await traceQuery(
        'select',
        sql,
        () => this.selectPlan(sql, params, planOptions),
        (p) => this.run(p, false, read),
      )) as T[];
    return (await this.routed(
      () => this.selectPlan(sql, params, planOptions),
      (p) => this.run(p, false, read),
    )) as T[];
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
    return this.shardSession(uid, undefined);
  }

  private shardSession(uid: Uid, session: WriteTokens | undefined): ShardSession {
    const location = this.topology.locate(uid);
    const pinned: PlanOptions = { shard: location.shard, pinnedBy: 'forUid' };
    const onCommit = session ? (instance: string, gtid: string) => rememberGtid(session, instance, gtid) : undefined;
    return {
      location,
      query: async <T extends Row = Row>(sql: string, params: readonly SqlParam[] = [], options: QueryOptions = NO_OPTIONS) => {
        const read = this.readPolicy(options, session);
        const result = (await (queryChannel.hasSubscribers
          ? traceQuery(
              'query',
              sql,
              () => this.planFor(sql, params, pinned),
              (p) => this.run(p, false, read),
            )
          : this.routed(
              () => this.planFor(sql, params, pinned),
              (p) => this.run(p, false, read),
            ))) as T[] | WriteResult;
        if (session) remember(session, result);
        return result;
      },
      transaction: <T>(fn: (tx: Transaction) => Promise<T>): Promise<T> => {
        if (this.closed) throw new RouterClosedError();
        this.metrics.query('single', 'transaction');
        return this.movableTransaction(location.shard, fn, onCommit);
      },
    };
  }

  /** A transaction pinned to `shard` that follows the shard when a move's fence meets it first. */
  private async movableTransaction<T>(
    shard: number,
    fn: (tx: Transaction) => Promise<T>,
    onCommit: ((instance: string, gtid: string) => void) | undefined,
  ): Promise<T> {
    // A move's fence waits for the transactions that wrote to the shard: one that meets the fence
    // (or, later, finds the table renamed away) wrote nothing there, and runs again on the
    // instance the new map names (`fn` is called again).
    for (let attempt = 0; ; attempt++) {
      const version = this.topology.map.version;
      try {
        return await runTransaction(
          shard,
          this.pool(this.topology.map.instanceOf(shard)),
          this.cache,
          this.topology,
          this.queryTimeoutMs,
          fn,
          onCommit,
        );
      } catch (err) {
        if (attempt >= 3 || !fencedByMove(err)) throw err;
        if (!(await this.mapWatcher.waitForVersionAbove(version, this.movedWaitMs))) throw movedError(shard, this.movedWaitMs, err);
      }
    }
  }

  session(after?: string | readonly string[]): RouterSession {
    if (this.closed) throw new RouterClosedError();
    const tokens = after === undefined ? new WriteTokens() : WriteTokens.parse(after);
    const tracked = async <R>(work: () => Promise<R>): Promise<R> => {
      try {
        const result = await work();
        remember(tokens, result);
        return result;
      } catch (err) {
        // a multi-instance write that failed part-way: what did commit must be seen too
        if (err instanceof MultiShardWriteError)
          for (const o of err.instances) if (o.status === 'committed' && o.gtid) rememberGtid(tokens, o.instance, o.gtid);
        throw err;
      }
    };
    return {
      query: <T extends Row = Row>(sql: string, params: readonly SqlParam[] = NO_PARAMS, options: QueryOptions = NO_OPTIONS) =>
        tracked(() => this.queryIn<T>(sql, params, options, tokens)),
      select: <T extends Row = Row>(sql: string, params: readonly SqlParam[] = NO_PARAMS, options: QueryOptions = NO_OPTIONS) =>
        this.selectIn<T>(sql, params, options, tokens),
      forUid: (uid: Uid) => this.shardSession(uid, tokens),
      after: (token: string | readonly string[]) => tokens.merge(WriteTokens.parse(token)),
      get token() {
        return tokens.toString();
      },
    };
  }

  health(): InstanceHealth[] {
    return [...this.pools].map(([instance, p]) => {
      const views = new Map((this.replicas?.monitor.view(instance) ?? []).map((v) => [v.name, v]));
      return {
        instance,
        host: p.endpoint.host,
        port: p.endpoint.port,
        primary: p.endpoint.name,
        shards: p.shardRange,
        breaker: p.breakerState(),
        pool: p.stats(),
        tcp: p.tcpHealth(),
        events: p.counters(),
        replicas: (this.replicas?.replicaPools(instance) ?? []).map(({ replica, pool }) => {
          const v = views.get(replica);
          return {
            name: replica,
            host: pool.endpoint.host,
            port: pool.endpoint.port,
            healthy: v?.healthy ?? false,
            lagMs: v && Number.isFinite(v.lagMs) ? v.lagMs : null,
            breaker: pool.breakerState(),
            pool: pool.stats(),
          };
        }),
      };
    });
  }

  planCacheStats() {
    return this.cache.stats();
  }

  nextId(name: string, options?: NextIdOptions): Promise<bigint> {
    if (this.closed) return Promise.reject(new RouterClosedError());
    if (options === undefined || (options.shardOf === undefined && options.shard === undefined)) return this.ids.next(name);
    try {
      return this.ids.nextEmbedded(name, this.embeddedShard(options), this.topology.shardCount);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The shard `nextId` embeds. @throws {RoutingError} SQL_UNSUPPORTED, {InvalidUidError} */
  private embeddedShard(options: NextIdOptions): number {
    if (options.shardOf !== undefined && options.shard !== undefined)
      throw new RoutingError('SQL_UNSUPPORTED', 'nextId takes shardOf or shard, not both');
    if (options.shardOf !== undefined) return this.topology.shardOf(options.shardOf);
    const shard = options.shard;
    if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard >= this.topology.shardCount)
      throw new RoutingError('SQL_UNSUPPORTED', `nextId: shard must be an integer in 0 … ${this.topology.shardCount - 1}`);
    return shard;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.mapWatcher.stop();
    const writing = new Set([...this.configuredPools, ...this.pools.values()]);
    await Promise.all([...writing].map((p) => p.close()));
    await this.replicas?.close(writing);
    await this.writer.close();
    await this.archive.close();
  }
}

/** Adds a write's token to a session's. */
function remember(session: WriteTokens, result: unknown): void {
  if (result && !Array.isArray(result) && typeof (result as WriteResult).token === 'string')
    session.merge(WriteTokens.parse((result as WriteResult).token!));
}

function rememberGtid(session: WriteTokens, instance: string, gtid: string): void {
  try {
    session.add(instance, gtid);
  } catch {
    // a GTID in a form we do not know: that write gets no read-your-writes guarantee
  }
}
