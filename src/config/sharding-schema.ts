import { z } from 'zod';
import { parseDuration } from './duration.js';

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,47}$/, 'a plain SQL identifier (letters, digits, underscore)');

/** One contiguous range of logical shards held by one physical instance. */
export const shardRangeSchema = z
  .object({
    from: z.number().int().min(0),
    to: z.number().int().min(0),
    instance: z.string().min(1),
  })
  .strict()
  .refine((r) => r.from <= r.to, { message: 'from must not exceed to' });

/**
 * The versioned shard map. Resharding publishes a new version that moves ranges between
 * instances; the hash (uid → shard) never changes.
 */
export const shardMapSchema = z
  .object({
    version: z.number().int().min(1),
    ranges: z.array(shardRangeSchema).min(1),
  })
  .strict();

const DURATION_MESSAGE = 'a duration greater than zero such as 90d, 12h, 30m or 45s (a whole number, then d, h, m or s; at most 100 years)';

/**
 * The archival job of a logical table (`shardline archival run`): rows whose `column` is older
 * than `olderThan` are deleted from the shards in primary-key batches of `batchRows`, at most
 * `maxRowsPerSecond` rows per second over the whole run (null: unthrottled); the archive keeps
 * them, marked `_archived = 1`, and Elasticsearch keeps their documents (`search: keep`) or drops
 * them (`drop`).
 */
export const archivalSchema = z
  .object({
    /** The DATETIME / TIMESTAMP column a row's age is read from (e.g. `created_at`). */
    column: identifier,
    /** Rows with `column < NOW(6) − olderThan` are archived: a whole number and a unit, `90d`, `12h`, `30m` or `45s`. */
    olderThan: z
      .string()
      .regex(/^[0-9]{1,9}[dhms]$/, DURATION_MESSAGE)
      .refine((text) => !/^[0-9]{1,9}[dhms]$/.test(text) || parseDuration(text) !== null, { message: DURATION_MESSAGE }),
    /** Rows deleted per batch (one transaction each). */
    batchRows: z.number().int().min(1).max(10_000).default(500),
    /**
     * Rows deleted per second, all physical tables of the run together; null: no bound. The
     * default keeps point reads' p99 within 1.5× on a saturated 2-core host (bench:analytics).
     */
    maxRowsPerSecond: z.number().int().min(1).nullable().default(2000),
    /** What Elasticsearch does with an archived row: keep its document searchable, or drop it. */
    search: z.enum(['keep', 'drop']).default('keep'),
  })
  .strict();

/**
 * A sharded logical table and the column that holds its shard key. `shardBy`: how a key value
 * gives its shard — `hash` (the default: CRC32 of the key, as for every UID) or `embedded` (the
 * key carries its shard: `key mod shards`, as `router.nextId(name, { shardOf })` makes them, so
 * a table keyed by such IDs routes without a lookup).
 */
export const shardedTableSchema = z
  .object({ shardKey: identifier, shardBy: z.enum(['hash', 'embedded']).optional(), archival: archivalSchema.optional() })
  .strict();

/** How logical names become physical ones. */
export const namingSchema = z
  .object({
    /** Database of a shard; `{db}` is floor(shard × databases ÷ shards), `{db:02}` zero-pads it. */
    database: z.string().default('app_{db:02}'),
    /** Physical table; `{table}` is the logical name, `{shard:04}` the zero-padded shard. */
    table: z.string().default('{table}_{shard:04}'),
    /** The database that holds broadcast tables on every instance. */
    broadcastDatabase: identifier.default('app_global'),
    /** The database on every instance where shardline keeps its own bookkeeping (migrations). */
    metaDatabase: identifier.default('shardline_meta'),
  })
  .strict();

/** The sharding layout: shard count, hash, map, naming and logical tables. */
export const shardingSchema = z
  .object({
    shards: z.number().int().min(1).max(65536).default(1024),
    hash: z.enum(['crc32']).default('crc32'),
    /** Logical databases in all; default 4 per instance. Keep it fixed once data exists. */
    databases: z.number().int().min(1).optional(),
    naming: namingSchema.default({
      database: 'app_{db:02}',
      table: '{table}_{shard:04}',
      broadcastDatabase: 'app_global',
      metaDatabase: 'shardline_meta',
    }),
    /** Default: the shards split evenly across the instances in config order, version 1. */
    map: shardMapSchema.optional(),
    tables: z.record(identifier, shardedTableSchema).default({}),
    broadcast: z.array(identifier).default([]),
  })
  .strict();

/** TCP keepalive per pooled socket (Linux bounds); TCP_USER_TIMEOUT defaults to idle + interval × count. */
export const keepAliveSchema = z
  .object({
    idleS: z.number().int().min(1).max(32767).default(8),
    intervalS: z.number().int().min(1).max(32767).default(2),
    count: z.number().int().min(1).max(127).default(3),
    userTimeoutMs: z.number().int().min(0).max(2147483647).optional(),
  })
  .strict();

/** When an instance's circuit breaker opens and recovers. */
export const breakerSchema = z
  .object({
    consecutiveFailures: z.number().int().min(1).default(3),
    failureRate: z.number().gt(0).max(1).default(0.5),
    minCalls: z.number().int().min(1).default(20),
    windowMs: z.number().int().min(100).default(10000),
    openMs: z.number().int().min(10).default(1000),
  })
  .strict();

/** Pool settings applied to every instance's connection pool. */
export const poolSchema = z
  .object({
    min: z.number().int().min(0).default(0),
    max: z.number().int().min(1).default(16),
    /**
     * Connections per instance for multi-shard writes (one multi-statement round trip and one
     * transaction per instance); opened on first use, with multipleStatements.
     */
    batchMax: z.number().int().min(1).default(4),
    acquireTimeoutMs: z.number().int().min(1).default(5000),
    maxWaitingClients: z.number().int().min(0).default(1000),
    idleTimeoutMs: z.number().int().min(1000).default(30000),
    queryTimeoutMs: z.number().int().min(1).default(30000),
    connectTimeoutMs: z.number().int().min(1).default(3000),
    /** A connection is closed after this long (minus up to 10 % jitter). */
    maxLifetimeMs: z.number().int().min(1000).default(1_800_000),
    /** Idle connections older than this get a ping so they stay warm and proven. */
    pingIdleMs: z.number().int().min(1000).default(60_000),
    /** A connection used more recently than this is handed out without a liveness check. */
    validateAfterIdleMs: z.number().int().min(0).default(500),
    keepAlive: keepAliveSchema.default(() => keepAliveSchema.parse({})),
    breaker: breakerSchema.default(() => breakerSchema.parse({})),
  })
  .strict()
  .refine((p) => p.min <= p.max, { message: 'min must not exceed max' });

/** What the router accepts and caches: bounds on statement size and on the plan cache. */
export const routerSchema = z
  .object({
    limits: z
      .object({
        /** UTF-8 bytes of one statement's text (bound values do not count). */
        maxStatementBytes: z
          .number()
          .int()
          .min(1024)
          .default(1 << 20),
        /** Items of one `IN (…)` list (the parser needs ~0.5 s for 10,000). */
        maxInList: z.number().int().min(1).default(1000),
      })
      .strict()
      .default({ maxStatementBytes: 1 << 20, maxInList: 1000 }),
    planCache: z
      .object({
        maxEntries: z.number().int().min(1).default(2000),
        /** Approximate bytes of cached analyses. */
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 << 20),
      })
      .strict()
      .default({ maxEntries: 2000, maxBytes: 64 << 20 }),
    /**
     * Where reads go by default (per call: the `consistency` option): `primary`; `replica` — a
     * healthy replica within `maxReplicaLagMs`, else the primary; `session` — a replica that has
     * applied the write tokens in scope (`after`, or a `router.session()`'s), else the primary.
     * Writes, transactions and locking reads always go to the primary.
     */
    consistency: z.enum(['primary', 'replica', 'session']).default('primary'),
    /** A replica further behind its primary than this is skipped (ms). */
    maxReplicaLagMs: z.number().int().min(0).default(1000),
    /** How long a read with a token waits for a replica to apply it before it goes to the primary (ms). */
    maxWaitMs: z.number().int().min(0).max(60_000).default(1000),
    /** How often each replica's lag and health are measured (ms). */
    replicaCheckMs: z.number().int().min(50).max(10_000).default(250),
    /** How often the router reads the latest published shard map (`<metaDatabase>.shard_map`, written by `shardline reshard`); 0: only when a statement finds its shard moved (ms). */
    shardMapCheckMs: z.number().int().min(0).max(600_000).default(1000),
    /** How long a statement that finds its shard's table fenced by a shard move waits for the new map before it fails with SHARD_MOVED (retriable) (ms). */
    movedWaitMs: z.number().int().min(0).max(120_000).default(10_000),
    /** Bounds of cross-shard SELECTs that the router finishes (GROUP BY, DISTINCT, ORDER BY … OFFSET). */
    scatter: z
      .object({
        /** The largest OFFSET across shards: every shard returns OFFSET + LIMIT rows. */
        maxOffset: z.number().int().min(0).max(10_000_000).default(10_000),
        /** Groups plus distinct values one merge may hold; past it the statement fails with SCATTER_TOO_LARGE. */
        maxGroups: z.number().int().min(1).max(100_000_000).default(1_000_000),
      })
      .strict()
      .default({ maxOffset: 10_000, maxGroups: 1_000_000 }),
    /**
     * Global IDs (`router.nextId(name)`): blocks leased from `<metaDatabase>.id_segments` on
     * `instance` (default: the first instance of the config).
     */
    ids: z
      .object({
        instance: z.string().min(1).optional(),
        /** IDs of a sequence's first block in a process; a block used up within a second makes the next twice as large. */
        initialBlock: z.number().int().min(1).max(1_000_000_000).default(1000),
        /** The largest block (IDs a process may lose when it dies: a gap, never a repeat). */
        maxBlock: z.number().int().min(1).max(1_000_000_000).default(1_000_000),
      })
      .strict()
      .default({ initialBlock: 1000, maxBlock: 1_000_000 }),
    /**
     * `router.analytics.query` (SQL on the archive server, over views that hide deleted rows) and
     * `router.indexed` (waits for a CDC sink to apply a write); both need the `archive` section.
     */
    analytics: z
      .object({
        /** Database of the views (one per archived table, `_deleted = 0` rows only); default `<archive.database>_live`. */
        viewsDatabase: z
          .string()
          .regex(/^[A-Za-z0-9_]{1,64}$/, 'a database name (letters, digits, underscore; at most 64)')
          .optional(),
        /** Database of the current views (`_deleted = 0 AND _archived = 0`: the rows the shards still hold); default `<archive.database>_current`. */
        currentViewsDatabase: z
          .string()
          .regex(/^[A-Za-z0-9_]{1,64}$/, 'a database name (letters, digits, underscore; at most 64)')
          .optional(),
        /** How often a wait for a sink (`after`, `maxStalenessMs`, `router.indexed`) reads `<metaDatabase>.sink_progress` (ms). */
        pollMs: z.number().int().min(1).max(10_000).default(20),
        /** How long such a wait lasts at most before SINK_BEHIND (ms; per call: `maxWaitMs`). */
        maxWaitMs: z.number().int().min(0).max(600_000).default(10_000),
        /** Connections to the archive server (read-only sessions), opened on first use. */
        poolSize: z.number().int().min(1).max(256).default(4),
      })
      .strict()
      .default({ pollMs: 20, maxWaitMs: 10_000, poolSize: 4 }),
  })
  .strict();

export type ShardingConfig = z.infer<typeof shardingSchema>;
export type ArchivalConfig = z.infer<typeof archivalSchema>;
export type RouterConfig = z.infer<typeof routerSchema>;
export type PoolConfig = z.infer<typeof poolSchema>;
