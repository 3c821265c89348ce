import { requireSections, type ClusterConfig } from '../config/index.js';
import { RouterClosedError, RoutingError } from '../errors/index.js';
import { wrapQueryError } from '../executor/index.js';
import { WriteTokens } from '../gtid/index.js';
import type { DbConnection, InstanceEndpoint, QueryOutcome, Row, SocketLayer } from '../net/index.js';
import { InstancePool, type ConnectionFactory } from '../pool/index.js';
import {
  quoteIdent,
  readSinkProgressSql,
  sinkProgressKey,
  SINK_NAMES,
  sinkProgressDatabaseSql,
  sinkProgressTableSql,
  type SinkName,
} from '../shard/index.js';
import type { SqlParam } from '../sql/index.js';
import { checkAnalyticsStatement } from './analytics-statement.js';
import { CATALOG_SQL, catalogColumns, SCHEMA_EXISTS_SQL, viewDdl, type ViewKind } from './analytics-views.js';
import type { Analytics, AnalyticsHealth, AnalyticsOptions, IndexedOptions } from './router-types.js';
import type { SinkCondition } from './sink-progress.js';
import { SinkProgressWatch } from './sink-progress-watch.js';

/** Errors after which the views may be behind the archive: unknown database (1049), unknown column (1054), no such table (1146), invalid view (1356). */
const VIEWS_BEHIND = new Set([1049, 1054, 1146, 1356]);
/** Errors that say the progress table (or the meta database) does not exist yet. */
const NO_TABLE = new Set([1049, 1146]);
/** ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: the statement would write (never retriable here). */
const READ_ONLY_REFUSED = 1792;
/** How long view DDL waits for the metadata lock of a view queries are using (s): never queue queries behind it for long. */
const VIEW_LOCK_WAIT_S = 5;

/** Where the archive is and what the analytics use there. */
interface ArchiveTarget {
  endpoint: InstanceEndpoint;
  flavour: 'mysql' | 'tidb';
  archiveDb: string;
  /** The views of each kind: `live` (not deleted), `current` (neither deleted nor archived). */
  views: Record<ViewKind, string>;
  metaDb: string;
}

function errnoOf(err: unknown): number | undefined {
  const e = err as { errno?: unknown; details?: { errno?: unknown } } | null;
  const errno = e?.errno ?? e?.details?.errno;
  return typeof errno === 'number' ? errno : undefined;
}

function rowsOf(outcome: QueryOutcome): Row[] {
  return outcome.kind === 'rows' ? outcome.rows : [];
}

function milliseconds(value: number | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw new RoutingError('SQL_UNSUPPORTED', `${name} must be a number of milliseconds of at least ${min}`);
  return value;
}

/**
 * `router.analytics` and `router.indexed`: a small pool of read-only sessions on the archive
 * server (opened on first use, closed with the router), the views over the archive tables, and
 * the waits for the sinks' published progress. Nothing is opened until first use; a config
 * without `archive` fails then, not at `createRouter`.
 */
export class ArchiveAnalytics implements Analytics {
  private target: ArchiveTarget | null = null;
  private pool: InstancePool | null = null;
  private readonly watch: SinkProgressWatch;
  private readonly viewsReady = new Set<ViewKind>();
  private readonly viewSync = new Map<ViewKind, Promise<boolean>>();
  private tableCreation: Promise<void> | null = null;
  /** The default database of each pooled connection (a views database once used). */
  private readonly inViews = new WeakMap<DbConnection, string>();
  private closed = false;

  constructor(
    private readonly config: ClusterConfig,
    private readonly factory: ConnectionFactory,
    private readonly layer: SocketLayer,
  ) {
    this.watch = new SinkProgressWatch((sink) => this.readProgress(sink), config.router.analytics.pollMs);
  }

  async query<T extends Row = Row>(sql: string, params: readonly SqlParam[] = [], options: AnalyticsOptions = {}): Promise<T[]> {
    if (this.closed) throw new RouterClosedError();
    checkAnalyticsStatement(sql);
    const condition = this.condition(options);
    const maxWaitMs = this.maxWaitMs(options.maxWaitMs);
    const timeoutMs = milliseconds(options.timeoutMs, 'timeoutMs', 1) ?? this.config.pool.queryTimeoutMs;
    if (options.includeArchived !== undefined && typeof options.includeArchived !== 'boolean')
      throw new RoutingError('SQL_UNSUPPORTED', 'includeArchived must be true or false');
    const kind: ViewKind = options.includeArchived === false ? 'current' : 'live';
    this.archive();
    if (!this.viewsReady.has(kind)) await this.syncViews(kind);
    if (condition) await this.watch.waitFor('archive', condition, maxWaitMs);
    try {
      return (await this.run(sql, params, timeoutMs, kind)) as T[];
    } catch (err) {
      // the archive may have gained a table or column since the views were made: make them again, once
      if (!VIEWS_BEHIND.has(errnoOf(err) ?? 0) || !(await this.syncViews(kind))) throw this.statementFailure(err, sql);
    }
    try {
      return (await this.run(sql, params, timeoutMs, kind)) as T[];
    } catch (err) {
      throw this.statementFailure(err, sql);
    }
  }

  /** See {@link Router.indexed}. */
  async indexed(token: string | readonly string[], options: IndexedOptions = {}): Promise<void> {
    if (this.closed) throw new RouterClosedError();
    const sink = options.sink ?? 'elasticsearch';
    if (!SINK_NAMES.includes(sink))
      throw new RoutingError('SQL_UNSUPPORTED', `router.indexed: sink must be one of ${SINK_NAMES.join(', ')}`);
    const tokens = WriteTokens.parse(token);
    const maxWaitMs = this.maxWaitMs(options.maxWaitMs);
    this.archive();
    if (tokens.empty) return;
    await this.watch.waitFor(sink, { tokens, instances: [] }, maxWaitMs);
  }

  /** See {@link Analytics.health}. */
  health(): AnalyticsHealth | null {
    const p = this.pool;
    if (!p || this.closed) return null;
    return {
      name: p.endpoint.name,
      host: p.endpoint.host,
      port: p.endpoint.port,
      breaker: p.breakerState(),
      pool: p.stats(),
      tcp: p.tcpHealth(),
      events: p.counters(),
    };
  }

  /** Closes the pool (after its borrowed connections come back); later calls fail with ROUTER_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
  }

  private maxWaitMs(value: number | undefined): number {
    return milliseconds(value, 'maxWaitMs', 0) ?? this.config.router.analytics.maxWaitMs;
  }

  /** What `after` / `maxStalenessMs` ask of the archive sink; null: nothing to wait for. */
  private condition(options: AnalyticsOptions): SinkCondition | null {
    const tokens = options.after === undefined ? undefined : WriteTokens.parse(options.after);
    const maxStalenessMs = milliseconds(options.maxStalenessMs, 'maxStalenessMs', 0);
    const need = tokens && !tokens.empty ? tokens : undefined;
    if (!need && maxStalenessMs === undefined) return null;
    return { tokens: need, maxStalenessMs, instances: this.config.instances.map((i) => i.name) };
  }

  /** The archive endpoint and databases. @throws {ConfigError} CONFIG_INVALID without an `archive` section */
  private archive(): ArchiveTarget {
    if (this.target) return this.target;
    const { archive, sharding, router, pool } = requireSections(this.config, ['archive'], 'router.analytics and router.indexed');
    this.target = {
      endpoint: {
        name: archive.name,
        host: archive.host,
        port: archive.port,
        user: archive.user,
        password: archive.password,
        connectTimeoutMs: pool.connectTimeoutMs,
        tls: archive.tls,
        serverPublicKey: archive.serverPublicKey,
      },
      flavour: archive.flavour,
      archiveDb: archive.database,
      views: {
        live: router.analytics.viewsDatabase ?? `${archive.database}_live`,
        current: router.analytics.currentViewsDatabase ?? `${archive.database}_current`,
      },
      metaDb: sharding.naming.metaDatabase,
    };
    return this.target;
  }

  /** The pool of read-only sessions, created on first use. */
  private archivePool(): InstancePool {
    if (this.closed) throw new RouterClosedError();
    if (this.pool) return this.pool;
    const target = this.archive();
    const timeoutMs = this.config.pool.queryTimeoutMs;
    const readOnly: ConnectionFactory = async (endpoint) => {
      const conn = await this.factory(endpoint);
      try {
        await conn.query('SET SESSION TRANSACTION READ ONLY', [], timeoutMs);
      } catch (err) {
        // TiDB has no read-only transactions (it refuses the statement by default): the statement check guards alone there
        if (target.flavour !== 'tidb') {
          conn.destroy();
          throw err;
        }
      }
      return conn;
    };
    const settings = { ...this.config.pool, min: 0, max: this.config.router.analytics.poolSize };
    this.pool = new InstancePool(target.endpoint, settings, readOnly, 'none', this.layer);
    return this.pool;
  }

  /** Runs the caller's statement on a pooled session whose default database is the views database of `kind`. */
  private run(sql: string, params: readonly SqlParam[], timeoutMs: number, kind: ViewKind): Promise<Row[]> {
    const viewsDb = this.archive().views[kind];
    return this.archivePool().use(async (conn) => {
      if (this.inViews.get(conn) !== viewsDb) {
        this.inViews.delete(conn);
        await conn.query(`USE ${quoteIdent(viewsDb)}`, [], timeoutMs);
        this.inViews.set(conn, viewsDb);
      }
      return rowsOf(await conn.query(sql, params, timeoutMs));
    });
  }

  /** Brings the views of `kind` up to date (one sync at a time per kind); true when it changed something. */
  private syncViews(kind: ViewKind): Promise<boolean> {
    let sync = this.viewSync.get(kind);
    if (!sync) {
      sync = this.makeViews(kind).finally(() => this.viewSync.delete(kind));
      this.viewSync.set(kind, sync);
    }
    return sync;
  }

  private async makeViews(kind: ViewKind): Promise<boolean> {
    const { archiveDb } = this.archive();
    const viewsDb = this.archive().views[kind];
    const timeoutMs = this.config.pool.queryTimeoutMs;
    let ddl: string[];
    try {
      ddl = await this.archivePool().use(async (conn) => {
        const catalog = catalogColumns(rowsOf(await conn.query(CATALOG_SQL, [archiveDb, viewsDb], timeoutMs)));
        const exists = rowsOf(await conn.query(SCHEMA_EXISTS_SQL, [viewsDb], timeoutMs)).length > 0;
        return viewDdl(archiveDb, viewsDb, catalog, exists, kind);
      });
    } catch (err) {
      throw this.failure(err, CATALOG_SQL);
    }
    if (ddl.length > 0)
      await this.withDdlConnection(async (conn) => {
        await this.ddl(conn, `SET SESSION lock_wait_timeout = ${VIEW_LOCK_WAIT_S}`, timeoutMs);
        for (const sql of ddl) await this.ddl(conn, sql, timeoutMs);
      });
    this.viewsReady.add(kind);
    return ddl.length > 0;
  }

  /** Reads a sink's rows of the progress table, creating the table first when it does not exist. */
  private async readProgress(sink: SinkName): Promise<Row[]> {
    const sql = readSinkProgressSql(this.archive().metaDb);
    const timeoutMs = this.config.pool.queryTimeoutMs;
    // the rows are the sink's consumer group's (`<cdc.groupPrefix>-<sink>`): one pipeline's progress, not another's
    const group = sinkProgressKey(this.config.cdc.groupPrefix, sink);
    const read = () => this.archivePool().use(async (conn) => rowsOf(await conn.query(sql, [group], timeoutMs)));
    try {
      return await read();
    } catch (err) {
      if (!NO_TABLE.has(errnoOf(err) ?? 0)) throw this.failure(err, sql);
    }
    await this.createProgressTable();
    try {
      return await read();
    } catch (err) {
      throw this.failure(err, sql);
    }
  }

  /** `CREATE DATABASE/TABLE IF NOT EXISTS` of the progress table (one at a time), so a reader before any publisher sees no row. */
  private createProgressTable(): Promise<void> {
    const meta = this.archive().metaDb;
    const timeoutMs = this.config.pool.queryTimeoutMs;
    this.tableCreation ??= this.withDdlConnection(async (conn) => {
      // the database may exist with the account lacking CREATE on the server: the table's DDL says whether it matters
      await conn.query(sinkProgressDatabaseSql(meta), [], timeoutMs).catch(() => undefined);
      await this.ddl(conn, sinkProgressTableSql(meta), timeoutMs);
    }).finally(() => {
      this.tableCreation = null;
    });
    return this.tableCreation;
  }

  /** A connection of its own (not read-only, not pooled) for the views' and the progress table's DDL. */
  private async withDdlConnection(work: (conn: DbConnection) => Promise<void>): Promise<void> {
    if (this.closed) throw new RouterClosedError();
    let conn: DbConnection;
    try {
      conn = await this.factory(this.archive().endpoint);
    } catch (err) {
      throw this.failure(err, undefined);
    }
    try {
      await work(conn);
    } finally {
      await conn.close().catch(() => conn.destroy());
    }
  }

  private async ddl(conn: DbConnection, sql: string, timeoutMs: number): Promise<void> {
    try {
      await conn.query(sql, [], timeoutMs);
    } catch (err) {
      throw this.failure(err, sql);
    }
  }

  /** The caller's statement failed: a write the read-only session refused is SQL_UNSUPPORTED (not retriable), else {@link failure}. */
  private statementFailure(err: unknown, sql: string): Error {
    const wrapped = this.failure(err, sql);
    if (errnoOf(err) !== READ_ONLY_REFUSED) return wrapped;
    return new RoutingError(
      'SQL_UNSUPPORTED',
      'router.analytics sessions are read-only: the archive server refused a statement that writes',
      {
        cause: wrapped,
      },
    );
  }

  /** A server error as QUERY_FAILED / SHARD_UNAVAILABLE naming the archive (values never in it). */
  private failure(err: unknown, sql: string | undefined): Error {
    return wrapQueryError(err, { instance: this.archive().endpoint.name, shards: [], ...(sql === undefined ? {} : { sql }) });
  }
}
