import type { Registry } from 'prom-client';
import { ConfigError, isShardlineError } from '../../../errors/index.js';
import type { Logger } from '../../../log/logger.js';
import { backoffDelayMs, checkBackoffPolicy, sleep, type BackoffPolicy } from '../../../retry/index.js';
import { openArchiveConnection, type ArchiveConnection, type ArchiveEndpoint } from '../../../net/archive-connection.js';
import type { LogicalTableSchema } from '../../schema/logical-columns.js';
import type { DeadLetter, Sink, SinkRecord } from '../sink-record.js';
import { archiveUnit, groupStatements, planTransactions, type ArchiveUnit } from './archive-batches.js';
import type { ArchiveFlavour } from './archive-ddl.js';
import { ArchiveSinkError, classifyArchiveError, errnoOf, errorLabel } from './archive-errors.js';
import { createArchiveMetrics, type ArchiveMetrics } from './archive-metrics.js';
import { recordRows, UnknownColumnError } from './archive-rows.js';
import { ArchiveTables } from './archive-tables.js';
import { buildUpsert, upsertOutcome, type UpsertStatement } from './archive-upsert.js';
import { ArchiveValueError } from './archive-values.js';

/** Back-off between retries of a failed transaction: full jitter over an exponential ceiling. */
export interface ArchiveRetryOptions {
  /** First ceiling in ms (default 100). */
  baseMs?: number;
  /** Largest ceiling in ms (default 10 000). */
  maxMs?: number;
}

/** Options of {@link ArchiveSink}. */
export interface ArchiveSinkOptions {
  /** The archive server (the cluster config's `archive`). */
  archive: ArchiveEndpoint & { flavour?: ArchiveFlavour };
  /** The archive database (created if missing and the user may). */
  database: string;
  /** Rows per transaction (`cdc.archive.maxBatchRows`). */
  maxBatchRows: number;
  /** Approximate bytes per transaction (`cdc.archive.maxBatchBytes`; below TiDB's txn-total-size-limit). */
  maxBatchBytes: number;
  /**
   * The logical schema of a table (columns with source types, primary key). `refresh` is set when
   * the sink asks again because a record carries a column the schema lacked (a cache should
   * forget the table then).
   */
  schemaOf: (table: string, options?: { refresh: boolean }) => Promise<LogicalTableSchema>;
  registry?: Registry;
  logger?: Logger;
  retry?: ArchiveRetryOptions;
  /** Bytes per INSERT statement (default min(maxBatchBytes, 4 MiB); keeps statements below max_allowed_packet). */
  maxStatementBytes?: number;
  /** How long `close()` waits for a write in flight before cutting the connection (default 10 s). */
  closeTimeoutMs?: number;
  /** Opens a connection to the archive (default: net/'s `openArchiveConnection`; tests inject failures). */
  connect?: (endpoint: ArchiveEndpoint) => Promise<ArchiveConnection>;
}

const DEFAULT_STATEMENT_BYTES = 4 * 1024 * 1024;

/** A sink option that cannot work: CONFIG_INVALID naming the config field. */
const sinkOptionError = (field: string, problem: string): ConfigError =>
  new ConfigError('CONFIG_INVALID', `archive sink: ${field} ${problem}`, { details: { field } });
const SCHEMA_RETRIES = 2;

/**
 * The archive sink: applies change records to one table per logical table in a MySQL-protocol
 * archive (TiDB in production), keeping history — a deleted row stays, marked `_deleted = 1`
 * with its last values. Every row write is an `INSERT … ON DUPLICATE KEY UPDATE` guarded by the
 * record's source version, so replays and reordering change nothing: the stored row is always
 * the one of the highest version seen.
 *
 * Records are batched into transactions below `maxBatchRows` and `maxBatchBytes`. A transient
 * failure (lost connection, deadlock, lock wait timeout, TiDB write conflict) rolls back, backs
 * off with jitter and retries until it succeeds or the sink is closed; a record the archive
 * refuses for good (a value too long, out of range, incorrect) is found by splitting the batch
 * and comes back as a dead letter while the rest is applied.
 *
 * @example
 * const sink = new ArchiveSink({
 *   archive: config.archive, database: config.archive.database,
 *   maxBatchRows: config.cdc.archive.maxBatchRows, maxBatchBytes: config.cdc.archive.maxBatchBytes,
 *   schemaOf: (table) => readLogicalTableSchema(session.query, table, 'shard_db_0000', `${table}_0000`),
 *   registry,
 * });
 * const deadLetters = await sink.write(records);
 */
export class ArchiveSink implements Sink {
  private readonly tables: ArchiveTables;
  private readonly metrics: ArchiveMetrics;
  private readonly connect: (endpoint: ArchiveEndpoint) => Promise<ArchiveConnection>;
  private readonly statementBytes: number;
  private conn: ArchiveConnection | null = null;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly backoffPolicy: BackoffPolicy;
  /** Aborted by close(): cuts a back-off sleep short. */
  private readonly closing = new AbortController();

  constructor(private readonly options: ArchiveSinkOptions) {
    if (!Number.isInteger(options.maxBatchRows) || options.maxBatchRows < 1)
      throw sinkOptionError('cdc.archive.maxBatchRows', `must be a positive integer, found ${options.maxBatchRows}`);
    if (!(options.maxBatchBytes > 0))
      throw sinkOptionError('cdc.archive.maxBatchBytes', `must be positive, found ${options.maxBatchBytes}`);
    this.tables = new ArchiveTables(options.database, options.archive.flavour ?? 'mysql', options.schemaOf);
    this.metrics = createArchiveMetrics(options.registry);
    this.connect = options.connect ?? openArchiveConnection;
    this.statementBytes = options.maxStatementBytes ?? Math.min(options.maxBatchBytes, DEFAULT_STATEMENT_BYTES);
    this.backoffPolicy = checkBackoffPolicy(
      { initialMs: options.retry?.baseMs ?? 100, maxMs: options.retry?.maxMs ?? 10_000, jitter: 'full' },
      'archive sink retry',
    );
  }

  /** Applies records (one write at a time; concurrent calls queue). Resolves with the records refused for good. */
  write(records: readonly SinkRecord[]): Promise<DeadLetter[]> {
    const run = this.queue.then(() => this.writeNow(records));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops retrying, lets a write in flight end (or cuts it after `closeTimeoutMs`), closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.closeTimeoutMs ?? 10_000);
    });
    const outcome = await Promise.race([this.queue.then(() => 'done' as const), timeout]);
    clearTimeout(timer);
    const conn = this.conn;
    this.conn = null;
    if (!conn) return;
    if (outcome === 'timeout') conn.destroy();
    else await conn.close();
  }

  private checkOpen(): void {
    if (this.closed)
      throw new ArchiveSinkError('SINK_CLOSED', 'the archive sink was closed before the records were applied', { retriable: true });
  }

  private async connection(): Promise<ArchiveConnection> {
    if (this.conn && !this.conn.broken) return this.conn;
    this.conn?.destroy();
    this.conn = null;
    this.conn = await this.connect(this.options.archive);
    return this.conn;
  }

  /** Sleeps before retry `attempt` (full jitter); close() cuts the sleep short. */
  private async backoff(attempt: number, err: unknown, what: string): Promise<void> {
    this.checkOpen();
    const label = errorLabel(err);
    const cls = classifyArchiveError(err);
    this.metrics.retry(label);
    const delayMs = backoffDelayMs(this.backoffPolicy, attempt + 1);
    const fields = { error: label, errno: errnoOf(err), attempt: attempt + 1, delayMs, what };
    if (cls === 'unknown') this.options.logger?.error(fields, 'archive: unexpected error; retrying');
    else this.options.logger?.warn(fields, 'archive: transient error; retrying');
    if (this.conn?.broken) {
      this.conn.destroy();
      this.conn = null;
    }
    await sleep(delayMs, this.closing.signal).catch(() => undefined);
    this.checkOpen();
  }

  /**
   * Makes sure of a table, retrying transient failures. Resolves with its schema, or with the
   * reason the table cannot be archived (then its records become dead letters).
   */
  private async ensureTable(table: string, refresh: boolean): Promise<LogicalTableSchema | { refused: string }> {
    for (let attempt = 0; ; attempt++) {
      this.checkOpen();
      try {
        return await this.tables.ensure(await this.connection(), table, refresh);
      } catch (err) {
        if (isShardlineError(err) && !err.retriable && !(err instanceof ArchiveSinkError && err.code === 'SINK_CLOSED')) {
          return { refused: `archive table ${table}: ${err.message}` };
        }
        const cls = classifyArchiveError(err);
        if (cls === 'record' || cls === 'split') return { refused: `archive table ${table}: ${(err as Error).message}` };
        await this.backoff(attempt, err, `table ${table}`);
      }
    }
  }

  private async writeNow(records: readonly SinkRecord[]): Promise<DeadLetter[]> {
    this.checkOpen();
    const dead: DeadLetter[] = [];
    const schemas = new Map<string, LogicalTableSchema | { refused: string }>();
    for (const r of records) if (!schemas.has(r.table)) schemas.set(r.table, await this.ensureTable(r.table, false));
    const refreshed = new Set<string>();
    const units: ArchiveUnit[] = [];
    for (const record of records) {
      for (;;) {
        const schema = schemas.get(record.table)!;
        if ('refused' in schema) {
          dead.push({ record, reason: schema.refused });
          break;
        }
        try {
          units.push(archiveUnit(record, recordRows(record, schema)));
          break;
        } catch (err) {
          if (err instanceof UnknownColumnError && !refreshed.has(record.table)) {
            // A column added in the source: read the schema again and add it to the archive.
            refreshed.add(record.table);
            schemas.set(record.table, await this.ensureTable(record.table, true));
            continue;
          }
          if (err instanceof UnknownColumnError || err instanceof ArchiveValueError) {
            dead.push({ record, reason: `archive cannot write ${record.table} ${record.id}: ${err.message}` });
            break;
          }
          throw err;
        }
      }
    }
    for (const txn of planTransactions(units, { maxRows: this.options.maxBatchRows, maxBytes: this.options.maxBatchBytes })) {
      dead.push(...(await this.applyUnits(txn)));
    }
    if (dead.length > 0) {
      const order = new Map(records.map((r, i) => [r, i]));
      dead.sort((a, b) => (order.get(a.record) ?? 0) - (order.get(b.record) ?? 0));
      for (const d of dead) {
        this.metrics.deadLetters(d.record.table, 1);
        this.options.logger?.warn(
          { table: d.record.table, origin: d.record.origin, version: d.record.version.toString() },
          'archive: record refused',
        );
      }
    }
    return dead;
  }

  /** Applies one transaction's units; splits it to isolate refused records. */
  private async applyUnits(batch: ArchiveUnit[]): Promise<DeadLetter[]> {
    let units = batch;
    const refused: DeadLetter[] = [];
    let schemaRetries = 0;
    for (let attempt = 0; ; attempt++) {
      this.checkOpen();
      if (units.length === 0) return refused;
      let conn: ArchiveConnection | null = null;
      try {
        conn = await this.connection();
        await this.commit(conn, units);
        return refused;
      } catch (err) {
        if (conn) await this.rollback(conn);
        let cls = classifyArchiveError(err);
        if (cls === 'schema' && schemaRetries >= SCHEMA_RETRIES) cls = 'record';
        if (cls === 'record' || cls === 'split') {
          const only = units[0];
          if (units.length === 1 && only) {
            const e = err as Error & { code?: string; errno?: number };
            return [
              ...refused,
              { record: only.record, reason: `archive refused the record: ${e.code ?? 'error'} (${e.errno ?? '?'}): ${e.message}` },
            ];
          }
          const mid = Math.ceil(units.length / 2);
          return [...refused, ...(await this.applyUnits(units.slice(0, mid))), ...(await this.applyUnits(units.slice(mid)))];
        }
        if (cls === 'schema') {
          // The table or a column went missing on the archive: ensure the tables again.
          schemaRetries++;
          for (const table of new Set(units.map((u) => u.record.table))) {
            this.tables.invalidate(table);
            const schema = await this.ensureTable(table, true);
            if ('refused' in schema) {
              for (const u of units) if (u.record.table === table) refused.push({ record: u.record, reason: schema.refused });
              units = units.filter((u) => u.record.table !== table);
            }
          }
          continue;
        }
        await this.backoff(attempt, err, `transaction of ${units.length} records`);
      }
    }
  }

  private statements(units: readonly ArchiveUnit[]): UpsertStatement[] {
    const rows = units.flatMap((u) => u.rows);
    return groupStatements(rows, { maxRows: this.options.maxBatchRows, maxBytes: this.statementBytes }).map((group) => {
      const table = group[0]!.table;
      const schema = this.tables.cached(table);
      if (!schema) throw new ArchiveSinkError('ARCHIVE_SCHEMA', `archive table ${table} is not ensured`, { retriable: true });
      return buildUpsert(this.options.database, schema.primaryKey, group);
    });
  }

  /** Runs the upserts of units in one transaction (autocommit for a single statement) and reports them. */
  private async commit(conn: ArchiveConnection, units: readonly ArchiveUnit[]): Promise<void> {
    const statements = this.statements(units);
    const started = performance.now();
    const single = statements.length === 1;
    if (!single) await conn.query('START TRANSACTION');
    const outcomes = [];
    for (const s of statements) {
      const r = await conn.query(s.sql, s.values);
      outcomes.push({ s, out: upsertOutcome(s.rows.length, r.affectedRows, r.info) });
    }
    if (!single) await conn.query('COMMIT');
    this.metrics.batchDuration((performance.now() - started) / 1000);
    for (const { s, out } of outcomes) {
      const deletes = s.rows.filter((r) => r.deleted).length;
      if (deletes > 0) this.metrics.rowsWritten(s.table, 'delete', deletes);
      if (s.rows.length > deletes) this.metrics.rowsWritten(s.table, 'upsert', s.rows.length - deletes);
      if (out.stale) this.metrics.staleRows(s.table, out.stale);
    }
  }

  private async rollback(conn: ArchiveConnection): Promise<void> {
    if (conn.broken) return;
    try {
      await conn.query('ROLLBACK');
    } catch {
      conn.destroy();
    }
  }
}
