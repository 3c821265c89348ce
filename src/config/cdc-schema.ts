import { z } from 'zod';
import { parseDuration } from './duration.js';

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'Kafka topic characters: letters, digits, . _ -');

/** The CDC worker and its sinks (all optional; defaults suit the local cluster). */
export const cdcSchema = z
  .object({
    /** Change topics are `<topicPrefix><logical table>`. */
    topicPrefix: topicName.default('shardline.'),
    /** Partitions of each change topic: the most consumers a sink group can spread over (and the ES sink's parallel bulks). */
    partitions: z.number().int().min(1).max(1000).default(4),
    replicationFactor: z.number().int().min(1).max(7).default(1),
    /** Compacted topic holding each instance's last committed checkpoint. */
    checkpointTopic: topicName.default('shardline._checkpoints'),
    /** Requests to the workers (`cdc snapshot`), read by every worker from the beginning; compacted. */
    signalTopic: topicName.default('shardline._signals'),
    /** Records a sink refused for good, with the reason. */
    deadLetterTopic: topicName.default('shardline._dead_letters'),
    /** One partition per instance; the worker group's assignment of it says who reads what. */
    assignmentTopic: topicName.default('shardline._instances'),
    /** Consumer group ids: `<groupPrefix>-workers`, `<groupPrefix>-elasticsearch`, `<groupPrefix>-archive`. */
    groupPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/)
      .default('shardline'),
    http: z
      .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(9464) })
      .strict()
      .default({ host: '127.0.0.1', port: 9464 }),
    tables: z
      .object({
        /** Logical (or unsharded) table names to capture; null: every table of the sharding config. */
        include: z.array(z.string().min(1)).nullable().default(null),
        exclude: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({ include: null, exclude: [] }),
    /**
     * Compression of the change topics' record batches: `lz4` (default: less CPU on the worker
     * and the broker than none, measured in bench/README.md), `gzip`, or `none`.
     */
    compression: z.enum(['none', 'gzip', 'lz4']).default('lz4'),
    /**
     * The largest change event (its JSON, key and headers, uncompressed) the readers publish: the
     * change topics are created with this `max.message.bytes`. A row whose event is larger stops
     * its instance's reader with `KAFKA_MESSAGE_TOO_LARGE` (nothing is skipped); raise it and restart.
     */
    maxEventBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(64 * 1024 * 1024)
      .default(8 * 1024 * 1024),
    /** A Kafka transaction closes after this many events or milliseconds (whichever first), always at a source commit. */
    batch: z
      .object({ maxEvents: z.number().int().min(1).default(5000), maxMs: z.number().int().min(1).default(20) })
      .strict()
      .default({ maxEvents: 5000, maxMs: 20 }),
    /**
     * Rows that exist before the worker first reads an instance: `never` publishes only changes
     * from then on; `initial` reads every captured table of an instance on its first start (in
     * primary-key chunks, beside the binlog stream, without locks) and publishes the rows as `r`
     * events; `when_needed` also re-reads when the checkpoint is unusable (purged binlog).
     */
    snapshot: z
      .object({
        mode: z.enum(['initial', 'when_needed', 'never']).default('never'),
        /** Rows per chunk (one SELECT, one Kafka transaction with the table's progress). */
        chunkRows: z.number().int().min(1).max(100_000).default(2048),
        /** Tables of one instance read at the same time. */
        tablesPerInstance: z.number().int().min(1).max(64).default(2),
        /**
         * Rows per second per instance (chunks shrink to a tenth of a second's worth, at least 64
         * rows, and never burst to catch up); null: as fast as the instance answers. The default
         * protects a source that shares its host: on the 2-core local cluster a snapshot at 2,000
         * rows/s moved the router's point-SELECT p99 by ~0.1–0.3 ms (unthrottled: 3–4.5×;
         * bench:snapshot); raise it, or set null, where the worker and Kafka run on hosts of their own.
         */
        maxRowsPerSecond: z.number().int().min(1).nullable().default(2000),
      })
      .strict()
      .default({ mode: 'never', chunkRows: 2048, tablesPerInstance: 2, maxRowsPerSecond: 2000 }),
    /** Seconds a SIGTERM/SIGINT waits for the current transaction before giving up. */
    shutdownTimeoutS: z.number().min(1).default(30),
    /** /healthz answers 503 once a sink has been failing this long (its consumer crashing, or its writes refused and retried). */
    sinkUnhealthyAfterS: z.number().positive().default(60),
    elasticsearch: z
      .object({
        indexPrefix: z
          .string()
          .regex(/^[a-z0-9._-]{0,100}$/)
          .default('shardline-'),
        bulkMaxDocs: z.number().int().min(1).default(2000),
        /**
         * Bytes of NDJSON per bulk request (a single larger document goes alone): keep it under
         * the cluster's `http.max_content_length` (100 MB by default; 10 MiB on small managed
         * OpenSearch instances). Elastic recommends bulks of a few MB.
         */
        bulkMaxBytes: z
          .number()
          .int()
          .min(1024)
          .default(10 * 1024 * 1024),
        /** Sink writes in flight, and bulk requests in flight across them (a write holds every partition's batch of a fetch; its bulk requests run side by side). */
        concurrency: z.number().int().min(1).max(64).default(4),
        /** index.refresh_interval of new indices: the floor of commit → searchable latency. */
        refreshInterval: z
          .string()
          .regex(/^\d+(ms|s)$/)
          .default('300ms'),
      })
      .strict()
      .default({ indexPrefix: 'shardline-', bulkMaxDocs: 2000, bulkMaxBytes: 10 * 1024 * 1024, concurrency: 4, refreshInterval: '300ms' }),
    archive: z
      .object({
        /** Rows per archive transaction; keep the bytes well below TiDB's txn-total-size-limit (100 MB by default). */
        maxBatchRows: z.number().int().min(1).default(1000),
        maxBatchBytes: z
          .number()
          .int()
          .min(1024)
          .default(16 * 1024 * 1024),
      })
      .strict()
      .default({ maxBatchRows: 1000, maxBatchBytes: 16 * 1024 * 1024 }),
    /**
     * The archival job (`sharding.tables.<t>.archival`) run by the CDC worker: `schedule` is the
     * time between runs (`6h`, `30m`, …; null: never — run `shardline archival run` yourself).
     * One runner at a time across workers (a MySQL user lock on the first instance).
     */
    archival: z
      .object({
        schedule: z
          .string()
          .refine((text) => parseDuration(text) !== null && parseDuration(text)! >= 1000, {
            message: 'a whole number and a unit (d, h, m, s) of at least 1 s, e.g. 6h',
          })
          .nullable()
          .default(null),
      })
      .strict()
      .default({ schedule: null }),
    /**
     * Sink progress: how far each sink has applied each instance, published to
     * `<metaDatabase>.sink_progress` on the archive server for `router.analytics.query({ after })`
     * and `router.indexed`. Needs the `archive` section.
     */
    progress: z
      .object({
        enabled: z.boolean().default(true),
        /** How often the sinks' committed offsets are compared with the instances' checkpoints (ms). */
        intervalMs: z.number().int().min(10).max(60_000).default(100),
        /** A row is written at least this often while nothing changes (`checked_at_us`: the lag of a caught-up sink). */
        heartbeatMs: z.number().int().min(50).max(60_000).default(250),
        /**
         * Elasticsearch is refreshed (its progress published) at most this often (ms): a refresh
         * makes a segment, and ten a second under a bulk load slow the whole cluster (ES's own
         * default interval is 1 s). `router.indexed` waits up to about this long more.
         */
        refreshMs: z.number().int().min(10).max(60_000).default(1000),
      })
      .strict()
      .default({ enabled: true, intervalMs: 100, heartbeatMs: 250, refreshMs: 1000 }),
  })
  .strict();

/** The validated `cdc` section. */
export type CdcConfig = z.infer<typeof cdcSchema>;
