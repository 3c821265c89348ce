import type { RouterResult, WriteResult } from '../executor/index.js';
import type { Row } from '../net/index.js';
import type { BreakerState, PoolEvents, PoolStats, TcpHealth } from '../pool/index.js';
import type { ShardLocation, Topology, Uid } from '../shard/index.js';
import type { MergeSpec, RouteKind, SqlParam } from '../sql/index.js';

export type { Row, RouterResult, WriteResult, SqlParam, Uid };

/**
 * Where the router reports what it would otherwise only emit as a process warning: a subset of
 * pino's logger (`(obj, msg)` signature), so a pino, bunyan-style or console-backed logger fits.
 */
export interface RouterLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

/** Per-call routing options. */
export interface QueryOptions {
  /** Run a statement without a shard-key predicate on every shard (off by default: fail closed). */
  scatter?: boolean;
  /**
   * For a write whose rows span several instances: commit on all of them or on none, with XA
   * (XA PREPARE on every instance, a commit decision recorded on the first instance, then XA
   * COMMIT). Without it, each instance's part is one transaction of its own and a failure on one
   * leaves the others committed (see MultiShardWriteError). Branches a crashed process left
   * prepared are finished by `shardline xa recover`. Needs XA_RECOVER_ADMIN on MySQL 8 for the
   * recovery's account.
   */
  atomic?: boolean;
  /**
   * Where a read may go (default: the router's `router.consistency`): `primary`; `replica` — a
   * healthy replica within `router.maxReplicaLagMs`, else the primary; `session` — a replica that
   * has applied the tokens in scope (`after`, a session's writes), else the primary. Writes,
   * transactions and locking reads (FOR UPDATE / FOR SHARE) always go to the primary.
   */
  consistency?: Consistency;
  /**
   * Write tokens (`WriteResult.token`, from this or another process) the read must see: on a
   * replica it first waits until the replica has applied them (at most `maxWaitMs`), else the
   * primary serves it. Implies `consistency: "session"` unless `primary` is asked.
   */
  after?: string | readonly string[];
  /** How long a read with tokens waits for a replica to apply them (default `router.maxWaitMs`). */
  maxWaitMs?: number;
}

/**
 * Options of {@link Analytics.query}. A wait (`after`, `maxStalenessMs`) reads how far the CDC
 * archive sink has applied each instance (`<metaDatabase>.sink_progress` on the archive server,
 * published by the sink) every `router.analytics.pollMs`, at most `maxWaitMs`, then runs the query.
 */
export interface AnalyticsOptions {
  /**
   * Write tokens (`WriteResult.token`, a session's `token`) the query must see: it runs once the
   * archive sink has applied, for every instance in them, every transaction they name.
   * @throws {RoutingError} `TOKEN_INVALID` for a malformed token
   */
  after?: string | readonly string[];
  /**
   * The largest lag of the archive sink behind any shard instance the query accepts (ms): it runs
   * once the lag is at most this for every instance of the config. The lag of an instance is, when
   * the sink had applied everything the CDC worker had published for it at its last check, the
   * time since that check; else the time since the commit of the last transaction it applied (an
   * instance with nothing published is never within the bound).
   */
  maxStalenessMs?: number;
  /** How long to wait for `after` / `maxStalenessMs` before SINK_BEHIND (default `router.analytics.maxWaitMs`, 10,000 ms). */
  maxWaitMs?: number;
  /** How long the query itself may run (default `pool.queryTimeoutMs`). */
  timeoutMs?: number;
  /**
   * Whether the rows the archival job moved out of the shards (`_archived = 1`) are in the views
   * (default true: all of history). `false` queries the current views
   * (`router.analytics.currentViewsDatabase`, default `<archive.database>_current`): only the
   * rows the shards still hold — as of the archive sink's progress.
   */
  includeArchived?: boolean;
}

/** Options of {@link Router.nextId}: the shard to embed in the ID, by a UID or by number (not both). */
export interface NextIdOptions {
  /** Embed the shard of this UID (its hash's shard, where its rows are). */
  shardOf?: Uid;
  /** Embed this shard (0 … shards − 1). */
  shard?: number;
}

/** Options of {@link Router.indexed}. */
export interface IndexedOptions {
  /** The sink to wait for (default `elasticsearch`). */
  sink?: 'elasticsearch' | 'archive';
  /** How long to wait before SINK_BEHIND (default `router.analytics.maxWaitMs`, 10,000 ms). */
  maxWaitMs?: number;
}

/**
 * SQL on the archive store (the CDC archive sink's copy of every captured table, one table per
 * logical table, all shards together): logical table names, joins, GROUP BY, window functions —
 * whatever the archive server runs. Needs the `archive` section of the config.
 */
export interface Analytics {
  /**
   * Runs one read (SELECT, WITH, TABLE, VALUES, EXPLAIN, DESCRIBE, SHOW) on the archive server
   * and returns its rows (values as {@link Router.select} returns them; values always bound).
   * Table names are the logical ones: the session's default database holds one view per archived
   * table (`router.analytics.viewsDatabase`, default `<archive.database>_live`) with every column
   * but `_deleted`, of the rows not deleted (`_deleted = 0`); with `includeArchived: false`, the
   * current views (`router.analytics.currentViewsDatabase`) that also hide archived rows. Views
   * are created on first use and again when the archive gains a table or column. Sessions are read-only.
   * @throws {SinkBehindError} `SINK_BEHIND` (retriable): `after` / `maxStalenessMs` not met within `maxWaitMs`
   * @throws {RoutingError} `SQL_UNSUPPORTED` for a statement that is not a read, `SQL_EXECUTABLE_COMMENT`, `TOKEN_INVALID`
   * @throws {ConfigError} `CONFIG_INVALID` when the config has no `archive` section
   */
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: AnalyticsOptions): Promise<T[]>;
  /**
   * The archive server's pool as the router sees it, like an instance in {@link Router.health}:
   * null until the first analytics query or `indexed` wait opens it (and after `close`).
   */
  health(): AnalyticsHealth | null;
}

/** Health of the pool of read-only sessions `router.analytics` keeps on the archive server. */
export interface AnalyticsHealth {
  /** The archive's name in the config (`archive.name`). */
  name: string;
  host: string;
  port: number;
  /** `closed` (healthy), `open` (failing fast) or `half-open` (trying again). */
  breaker: BreakerState;
  pool: PoolStats;
  /** From TCP_INFO over open connections; null on the JS socket layer or with no connection. */
  tcp: TcpHealth | null;
  /** What the borrow checks and the idle watch removed. */
  events: PoolEvents;
}

/** Where reads go: see {@link QueryOptions.consistency}. */
export type Consistency = 'primary' | 'replica' | 'session';

/**
 * A read-your-writes session: every read sees every write made through the session (and the
 * tokens given to `after`), wherever it is served. Reads default to `consistency: "session"`.
 */
export interface RouterSession {
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: QueryOptions): Promise<T[] | WriteResult>;
  select<T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: QueryOptions): Promise<T[]>;
  /** Statements bound to one UID's shard; their writes and transactions' commits join the session's token. */
  forUid(uid: Uid): ShardSession;
  /** Adds tokens of writes made elsewhere (another process) that this session's reads must see. */
  after(token: string | readonly string[]): void;
  /** Everything the session wrote or was told about, as one token (`''` before any write). */
  readonly token: string;
}

/** A plan as `explain` shows it. */
export interface Explain {
  kind: RouteKind;
  statement: string;
  shards: number[];
  /** One entry per round trip. */
  targets: { instance: string; shards: number[]; sql: string; params: SqlParam[] }[];
  merge: MergeSpec;
}

/** Runs SQL inside one single-shard transaction. */
export interface Transaction {
  /** The transaction's shard. */
  readonly shard: number;
  /** Runs a statement on the transaction's shard. A statement that routes elsewhere rolls the transaction back. */
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[] | WriteResult>;
}

/** Statements bound to the shard of one UID: logical names become that shard's physical names. */
export interface ShardSession {
  readonly location: ShardLocation;
  /** Reads follow `options.consistency` (default: the router's); writes go to the primary. */
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: QueryOptions): Promise<T[] | WriteResult>;
  /**
   * Runs `fn` in a transaction on this shard's instance: COMMIT when it resolves, ROLLBACK when
   * it throws. The connection is released on every path.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
}

/** Health of one instance as the router sees it. */
export interface InstanceHealth {
  instance: string;
  /** Where its writes go now: the primary node's address and name (a replica's after a failover). */
  host: string;
  port: number;
  primary: string;
  shards: string;
  /** `closed` (healthy), `open` (failing fast) or `half-open` (trying again). */
  breaker: BreakerState;
  pool: PoolStats;
  /** From TCP_INFO over open connections; null on the JS socket layer or with no connection. */
  tcp: TcpHealth | null;
  /** What the borrow checks and the idle watch removed. */
  events: PoolEvents;
  /** The instance's read replicas as the lag monitor last saw them (empty without replicas). */
  replicas: ReplicaHealth[];
}

/** One read replica as the router sees it. */
export interface ReplicaHealth {
  name: string;
  host: string;
  port: number;
  /** Its last probe answered and no read failed on it since (false before the first probe). */
  healthy: boolean;
  /** Upper bound of its lag behind the primary at the last probe (ms); null when unknown or beyond the monitor's history. */
  lagMs: number | null;
  breaker: BreakerState;
  pool: PoolStats;
}

/** The sharded data-access API. */
export interface Router {
  readonly topology: Topology;
  /** Binds statements to the shard of `uid`. @throws {InvalidUidError} */
  forUid(uid: Uid): ShardSession;
  /** A read-your-writes session (see {@link RouterSession}); `after` seeds it with tokens of writes made elsewhere. */
  session(after?: string | readonly string[]): RouterSession;
  /**
   * Transparent routing: finds the shard key in the statement (`key = ?`, `key IN (…)`, INSERT
   * columns), rewrites logical table names to physical ones and runs the statement on the right
   * shard(s). Rows for SELECT; `{ affectedRows, insertId }` for writes. A write with several
   * round trips (rows on several shards) runs as one transaction per instance, each sent in one
   * round trip, the instances in parallel (or with XA across them: `options.atomic`).
   * @throws {MultiShardWriteError} a write on several instances failed on some: which committed,
   * which rolled back, which are unknown.
   */
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: QueryOptions): Promise<T[] | WriteResult>;
  /** Like {@link Router.query} but only for SELECT; returns the rows. */
  select<T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: QueryOptions): Promise<T[]>;
  /**
   * A SELECT's rows as an async iterator with bounded memory: rows come as the servers send them
   * (mysql2 streams with back-pressure), one round trip at a time when rows concatenate, every
   * round trip at once merged by ORDER BY (collation weights, OFFSET, LIMIT) when sorted; a
   * GROUP BY / aggregate result (one row per group) is computed first, then yielded. Each round
   * trip reads where `consistency` sends a read (as {@link Router.select}: a replica within
   * `router.maxReplicaLagMs` that has applied the tokens in `after`, else the primary; locking
   * reads always the primary); a replica that fails before its round trip starts hands it to the
   * primary, one that fails mid-stream fails the stream (rows already yielded cannot be taken
   * back). Ending the loop early releases every connection (each one stopped mid-result is
   * closed, not reused). Counted in the router's query metrics when it starts (failures with
   * their code) and traced on `shardline:query` as operation `stream` from its first read until
   * it is over; a GROUP BY stream is the `select` it runs.
   * @throws {RoutingError} `SQL_UNSUPPORTED` for a write, or as {@link Router.query} refuses.
   */
  stream<T extends Row = Row>(sql: string, params?: readonly SqlParam[], options?: QueryOptions): AsyncGenerator<T, void, undefined>;
  /**
   * Keyset pagination of a SELECT: yields pages of `pageSize` rows in ORDER BY order, each page
   * fetched after the last row of the one before (`(k1 > ?) OR (k1 = ? AND k2 > ?) …`, so a late
   * page costs what the first does — across shards every shard returns one page, never OFFSET +
   * LIMIT rows). The ORDER BY must name select-list columns, be unique (end it with the primary
   * key) and hold no NULLs; the statement has no LIMIT, GROUP BY or aggregates. Options as for
   * {@link Router.query} (`scatter` for a statement without a shard key).
   * @throws {RoutingError} `SQL_UNSUPPORTED` for another shape, a NULL key or a bad pageSize.
   */
  paginate<T extends Row = Row>(
    sql: string,
    params: readonly SqlParam[],
    options: QueryOptions & { pageSize: number },
  ): AsyncGenerator<T[], void, undefined>;
  /** The plan `query` would run, without running it. */
  explain(sql: string, params?: readonly SqlParam[], options?: QueryOptions): Explain;
  health(): InstanceHealth[];
  /** Plan-cache counters. */
  planCacheStats(): { hits: number; misses: number; size: number };
  /**
   * The next global ID of sequence `name` (1–64 of `A-Z a-z 0-9 _ . : -`): unique across processes
   * and restarts, increasing within this process, from blocks leased in
   * `<metaDatabase>.id_segments` (`router.ids`). Most calls take no round trip.
   *
   * With `{ shardOf: uid }` (or `{ shard }`), an ID that embeds that shard: `n × shards + shard`
   * (`id mod shards` is the shard; `n` from the sequence's own counter, apart from its plain IDs),
   * so a table keyed by such IDs with `shardBy: embedded` routes each key to its shard without a
   * lookup — the rows of a user's IDs on the user's shard.
   * @throws {RoutingError} ID_SEQUENCE (a bad name — at most 63 characters with a shard; retriable when no block could be leased), SQL_UNSUPPORTED for a bad `shard`
   * @throws {InvalidUidError} a `shardOf` that is not a UID
   */
  nextId(name: string, options?: NextIdOptions): Promise<bigint>;
  /** SQL on the archive store: see {@link Analytics}. */
  readonly analytics: Analytics;
  /**
   * Resolves once a CDC sink (`options.sink`, default `elasticsearch`) has applied every write of
   * `token` (Elasticsearch: indexed and refreshed, so a search sees it), as the sink publishes in
   * `<metaDatabase>.sink_progress` on the archive server; `''` resolves at once.
   * @throws {SinkBehindError} `SINK_BEHIND` (retriable) past `maxWaitMs` (default `router.analytics.maxWaitMs`)
   * @throws {RoutingError} `TOKEN_INVALID` for a malformed token
   * @throws {ConfigError} `CONFIG_INVALID` when the config has no `archive` section
   */
  indexed(token: string | readonly string[], options?: IndexedOptions): Promise<void>;
  /** Waits for borrowed connections and closes every pool. */
  close(): Promise<void>;
}
