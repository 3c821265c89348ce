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
  query<T extends Row = Row>(sql: string, params?: readonly SqlParam[]): Promise<T[] | WriteResult>;
  /**
   * Runs `fn` in a transaction on this shard's instance: COMMIT when it resolves, ROLLBACK when
   * it throws. The connection is released on every path.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
}

/** Health of one instance as the router sees it. */
export interface InstanceHealth {
  instance: string;
  host: string;
  port: number;
  shards: string;
  /** `closed` (healthy), `open` (failing fast) or `half-open` (trying again). */
  breaker: BreakerState;
  pool: PoolStats;
  /** From TCP_INFO over open connections; null on the JS socket layer or with no connection. */
  tcp: TcpHealth | null;
  /** What the borrow checks and the idle watch removed. */
  events: PoolEvents;
}

/** The sharded data-access API. */
export interface Router {
  readonly topology: Topology;
  /** Binds statements to the shard of `uid`. @throws {InvalidUidError} */
  forUid(uid: Uid): ShardSession;
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
  /** The plan `query` would run, without running it. */
  explain(sql: string, params?: readonly SqlParam[], options?: QueryOptions): Explain;
  health(): InstanceHealth[];
  /** Plan-cache counters. */
  planCacheStats(): { hits: number; misses: number; size: number };
  /** Waits for borrowed connections and closes every pool. */
  close(): Promise<void>;
}
