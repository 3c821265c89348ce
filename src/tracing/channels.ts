import { tracingChannel, type TracingChannel } from 'node:diagnostics_channel';

/** Name of the router's query channel (a `node:diagnostics_channel` TracingChannel). */
export const QUERY_CHANNEL = 'shardline:query';
/** Name of the CDC transaction channel (a `node:diagnostics_channel` TracingChannel). */
export const CDC_TRANSACTION_CHANNEL = 'shardline:cdc:transaction';

/**
 * How the router routed a statement — the route plan's kind: one shard (`single`), some shards
 * (`multi`), every shard (`scatter`), or tables that are not sharded (`broadcast`).
 */
export type QueryRouteKind = 'single' | 'multi' | 'scatter' | 'broadcast';

/**
 * Published on `shardline:query` around every router `query`, `select`, `stream` and transaction statement
 * (start, end, asyncStart, asyncEnd, error — as `TracingChannel.tracePromise` publishes them).
 * It never carries bound values nor result rows: `sql` is the statement as the application wrote it,
 * placeholders included. Route, shards and instances are filled once the statement is planned, so
 * read them at `asyncEnd` (or `error`).
 */
export interface QueryTraceContext {
  /**
   * `query` (`router.query`, `forUid(uid).query`), `select` (`router.select`), `stream`
   * (`router.stream`, from its first read until it is over), or `transaction` for a statement
   * inside `forUid(uid).transaction()` — its BEGIN, COMMIT and ROLLBACK included.
   */
  operation: 'query' | 'select' | 'stream' | 'transaction';
  /** The logical SQL, with its `?` placeholders (never the values bound to them). */
  sql: string;
  /** Null until planned (and when planning failed). */
  route: QueryRouteKind | null;
  /** Shard numbers the statement ran on. */
  shards: number[];
  /** Names of the instances holding those shards. */
  instances: string[];
  /** Wall time of planning and execution, in ms (set before asyncEnd). */
  durationMs: number;
  /** Set by the channel when the statement failed (a ShardlineError: its message holds no bound values). */
  error?: unknown;
}

/**
 * Published on `shardline:cdc:transaction` by the producer: `start`/`end` when a source
 * transaction's commit is read from the binlog, `asyncStart`/`asyncEnd` when the Kafka transaction
 * holding it commits (after `error` when that Kafka transaction failed and is read again).
 */
export interface CdcKafkaTraceContext {
  stage: 'kafka';
  instance: string;
  /** The source transaction's GTID (null when the server has none). */
  gtid: string | null;
  /** Binlog position right after the transaction's commit. */
  file: string;
  pos: number;
  /** Change messages (rows) it produced. */
  rows: number;
  /** Kafka topics those messages went to. */
  topics: string[];
  error?: unknown;
}

/**
 * Published on `shardline:cdc:transaction` by a sink runner around each sink write (one Kafka
 * batch of one partition), with the source transactions the batch holds so a subscriber can link it
 * to their `kafka` stage. No row data nor keys.
 */
export interface CdcSinkTraceContext {
  stage: 'sink';
  sink: string;
  /** The first batch's topic and partition (see `batches` for all of them). */
  topic: string;
  partition: number;
  /** The fetched batches the write holds, one per topic partition. */
  batches: { topic: string; partition: number; records: number }[];
  /** Records handed to the sink. */
  records: number;
  /** The source transactions of those records, in order of first appearance (one entry per instance for records without a GTID). */
  transactions: { instance: string; gtid: string | null }[];
  error?: unknown;
}

/** What `shardline:cdc:transaction` publishes. */
export type CdcTransactionTraceContext = CdcKafkaTraceContext | CdcSinkTraceContext;

/** The router's query channel. Check `hasSubscribers` before building a context. */
export const queryChannel: TracingChannel<unknown, QueryTraceContext> = tracingChannel(QUERY_CHANNEL);

/** The CDC transaction channel. Check `hasSubscribers` before building a context. */
export const cdcTransactionChannel: TracingChannel<unknown, CdcTransactionTraceContext> = tracingChannel(CDC_TRANSACTION_CHANNEL);

/**
 * Runs `fn` under `channel.tracePromise` with `context`, without letting the channel publish
 * `fn`'s result (rows may hold the very values the tracing must not carry).
 */
export async function traceWithoutResult<T, C extends object>(
  channel: TracingChannel<unknown, C>,
  context: C,
  fn: () => Promise<T>,
): Promise<T> {
  let out: T | undefined;
  await channel.tracePromise(async () => {
    out = await fn();
  }, context);
  return out as T;
}
